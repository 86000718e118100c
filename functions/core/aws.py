"""AWS clients, created once per container and reused across invocations."""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_stepfunctions import SFNClient

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)
_lock = threading.Lock()  # boto3's default session is not safe to build clients from concurrently


@cache
def dynamodb() -> DynamoDBClient:
    with _lock:
        return boto3.client("dynamodb", config=_CONFIG)


@cache
def stepfunctions() -> SFNClient:
    with _lock:
        return boto3.client("stepfunctions", config=_CONFIG)


@cache
def scheduler() -> EventBridgeSchedulerClient:
    with _lock:
        return boto3.client("scheduler", config=_CONFIG)


@cache
def secretsmanager() -> SecretsManagerClient:
    with _lock:
        return boto3.client("secretsmanager", config=_CONFIG)


@cache
def logs() -> Any:
    """The fast path's execution records (Express workflows log their history, they keep none)."""
    with _lock:
        return boto3.client("logs", config=_CONFIG)


def reset_clients() -> None:
    logs.cache_clear()
    dynamodb.cache_clear()
    stepfunctions.cache_clear()
    scheduler.cache_clear()
    secretsmanager.cache_clear()
    reset_event_clients()


# ------------------------------------------------------------ integration events (functions/events, webhooks)


@cache
def events() -> EventBridgeClient:
    with _lock:
        return boto3.client("events", config=_CONFIG)


@cache
def sqs() -> Any:
    with _lock:
        return boto3.client("sqs", config=_CONFIG)


def reset_event_clients() -> None:
    events.cache_clear()
    sqs.cache_clear()

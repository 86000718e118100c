"""Outbound webhooks, the pure part: which endpoints are acceptable, how a delivery is signed, back-off.

Signed with the platform's webhook key (functions/webhooks/keys.py; PUT /webhooks/{platform} returns
it), never with the secret the platform signs its own requests with (docs/integrators.md):
    X-OMS-Timestamp: Unix ms;  X-OMS-Signature: hex HMAC-SHA256(webhook key, "<timestamp>.<raw body>")
plus X-OMS-Event-Id / Idempotency-Key (the event id: the same on every redelivery) and X-OMS-Event-Type.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.core.auth.signing import (
    HEADER_PLATFORM,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    sign,
    timestamp_ms,
)

HEADER_EVENT_ID = "X-OMS-Event-Id"
HEADER_EVENT_TYPE = "X-OMS-Event-Type"
HEADER_IDEMPOTENCY_KEY = "Idempotency-Key"
USER_AGENT = "oms-webhooks/1"
BASE_BACKOFF_SECONDS = 30
MAX_BACKOFF_SECONDS = 900  # SQS caps a visibility timeout at 12 h; a quarter of an hour is plenty
MAX_ATTEMPTS = 6  # the queue's maxReceiveCount (template.yaml): then the message goes to the DLQ


class WebhookEndpointIn(BaseModel):
    """Body of PUT /webhooks/{platform}."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=8, max_length=2048, description="https URL (http only to a loopback address)")
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _acceptable(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be an https URL")
        if parts.scheme == "http" and not _loopback(parts.hostname):
            raise ValueError("must be https (plain http only to a loopback address, for local testing)")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials: the body is signed")
        return value


def is_loopback_url(url: str) -> bool:
    return _loopback(urlsplit(url).hostname or "")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def body_of(detail: dict[str, Any]) -> str:
    """The bytes POSTed: the event's documented `detail`, compact and key-sorted."""
    return json.dumps(detail, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def signed_headers(
    platform: str, secret: str, event_type: str, event_id: str, body: str, now: datetime
) -> dict[str, str]:
    timestamp = timestamp_ms(now)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        HEADER_PLATFORM: platform,
        HEADER_TIMESTAMP: timestamp,
        HEADER_SIGNATURE: sign(secret, timestamp, body),
        HEADER_EVENT_ID: event_id,
        HEADER_IDEMPOTENCY_KEY: event_id,
        HEADER_EVENT_TYPE: event_type,
    }


def backoff_seconds(attempt: int) -> int:
    """Wait before attempt `attempt + 1` (attempt counts from 1): 30 s, 60 s, 120 s ... at most 15 min."""
    return int(min(BASE_BACKOFF_SECONDS * 2 ** max(attempt - 1, 0), MAX_BACKOFF_SECONDS))


Outcome = Literal["delivered", "retrying", "failed", "no_endpoint", "disabled", "duplicate", "blocked"]


def succeeded(status: int) -> bool:
    return 200 <= status < 300

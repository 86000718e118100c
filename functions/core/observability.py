"""Logger, Tracer and Metrics shared by every function, so correlation keys and namespaces stay uniform."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

from functions.core.privacy import masked_json

# Service name, level and sampling come from POWERTOOLS_* variables; every record is serialised through
# masked_json, so buyer names, phones and addresses never reach the logs whoever logs them.
logger = Logger(json_serializer=masked_json)
tracer = Tracer()
metrics = Metrics(namespace="OMS")


def bind_order(order_id: str, execution_id: str | None = None, **keys: str) -> None:
    """Every later log line of this invocation carries the order and execution it belongs to.

    Thread-local keys: one Lambda container runs one invocation at a time, but the local stack runs
    many handlers in one process at once, and their keys must not bleed into each other's lines.
    """
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(order_id=order_id, execution_id=execution_id, **keys)

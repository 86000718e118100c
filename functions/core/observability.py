"""Logger, Tracer and Metrics shared by every function, so correlation keys and namespaces stay uniform.

Logs: JSON lines (Powertools Logger) carrying `order_id`, `execution_id` and `platform` once a handler
called `bind_order(...)` / `bind_platform(...)`. Never log buyer names, phones or addresses.

Metrics: CloudWatch Embedded Metric Format, written by Powertools. Every metric name lives in the one
catalogue below (`MetricName`); emit with `count(...)` / `emit(...)` from the place the decision is
known. Dimensions are low-cardinality only (`DIMENSIONS`): never an order id, buyer or SKU.

Each metric is flushed as its own EMF document by a fresh `EphemeralMetrics` (Powertools' provider that
shares no state): the shared `Metrics` object keeps its metric and dimension sets in class attributes,
which is right for one invocation per container but mixes up concurrent invocations in the local
runtime, where every handler runs in one process. Handlers wear `@instrumented(stage)`, which records
the stage latency, so every invocation publishes at least one metric.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, Metrics, MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

from functions.core.privacy import masked_json

NAMESPACE = "OMS"
F = TypeVar("F", bound=Callable[..., Any])

# Service name, level and sampling come from POWERTOOLS_* variables; every record is serialised through
# masked_json, so buyer names, phones and addresses never reach the logs whoever logs them.
logger = Logger(json_serializer=masked_json)


class _TracingOff:
    """The part of Powertools' Tracer the handlers use, for when tracing is off: the X-Ray SDK (a
    recorder and its SDK clients, a third of a cold start) is then never imported."""

    def capture_lambda_handler(self, lambda_handler: F | None = None, **_: Any) -> Any:
        return lambda_handler if lambda_handler is not None else (lambda handler: handler)

    def put_annotation(self, key: str, value: str | float | bool) -> None:
        return None


def _tracing_on() -> bool:
    """Powertools' own rule: trace only inside Lambda, not under SAM local, unless switched off."""
    switched_off = os.getenv("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in (
        "1",
        "true",
        "yes",
        "on",
    )
    in_lambda = bool(os.getenv("AWS_LAMBDA_FUNCTION_NAME")) and not os.getenv("AWS_SAM_LOCAL")
    return in_lambda and not switched_off


def _build_tracer() -> Tracer | _TracingOff:
    if not _tracing_on():
        return _TracingOff()
    from aws_lambda_powertools import Tracer

    # What the functions call out through: AWS SDK calls and urllib (webhooks, platform APIs). Patching
    # every library the X-Ray SDK knows imports the ones we never use (sqlite3, ...) at each cold start.
    return Tracer(patch_modules=("botocore", "httplib"))


# typed as Tracer: _TracingOff answers the same calls the handlers make
tracer = cast("Tracer", _build_tracer())
metrics = Metrics(namespace=NAMESPACE)  # kept for handlers that add metrics the Powertools way


class MetricName(StrEnum):
    """The one catalogue of business metric names (template.yaml's alarms and dashboard use them too)."""

    ORDERS_RECEIVED = "OrdersReceived"  # platform: first receipt of an order (not resends)
    ORDERS_AUTO_APPROVED = "OrdersAutoApproved"  # platform: review approved without a person
    ORDERS_HELD = "OrdersHeld"  # platform: parked for a person (review hold)
    ORDERS_APPROVED_MANUALLY = "OrdersApprovedManually"  # platform: a person approved a held order
    ORDERS_REJECTED = "OrdersRejected"  # platform, reason: every move to REJECTED
    ORDERS_ALLOCATED = "OrdersAllocated"  # platform: stock reserved for every line
    RESERVATIONS_REFUSED = "ReservationsRefusedForStock"  # platform: allocation found too little stock
    ORDERS_SHIPPED = "OrdersShipped"  # platform
    ORDERS_CANCELLED_ON_TIMEOUT = "OrdersCancelledOnTimeout"  # platform: unpaid past the payment window
    ORDERS_INTERCEPTED = "OrdersIntercepted"  # platform, action (cancel | hold)
    ORDERS_FAILED = "OrdersFailed"  # platform, stage: compensated after a stage failed for good
    SHIPMENTS_DELAYED = "ShipmentsDelayed"  # platform: a parcel flagged past its tracking SLA (delay check)
    ORDERS_DELIVERED = "OrdersDelivered"  # platform: every shipment of the order delivered
    LOGISTICS_EXCEPTIONS_OPENED = "LogisticsExceptionsOpened"  # platform, reason (damaged|lost|delayed)
    LOGISTICS_EXCEPTIONS_RESOLVED = "LogisticsExceptionsResolved"  # platform, action (reship|refund|dismiss)
    TRACKING_EVENTS = "TrackingEvents"  # reason: what a carrier event did (advance, progress, stale, ...)
    AFTERSALES_CASES_OPENED = "AfterSalesCasesOpened"  # platform (the after-sales work emits it)
    REFUNDS_ISSUED = "RefundsIssued"  # platform (the after-sales work emits it)
    HELD_ORDERS_OVER_SLA = "HeldOrdersOverSla"  # no dimension: gauge from the hold-escalation check
    STAGE_LATENCY = "StageLatency"  # stage, Milliseconds: one per handler invocation


# Dimensions a metric may carry; anything else (an order id, a buyer) would explode CloudWatch's cost.
DIMENSIONS = frozenset({"platform", "stage", "reason", "action"})


def bind_order(order_id: str, execution_id: str | None = None, **keys: str) -> None:
    """Every later log line of this invocation carries the order and execution it belongs to.

    Thread-local keys: one Lambda container runs one invocation at a time, but the local stack runs
    many handlers in one process at once, and their keys must not bleed into each other's lines.
    """
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(order_id=order_id, execution_id=execution_id, **keys)
    tracer.put_annotation(key="order_id", value=order_id)  # find an order's traces in X-Ray


def bind_platform(platform: str) -> None:
    """Add the order's platform to this invocation's log lines (known once the order is read)."""
    logger.thread_safe_append_keys(platform=platform)
    tracer.put_annotation(key="platform", value=platform)


def emit(name: MetricName, value: float, unit: MetricUnit = MetricUnit.Count, **dimensions: str) -> None:
    """Publish one metric now, as its own EMF document, with the given low-cardinality dimensions."""
    unknown = set(dimensions) - DIMENSIONS
    if unknown:
        raise ValueError(f"metric {name} with high-cardinality or unknown dimensions {sorted(unknown)}")
    document = EphemeralMetrics(namespace=NAMESPACE)
    for key, dimension in sorted(dimensions.items()):
        document.add_dimension(name=key, value=dimension)
    document.add_metric(name=MetricName(name).value, unit=unit, value=value)
    document.flush_metrics()


def count(name: MetricName, platform: str, value: int = 1, **dimensions: str) -> None:
    """A business event about orders of one platform (`count(MetricName.ORDERS_HELD, order.platform)`)."""
    emit(name, value, MetricUnit.Count, platform=platform, **dimensions)


def instrumented(stage: str) -> Callable[[F], F]:
    """Handler decorator: publish `StageLatency` (ms, dimension stage) for every invocation, even failed."""

    def decorate(handler: F) -> F:
        @functools.wraps(handler)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return handler(*args, **kwargs)
            finally:
                elapsed_ms = (time.perf_counter() - started) * 1000
                emit(MetricName.STAGE_LATENCY, round(elapsed_ms, 3), MetricUnit.Milliseconds, stage=stage)

        return wrapper  # type: ignore[return-value]

    return decorate

"""`oms bench`'s price table, its stated models, and the meters that count what the orders used.

Counted in the run: Step Functions transitions (Standard) and executions (Express), Lambda invocations,
DynamoDB units (oms/local/moto_patches.py), EventBridge entries put, SQS messages sent / received /
deleted, Scheduler schedules created and fired, and the bytes the handlers log at the deployed log level
(Powertools JSON lines and EMF metric documents). Stated, not measured: each function's duration on
AWS (`MODELLED_MS`), the Lambda platform lines per invocation and API Gateway's access-log line
(`LOG_BYTES_PER_*`): local wall time on a loaded laptop says nothing about Lambda's billed duration.
"""

from __future__ import annotations

import builtins
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# List prices, AWS region us-east-1 (N. Virginia), read on the pages named per line (dates per line;
# not fetched at run time: re-check before quoting). Free tiers are ignored.
PRICE_REGION = "us-east-1"
PRICE_DATE = "2025-11"
PRICES: dict[str, float] = {
    # https://aws.amazon.com/step-functions/pricing/ (2025-11) Standard: $0.025 per 1,000 state transitions
    "sfn_standard_per_transition": 0.025 / 1_000,
    # same page (2025-11) Express: $1.00 per 1M requests; $0.00001667 per GB-second (first 1,000 hours/month),
    # billed in 64 MB / 100 ms steps
    "sfn_express_per_request": 1.00 / 1_000_000,
    "sfn_express_per_gb_second": 0.00001667,
    # https://aws.amazon.com/lambda/pricing/ (2025-11) $0.20 per 1M requests; Arm: $0.0000133334 per
    # GB-second (first 7.5 billion GB-s tier); x86: $0.0000166667
    "lambda_per_request": 0.20 / 1_000_000,
    "lambda_per_gb_second_arm64": 0.0000133334,
    "lambda_per_gb_second_x86_64": 0.0000166667,
    # https://aws.amazon.com/dynamodb/pricing/on-demand/ (2025-11, after the Nov 2024 price cut):
    # $0.625 per million write request units, $0.125 per million read request units (Standard class)
    "dynamodb_per_wru": 0.625 / 1_000_000,
    "dynamodb_per_rru": 0.125 / 1_000_000,
    # https://aws.amazon.com/api-gateway/pricing/ (2025-11) REST APIs: $3.50 per million (first 333 million)
    "apigw_rest_per_request": 3.50 / 1_000_000,
    # https://aws.amazon.com/eventbridge/pricing/ (2025-11) custom events: $1.00 per million (64 KB chunks)
    "eventbridge_per_event": 1.00 / 1_000_000,
    # https://aws.amazon.com/sqs/pricing/ (2025-11) Standard queues: $0.40 per million requests (64 KB chunks)
    "sqs_per_request": 0.40 / 1_000_000,
    # https://aws.amazon.com/eventbridge/pricing/ (2025-11) Scheduler: $1.00 per million scheduled
    # invocations (creating and deleting schedules is not billed)
    "scheduler_per_invocation": 1.00 / 1_000_000,
    # https://aws.amazon.com/cloudwatch/pricing/ (2025-11) Logs, Standard class: $0.50 per GB ingested
    "cloudwatch_logs_per_gb": 0.50,
}

# Billed duration per invocation on AWS (arm64, warm), stated: ~5 ms of handler overhead plus ~8 ms per
# DynamoDB/SDK round trip in-region, times the round trips each function makes on the happy path
# (`dynamodb_requests` in the bench shows them). Functions not named here: DEFAULT_MODELLED_MS.
MODELLED_MS: dict[str, float] = {
    "ApiFunction": 45,  # signature replay guard put, order create, StartExecution
    "AuthorizerFunction": 10,  # HMAC check, key from a cached secret
    "ReviewFunction": 30,  # rules read, one transaction
    "AllocateFunction": 45,  # stock query, order read, one reservation transaction
    "ShipFunction": 40,  # order read, one ship transaction
    "PaymentFunction": 35,
    "PaymentTimeoutFunction": 30,
    "EventsPublisherFunction": 30,  # one PutEvents per stream batch
    "WebhookDeliveryFunction": 60,  # subscriber POSTs
    "SalesAggregatorFunction": 35,  # one counter transaction per batch
}
DEFAULT_MODELLED_MS = 40.0
# An Express execution waits on its tasks: its billed duration is the time on the stack's clock (retry
# back-offs; Lambda time does not move a virtual clock) plus each Lambda task's MODELLED_MS, plus the
# hand-over's StartExecution (stated: one in-region SDK call), rounded up to 100 ms, at 64 MB (the
# fast path's state is a few hundred bytes: the smallest billed memory step).
HANDOVER_MS = 25.0
EXPRESS_BILLED_MB = 64
# CloudWatch Logs lines not written by our code, stated: Lambda's START/END/REPORT lines (with the
# X-Ray trace line of active tracing) and API Gateway's access-log line (template.yaml's format).
LOG_BYTES_PER_INVOCATION = 420
LOG_BYTES_PER_API_REQUEST = 330
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html: each
# event counts its UTF-8 bytes plus 26 bytes.
LOG_EVENT_OVERHEAD_BYTES = 26


@dataclass
class Meter:
    """What the orders used of the services that are not DynamoDB, Lambda or Step Functions."""

    eventbridge_entries: int = 0
    sqs_sent: int = 0
    sqs_receives: int = 0  # receive requests that returned messages
    sqs_deletes: int = 0  # delete requests (a batch delete is one)
    schedules_created: int = 0
    log_lines: int = 0
    log_bytes: int = 0  # our JSON lines and EMF documents, at the deployed level, overhead included
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


class _CountingHandler(logging.Handler):
    def __init__(self, meter: Meter, formatter: logging.Formatter | None) -> None:
        super().__init__(logging.DEBUG)
        self.meter = meter
        if formatter is not None:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        self.meter.add("log_lines")
        self.meter.add("log_bytes", len(line.encode()) + 1 + LOG_EVENT_OVERHEAD_BYTES)


@contextmanager
def metered(log_level: str) -> Iterator[Meter]:
    """Count, while inside, the events, messages, schedules and log bytes every handler produces."""
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf import cloudwatch as emf
    from moto.events.models import EventsBackend
    from moto.scheduler.models import EventBridgeSchedulerBackend
    from moto.sqs.models import SQSBackend

    from functions.core.observability import logger

    meter = Meter()
    saved: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, name: str, count: Any) -> None:
        original = getattr(owner, name)
        saved.append((owner, name, original))

        def counted(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            count(args, kwargs, result)
            return result

        setattr(owner, name, counted)

    wrap(EventsBackend, "put_events", lambda a, k, r: meter.add("eventbridge_entries", len(a[1])))
    wrap(SQSBackend, "send_message", lambda a, k, r: meter.add("sqs_sent"))
    wrap(SQSBackend, "send_message_batch", lambda a, k, r: meter.add("sqs_sent", len(r[0]) if r else 0))
    wrap(SQSBackend, "receive_message", lambda a, k, r: meter.add("sqs_receives", 1 if r else 0))
    wrap(SQSBackend, "delete_message", lambda a, k, r: meter.add("sqs_deletes"))
    wrap(SQSBackend, "delete_message_batch", lambda a, k, r: meter.add("sqs_deletes"))
    wrap(EventBridgeSchedulerBackend, "create_schedule", lambda a, k, r: meter.add("schedules_created"))
    emf_print = getattr(emf, "print", builtins.print)
    saved.append((emf, "print", emf_print))

    def counted_print(*args: Any, **kwargs: Any) -> None:
        if len(args) == 1 and isinstance(args[0], str):
            meter.add("log_lines")
            meter.add("log_bytes", len(args[0].encode()) + 1 + LOG_EVENT_OVERHEAD_BYTES)
        emf_print(*args, **kwargs)

    emf.print = counted_print  # type: ignore[attr-defined]
    # our JSON lines at the deployed level, while the stdout handler keeps its own (quieter) level
    registered = logger.registered_handler
    handler_level, logger_level = registered.level, logger.log_level
    registered.setLevel(logger_level)
    counter = _CountingHandler(meter, registered.formatter)
    std_logger = logging.getLogger(logger.name)
    std_logger.addHandler(counter)
    logger.setLevel(log_level)
    try:
        yield meter
    finally:
        logger.setLevel(logger_level)
        std_logger.removeHandler(counter)
        registered.setLevel(handler_level)
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


def deployed_log_level(template_raw: dict[str, Any]) -> str:
    """The `LogLevel` parameter's default: what POWERTOOLS_LOG_LEVEL is on AWS."""
    return str(template_raw.get("Parameters", {}).get("LogLevel", {}).get("Default", "INFO"))


@dataclass
class OrderCounts:
    """Per-order counts of one kind of order (all from the run except the stated models above)."""

    orders: int
    standard_transitions: float
    express_requests: float
    express_gb_seconds: float
    lambda_invocations: dict[str, float]  # per order
    api_requests: float
    wcu: float
    rcu: float
    meter: dict[str, float]  # Meter.counts() per order
    schedules_fired: float
    express_log_bytes: float = 0.0  # the fast path's execution log records (level ALL)
    index_wcu: float = 0.0  # of `wcu`, the global secondary indexes' share (oms/bench_ceiling.py)
    standard_starts: float = 0.0  # Standard executions started (the hand-over of an order that waits)


def modelled_gb_seconds(invocations: dict[str, float], memory_mb: dict[str, int]) -> float:
    return sum(
        n * MODELLED_MS.get(name, DEFAULT_MODELLED_MS) / 1000 * memory_mb.get(name, 512) / 1024
        for name, n in invocations.items()
    )


def usd_per_1000(counts: OrderCounts, memory_mb: dict[str, int], arch: str) -> dict[str, float]:
    """Each service's dollars per 1,000 orders from the per-order counts and `PRICES`."""
    m = counts.meter
    invocations = sum(counts.lambda_invocations.values())
    log_bytes = (
        m["log_bytes"]
        + invocations * LOG_BYTES_PER_INVOCATION
        + counts.api_requests * LOG_BYTES_PER_API_REQUEST
        + counts.express_log_bytes
    )
    per_order = {
        "step_functions": counts.standard_transitions * PRICES["sfn_standard_per_transition"]
        + counts.express_requests * PRICES["sfn_express_per_request"]
        + counts.express_gb_seconds * PRICES["sfn_express_per_gb_second"],
        "lambda_requests": invocations * PRICES["lambda_per_request"],
        "lambda_duration": modelled_gb_seconds(counts.lambda_invocations, memory_mb)
        * PRICES[f"lambda_per_gb_second_{arch}"],
        "dynamodb_writes": counts.wcu * PRICES["dynamodb_per_wru"],
        "dynamodb_reads": counts.rcu * PRICES["dynamodb_per_rru"],
        "api_gateway": counts.api_requests * PRICES["apigw_rest_per_request"],
        "eventbridge": m["eventbridge_entries"] * PRICES["eventbridge_per_event"],
        "sqs": (m["sqs_sent"] + m["sqs_receives"] + m["sqs_deletes"]) * PRICES["sqs_per_request"],
        "scheduler": counts.schedules_fired * PRICES["scheduler_per_invocation"],
        "cloudwatch_logs": log_bytes / 1024**3 * PRICES["cloudwatch_logs_per_gb"],
    }
    return {k: round(v * 1000, 6) for k, v in per_order.items()}


def counts_summary(counts: OrderCounts) -> dict[str, Any]:
    return {
        "orders": counts.orders,
        "standard_transitions_per_order": round(counts.standard_transitions, 2),
        "lambda_invocations_per_order": round(sum(counts.lambda_invocations.values()), 2),
        "api_requests_per_order": round(counts.api_requests, 2),
        "dynamodb_wcu_per_order": round(counts.wcu, 2),
        "dynamodb_index_wcu_per_order": round(counts.index_wcu, 2),
        "dynamodb_rcu_per_order": round(counts.rcu, 2),
        "schedules_fired_per_order": round(counts.schedules_fired, 2),
        "express_log_bytes_per_order": round(counts.express_log_bytes, 1),
        **{k: round(v, 2) for k, v in counts.meter.items()},
    }


@dataclass
class ExpressTotals:
    requests: int
    gb_seconds: float
    log_bytes: int


def express_usage(runs: list[Any]) -> ExpressTotals:
    """Express requests, billed GB-seconds and log bytes of `runs` (oms/local/express.py's ExpressRun)."""
    gb_seconds = 0.0
    for run in runs:
        elapsed_ms = ((run.ended or run.started) - run.started).total_seconds() * 1000
        busy_ms = sum(MODELLED_MS.get(name, DEFAULT_MODELLED_MS) for name in run.tasks)
        billed_ms = -(-(elapsed_ms + busy_ms + (HANDOVER_MS if run.handed_over else 0)) // 100) * 100
        gb_seconds += billed_ms / 1000 * EXPRESS_BILLED_MB / 1024
    return ExpressTotals(len(runs), gb_seconds, sum(run.log_bytes for run in runs))

"""The local CloudWatch: collect the EMF documents Powertools Metrics writes, and summarise them.

On AWS, Lambda's log stream carries each EMF document (one JSON line on stdout) and CloudWatch turns it
into metrics. Locally every handler runs in this process, so `install()` replaces the `print` that
Powertools' EMF provider writes with: EMF documents go to one in-memory `MetricsCollector`, anything
else is printed as before. What is collected is exactly what the handlers flushed, so the summary
(`GET /metrics` of `oms serve`, the end of `oms simulate`) shows the same metrics CloudWatch would.
"""

from __future__ import annotations

import builtins
import json
import math
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics.provider.cloudwatch_emf import cloudwatch as _emf_provider

from functions.core.observability import MetricName

# The order funnel, in order: step name -> the metrics it sums, each with the dimensions it must carry.
Counted = tuple[MetricName, tuple[tuple[str, str], ...]]
FUNNEL: tuple[tuple[str, tuple[Counted, ...]], ...] = (
    ("received", ((MetricName.ORDERS_RECEIVED, ()),)),
    ("approved", ((MetricName.ORDERS_AUTO_APPROVED, ()), (MetricName.ORDERS_APPROVED_MANUALLY, ()))),
    ("held", ((MetricName.ORDERS_HELD, ()),)),
    ("allocated", ((MetricName.ORDERS_ALLOCATED, ()),)),
    ("shipped", ((MetricName.ORDERS_SHIPPED, ()),)),
    ("rejected", ((MetricName.ORDERS_REJECTED, ()),)),
    # Every way an order ends CANCELLED: unpaid past its window, or intercepted with action cancel.
    (
        "cancelled",
        (
            (MetricName.ORDERS_CANCELLED_ON_TIMEOUT, ()),
            (MetricName.ORDERS_INTERCEPTED, (("action", "cancel"),)),
        ),
    ),
    ("intercepted", ((MetricName.ORDERS_INTERCEPTED, ()),)),
    ("failed", ((MetricName.ORDERS_FAILED, ()),)),
)


@dataclass(frozen=True)
class Sample:
    name: str
    unit: str
    value: float
    dimensions: tuple[tuple[str, str], ...]  # sorted (name, value) pairs, without `service`


class MetricsCollector:
    """Thread-safe store of every metric value the local handlers published."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: list[Sample] = []
        self.documents = 0

    def record_emf(self, document: dict[str, Any]) -> None:
        """Take one EMF document apart: every metric of every directive, with its dimension values."""
        samples: list[Sample] = []
        for directive in document["_aws"]["CloudWatchMetrics"]:
            keys = {key for dimension_set in directive["Dimensions"] for key in dimension_set}
            dimensions = tuple(sorted((k, str(document[k])) for k in keys if k != "service"))
            for metric in directive["Metrics"]:
                values = document[metric["Name"]]
                for value in values if isinstance(values, list) else [values]:
                    samples.append(
                        Sample(metric["Name"], metric.get("Unit", "None"), float(value), dimensions)
                    )
        with self._lock:
            self._samples.extend(samples)
            self.documents += 1

    def clear(self) -> None:
        with self._lock:
            self._samples.clear()
            self.documents = 0

    def samples(self) -> list[Sample]:
        with self._lock:
            return list(self._samples)

    def total(self, name: str, **dimensions: str) -> float:
        """Sum of a metric over the samples whose dimensions include `dimensions`."""
        wanted = set(dimensions.items())
        return sum(s.value for s in self.samples() if s.name == name and wanted <= set(s.dimensions))

    def summary(self) -> dict[str, Any]:
        """Counters per metric and dimension, the funnel, and latency p50/p95 per stage (JSON-ready)."""
        counters: dict[str, dict[str, Any]] = {}
        by_dimension: dict[str, Counter[str]] = {}
        latencies: dict[str, list[float]] = {}
        for s in self.samples():
            if s.name == MetricName.STAGE_LATENCY:
                latencies.setdefault(dict(s.dimensions).get("stage", "?"), []).append(s.value)
                continue
            key = ",".join(f"{k}={v}" for k, v in s.dimensions) or "-"
            by_dimension.setdefault(s.name, Counter())[key] += int(s.value)
        for name, per_dimension in sorted(by_dimension.items()):
            counters[name] = {
                "total": sum(per_dimension.values()),
                "by_dimension": dict(sorted(per_dimension.items())),
            }
        return {
            "counters": counters,
            "funnel": {
                step: sum(int(self.total(m.value, **dict(dims))) for m, dims in metrics)
                for step, metrics in FUNNEL
            },
            "latency_ms": {stage: _latency(values) for stage, values in sorted(latencies.items())},
        }


def _latency(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50": round(_percentile(ordered, 50), 3),
        "p95": round(_percentile(ordered, 95), 3),
        "max": round(ordered[-1], 3),
    }


def _percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


COLLECTOR = MetricsCollector()


def _capture(*args: Any, **kwargs: Any) -> None:
    if len(args) == 1 and not kwargs and isinstance(args[0], str) and args[0].startswith('{"_aws"'):
        try:
            document = json.loads(args[0])
        except ValueError:
            document = None
        if isinstance(document, dict) and "_aws" in document:
            COLLECTOR.record_emf(document)
            return
    builtins.print(*args, **kwargs)


def install() -> MetricsCollector:
    """Route Powertools' EMF output into `COLLECTOR` (idempotent); returns the collector."""
    _emf_provider.print = _capture  # type: ignore[attr-defined]
    return COLLECTOR

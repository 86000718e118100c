"""The metric catalogue, its guard against high-cardinality dimensions, and the local EMF collector."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from functions.core.observability import MetricName, count, emit, instrumented
from oms.local import metrics as local_metrics


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> local_metrics.MetricsCollector:
    fresh = local_metrics.MetricsCollector()
    monkeypatch.setattr(local_metrics, "COLLECTOR", fresh)
    local_metrics.install()
    return fresh


def test_count_is_captured_from_the_emf_output_with_its_dimensions(collector):
    count(MetricName.ORDERS_HELD, "tmall")
    count(MetricName.ORDERS_HELD, "jd", value=2)
    (first, second) = collector.samples()
    assert (first.name, first.unit, first.value, first.dimensions) == (
        "OrdersHeld",
        "Count",
        1.0,
        (("platform", "tmall"),),
    )
    assert second.value == 2.0
    assert collector.total("OrdersHeld") == 3
    assert collector.summary()["counters"]["OrdersHeld"] == {
        "total": 3,
        "by_dimension": {"platform=jd": 2, "platform=tmall": 1},
    }


def test_order_ids_and_unknown_names_are_refused_as_dimensions_or_metrics(collector):
    with pytest.raises(ValueError, match="order_id"):
        emit(MetricName.ORDERS_SHIPPED, 1, platform="tmall", order_id="ord-1")
    with pytest.raises(ValueError, match="NotInTheCatalogue"):
        emit("NotInTheCatalogue", 1)  # type: ignore[arg-type]
    assert collector.samples() == []


def test_instrumented_records_latency_also_when_the_handler_fails(collector):
    @instrumented("review")
    def failing(event: dict, context: object) -> dict:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        failing({}, None)
    (sample,) = collector.samples()
    assert (sample.name, sample.unit, sample.dimensions) == (
        "StageLatency",
        "Milliseconds",
        (("stage", "review"),),
    )
    assert sample.value >= 0


def test_latency_percentiles_are_nearest_rank(collector):
    for ms in range(1, 101):
        emit(MetricName.STAGE_LATENCY, ms, MetricUnit.Milliseconds, stage="ship")
    assert collector.summary()["latency_ms"]["ship"] == {"count": 100, "p50": 50, "p95": 95, "max": 100}


def test_other_prints_still_reach_stdout(collector, capsys):
    local_metrics._capture("not a metric")
    assert capsys.readouterr().out == "not a metric\n"
    assert collector.samples() == []

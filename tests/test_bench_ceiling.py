"""oms/bench_ceiling.py: orders/s per limit from cited quotas and per-order counts (pure, no stack)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from oms.bench_ceiling import (
    QUOTAS,
    bench_ceiling,
    ceilings,
    hot_sku_orders_per_second,
    markdown,
    order_use,
)
from oms.bench_costs import MODELLED_MS, OrderCounts


def counts(**overrides: object) -> OrderCounts:
    """A paid-on-arrival order shaped like the bench's (2026-12-08 run), every figure overridable."""
    base = OrderCounts(
        orders=60,
        standard_transitions=0.0,
        express_requests=1.0,
        express_gb_seconds=0.0125,
        lambda_invocations={
            "ApiFunction": 1.0,
            "AuthorizerFunction": 1.0,
            "ReviewFunction": 1.0,
            "AllocateFunction": 1.0,
            "ShipFunction": 1.0,
            "EventsPublisherFunction": 0.45,
            "SalesAggregatorFunction": 0.42,
            "WebhookDeliveryFunction": 0.45,
        },
        api_requests=1.0,
        wcu=68.6,
        rcu=17.81,
        meter={"eventbridge_entries": 5.05, "sqs_sent": 4.05, "sqs_receives": 0.45, "sqs_deletes": 4.05},
        schedules_fired=0.0,
        index_wcu=16.05,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


WAITING = counts(
    standard_transitions=5.0,
    standard_starts=1.0,
    api_requests=2.0,
    wcu=89.95,
    index_wcu=20.0,
    meter={"eventbridge_entries": 7.1, "schedules_created": 1.0},
)


# template.yaml's shard settings today
SHARDS = {"SHIPMENT_DUE_SHARDS": 1, "StatusIndexShards": 8, "PaymentTimerShards": 1}


def rates(ceiling_rows: list[dict[str, object]], key: str) -> dict[str, object]:
    return {str(r["limit"]): r[key] for r in ceiling_rows}


def test_each_limit_is_its_quota_over_the_per_order_use():
    c = ceilings(order_use(counts(), WAITING, waiting_share=0.0), SHARDS)
    default = rates(c.table(), "orders_per_second_default")
    assert default["dynamodb_table_writes"] == round(40_000 / (68.6 - 16.05))  # 761
    assert default["dynamodb_index_writes"] == round(40_000 / 16.05)
    assert default["dynamodb_table_reads"] == round(40_000 / 17.81)
    assert default["express_start"] == 6_000
    assert default["api_gateway_account"] == 10_000
    assert default["eventbridge_put_events"] == round(10_000 / 5.05)
    # nothing waits: the Standard workflow's quotas, the scheduler's and SQS's do not limit
    for unused in (
        "standard_start",
        "standard_transitions",
        "send_task_success",
        "scheduler_create",
        "sqs_standard",
    ):
        assert default[unused] is None
    assert c.binding() == ("dynamodb_table_writes", pytest.approx(40_000 / 52.55))


def test_halving_the_table_writes_doubles_the_table_bound_ceiling():
    before = ceilings(order_use(counts(), WAITING, 0.0))
    after = ceilings(order_use(counts(wcu=16.05 + 52.55 / 2), WAITING, 0.0))
    table = {r.limit: r for r in before.rows}["dynamodb_table_writes"]
    halved = {r.limit: r for r in after.rows}["dynamodb_table_writes"]
    assert halved.orders_per_second_default == pytest.approx(2 * (table.orders_per_second_default or 0))
    # and the index's ceiling is untouched: index throughput is the index's own
    assert {r.limit: r for r in after.rows}[
        "dynamodb_index_writes"
    ].orders_per_second_default == pytest.approx(40_000 / 16.05)


def test_concurrency_is_littles_law_over_the_modelled_durations():
    one = counts(lambda_invocations={"ApiFunction": 1.0, "ShipFunction": 2.0})
    use = order_use(one, one, 0.0)
    busy = (MODELLED_MS["ApiFunction"] + 2 * MODELLED_MS["ShipFunction"]) / 1000
    assert use.concurrency_seconds == pytest.approx(busy)
    row = {r.limit: r for r in ceilings(use).rows}["lambda_concurrency"]
    assert row.orders_per_second_default == pytest.approx(1_000 / busy)
    assert row.orders_per_second_raised == pytest.approx(20_000 / busy)


def test_invocation_rate_leaves_out_what_aws_services_invoke_asynchronously():
    mix = counts(lambda_invocations={"ApiFunction": 1.0, "ChannelShipBackFunction": 1.0})
    every = order_use(mix, mix, 0.0)
    some = order_use(mix, mix, 0.0, async_functions=frozenset({"ChannelShipBackFunction"}))
    assert every.rate_limited_invocations == 2.0
    assert some.rate_limited_invocations == 1.0
    assert some.concurrency_seconds == every.concurrency_seconds  # concurrency still counts it


def test_the_waiting_share_puts_standard_quotas_in_play():
    all_wait = {r.limit: r for r in ceilings(order_use(counts(), WAITING, 1.0)).rows}
    assert all_wait["standard_start"].orders_per_second_default == pytest.approx(300)
    assert all_wait["standard_transitions"].orders_per_second_default == pytest.approx(5_000 / 5)
    tenth = {r.limit: r for r in ceilings(order_use(counts(), WAITING, 0.1)).rows}
    assert tenth["standard_start"].orders_per_second_default == pytest.approx(3_000)
    # a mix averages the two kinds of order
    assert tenth["dynamodb_table_writes"].use_per_order == pytest.approx(0.9 * 52.55 + 0.1 * 69.95)


def test_a_shared_key_binds_until_its_shards_are_raised():
    use = order_use(counts(), WAITING, 0.0)
    one = {r.limit: r for r in ceilings(use, {"SHIPMENT_DUE_SHARDS": 1, "StatusIndexShards": 8}).rows}
    row = one["dynamodb_partition_writes"]
    assert row.orders_per_second_default == pytest.approx(1_000)  # 1 WRU per order on SHIPDUE#0
    assert "SHIPDUE" in row.note
    four = {r.limit: r for r in ceilings(use, {"SHIPMENT_DUE_SHARDS": 4, "StatusIndexShards": 8}).rows}
    assert four["dynamodb_partition_writes"].orders_per_second_default == pytest.approx(4_000)  # STATUS: 2/8
    assert row.orders_per_second_raised == pytest.approx(32_000)  # SHIPDUE at 32 shards


def test_hot_sku_counter_sustains_a_quarter_of_a_partition_per_shard():
    assert hot_sku_orders_per_second(1) == 250
    assert hot_sku_orders_per_second(32) == 8_000


def test_every_quota_names_its_page_its_figure_and_whether_it_can_be_raised():
    for name, quota in QUOTAS.items():
        assert quota.url, name
        assert quota.quote, name
        assert quota.raised >= quota.default, name
    assert not QUOTAS["dynamodb_partition_writes"].adjustable
    assert QUOTAS["lambda_concurrency"].adjustable


def test_bench_report_is_plain_json_with_the_binding_limits():
    out = bench_ceiling(counts(), WAITING, frozenset(), SHARDS, waiting_share=0.1)
    json.loads(json.dumps(out, allow_nan=False))  # no Infinity: an unlimited quota is null
    summary = out["summary"]
    assert summary["binding_default"] == "dynamodb_table_writes"
    assert summary["default"] == min(
        r["orders_per_second_default"] for r in out["limits"] if r["orders_per_second_default"] is not None
    )
    assert summary["raised"] >= summary["default"]
    assert summary["binding_raised"] in {r["limit"] for r in out["limits"]}


def test_the_docs_table_is_rendered_from_the_bench_report():
    out = bench_ceiling(counts(), WAITING, frozenset(), SHARDS, waiting_share=0.1)
    text = markdown({"ceiling_orders_per_second": out["summary"], "ceiling_limits": out["limits"]})
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == len(out["limits"])
    assert "| `sqs_standard` |" in text
    assert "no limit" in text  # SQS standard queues
    assert (
        f"**{out['summary']['default']:,} orders/s at default quotas** (binding: `dynamodb_table_writes`)"
        in text
    )

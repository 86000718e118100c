"""`oms bench`: DynamoDB's size rules, and one small run whose figures must add up."""

from __future__ import annotations

import json

import pytest

from oms.cli import main
from oms.local.capacity import _index_write_units, item_size

REQUIRED = {
    "transitions_per_order",
    "lambda_invocations_per_order",
    "dynamodb_requests_per_order",
    "dynamodb_wcu_per_order",
    "usd_per_1000_orders",
    "cold_import_ratio",
    "pipeline_vs_floor",
    "hot_sku",
    "standard_transitions_per_order",
    "express_requests_per_order",
    "express_gb_seconds_per_order",
    "dynamodb_rcu_per_order",
    "waiting_order_usd_per_1000",
    "ceiling_orders_per_second",
    "ceiling_limits",
}
SERVICES = {"eventbridge", "sqs", "scheduler", "cloudwatch_logs", "lambda_duration", "step_functions"}


def test_item_size_follows_dynamodb_rules():
    # names count in UTF-8 bytes, strings in UTF-8 bytes, numbers ~1 byte per 2 significant digits + 1
    assert item_size({"pk": {"S": "abc"}}) == 2 + 3
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"ok": {"BOOL": True}, "z": {"NULL": True}}) == 3 + 2
    assert item_size({"名": {"S": "é"}}) == 3 + 2
    # maps and lists: 3 bytes of overhead plus 1 per element
    assert item_size({"m": {"M": {"a": {"S": "x"}}}}) == 1 + 3 + 1 + 1 + 1
    assert item_size({"l": {"L": [{"S": "x"}, {"S": "yy"}]}}) == 1 + 3 + (1 + 1) + (1 + 2)
    assert item_size(None) == 0


def test_gsi_write_units_follow_index_key_changes():
    index = ["gsi1pk,gsi1sk|ALL|pk"]
    before = {"pk": {"S": "a"}, "gsi1pk": {"S": "STATUS#A"}, "gsi1sk": {"S": "1"}}
    moved = {**before, "gsi1pk": {"S": "STATUS#B"}}
    touched = {**before, "x": {"S": "y"}}
    plain = {"pk": {"S": "a"}}
    assert _index_write_units(index, None, before) == 1  # enters the index
    assert _index_write_units(index, before, moved) == 2  # delete the old entry, put the new one
    assert _index_write_units(index, before, touched) == 1  # same key, projected attributes changed
    assert _index_write_units(index, before, before) == 0
    assert _index_write_units(index, plain, plain) == 0  # not in the index at all
    assert _index_write_units(index, before, None) == 1  # leaves it
    keys_only = ["gsi1pk,gsi1sk|KEYS_ONLY|pk"]
    big = {**before, "blob": {"S": "x" * 5000}}
    assert _index_write_units(index, None, big) == 5  # ALL projects the 5 KB item
    assert _index_write_units(keys_only, None, big) == 1  # KEYS_ONLY projects only the keys
    assert _index_write_units(keys_only, before, {**big, "x": {"S": "y"}}) == 0  # keys unchanged: no write


def test_bench_json_prints_every_figure_from_one_small_run(capsys):
    code = main(["bench", "--orders", "6", "--hot-contenders", "6", "--import-runs", "1", "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(out[-1])
    assert code == 0
    assert figures.keys() >= REQUIRED
    assert figures["happy_path_orders"] == 6
    assert figures["execution_status"] == {"SUCCEEDED": 6}
    # paid on arrival, nothing waits: the order runs on the Express fast path alone (ADR 0001), one
    # request billed at least Review + Allocate + Ship's modelled 115 ms, rounded up to 200 ms x 64 MB
    assert figures["standard_transitions_per_order"] == figures["transitions_per_order"] == 0
    assert figures["express_requests_per_order"] == 1
    assert figures["express_gb_seconds_per_order"] >= 0.2 * 64 / 1024
    # an order that waits for payment: the fast path hands it over, the waiting workflow bills its start,
    # Resume, AwaitPayment, Ship and Fulfilled
    assert figures["waiting_order_counts"]["standard_transitions_per_order"] == 5
    assert figures["waiting_order_counts"]["express_log_bytes_per_order"] > 0  # logging level ALL
    # each per-function figure is rounded to 2 places, so their sum may differ from the rounded total by
    # up to half a unit in the last place per term
    per_function = figures["lambda_invocations"]
    assert figures["lambda_invocations_per_order"] == pytest.approx(
        sum(per_function.values()), abs=0.005 * (len(per_function) + 1)
    )
    assert figures["dynamodb_wcu_per_order"] >= figures["dynamodb_requests"]["TransactWriteItems"] * 2
    assert figures["usd_per_1000_orders"] > 0
    assert abs(figures["usd_per_1000_orders"] - sum(figures["usd_breakdown_per_1000"].values())) < 1e-3
    assert figures["cold_import_ratio"] > 1  # every handler imports boto3 and more
    assert figures["cold_import_ratio_cpu"] > 1
    assert figures["import_cpu_seconds"].keys() == figures["import_seconds"].keys() >= {"boto3"}
    assert figures["pipeline_vs_floor"] > 0
    assert figures["floor_replay_mismatches"] == 0
    hot = figures["hot_sku"]
    assert hot["successes"] == hot["stock"] == 3
    assert hot["oversold"] == 0
    assert hot["reserved"] == 3
    assert hot["out_of_stock"] + hot["successes"] + hot["errors"] == 6
    assert figures["prices"]["region"] == "us-east-1"
    assert figures["usd_breakdown_per_1000"].keys() >= SERVICES
    # a happy path publishes integration events and logs at the deployed level: both are counted
    assert figures["services_per_order"]["eventbridge_entries"] >= 1
    assert figures["usd_breakdown_per_1000"]["cloudwatch_logs"] > 0
    # Lambda duration comes from the stated per-function table, not from this machine's wall time
    assert figures["prices"]["lambda_modelled_ms"]["ApiFunction"] > 0
    # an order that waits for payment costs more than one paid on arrival, and its timer was set
    assert figures["waiting_order_usd_per_1000"] > figures["usd_per_1000_orders"]
    assert figures["waiting_order_counts"]["schedules_created"] >= 1

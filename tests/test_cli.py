"""The `oms` console command: simulate, and history against a live server (`oms serve` as a real
process: tests/test_cli_serve_process.py)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from functions.core.models.order_in import OrderIn
from oms.cli import main
from oms.local.clock import VirtualClock
from oms.local.http import LocalHttpServer
from oms.local.stack import LocalStack
from oms.simulate import HIGH_VALUE_SKU, plan_simulation
from tests.factories import new_sku, order_body
from tests.serving import serving

# ---------------------------------------------------------------- simulate


def test_simulation_plan_is_deterministic_and_valid():
    plan = plan_simulation(60, seed=7)
    again = plan_simulation(60, seed=7)
    assert plan.orders == again.orders
    assert [s.stock for s in plan.skus] == [s.stock for s in again.skus]
    assert plan_simulation(60, seed=8).orders != plan.orders

    assert 10 <= len(plan.skus) <= 20
    assert len({o["platform"] for o in plan.orders}) >= 4
    for body, intent in zip(plan.orders, plan.intent, strict=True):
        order = OrderIn.model_validate(body)
        a = order.amounts
        adds_up = sum((line.amount for line in order.lines), Decimal(0)) == a.subtotal and (
            a.subtotal + a.shipping + a.tax - a.discount == a.total
        )
        assert adds_up == (intent != "mismatch")
        assert (a.total > 5000) == (intent == "high_value")
        assert (order.lines[0].sku == HIGH_VALUE_SKU) == (intent == "high_value")
    assert plan.intent.count("mismatch") >= 2
    assert plan.intent.count("high_value") >= 1
    short = [s for s in plan.skus if s.short]
    assert short
    assert all(sum(s.stock.values()) < s.demand for s in short)
    assert all(sum(s.stock.values()) > s.demand for s in plan.skus if not s.short)


def test_simulate_json_reports_a_balanced_run(capsys):
    assert main(["simulate", "--orders", "40", "--seed", "1", "--json"]) == 0

    last = capsys.readouterr().out.strip().splitlines()[-1]
    report = json.loads(last)
    assert report["orders"] == 40
    assert report["oversold"] == 0
    assert report["stock_mismatches"] == []
    assert report["missing_orders"] == 0
    assert report["misrouted_responses"] == 0
    assert sum(report["final_status"].values()) == 40
    # shipped, and then mostly delivered by the simulated carriers (docs/shipping.md)
    assert report["final_status"].get("SHIPPED", 0) + report["final_status"]["DELIVERED"] > 20
    assert report["shipping"]["orders_by_delivery"]["delivered"] == report["final_status"]["DELIVERED"]
    assert report["final_status"].get("REJECTED", 0) > 0
    assert sum(report["reviewed"].values()) > 0  # held orders were decided by the simulated reviewer
    assert report["final_status"].get("ON_HOLD", 0) == 0
    # Unpaid orders: half paid by the simulated platform within the timeout, half cancelled at the deadline.
    assert sum(report["unpaid"].values()) == 8
    assert report["payment_mismatches"] == []
    never_paid_cancelled = report["unpaid"].get("unpaid_never_paid: CANCELLED", 0)
    assert never_paid_cancelled >= 1
    assert report["cancelled_unpaid"] == never_paid_cancelled
    assert report["final_status"]["CANCELLED"] == never_paid_cancelled
    assert report["payments"].get("200 applied", 0) + report["payments"].get("200 recorded", 0) >= 1
    assert report["timers_fired"]["pay-deadline schedules"] >= never_paid_cancelled
    assert report["timers_fired"]["sweeps"] >= 30  # the deadline is 30 simulated minutes away
    assert report["reasons"].get("TOTAL_MISMATCH", 0) >= 1
    assert report["post_status"] == {"201": 40}
    assert report["execution_status"] == {"SUCCEEDED": 40}
    for key in ("transitions_per_order", "dynamodb_requests_per_order", "lambda_invocations_per_order"):
        assert report[key] > 0
    assert report["wall_seconds"] > 0
    assert report["total_wall_seconds"] >= report["wall_seconds"]
    # Units shipped per SKU are exactly what left the shelves (what was there, plus the mid-run delivery).
    stock = report["stock"]
    before, after, shipped, restocked = stock["before"], stock["after"], stock["shipped"], stock["restocked"]
    assert sum(restocked.values()) > 0
    for sku, units in shipped.items():
        assert before[sku]["on_hand"] + restocked[sku] - after[sku]["on_hand"] == units
        assert after[sku]["available"] >= 0
    # The sourcing engine under pressure: every counter equals its ledger, the flash sale is not oversold.
    assert report["ledger_mismatches"] == []
    flash = report["flash_sale"]
    assert 0 < flash["units_shipped"] <= flash["units_for_sale"] < flash["units_asked"]
    assert flash["oversold"] == 0
    assert flash["shards"] > 1


def test_simulate_prints_a_readable_summary(capsys):
    assert main(["simulate", "--orders", "12", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "Simulated 12 orders" in out
    assert "DELIVERED" in out
    assert "Tracking:" in out
    assert "Oversold SKUs:" in out
    assert "DynamoDB requests per order:" in out
    assert "Arrived unpaid" in out
    assert "Cancelled at the pay deadline:" in out


def test_simulate_refuses_nonsense(capsys):
    with pytest.raises(SystemExit):
        main(["simulate", "--orders", "0"])
    assert "at least 1" in capsys.readouterr().err


# ---------------------------------------------------------------- history against a live server


@pytest.fixture(scope="class")
def live() -> Iterator[tuple[LocalStack, LocalHttpServer]]:
    # Class-scoped so it is stopped before the simulate tests start their own stack (moto is global).
    with serving(LocalStack(clock=VirtualClock(datetime(2026, 5, 1, tzinfo=UTC)))) as live_pair:
        yield live_pair


class TestHistory:
    @pytest.fixture(autouse=True)
    def token_on_the_stack_clock(self, live, monkeypatch):
        """A token issued in the future is refused: mint it on the stack's clock (May 2026), not today's."""
        from oms.local import credentials

        stack, _ = live
        monkeypatch.setenv("OMS_TOKEN", credentials.staff_token("ops", "cli", stack.clock.now()))

    def test_prints_the_order_and_workflow_timeline(self, live, capsys):
        from functions.core import repository

        stack, server = live
        from oms.local.catalog import register_products

        sku = new_sku()
        register_products([sku])
        repository.set_stock(sku, "WH-MAIN", 3)
        from oms.local import credentials

        raw = json.dumps(order_body([(sku, 1)]))
        headers = credentials.platform_headers(
            "tmall", raw, stack.clock.now(), method="POST", target="/orders"
        )
        response = stack.request("POST", "/orders", raw, headers)
        assert response.status == 201
        order_id = response.json()["order_id"]
        stack.wait_for_execution(response.json()["execution_arn"])

        assert main(["history", order_id, "--url", server.url]) == 0

        out = capsys.readouterr().out
        assert order_id in out
        assert "SHIPPED" in out
        for event in ("order.received", "review.approve", "stock.reserved", "order.shipped"):
            assert event in out
        for event in ("ExecutionStarted", "TaskStateEntered", "ExecutionSucceeded"):
            assert event in out
        assert "-> SHIPPED" in out
        assert "stage:ship" in out
        assert "fast path SUCCEEDED" in out  # paid on arrival: only the Express fast path ran
        assert "waiting workflow" not in out
        # Rows follow the timeline: the order is received before it ships.
        assert out.index("order.received") < out.index("order.shipped")

    def test_unknown_order_exits_1(self, live, capsys):
        _, server = live
        assert main(["history", "ord-" + "0" * 24, "--url", server.url]) == 1
        assert "not found" in capsys.readouterr().err

    def test_malformed_order_id_exits_1_with_the_reason(self, live, capsys):
        _, server = live
        assert main(["history", "not-an-order", "--url", server.url]) == 1
        assert "422" in capsys.readouterr().err


def test_history_without_a_server_exits_1(capsys):
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["history", "ord-" + "0" * 24, "--url", f"http://127.0.0.1:{port}", "--timeout", "2"]) == 1
    assert "cannot reach" in capsys.readouterr().err


def test_history_refuses_non_http_urls(capsys):
    assert main(["history", "ord-" + "0" * 24, "--url", "file:///etc/passwd"]) == 1
    assert "http" in capsys.readouterr().err

"""A simulated run publishes, through Powertools' EMF output, one business metric per outcome.

The counts are compared with what the run's books say happened (final statuses, rejection reasons,
the simulated reviewer's decisions, the plan's platforms), not with numbers written down here.
"""

from __future__ import annotations

import warnings
from collections import Counter

import pytest

from oms.simulate import PLATFORM_FUNCTION, SimulationReport, plan_simulation, run_simulation

ORDERS, SEED = 24, 5


@pytest.fixture(scope="module")
def run() -> tuple[SimulationReport, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = run_simulation(ORDERS, SEED, concurrency=4)
    return report, caught


def _counter(report: SimulationReport, name: str) -> dict[str, int]:
    return report.metrics["counters"].get(name, {"total": 0, "by_dimension": {}})  # type: ignore[no-any-return]


def test_run_is_balanced_and_every_order_was_counted_once_per_platform(run):
    report, _ = run
    assert report.ok
    received = _counter(report, "OrdersReceived")
    assert received["total"] == ORDERS
    platforms = Counter(body["platform"] for body in plan_simulation(ORDERS, SEED).orders)
    assert received["by_dimension"] == {f"platform={p}": n for p, n in sorted(platforms.items())}


def test_outcome_metrics_match_the_final_statuses(run):
    report, _ = run
    status = Counter(report.final_status)
    # the carriers tracked what shipped afterwards: a shipped order is SHIPPED or, by now, DELIVERED
    status["SHIPPED"] += status.pop("DELIVERED", 0)
    assert _counter(report, "OrdersShipped")["total"] == status["SHIPPED"] > 0
    assert _counter(report, "OrdersRejected")["total"] == status["REJECTED"] > 0
    # Allocated orders either shipped or were cancelled unpaid (stock is reserved before payment).
    cancelled_unpaid = _counter(report, "OrdersCancelledOnTimeout")["total"]
    assert cancelled_unpaid == status["CANCELLED"]
    # (an unpaid order still waiting for stock at its deadline was cancelled without being allocated)
    never_allocated = report.allocation.get("cancelled_while_backordered", 0)
    assert (
        _counter(report, "OrdersAllocated")["total"] == status["SHIPPED"] + cancelled_unpaid - never_allocated
    )
    assert _counter(report, "OrdersFailed")["total"] == status["FAILED"] == 0

    # The simulation backorders short orders (issue 3): refused for stock = rejected out of stock, or
    # after waiting in vain (BACKORDER_EXPIRED), or too large for one transaction.
    for_stock = ("OUT_OF_STOCK", "BACKORDER_EXPIRED", "ORDER_TOO_LARGE")
    refused = _counter(report, "ReservationsRefusedForStock")["total"]
    assert refused == sum(report.reasons.get(code, 0) for code in for_stock) > 0
    rejected_by = Counter()
    for key, n in _counter(report, "OrdersRejected")["by_dimension"].items():
        rejected_by[dict(part.split("=") for part in key.split(","))["reason"]] += n
    assert sum(rejected_by[code.lower()] for code in for_stock) == refused
    assert rejected_by["manual"] == report.reviewed.get("reject", 0)
    assert rejected_by["review"] == status["REJECTED"] - refused - rejected_by["manual"]

    held = _counter(report, "OrdersHeld")["total"]
    assert held == sum(report.reviewed.values()) > 0  # the simulated reviewer decided every held order
    assert _counter(report, "OrdersApprovedManually")["total"] == report.reviewed.get("approve", 0)
    approved = _counter(report, "OrdersAutoApproved")["total"] + report.reviewed.get("approve", 0)
    # every approved order reached allocation: shipped, refused for stock, or cancelled unpaid
    assert approved == status["SHIPPED"] + refused + cancelled_unpaid

    funnel = report.metrics["funnel"]
    assert funnel["received"] == ORDERS
    assert funnel["approved"] == approved
    assert funnel["shipped"] == status["SHIPPED"]
    assert funnel["rejected"] == status["REJECTED"]


def test_stage_latency_per_handler_invocation(run):
    report, _ = run
    latency = report.metrics["latency_ms"]
    stage_of = {
        "ApiFunction": "api",
        "AuthorizerFunction": "authorizer",
        "ReviewFunction": "review",
        "AllocateFunction": "allocate",
        "ShipFunction": "ship",
        "HoldFunction": "await_review",
        "PaymentFunction": "payment",
        "PaymentTimeoutFunction": "payment_timer",
        "HoldEscalationFunction": "hold_escalation",
        "InterceptFunction": "intercept",
        "CompensateFunction": "compensate",
        "ExecutionStoppedFunction": "execution_stopped",
        "AwaitStockFunction": "await_stock",
        "DelayCheckFunction": "delay_check",
        "AfterSalesFunction": "aftersales",
        "AfterSalesTimerFunction": "aftersales_timer",
        "SalesAggregatorFunction": "sales_aggregator",
        "EventsPublisherFunction": "events_publisher",
        "WebhookDeliveryFunction": "webhook_delivery",
        "ChannelPullFunction": "channel_pull",
        "ChannelShipBackFunction": "channel_shipback",
    }
    for function, invocations in report.lambda_invocations.items():
        if function == PLATFORM_FUNCTION:
            continue  # the simulated marketplace paying later is not an OMS function
        figures = latency[stage_of[function]]
        assert figures["count"] == invocations, function  # one latency sample per invocation
        assert 0 < figures["p50"] <= figures["p95"] <= figures["max"]


def test_carriers_deliver_most_orders_and_the_books_still_balance(run):
    report, _ = run
    shipping = report.shipping
    assert shipping["parcels"] > 0
    assert shipping["outcomes"].get("applied", 0) > 0
    assert not [outcome for outcome in shipping["outcomes"] if outcome.startswith("HTTP")]
    assert sum(shipping["outcomes"].values()) == shipping["events_posted"]  # every post was answered
    assert shipping["orders_by_delivery"].get("delivered", 0) == report.final_status.get("DELIVERED", 0) > 0
    stalled = shipping["plan"].get("stalled", 0)
    assert shipping["exceptions_open"].get("delayed", 0) == stalled
    assert shipping["replacement_orders"] == shipping["plan"].get("damaged", 0)
    assert report.ok  # reships took stock through the books too


def test_no_empty_metrics_warning(run):
    _, caught = run
    assert not [w for w in caught if "No application metrics" in str(w.message)]

"""Deposit and balance (定金/尾款): the order arrives with its deposit paid, reserves stock and waits for
the balance; paid, it ships; unpaid by the balance deadline, it is cancelled and the deposit refunded or
kept as the strategy center says. On the stack's virtual clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest

from functions.core import repository
from tests.factories import new_sku, order_body

pytestmark = pytest.mark.e2e


def deposit_order(sku: str, stack: Any, due_in: timedelta | None = timedelta(hours=2)) -> dict[str, Any]:
    deposit: dict[str, Any] = {
        "payment_id": f"DEP-{sku}",
        "amount": "30.00",
        "paid_at": stack.clock.now().isoformat(),
    }
    if due_in is not None:
        deposit["balance_due_at"] = (stack.clock.now() + due_in).isoformat()
    return order_body([(sku, 2, "50.00")], payment={"status": "unpaid", "deposit": deposit})


def post_and_park(oms: Any, stack: Any, body: dict[str, Any]) -> tuple[str, str]:
    posted = oms.post(body)
    assert posted.status == 201, posted.body
    order_id = posted.json()["order_id"]
    stack.run_until(lambda: repository.get_order(order_id).status == "AWAITING_PAYMENT", 20, advance=False)
    return order_id, posted.json()["execution_arn"]


@contextmanager
def payment_rules(oms: Any, **fields: Any) -> Iterator[None]:
    before = oms.call("GET", "/rules").json()
    stored = oms.call("PUT", "/rules", {**before, "payment": {**before["payment"], **fields}})
    assert stored.status == 200, stored.body
    try:
        yield
    finally:
        latest = oms.call("GET", "/rules").json()
        assert oms.call("PUT", "/rules", {**before, "version": latest["version"]}).status == 200


def test_the_balance_pays_the_rest_and_the_order_ships(oms, stack):
    sku = new_sku("DEP")
    oms.set_stock(sku, 5)
    order_id, execution_arn = post_and_park(oms, stack, deposit_order(sku, stack))
    assert oms.stock(sku)["reserved"] == 2

    whole = oms.pay(order_id, "BAL-1", "100.00", stack.clock.now().isoformat())
    assert whole.status == 422
    assert whole.json()["error"]["message"] == (
        "amount 100.00 does not equal the balance due after the deposit 70.00"
    )
    balance = oms.pay(order_id, "BAL-1", "70.00", stack.clock.now().isoformat())
    assert balance.status == 200, balance.body
    assert oms.wait(execution_arn)["status"] == "SUCCEEDED"
    order = oms.order(order_id)
    assert order["status"] == "SHIPPED"
    assert order["payment"]["deposit"]["amount"] == "30.00"
    assert order["payment_received"]["amount"] == "70.00"


def test_an_unpaid_balance_cancels_at_its_deadline_and_refunds_the_deposit(oms, stack):
    sku = new_sku("DEP")
    oms.set_stock(sku, 5)
    body = deposit_order(sku, stack)
    due = datetime.fromisoformat(body["payment"]["deposit"]["balance_due_at"])
    order_id, execution_arn = post_and_park(oms, stack, body)
    assert datetime.fromisoformat(oms.order(order_id)["pay_deadline"]) == due

    assert oms.wait(execution_arn)["status"] == "SUCCEEDED"
    assert oms.states_entered(execution_arn)[-2:] == ["AwaitPayment", "CancelledUnpaid"]
    order = oms.order(order_id)
    assert order["status"] == "CANCELLED"
    assert order["cancellation"]["code"] == "PAYMENT_TIMEOUT"
    assert order["cancellation"]["message"].startswith(f"the balance of order {order_id} was not paid by")
    assert order["refund_required"] is True
    timeout = repository.load_aggregate(order_id).events[-1]
    assert timeout.type == "payment.timeout"
    assert timeout.at == due
    assert timeout.detail["deposit"] == {"payment_id": f"DEP-{sku}", "amount": "30.00", "outcome": "refund"}
    assert oms.stock(sku) == {"on_hand": 5, "reserved": 0, "available": 5}


def test_the_strategy_center_may_keep_the_deposit_and_set_the_balance_timeout(oms, stack):
    sku = new_sku("DEP")
    oms.set_stock(sku, 5)
    with payment_rules(oms, deposit_on_balance_timeout="keep", balance_timeout_hours=5):
        received = stack.clock.now()
        order_id, execution_arn = post_and_park(oms, stack, deposit_order(sku, stack, due_in=None))
        assert datetime.fromisoformat(oms.order(order_id)["pay_deadline"]) == received + timedelta(hours=5)
        assert oms.wait(execution_arn)["status"] == "SUCCEEDED"
    order = oms.order(order_id)
    assert order["status"] == "CANCELLED"
    assert order["refund_required"] is False
    detail = repository.load_aggregate(order_id).events[-1].detail
    assert detail["deposit"]["outcome"] == "keep"


def test_a_deposit_must_leave_a_balance_and_comes_with_an_unpaid_order(oms, stack):
    sku = new_sku("DEP")
    oms.set_stock(sku, 5)
    body = deposit_order(sku, stack)
    body["payment"]["deposit"]["amount"] = "100.00"
    refused = oms.post(body)
    assert refused.status == 422, refused.body
    assert refused.json()["error"]["fields"][0]["field"] == "body.payment.deposit.amount"
    paid = deposit_order(sku, stack)
    paid["payment"]["status"] = "paid"
    assert oms.post(paid).status == 422
    assert oms.stock(sku)["reserved"] == 0


def test_a_presale_whose_balance_is_unpaid_is_cancelled_while_it_waits_for_its_date(oms, stack):
    sku = new_sku("DEP")
    oms.set_stock(sku, 5)
    body = deposit_order(sku, stack, due_in=timedelta(hours=2))
    body["flags"] = {"presale": True, "ships_after": (stack.clock.now() + timedelta(hours=4)).isoformat()}
    with payment_rules(oms):  # review holds presale orders by default: let this one pass
        before = oms.call("GET", "/rules").json()
        review = {**before["review"], "presale_action": "pass"}
        assert oms.call("PUT", "/rules", {**before, "review": review}).status == 200
        posted = oms.post(body)
        assert posted.status == 201, posted.body
        execution = oms.wait(posted.json()["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    assert oms.states_entered(posted.json()["execution_arn"])[-2:] == ["AwaitStock", "CancelledUnpaid"]
    order = oms.order(posted.json()["order_id"])
    assert order["status"] == "CANCELLED"
    assert order["refund_required"] is True
    assert oms.stock(sku) == {"on_hand": 5, "reserved": 0, "available": 5}

"""Payment callbacks on the fake unit of work: a payment for a cancelled order is flagged for refund
once, however often the platform resends it, and a payment before parking is recorded on the order."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from functions.core import repository
from functions.core.models.orders import Order
from functions.core.repository.fake import Ledger
from functions.core.status import OrderStatus
from functions.payment import service
from functions.payment.models import PaymentCallback
from tests.factories import order_body, stored_order

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def unpaid(uow: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[Order]:
    order, _ = stored_order(order_body([("SKU-A", 1, "30.00")], payment={"status": "unpaid"}), NOW)
    current = [order]
    monkeypatch.setattr(repository, "get_order", lambda order_id: current[0])
    monkeypatch.setattr(service.timers, "delete_timeout_schedule", lambda order_id: True)
    return current


def _callback(order: Order, payment_id: str = "pay-1") -> PaymentCallback:
    return PaymentCallback(payment_id=payment_id, amount=order.amounts.total, paid_at=NOW)


def test_a_payment_for_a_cancelled_order_is_flagged_for_refund_with_its_history(
    unpaid: list[Order], uow: Ledger
) -> None:
    unpaid[0] = unpaid[0].model_copy(update={"status": OrderStatus.CANCELLED})
    with pytest.raises(service.PaymentRefusedError) as refused:
        service.pay_order(unpaid[0].order_id, _callback(unpaid[0]))
    assert refused.value.code == "ORDER_CANCELLED"
    (transaction,) = uow.committed
    assert [w.tag.partition("#")[0] for w in transaction] == ["order", "order_event", "refund_flag"]
    assert transaction[2].body["Item"]["sk"] == {"S": "REFUND#pay-1"}


def test_the_same_refused_payment_resent_is_not_flagged_twice(unpaid: list[Order], uow: Ledger) -> None:
    unpaid[0] = unpaid[0].model_copy(update={"status": OrderStatus.CANCELLED})
    uow.refuse_next("refund_flag")
    with pytest.raises(service.PaymentRefusedError):
        service.pay_order(unpaid[0].order_id, _callback(unpaid[0]))
    assert uow.committed == []


def test_a_payment_before_parking_is_recorded_and_leaves_the_timer_index(
    unpaid: list[Order], uow: Ledger
) -> None:
    outcome = service.pay_order(unpaid[0].order_id, _callback(unpaid[0]))
    assert (outcome.outcome, outcome.status) == ("recorded", OrderStatus.RECEIVED)
    (transaction,) = uow.committed
    update = transaction[0].body
    removed = update["UpdateExpression"].split("REMOVE", 1)[1]
    assert {update["ExpressionAttributeNames"][n.strip()] for n in removed.split(",")} == {"gsi5pk", "gsi5sk"}


def test_an_amount_that_is_not_the_total_is_refused_before_anything_is_written(
    unpaid: list[Order], uow: Ledger
) -> None:
    wrong = PaymentCallback(payment_id="pay-1", amount=unpaid[0].amounts.total + Decimal("1"), paid_at=NOW)
    with pytest.raises(service.AmountMismatchError):
        service.pay_order(unpaid[0].order_id, wrong)
    assert uow.committed == []

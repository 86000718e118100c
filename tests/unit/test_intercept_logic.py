"""Exception interception as pure logic: which orders can be stopped, and what stopping one does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from functions.core.models.orders import Hold, Interception, RuleHit
from functions.core.status import OrderStatus
from functions.intercept.logic import InterceptIn, is_resend, outcome_of, plan, refusal
from tests.factories import new_sku, order_body, stored_order

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(hours=4)


def _order(status: OrderStatus, hold: Hold | None = None):
    order, _ = stored_order(order_body([(new_sku(), 1)]), T0)
    return order.model_copy(update={"status": status, "hold": hold})


def _interception(action: str, reason: str = "buyer asked") -> Interception:
    return Interception(reason=reason, action=action, actor="user:ops", requested_at=T0)


@pytest.mark.parametrize(
    "status", [OrderStatus.RECEIVED, OrderStatus.ON_HOLD, OrderStatus.APPROVED, OrderStatus.ALLOCATED]
)
def test_orders_that_have_not_shipped_can_be_intercepted(status):
    assert refusal(_order(status)) is None


@pytest.mark.parametrize("status", [OrderStatus.SHIPPED, OrderStatus.DELIVERED])
def test_shipped_orders_are_refused_as_after_sales_cases(status):
    refused = refusal(_order(status))
    assert (refused.code, refused.status) == ("AFTER_SALES", 409)
    assert "after-sales" in refused.message


@pytest.mark.parametrize("status", [OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.FAILED])
def test_final_orders_are_refused(status):
    assert refusal(_order(status)).code == "ALREADY_FINAL"


@pytest.mark.parametrize(
    "status", [OrderStatus.RECEIVED, OrderStatus.ON_HOLD, OrderStatus.APPROVED, OrderStatus.ALLOCATED]
)
def test_cancel_releases_stock_and_ends_the_order(status):
    decided = plan(_order(status), _interception("cancel"), T0, LATER)
    assert decided.target == OrderStatus.CANCELLED
    assert decided.release_stock is True
    assert decided.hold is None


@pytest.mark.parametrize(
    ("status", "resume"),
    [(OrderStatus.RECEIVED, "allocate"), (OrderStatus.APPROVED, "allocate"), (OrderStatus.ALLOCATED, "ship")],
)
def test_hold_keeps_stock_and_resumes_where_it_stopped(status, resume):
    decided = plan(_order(status), _interception("hold", "address change"), T0, LATER)
    assert decided.target == OrderStatus.ON_HOLD
    assert decided.release_stock is False
    assert decided.hold.source == "interception"
    assert decided.hold.resume == resume
    assert decided.hold.reasons == [RuleHit(code="INTERCEPTED", message="address change")]
    assert (decided.hold.since, decided.hold.escalate_at) == (T0, LATER)


def test_hold_of_an_order_already_held_adds_the_reason_and_keeps_its_hold():
    review_hold = Hold(
        source="review",
        reasons=[RuleHit(code="HIGH_VALUE", message="big")],
        since=T0 - timedelta(hours=1),
        escalate_at=T0 + timedelta(hours=3),
    )
    decided = plan(_order(OrderStatus.ON_HOLD, review_hold), _interception("hold"), T0, LATER)
    assert decided.target == OrderStatus.ON_HOLD
    assert [r.code for r in decided.hold.reasons] == ["HIGH_VALUE", "INTERCEPTED"]
    assert decided.hold.since == review_hold.since
    assert decided.hold.escalate_at == review_hold.escalate_at


def test_resend_is_the_same_reason_and_action():
    pending = _interception("cancel", "dup")
    assert is_resend(pending, InterceptIn(reason="dup", action="cancel"))
    assert not is_resend(pending, InterceptIn(reason="dup", action="hold"))
    assert not is_resend(pending, InterceptIn(reason="other", action="cancel"))


def test_outcome_and_pending():
    assert outcome_of(_interception("cancel")) == "cancelled"
    assert outcome_of(_interception("hold")) == "held"
    assert _interception("hold").pending
    assert not _interception("hold").model_copy(update={"state": "applied"}).pending


def test_request_body_is_validated():
    with pytest.raises(ValidationError):
        InterceptIn(reason="", action="cancel")
    with pytest.raises(ValidationError):
        InterceptIn(reason="x", action="refund")
    assert InterceptIn(reason="  spaced  ", action="hold").reason == "spaced"

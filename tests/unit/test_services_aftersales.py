"""After-sales service behaviour on the fake unit of work: what a decision, a refund confirmation and a
missed return deadline write, and what a refused write means (no DynamoDB, no state machine)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from functions.aftersales import service
from functions.aftersales.models import Case, CaseLine, CaseStatus, RefundCallback, case_id_for, refund_id_for
from functions.core import repository
from functions.core.errors import RefusedError, TransientError
from functions.core.models.aftersales import Refund
from functions.core.models.orders import Order
from functions.core.repository.fake import Ledger
from tests.factories import order_body, stored_order

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Store:
    """The reads the service makes, answered from memory."""

    def __init__(self, order: Order, case: Case) -> None:
        self.order, self.case = order, case
        self.refund: Refund | None = None

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(repository, "get_order", lambda order_id: self.order)
        monkeypatch.setattr(
            repository, "get_case", lambda order_id, case_id: self.case.model_dump(mode="json")
        )
        monkeypatch.setattr(repository, "get_refund", lambda order_id, refund_id: self.refund)
        monkeypatch.setattr(repository, "take_case_wait_token", lambda order_id, case_id: None)


@pytest.fixture
def store(uow: Ledger, monkeypatch: pytest.MonkeyPatch) -> Store:
    order, _ = stored_order(order_body([("SKU-A", 1, "30.00")]), NOW)
    case = Case(
        case_id=case_id_for(order.order_id, "ref-1"),
        order_id=order.order_id,
        platform=order.platform,
        buyer_id=order.buyer.id,
        kind="refund_only",
        status=CaseStatus.REQUESTED,
        reason="quality",
        reference="ref-1",
        lines=[CaseLine(sku="SKU-A", quantity=1, amount=Decimal("30.00"))],
        whole_order=True,
        amount=Decimal("30.00"),
        goods_value=Decimal("30.00"),
        currency=order.amounts.currency,
        before_shipment=False,
        return_required=False,
        opened_by="platform:tmall",
        opened_at=NOW,
        updated_at=NOW,
    )
    found = Store(order, case)
    found.install(monkeypatch)
    return found


def test_a_decision_moves_the_case_and_records_it_on_the_order_in_one_transaction(
    store: Store, uow: Ledger
) -> None:
    decided = service.decide(store.case.case_id, "approve", "ok", "user:cs")
    assert (decided.status, decided.decision, decided.version) == (CaseStatus.APPROVED, "approved", 2)
    (transaction,) = uow.committed
    order_id = store.order.order_id
    assert [w.tag for w in transaction] == [f"order#{order_id}", f"order_event#{order_id}", "case"]
    event = transaction[1].body["Item"]
    assert (event["type"], event["actor"]) == ({"S": "aftersales.approved"}, {"S": "user:cs"})


def test_a_decision_that_lost_a_race_for_the_case_reads_again_and_decides_once(
    store: Store, uow: Ledger
) -> None:
    uow.refuse_next("case")
    decided = service.decide(store.case.case_id, "reject", "no", "user:cs")
    assert decided.status == CaseStatus.REJECTED
    assert len(uow.committed) == 1


def test_a_case_that_keeps_moving_gives_up_with_a_retryable_error(store: Store, uow: Ledger) -> None:
    uow.refuse_next("case", times=100)
    with pytest.raises(TransientError, match="kept changing"):
        service.decide(store.case.case_id, "approve", "", "user:cs")
    assert uow.committed == []


def test_a_decision_on_a_closed_case_is_refused_and_writes_nothing(store: Store, uow: Ledger) -> None:
    store.case = store.case.model_copy(update={"status": CaseStatus.CLOSED})
    with pytest.raises(RefusedError) as refused:
        service.decide(store.case.case_id, "approve", "", "user:cs")
    assert refused.value.code == "CASE_STATUS"
    assert uow.committed == []


def _pending_refund(store: Store) -> str:
    refund_id = refund_id_for(store.case.case_id)
    store.case = store.case.model_copy(update={"status": CaseStatus.REFUND_PENDING, "refund_id": refund_id})
    store.refund = Refund(
        refund_id=refund_id,
        case_id=store.case.case_id,
        order_id=store.case.order_id,
        amount=Decimal("30.00"),
        currency=store.case.currency,
        status="requested",
        requested_at=store.case.opened_at,
    )
    return refund_id


def test_a_refund_confirmation_settles_refund_lines_case_and_order_together(
    store: Store, uow: Ledger
) -> None:
    refund_id = _pending_refund(store)
    outcome = service.settle_refund(
        refund_id, RefundCallback(status="succeeded", amount=Decimal("30.00")), "payment:provider"
    )
    assert outcome.applied
    assert outcome.case.status == CaseStatus.REFUNDED
    (transaction,) = uow.committed
    assert sorted(w.tag.partition("#")[0] for w in transaction) == sorted(
        ["order", "order_event", "case", "refund", "line"]
    )
    order_update = transaction[0].body
    name = next(k for k, v in order_update["ExpressionAttributeNames"].items() if v == "refund_summary")
    summary = order_update["ExpressionAttributeValues"][name.replace("#f", ":v")]["M"]
    assert (summary["refunded"], summary["full"]) == ({"S": "30.00"}, {"BOOL": True})


def test_a_refund_over_what_the_line_paid_is_refused_by_the_line_counter(store: Store, uow: Ledger) -> None:
    refund_id = _pending_refund(store)
    uow.refuse_next("line")
    with pytest.raises(RefusedError) as refused:
        service.settle_refund(
            refund_id, RefundCallback(status="succeeded", amount=Decimal("30.00")), "payment:provider"
        )
    assert refused.value.code == "OVER_REFUND"
    assert uow.committed == []


def test_a_refund_confirmed_twice_is_applied_once(store: Store, uow: Ledger) -> None:
    refund_id = _pending_refund(store)
    assert store.refund is not None
    store.refund = store.refund.model_copy(update={"status": "succeeded"})
    outcome = service.settle_refund(
        refund_id, RefundCallback(status="succeeded", amount=Decimal("30.00")), "payment:provider"
    )
    assert not outcome.applied
    assert uow.committed == []


def test_a_missed_return_deadline_closes_the_case_and_gives_back_the_claim(store: Store, uow: Ledger) -> None:
    due = NOW + timedelta(days=7)
    store.case = store.case.model_copy(update={"status": CaseStatus.AWAITING_RETURN, "return_deadline": due})
    assert service.return_deadline_passed(store.case.case_id, now=due + timedelta(seconds=1))
    (transaction,) = uow.committed
    assert [w.tag for w in transaction][2:] == ["case", "line", "deadline"]
    released = transaction[3].body["ExpressionAttributeValues"]
    assert (released[":amount"], released[":units"]) == ({"N": "30.00"}, {"N": "1"})


def test_a_return_deadline_not_yet_due_changes_nothing(store: Store, uow: Ledger) -> None:
    due = NOW + timedelta(days=7)
    store.case = store.case.model_copy(update={"status": CaseStatus.AWAITING_RETURN, "return_deadline": due})
    assert not service.return_deadline_passed(store.case.case_id, now=due - timedelta(seconds=1))
    assert uow.committed == []

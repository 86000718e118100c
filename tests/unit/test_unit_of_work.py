"""The unit of work: one transaction builder, cancellation reasons mapped to domain errors by tag, and
the read-decide-write retry. Run on the fake unit of work, which cancels the way DynamoDB does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from functions.core import repository
from functions.core.errors import IllegalTransitionError, TransientError
from functions.core.repository import ReadAgain, TransactionRejected, unit_of_work
from functions.core.repository.fake import Ledger
from functions.core.repository.unit_of_work import merge_updates, put, update
from functions.core.status import OrderStatus
from tests.factories import order_body, stored_order

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _marker(name: str, tag: str = "") -> repository.Write:
    return put({"pk": {"S": name}, "sk": {"S": "X"}}, "attribute_not_exists(pk)", tag=tag)


def test_a_write_becomes_a_request_on_the_one_table() -> None:
    write = update({"pk": {"S": "A"}, "sk": {"S": "B"}}, "SET n = :n", "n < :n", values={":n": {"N": "2"}})
    assert write.request("orders") == {
        "Update": {
            "TableName": "orders",
            "Key": {"pk": {"S": "A"}, "sk": {"S": "B"}},
            "UpdateExpression": "SET n = :n",
            "ConditionExpression": "n < :n",
            "ExpressionAttributeValues": {":n": {"N": "2"}},
        }
    }


def test_committed_writes_are_one_transaction(uow: Ledger) -> None:
    unit_of_work().add(_marker("a", "case"), _marker("b")).commit()
    unit_of_work().commit()  # nothing to write: no transaction
    assert [[w.tag for w in t] for t in uow.committed] == [["case", ""]]


def test_a_refused_write_is_named_by_its_tag_and_nothing_is_written(uow: Ledger) -> None:
    uow.refuse_next("line")
    with pytest.raises(TransactionRejected) as rejected:
        repository.commit([_marker("a", "case"), _marker("b", "line"), _marker("c", "line")])
    assert rejected.value.tags == {"line"}
    assert rejected.value.failed("line")
    assert not rejected.value.failed("case")
    assert uow.committed == []


def test_a_caller_maps_a_tag_or_its_family_to_a_domain_error(uow: Ledger) -> None:
    uow.refuse_next("order#ord-1")
    with pytest.raises(LookupError, match="ord-1"):
        repository.commit(
            [_marker("a", "order#ord-1"), _marker("b", "case")], {"order": lambda tag: LookupError(tag)}
        )


def test_retrying_reads_again_until_the_write_lands_then_gives_up() -> None:
    rounds: list[int] = []

    def attempt() -> str:
        rounds.append(1)
        if len(rounds) < 3:
            raise ReadAgain("moved")
        return "done"

    assert repository.retrying(attempt, rounds=5, gave_up="case x kept changing; retry") == "done"
    assert len(rounds) == 3

    def never() -> str:
        raise ReadAgain("moved")

    with pytest.raises(TransientError, match="case x kept changing; retry"):
        repository.retrying(never, rounds=2, gave_up="case x kept changing; retry")


def test_transition_commits_the_order_its_event_and_the_extras_together(uow: Ledger) -> None:
    order, _ = stored_order(order_body(), NOW)
    moved = repository.transition(
        order,
        OrderStatus.APPROVED,
        event_type="order.approved",
        actor="t",
        extra_items=[_marker("x", "extra")],
    )
    assert (moved.status, moved.version) == (OrderStatus.APPROVED, order.version + 1)
    (transaction,) = uow.committed
    assert [w.tag for w in transaction] == [
        f"order#{order.order_id}",
        f"order_event#{order.order_id}",
        "extra",
    ]


def test_transition_that_lost_a_race_to_its_own_retry_returns_what_is_stored(
    uow: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    order, _ = stored_order(order_body(), NOW)
    stored = order.model_copy(update={"status": OrderStatus.APPROVED, "version": order.version + 1})
    monkeypatch.setattr(repository.orders, "get_order", lambda order_id: stored)
    uow.refuse_next("order")
    assert repository.transition(order, OrderStatus.APPROVED, event_type="e", actor="t") == stored
    assert uow.committed == []


def test_transition_refused_because_the_order_moved_on_is_illegal(
    uow: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    order, _ = stored_order(order_body(), NOW)
    cancelled = order.model_copy(update={"status": OrderStatus.CANCELLED, "version": order.version + 1})
    monkeypatch.setattr(repository.orders, "get_order", lambda order_id: cancelled)
    uow.refuse_next("order")
    with pytest.raises(IllegalTransitionError):
        repository.transition(order, OrderStatus.APPROVED, event_type="e", actor="t")


def test_annotate_answers_none_when_the_order_moved_and_names_a_refused_extra(uow: Ledger) -> None:
    order, _ = stored_order(order_body(), NOW)
    uow.refuse_next("order")
    assert repository.annotate(order, event_type="e", actor="t", set_fields={}) is None
    uow.refuse_next("refund_flag")
    flag = repository.refund_flag_item(order.order_id, "pay-1", {})
    with pytest.raises(TransactionRejected) as rejected:
        repository.annotate(order, event_type="e", actor="t", set_fields={}, extra_items=[flag])
    assert rejected.value.tags == {"refund_flag"}
    annotated = repository.annotate(order, event_type="e", actor="t", set_fields={"note": "n"})
    assert annotated is not None
    assert annotated.status == order.status
    assert annotated.version == order.version + 1


def test_updates_of_one_item_are_sent_as_one_update_with_every_condition_and_tag() -> None:
    order = {"pk": {"S": "ORDER#o1"}, "sk": {"S": "ORDER"}}
    change = update(
        order,
        "SET #f0 = :v0 REMOVE #r0",
        "#f0 = :v0",
        names={"#f0": "status", "#r0": "hold"},
        values={":v0": {"S": "NEW"}},
        tag="order#o1",
    )
    held = update(
        order,
        "SET #res = :res",
        "attribute_not_exists(#res)",
        names={"#res": "res#A#W"},
        values={":res": {"M": {}}},
        tag="reservation",
    )
    used = update(
        order,
        "REMOVE #res",
        "#res.quantity = :q",
        names={"#res": "res#B#W"},
        values={":q": {"N": "2"}},
        tag="reservation",
    )
    other = _marker("counter", "stock")

    sent = merge_updates([change, other, held, used])

    assert [tags for _, tags in sent] == [["order#o1", "reservation", "reservation"], ["stock"]]
    merged = sent[0][0].body
    assert merged["Key"] == order
    assert merged["UpdateExpression"] == ("SET #u0_f0 = :u0_v0, #u1_res = :u1_res REMOVE #u0_r0, #u2_res")
    assert merged["ConditionExpression"] == (
        "(#u0_f0 = :u0_v0) AND (attribute_not_exists(#u1_res)) AND (#u2_res.quantity = :u2_q)"
    )
    assert merged["ExpressionAttributeNames"] == {
        "#u0_f0": "status",
        "#u0_r0": "hold",
        "#u1_res": "res#A#W",
        "#u2_res": "res#B#W",
    }
    assert set(merged["ExpressionAttributeValues"]) == {":u0_v0", ":u1_res", ":u2_q"}
    assert sent[1][0] is other


def test_a_refused_merged_update_names_every_write_it_stands_for(uow: Ledger) -> None:
    order = {"pk": {"S": "ORDER#o1"}, "sk": {"S": "ORDER"}}
    uow.refuse_next("reservation")
    with pytest.raises(TransactionRejected) as refused:
        unit_of_work().add(
            update(order, "SET n = :n", values={":n": {"N": "1"}}, tag="order"),
            update(
                order,
                "REMOVE #res",
                "#res.quantity = :q",
                names={"#res": "res#A#W"},
                values={":q": {"N": "1"}},
                tag="reservation",
            ),
            _marker("counter", "stock"),
        ).commit()
    assert refused.value.tags == {"order", "reservation"}
    assert uow.committed == []

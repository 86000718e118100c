"""A change decided by one task and written with the next (docs/adr/0007): one update of the status item,
conditional on the order as it was stored before both, with both history events in order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from functions.core import clock, repository
from functions.core.errors import IllegalTransitionError
from functions.core.repository import OrderChange, PriorChange
from functions.core.status import OrderStatus
from tests.factories import order_body, stored_order

REVIEWED = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
WRITTEN = datetime(2026, 1, 1, 10, 0, 2, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _write_time() -> Iterator[None]:
    """The write happens two seconds after review decided, whatever clock an earlier test left behind."""
    clock.use_clock(lambda: WRITTEN)
    yield
    clock.reset_clock()


def _approval(status: OrderStatus = OrderStatus.RECEIVED) -> PriorChange:
    order, _ = stored_order(order_body([("SKU-1", 1)]), REVIEWED)
    stored = order.model_copy(update={"status": status, "version": 3})
    review = {"decision": "approve", "reasons": []}
    return PriorChange(
        stored,
        OrderStatus.APPROVED,
        "review.approve",
        "stage:review",
        "exec-1",
        {"reasons": [], "rules_version": 7},
        {"review": review, "rules_version": 7},
        REVIEWED,
    )


def test_the_next_change_writes_the_prior_one_first_conditional_on_the_order_as_stored(table_env) -> None:
    prior = _approval()
    approved = prior.applied()
    assert (approved.status, approved.version, approved.rules_version) == (OrderStatus.APPROVED, 4, 7)

    change = OrderChange(
        approved, OrderStatus.ALLOCATED, "stock.reserved", "stage:allocate", "exec-1", {}, {}, prior
    )
    writes, after = repository.change_items(change)

    order_update, *events = writes
    values = order_update.body["ExpressionAttributeValues"]
    assert values[":expected_status"] == {"S": "RECEIVED"}
    assert values[":expected_version"] == {"N": "3"}
    assert {"S": "ALLOCATED"} in values.values()
    assert {"N": "5"} in values.values()  # one version per event
    assert [(e.body["Item"]["sk"]["S"], e.body["Item"]["type"]["S"]) for e in events] == [
        ("EVT#00000004", "review.approve"),
        ("EVT#00000005", "stock.reserved"),
    ]
    first, second = (e.body["Item"] for e in events)
    assert (first["from_status"]["S"], first["to_status"]["S"]) == ("RECEIVED", "APPROVED")
    assert first["actor"]["S"] == "stage:review"
    assert first["at"]["S"] == "2026-01-01T10:00:00Z"  # when review decided, not when written
    assert (second["from_status"]["S"], second["to_status"]["S"]) == ("APPROVED", "ALLOCATED")
    assert (after.status, after.version, after.rules_version) == (OrderStatus.ALLOCATED, 5, 7)
    assert after.review is not None


def test_a_prior_change_must_be_legal_and_the_next_must_follow_it(table_env) -> None:
    with pytest.raises(IllegalTransitionError):
        _approval(OrderStatus.SHIPPED).applied()
    prior = _approval()
    stale = prior.stored  # not prior.applied(): the versions do not follow
    change = OrderChange(stale, OrderStatus.APPROVED, "x", "stage:allocate", prior=prior)
    with pytest.raises(ValueError, match="does not follow"):
        repository.change_items(change)

"""The delay check and the resolution of logistics exceptions on the fake unit of work: one
transaction for the case, the parcel and its orders' history, and what a refused write means."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from functions.core import repository
from functions.core.models.orders import Order
from functions.core.models.shipping import ExceptionCase, ShipmentTracking
from functions.core.repository.fake import Ledger
from functions.core.status import OrderStatus
from functions.logistics import service
from tests.factories import order_body, stored_order

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def parcel(uow: Ledger, monkeypatch: pytest.MonkeyPatch) -> tuple[ShipmentTracking, Order]:
    order, _ = stored_order(order_body([("SKU-A", 1, "30.00")]), NOW)
    order = order.model_copy(update={"status": OrderStatus.SHIPPED, "version": 5})
    tracking = ShipmentTracking(
        shipment_id="shp-1",
        carrier="sf",
        tracking_number="SF1",
        warehouse="WH-MAIN",
        order_ids=[order.order_id],
        platforms=[order.platform],
        status="in_transit",
        status_at=NOW,
        last_progress_at=NOW,
        progress_due=NOW + timedelta(hours=48),
        created_at=NOW,
    )
    monkeypatch.setattr(repository, "get_tracking", lambda shipment_id: tracking)
    monkeypatch.setattr(repository, "get_order", lambda order_id: order)
    monkeypatch.setattr(
        repository, "load_aggregate", lambda order_id: repository.OrderAggregate(order, [], [], [])
    )
    return tracking, order


def test_a_stalled_parcel_opens_one_delayed_case_with_its_orders_history(
    parcel: tuple[ShipmentTracking, Order], uow: Ledger
) -> None:
    tracking, _ = parcel
    exception_id = service.flag_delay(tracking.shipment_id, NOW + timedelta(hours=49))
    assert exception_id is not None
    (transaction,) = uow.committed
    assert [w.tag.partition("#")[0] for w in transaction] == [
        "exception",
        "tracking",
        "order",
        "order_event",
        "order_event",
    ]
    events = [w.body["Item"]["type"]["S"] for w in transaction if w.tag.startswith("order_event")]
    assert events == ["shipment.delayed", "exception.opened"]
    watched = transaction[1].body
    assert "#r" in watched["UpdateExpression"].split("REMOVE", 1)[1]  # the SLA entry leaves the queue


def test_a_parcel_not_yet_due_is_left_alone(parcel: tuple[ShipmentTracking, Order], uow: Ledger) -> None:
    tracking, _ = parcel
    assert service.flag_delay(tracking.shipment_id, NOW + timedelta(hours=47)) is None
    assert uow.committed == []


def test_a_second_firing_of_the_check_finds_the_case_already_open(
    parcel: tuple[ShipmentTracking, Order], uow: Ledger
) -> None:
    tracking, _ = parcel
    uow.refuse_next("exception")
    assert service.flag_delay(tracking.shipment_id, NOW + timedelta(hours=49)) is None
    assert uow.committed == []


def test_an_order_that_moved_meanwhile_is_read_again(
    parcel: tuple[ShipmentTracking, Order], uow: Ledger
) -> None:
    tracking, order = parcel
    uow.refuse_next(f"order#{order.order_id}")
    assert service.flag_delay(tracking.shipment_id, NOW + timedelta(hours=49)) is not None
    assert len(uow.committed) == 1


def test_dismissing_an_open_case_resolves_it_with_the_orders_history(
    parcel: tuple[ShipmentTracking, Order], uow: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracking, _ = parcel
    case = service.case_for(tracking, "delayed", "timer:delay-check", "x", {})
    monkeypatch.setattr(repository, "get_exception", lambda exception_id: case)
    result = service.resolve(case.exception_id, "dismiss", "arrived late", "user:ops")
    assert not result.repeated
    assert result.case.status == "resolved"
    (transaction,) = uow.committed
    assert [w.tag.partition("#")[0] for w in transaction] == ["exception", "order", "order_event"]
    assert transaction[2].body["Item"]["type"]["S"] == "exception.resolved"


def test_a_case_resolved_twice_the_same_way_answers_the_stored_resolution(
    parcel: tuple[ShipmentTracking, Order], uow: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracking, _ = parcel
    case = service.case_for(tracking, "delayed", "timer:delay-check", "x", {})
    resolved = ExceptionCase.model_validate(
        {
            **case.model_dump(),
            "status": "resolved",
            "resolution": {"action": "dismiss", "comment": "c", "actor": "user:ops", "at": NOW},
        }
    )
    monkeypatch.setattr(repository, "get_exception", lambda exception_id: resolved)
    assert service.resolve(case.exception_id, "dismiss", "again", "user:ops").repeated
    assert uow.committed == []

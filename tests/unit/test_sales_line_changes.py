"""Line changes in the sales fold (pure): the sale counts the order as received whenever it is folded,
the change event moves the counters by the difference, and the counters equal the recount from the
order as it is now."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from functions.core.models.order_in import OrderLine
from functions.core.models.orders import ChangedLine, ChangeRecord, Order
from functions.core.status import OrderStatus
from functions.reports import logic
from functions.reports.logic import AggregateRow, aggregate, report_from_aggregates
from tests.factories import order_body, stored_order

UTC_ZONE = ZoneInfo("UTC")
DAY = date(2026, 3, 1)
AT = datetime(2026, 3, 1, 9, tzinfo=UTC)


def received(**payment: str) -> Order:
    body = order_body(
        [("A", 3, "33.33"), ("B", 1, "10.00")],
        platform="tmall",
        shipping="5.00",
        **({"payment": payment} if payment else {}),
    )
    order, _ = stored_order(body, AT)
    return order


def changed(order: Order, reference: str, quantities: dict[str, int], refund: str | None) -> Order:
    """The order after a line change as functions/changes records it (lines, amounts, change record)."""
    before = {line.sku: line for line in order.lines}
    lines = [
        line.model_copy(update={"quantity": quantities.get(line.sku, line.quantity)})
        for line in order.lines
        if quantities.get(line.sku, line.quantity) > 0
    ]
    lines += [  # a line added (unpaid orders), at 1.00 a unit
        OrderLine(sku=sku, quantity=q, unit_price=Decimal("1.00"))
        for sku, q in quantities.items()
        if sku not in before
    ]
    after = {line.sku: line for line in lines}
    amounts = order.amounts
    if refund is None:  # unpaid: the total follows the lines
        subtotal = sum((line.amount for line in lines), Decimal(0))
        amounts = amounts.model_copy(update={"subtotal": subtotal, "total": subtotal + amounts.shipping})
    record = ChangeRecord(
        reference=reference,
        kind="lines",
        fingerprint=reference,
        actor="user:ops",
        at=AT + timedelta(minutes=len(order.changes) + 1),
        refund=Decimal(refund) if refund is not None else None,
        lines=[
            ChangedLine(
                sku=sku,
                before=before[sku].quantity if sku in before else 0,
                after=q,
                amount_before=before[sku].amount if sku in before else Decimal(0),
                amount_after=after[sku].amount if sku in after else Decimal(0),
            )
            for sku, q in quantities.items()
        ],
        total_before=order.amounts.total,
        total_after=amounts.total,
    )
    return order.model_copy(update={"lines": lines, "amounts": amounts, "changes": [*order.changes, record]})


def folded(*pairs: tuple[logic.Source, Order]) -> dict[logic.AggKey, logic.Delta]:
    units = []
    for source, order in pairs:
        contribution = logic.contribution(source, order, UTC_ZONE)
        assert contribution is not None
        units += logic.units(contribution)
    return logic.fold(units)


def rows(counters: dict[logic.AggKey, logic.Delta]) -> list[AggregateRow]:
    return [AggregateRow(scope, day, name, values) for (scope, day, name), values in counters.items()]


def sale(order: Order) -> logic.Source:
    return logic.Source("sale", order.order_id, "ORDER")


def change(order: Order, reference: str, seq: int) -> logic.Source:
    return logic.Source("change", order.order_id, f"EVT#{seq:08d}", change_reference=reference)


def test_the_sale_counts_the_order_as_received_whether_folded_before_or_after_its_changes():
    original = received()
    once = changed(original, "chg-1", {"A": 2}, "34.84")
    twice = changed(once, "chg-2", {"B": 0}, "9.65")
    events = [(change(twice, "chg-1", 5), twice), (change(twice, "chg-2", 6), twice)]
    early = folded((sale(original), original), *events)  # the sale folded before either change
    late = folded((sale(twice), twice), *events)  # after both: it still counts what was received
    assert early == late
    assert logic.as_received(twice) == (
        (("A", 3, Decimal("99.99")), ("B", 1, Decimal("10.00"))),
        Decimal("114.99"),
    )
    platform = early[("P", DAY, "tmall")]
    assert platform == {
        "orders": 1,
        "sales": 1,
        "units": 2,
        "refunds": 2,
        "revenue_CNY": Decimal("70.50"),  # 114.99 - 34.84 - 9.65
        "refunded_CNY": Decimal("44.49"),
    }
    assert ("S", DAY, "tmall#B") not in early  # the line removed leaves the SKU's figures whole


def test_counters_equal_the_recount_from_the_order_as_it_is_now():
    for paid, refunds in ((True, ("34.84", "9.65")), (False, (None, None))):
        original = received() if paid else received(status="unpaid")
        once = changed(original, "chg-1", {"A": 2}, refunds[0])
        now = changed(once, "chg-2", {"B": 0, "C": 2} if not paid else {"B": 0}, refunds[1])
        if not paid:  # a line added to an unpaid order, its total recomputed
            assert (now.lines[-1].sku, now.amounts.total) == ("C", Decimal("73.66"))
        counters = folded((sale(now), now), (change(now, "chg-1", 5), now), (change(now, "chg-2", 6), now))
        from_counters = report_from_aggregates(rows(counters), DAY, DAY)
        from_orders = aggregate([now], DAY, DAY)
        assert from_counters.model_dump(exclude={"source"}) == from_orders.model_dump(exclude={"source"})


def test_a_cancellation_after_a_change_takes_off_what_was_left():
    original = received()
    once = changed(original, "chg-1", {"A": 2}, "34.84")
    cancel = ChangeRecord(
        reference="chg-2",
        kind="cancel",
        fingerprint="x",
        actor="user:ops",
        at=AT + timedelta(hours=1),
        refund=Decimal("80.15"),
    )
    ended = once.model_copy(update={"status": OrderStatus.CANCELLED, "changes": [*once.changes, cancel]})
    counters = folded(
        (sale(ended), ended),
        (change(ended, "chg-1", 5), ended),
        (logic.Source("reversal", ended.order_id, "EVT#00000009"), ended),
    )
    assert counters[("P", DAY, "tmall")] == {
        "orders": 1,
        "refunds": 1,
        "cancelled": 1,
        "refunded_CNY": Decimal("34.84"),
        "cancelled_amount_CNY": Decimal("80.15"),
    }
    from_orders = aggregate([ended], DAY, DAY)
    assert report_from_aggregates(rows(counters), DAY, DAY).model_dump(exclude={"source"}) == (
        from_orders.model_dump(exclude={"source"})
    )


def test_a_lines_changed_event_is_classified_by_its_reference():
    image = {
        "pk": "ORDER#o-1",
        "sk": "EVT#00000005",
        "type": "order.lines_changed",
        "detail": {"reference": "chg-1", "refund": "1.00"},
    }
    assert logic.classify("INSERT", image) == logic.Source(
        "change", "o-1", "EVT#00000005", change_reference="chg-1"
    )
    assert logic.classify("MODIFY", image) is None

"""Sales pre-aggregates: the stream fold (pure logic) and the exactly-once apply loop (in-memory store)."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.core import repository
from functions.core.errors import TransientError
from functions.core.models.orders import HistoryEvent, Order
from functions.core.settings import clear_settings_cache
from functions.core.status import OrderStatus
from functions.reports import aggregator, logic
from functions.reports.logic import aggregate, report_from_aggregates
from functions.reports.stream import StreamRecord
from tests.factories import order_body, stored_order

UTC_ZONE = ZoneInfo("UTC")


@pytest.fixture(autouse=True, scope="module")
def table_settings() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TABLE_NAME", "unit-test-table")
        patch.setenv("SALES_AGGREGATE_SHARDS", "3")
        clear_settings_cache()
        yield
    clear_settings_cache()


def make_order(
    platform: str = "tmall",
    lines: Sequence[tuple[str, int, str]] = (("A", 1, "10.00"),),
    at: datetime = datetime(2026, 3, 1, 15, tzinfo=UTC),
    currency: str = "CNY",
) -> Order:
    order, _ = stored_order(order_body(list(lines), platform=platform, currency=currency), at)
    return order


def insert(item: dict[str, Any], seq: int) -> StreamRecord:
    return StreamRecord.model_validate(
        {
            "eventID": f"e{seq}",
            "eventName": "INSERT",
            "dynamodb": {"Keys": {}, "NewImage": item, "SequenceNumber": str(seq)},
        }
    )


def order_record(order: Order, seq: int = 1) -> StreamRecord:
    return insert(repository._order_item(order), seq)


def event_record(order: Order, event: HistoryEvent, seq: int = 2) -> StreamRecord:
    return insert(repository._event_item(order.order_id, event), seq)


def cancelled(order: Order, seq: int = 5, status: OrderStatus = OrderStatus.CANCELLED) -> HistoryEvent:
    return HistoryEvent(
        seq=seq,
        at=order.created_at + timedelta(hours=1),
        type="order.cancelled",
        from_status=OrderStatus.ALLOCATED,
        to_status=status,
        actor="test",
    )


def refunded(order: Order, amount: str, seq: int = 9) -> HistoryEvent:
    return HistoryEvent(
        seq=seq,
        at=order.created_at + timedelta(days=3),
        type="order.refunded",
        from_status=OrderStatus.DELIVERED,
        to_status=OrderStatus.DELIVERED,
        actor="aftersales",
        detail={"case_id": "c1", "refund_id": f"r{seq}", "amount": amount, "currency": "CNY"},
    )


def plain(record: StreamRecord) -> dict[str, Any]:
    return repository.stream_image(record.dynamodb.NewImage or {})


# ---------------------------------------------------------------- classify


def test_classify_keeps_only_records_that_move_the_figures():
    order = make_order()
    assert logic.classify("INSERT", plain(order_record(order))) == logic.Source(
        "sale", order.order_id, "ORDER"
    )
    assert logic.classify("MODIFY", plain(order_record(order))) is None  # every later change of the order
    reversal = plain(event_record(order, cancelled(order)))
    assert logic.classify("INSERT", reversal) == logic.Source("reversal", order.order_id, "EVT#00000005")
    rejected = cancelled(order, status=OrderStatus.REJECTED)
    assert logic.classify("INSERT", plain(event_record(order, rejected))).kind == "reversal"
    # an annotation of an order already cancelled (CANCELLED -> CANCELLED) is not a second reversal
    again = cancelled(order).model_copy(update={"from_status": OrderStatus.CANCELLED, "seq": 6})
    assert logic.classify("INSERT", plain(event_record(order, again))) is None
    shipped = cancelled(order).model_copy(update={"to_status": OrderStatus.SHIPPED, "type": "order.shipped"})
    assert logic.classify("INSERT", plain(event_record(order, shipped))) is None
    refund = logic.classify("INSERT", plain(event_record(order, refunded(order, "3.50"))))
    assert refund == logic.Source("refund", order.order_id, "EVT#00000009", Decimal("3.50"), "CNY")
    assert logic.classify("INSERT", {"pk": "SKU#A", "sk": "WH#1"}) is None
    assert logic.classify("INSERT", {"pk": "SALESMARK#x", "sk": "EVT#00000001#0"}) is None


def test_a_refund_without_an_amount_fails_loudly():
    order = make_order()
    broken = refunded(order, "1.00").model_copy(update={"detail": {"case_id": "c1"}})
    with pytest.raises(KeyError):
        logic.classify("INSERT", plain(event_record(order, broken)))


# ---------------------------------------------------------------- effects, units, chunks


def test_effects_are_exact_decimals_on_the_day_of_receipt():
    order = make_order(lines=[("A", 3, "0.10"), ("B", 1, "1234567890.99")])
    sale = logic.contribution(logic.Source("sale", order.order_id, "ORDER"), order, UTC_ZONE)
    assert sale is not None
    assert sale.day == date(2026, 3, 1)
    found = logic.effects(sale)
    assert found[("P", date(2026, 3, 1), "tmall")] == {
        "orders": 1,
        "sales": 1,
        "units": 4,
        "revenue_CNY": Decimal("1234567891.29"),
    }
    assert found[("S", date(2026, 3, 1), "tmall#A")]["revenue_CNY"] == Decimal("0.30")
    reversal = logic.contribution(logic.Source("reversal", order.order_id, "EVT#00000005"), order, UTC_ZONE)
    assert reversal is not None
    total = logic.fold([logic.Unit("s", logic.effects(sale)), logic.Unit("r", logic.effects(reversal))])
    assert total == {
        ("P", date(2026, 3, 1), "tmall"): {
            "orders": 1,
            "cancelled": 1,
            "cancelled_amount_CNY": Decimal("1234567891.29"),
        },
        ("S", date(2026, 3, 1), "tmall#A"): {"cancelled": 1, "cancelled_amount_CNY": Decimal("0.30")},
        ("S", date(2026, 3, 1), "tmall#B"): {
            "cancelled": 1,
            "cancelled_amount_CNY": Decimal("1234567890.99"),
        },
    }


def test_the_day_is_the_report_zones_calendar_day():
    late = make_order(at=datetime(2026, 3, 1, 20, tzinfo=UTC))  # 04:00 on 2 March in Shanghai
    source = logic.Source("sale", late.order_id, "ORDER")
    assert logic.contribution(source, late, UTC_ZONE).day == date(2026, 3, 1)  # type: ignore[union-attr]
    shanghai = logic.contribution(source, late, ZoneInfo("Asia/Shanghai"))
    assert shanghai is not None
    assert shanghai.day == date(2026, 3, 2)


def test_replacement_orders_are_not_sales():
    from functions.core.models.orders import ReplacementOf

    order = make_order().model_copy(
        update={"replaces": ReplacementOf(order_id="ord-" + "1" * 24, cause="reship", cause_id="x")}
    )
    assert logic.contribution(logic.Source("sale", order.order_id, "ORDER"), order, UTC_ZONE) is None


def test_an_order_of_100_lines_is_two_units_that_each_fit_a_transaction():
    order = make_order(lines=[(f"SKU{i:03d}", 1, "1.00") for i in range(100)])
    sale = logic.contribution(logic.Source("sale", order.order_id, "ORDER"), order, UTC_ZONE)
    assert sale is not None
    parts = logic.units(sale)
    assert [len(u.deltas) for u in parts] == [99, 2]
    assert [u.marker for u in parts] == [f"{order.order_id}|ORDER#0", f"{order.order_id}|ORDER#1"]
    assert logic.units(sale) == parts  # deterministic: a redelivery makes the same markers
    assert logic.fold(parts) == logic.effects(sale)
    for chunk in logic.chunks(parts):
        assert len(chunk) + len(logic.fold(chunk)) <= logic.MAX_TRANSACTION_ITEMS


def test_chunks_fold_hot_keys_into_one_write_each():
    """A flash sale: 1,000 orders of one SKU on one platform -> 11 transactions of 2 counter writes."""
    orders = [make_order(platform="tmall", lines=[("HOT", 1, "9.90")]) for _ in range(1000)]
    pending = [
        u
        for o in orders
        for u in logic.units(logic.contribution(logic.Source("sale", o.order_id, "ORDER"), o, UTC_ZONE))  # type: ignore[arg-type]
    ]
    grouped = logic.chunks(pending)
    assert len(grouped) == 11  # 98 markers + 2 counters per transaction
    assert all(len(logic.fold(chunk)) == 2 for chunk in grouped)
    assert sum(len(logic.fold(chunk)) for chunk in grouped) == 22  # counter writes for 1,000 orders


# ---------------------------------------------------------------- the apply loop, exactly once


class Store:
    """TransactWriteItems as DynamoDB does it for apply_sales_counters: all or nothing, markers first."""

    def __init__(self, conflict_rate: float = 0.0, seed: int = 0) -> None:
        self.markers: set[tuple[str, str]] = set()
        self.counters: dict[tuple[str, int, str, str], dict[str, Decimal]] = {}
        self.transactions = 0
        self.random = random.Random(seed)
        self.conflict_rate = conflict_rate

    def apply(
        self,
        markers: Sequence[tuple[str, str]],
        counters: Mapping[tuple[str, str, str], Mapping[str, Decimal]],
        shard: int,
    ) -> list[int]:
        self.transactions += 1
        assert len(markers) + len(counters) <= logic.MAX_TRANSACTION_ITEMS
        assert len(set(markers)) == len(markers)  # DynamoDB refuses two operations on one item
        if self.random.random() < self.conflict_rate:
            raise TransientError("TransactionConflict")
        counted = [i for i, m in enumerate(markers) if m in self.markers]
        if counted:
            return counted
        self.markers.update(markers)
        for (scope, day, name), delta in counters.items():
            row = self.counters.setdefault((scope, shard, day, name), {})
            for attribute, value in delta.items():
                row[attribute] = row.get(attribute, Decimal(0)) + value
        return []

    def rows(self) -> list[logic.AggregateRow]:
        return [
            logic.AggregateRow(scope, date.fromisoformat(day), name, values)  # type: ignore[arg-type]
            for (scope, _, day, name), values in self.counters.items()
        ]

    def totals(self) -> dict[tuple[str, str, str], dict[str, Decimal]]:
        """Summed over shards, zeros dropped: what a reader sees."""
        out: dict[tuple[str, str, str], dict[str, Decimal]] = {}
        for (scope, _, day, name), values in self.counters.items():
            row = out.setdefault((scope, day, name), {})
            for attribute, value in values.items():
                row[attribute] = row.get(attribute, Decimal(0)) + value
        return {k: {a: v for a, v in row.items() if v} for k, row in out.items() if any(row.values())}


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    found = Store()
    monkeypatch.setattr(repository, "apply_sales_counters", found.apply)
    monkeypatch.setattr(aggregator.time, "sleep", lambda _: None)
    return found


def scenario(seed: int, n: int = 12) -> tuple[list[Order], list[StreamRecord], dict[str, Decimal]]:
    """Orders on 2 platforms over 3 days; some cancelled, some refunded. Their stream records, once each."""
    rng = random.Random(seed)
    orders: list[Order] = []
    records: list[StreamRecord] = []
    refunds: dict[str, Decimal] = {}
    for i in range(n):
        lines = [
            (sku, rng.randint(1, 5), f"{rng.randint(1, 99999) / 100:.2f}")
            for sku in rng.sample(["A", "B", "C", "D"], rng.randint(1, 3))
        ]
        at = datetime(2026, 3, 1, 12, tzinfo=UTC) + timedelta(days=rng.randint(0, 2), minutes=i)
        order = make_order(platform=rng.choice(["tmall", "jd"]), lines=lines, at=at)
        records.append(order_record(order, seq=len(records) + 1))
        fate = rng.choice(["kept", "kept", "cancelled", "refunded"])
        if fate == "cancelled":
            records.append(event_record(order, cancelled(order), seq=len(records) + 1))
            order = order.model_copy(update={"status": OrderStatus.CANCELLED})
        elif fate == "refunded":
            amount = (order.amounts.total / 3).quantize(Decimal("0.01"))
            records.append(event_record(order, refunded(order, str(amount)), seq=len(records) + 1))
            refunds[order.order_id] = amount
            order = order.model_copy(update={"status": OrderStatus.DELIVERED})
        orders.append(order)
    return orders, records, refunds


def lookup(monkeypatch: pytest.MonkeyPatch, orders: Sequence[Order]) -> None:
    by_id = {o.order_id: o for o in orders}
    monkeypatch.setattr(repository, "get_orders", lambda ids, **_: [by_id[i] for i in ids if i in by_id])


def test_folded_figures_equal_a_report_computed_from_the_orders(store, monkeypatch):
    orders, records, refunds = scenario(seed=7, n=40)
    lookup(monkeypatch, orders)
    result = aggregator.fold_records(records)
    assert result.duplicates == 0
    start, end = date(2026, 3, 1), date(2026, 3, 3)
    from_counters = report_from_aggregates(store.rows(), start, end, top=10)
    from_orders = aggregate(orders, start, end, top=10)
    assert from_counters.orders == from_orders.orders == 40
    assert from_counters.sales == from_orders.sales
    assert from_counters.cancelled == from_orders.cancelled
    assert from_counters.cancelled_amount == from_orders.cancelled_amount
    refunded_total = sum(refunds.values(), Decimal(0))
    assert from_counters.refunded == ({"CNY": f"{refunded_total:.2f}"} if refunded_total else {})
    net = Decimal(from_orders.revenue["CNY"]) - refunded_total
    assert from_counters.revenue == {"CNY": f"{net:.2f}"}
    assert from_counters.top_skus == from_orders.top_skus  # refunds are taken off days and platforms only
    for counted, direct in zip(from_counters.platforms, from_orders.platforms, strict=True):
        assert (counted.platform, counted.day, counted.orders, counted.sales, counted.units) == (
            direct.platform,
            direct.day,
            direct.orders,
            direct.sales,
            direct.units,
        )


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    redeliveries=st.lists(st.integers(0, 10_000), max_size=3),
    batch_size=st.integers(1, 30),
    max_items=st.integers(5, 100),
    conflict_rate=st.sampled_from([0.0, 0.2]),
)
def test_redelivered_duplicated_shuffled_batches_give_the_same_totals(
    seed: int, redeliveries: list[int], batch_size: int, max_items: int, conflict_rate: float
) -> None:
    """Every record once, plus redeliveries of random halves, shuffled, in batches of any size, small
    transactions, random conflicts: the counters (and markers) equal one clean in-order pass."""
    orders, records, _ = scenario(seed, n=10)
    with pytest.MonkeyPatch.context() as patch:
        lookup(patch, orders)
        patch.setattr(aggregator.time, "sleep", lambda _: None)
        clean = Store()
        patch.setattr(repository, "apply_sales_counters", clean.apply)
        aggregator.fold_records(records)

        messy = Store(conflict_rate=conflict_rate, seed=seed)
        patch.setattr(repository, "apply_sales_counters", messy.apply)
        patch.setattr(aggregator, "CONFLICT_RETRIES", 50)
        stream = list(records)
        for again in redeliveries:
            stream += random.Random(again).sample(records, len(records) // 2)
        random.Random(seed).shuffle(stream)
        for start in range(0, len(stream), batch_size):
            aggregator.fold_records(stream[start : start + batch_size], max_items=max_items)
    assert messy.totals() == clean.totals()
    assert messy.markers == clean.markers


def test_a_redelivered_batch_writes_nothing_new(store, monkeypatch):
    orders, records, _ = scenario(seed=3, n=20)
    lookup(monkeypatch, orders)
    first = aggregator.fold_records(records)
    before = store.totals()
    again = aggregator.fold_records(records)
    assert store.totals() == before
    assert again.duplicates == first.units
    assert again.counter_writes == 0


def test_conflicts_past_the_retries_fail_the_batch(monkeypatch):
    orders, records, _ = scenario(seed=4, n=3)
    lookup(monkeypatch, orders)
    always = Store(conflict_rate=1.0)
    monkeypatch.setattr(repository, "apply_sales_counters", always.apply)
    monkeypatch.setattr(aggregator.time, "sleep", lambda _: None)
    with pytest.raises(TransientError):
        aggregator.fold_records(records)  # Lambda retries the batch (bisecting); markers keep it once
    assert always.markers == set()


def test_report_sums_shards_and_filters_platform_skus():
    d = date(2026, 3, 1)
    rows = [
        logic.AggregateRow(
            "P", d, "tmall", {"orders": Decimal(2), "sales": Decimal(2), "revenue_CNY": Decimal("10.5")}
        ),
        logic.AggregateRow(
            "P", d, "tmall", {"orders": Decimal(1), "sales": Decimal(1), "revenue_CNY": Decimal("0.5")}
        ),
        logic.AggregateRow(
            "P", d, "jd", {"orders": Decimal(1), "sales": Decimal(0), "cancelled": Decimal(1)}
        ),
        logic.AggregateRow(
            "S", d, "tmall#A", {"sales": Decimal(3), "units": Decimal(3), "revenue_CNY": Decimal("11")}
        ),
        logic.AggregateRow(
            "S", d, "jd#B", {"sales": Decimal(9), "units": Decimal(9), "revenue_CNY": Decimal("9")}
        ),
        logic.AggregateRow(
            "S", d, "jd#C", {"sales": Decimal(0), "units": Decimal(0), "cancelled": Decimal(1)}
        ),
        logic.AggregateRow("P", date(2026, 2, 28), "tmall", {"orders": Decimal(50)}),  # outside the range
    ]
    everything = report_from_aggregates(rows, d, d)
    assert (everything.orders, everything.sales, everything.cancelled) == (4, 3, 1)
    assert everything.revenue == {"CNY": "11.00"}
    assert [(s.sku, s.quantity) for s in everything.top_skus] == [("B", 9), ("A", 3)]  # C: nothing sold
    assert everything.source == "aggregates"
    tmall = report_from_aggregates(rows, d, d, platform="tmall")
    assert (tmall.orders, tmall.revenue) == (3, {"CNY": "11.00"})
    assert [s.sku for s in tmall.top_skus] == ["A"]
    assert [(p.platform, p.orders) for p in tmall.platforms] == [("tmall", 3)]


def test_a_refund_of_a_cancelled_order_is_recorded_but_not_taken_off_twice():
    order = make_order(lines=[("A", 1, "40.00")])
    refund = logic.classify("INSERT", plain(event_record(order, refunded(order, "40.00"))))
    assert refund is not None
    shipped = logic.contribution(refund, order.model_copy(update={"status": OrderStatus.DELIVERED}), UTC_ZONE)
    gone = logic.contribution(refund, order.model_copy(update={"status": OrderStatus.CANCELLED}), UTC_ZONE)
    assert shipped is not None
    assert gone is not None
    key = ("P", date(2026, 3, 1), "tmall")
    assert logic.effects(shipped)[key] == {
        "refunds": 1,
        "refunded_CNY": Decimal("40.00"),
        "revenue_CNY": Decimal("-40.00"),
    }
    assert logic.effects(gone)[key] == {"refunds": 1, "refunded_CNY": Decimal("40.00")}

"""Sales figures (pure): per-day, per-platform and per-SKU, from daily pre-aggregates or from orders.

An order counts on the calendar day it was received (`created_at`) in the report time zone (setting
REPORT_TIMEZONE, default UTC). Orders counts every order received; revenue only those that are still
sales: not rejected, cancelled or failed, net of refunds. Money stays Decimal and is kept per currency
(a shop selling in CNY and USD gets two figures, never one meaningless sum).

Two ways to the same figures (docs/reports.md):
* the table's stream folds into counters (`contribution` -> `effects` -> `units` -> `chunks` -> `fold`,
  applied by functions/reports/aggregator.py), and `report_from_aggregates` reads them back;
* `aggregate` computes the report straight from orders (the bounded audit path, `?source=orders`).
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from functions.core.models.orders import ChangedLine, ChangeRecord, Order
from functions.core.status import OrderStatus

NOT_SALES = frozenset({OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.FAILED})
Revenue = dict[str, str]  # currency -> amount, as a string with two decimals


class DaySales(BaseModel):
    day: date
    orders: int
    sales: int  # orders that count for revenue
    revenue: Revenue
    units: int = 0  # items of the orders that count
    cancelled: int = 0  # orders received that day and since rejected, cancelled or failed
    cancelled_amount: Revenue = {}
    refunded: Revenue = {}  # refunds of orders received that day (already taken off revenue)


class PlatformDaySales(DaySales):
    platform: str


class SkuSales(BaseModel):
    sku: str
    quantity: int
    orders: int
    revenue: Revenue


class SalesReport(BaseModel):
    start: date
    end: date  # inclusive
    orders: int
    sales: int
    revenue: Revenue
    days: list[DaySales]
    platforms: list[PlatformDaySales]
    top_skus: list[SkuSales]
    truncated: bool = False  # more orders (or aggregate rows) matched than one report reads
    cancelled: int = 0
    cancelled_amount: Revenue = {}
    refunded: Revenue = {}
    source: Literal["aggregates", "orders"] = "orders"
    timezone: str = "UTC"  # whose calendar days `day` are


class _Tally:
    def __init__(self) -> None:
        self.orders = 0
        self.sales = 0
        self.quantity = 0
        self.cancelled = 0
        self.revenue: dict[str, Decimal] = defaultdict(Decimal)
        self.cancelled_amount: dict[str, Decimal] = defaultdict(Decimal)
        self.refunded: dict[str, Decimal] = defaultdict(Decimal)

    def revenue_strings(self) -> Revenue:
        return money_strings(self.revenue)

    def day_figures(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "sales": self.sales,
            "revenue": money_strings(self.revenue),
            "units": self.quantity,
            "cancelled": self.cancelled,
            "cancelled_amount": money_strings(self.cancelled_amount),
            "refunded": money_strings(self.refunded),
        }


def money_strings(amounts: Mapping[str, Decimal]) -> Revenue:
    """Per currency, two decimals; currencies whose figure is zero are left out."""
    return {c: str(v.quantize(Decimal("0.01"))) for c, v in sorted(amounts.items()) if v != 0}


def order_day(order: Order, zone: tzinfo) -> date:
    """The day an order counts on: the calendar day of its receipt in the report zone."""
    return order.created_at.astimezone(zone).date()


def aggregate(
    orders: Iterable[Order],
    start: date,
    end: date,
    top: int = 10,
    truncated: bool = False,
    zone: str = "UTC",
) -> SalesReport:
    """Figures for the days start..end (inclusive, days of `zone`); days without orders have zeros.

    Orders as they are now, counted as the aggregates count them: replacement orders (zero-priced
    re-sends) are not sales and count nowhere; an order's refunds (its refund summary, and what its line
    changes refunded) are taken off the revenue of a sale, and recorded as refunded either way; a
    cancelled order's amount is what was left of its total after those line changes.
    """
    if end < start:
        raise ValueError("end is before start")
    where = ZoneInfo(zone)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    total = _Tally()
    by_day: dict[date, _Tally] = {d: _Tally() for d in days}
    by_platform: dict[tuple[str, date], _Tally] = defaultdict(_Tally)
    by_sku: dict[str, _Tally] = defaultdict(_Tally)
    for order in orders:
        day = order_day(order, where)
        if day not in by_day or order.replaces is not None:
            continue
        counts = order.status not in NOT_SALES
        currency = order.amounts.currency
        refund = order.refund_summary
        changed = change_refunds(order)
        kept = order.amounts.total - changed
        for tally in (total, by_day[day], by_platform[(order.platform, day)]):
            tally.orders += 1
            tally.refunded[currency] += changed
            if counts:
                tally.sales += 1
                tally.quantity += sum(line.quantity for line in order.lines)
                tally.revenue[currency] += kept
            else:
                tally.cancelled += 1
                tally.cancelled_amount[currency] += kept
            if refund is not None:
                tally.refunded[refund.currency] += refund.refunded
                if counts:
                    tally.revenue[refund.currency] -= refund.refunded
        if counts:
            for line in order.lines:
                sku = by_sku[line.sku]
                sku.sales += 1
                sku.quantity += line.quantity
                sku.revenue[currency] += line.amount
    return _report(start, end, total, by_day, by_platform, by_sku, top, truncated, "orders", zone)


def _report(
    start: date,
    end: date,
    total: _Tally,
    by_day: Mapping[date, _Tally],
    by_platform: Mapping[tuple[str, date], _Tally],
    by_sku: Mapping[str, _Tally],
    top: int,
    truncated: bool,
    source: Literal["aggregates", "orders"],
    zone: str,
) -> SalesReport:
    ranked = sorted(by_sku.items(), key=lambda item: (-item[1].quantity, item[0]))[:top]
    return SalesReport(
        start=start,
        end=end,
        orders=total.orders,
        sales=total.sales,
        revenue=total.revenue_strings(),
        cancelled=total.cancelled,
        cancelled_amount=money_strings(total.cancelled_amount),
        refunded=money_strings(total.refunded),
        days=[DaySales(day=d, **t.day_figures()) for d, t in by_day.items()],
        platforms=[
            PlatformDaySales(platform=p, day=d, **t.day_figures())
            for (p, d), t in sorted(by_platform.items())
        ],
        top_skus=[
            SkuSales(sku=s, quantity=t.quantity, orders=t.sales, revenue=t.revenue_strings())
            for s, t in ranked
            if t.sales > 0 or t.quantity > 0
        ],
        truncated=truncated,
        source=source,
        timezone=zone,
    )


# ---------------------------------------------------------------- pre-aggregates: the stream fold
#
# Each stream record that moves the figures is the INSERT of an item written exactly once: the ORDER
# item (a sale), the history event moving the order into REJECTED/CANCELLED/FAILED (a reversal), an
# `order.refunded` history event (a refund). Its contribution is split into idempotent units (a marker
# and the counters it adds to); batches of units fold into one ADD per counter item. Addition commutes,
# so the order in which records (or redeliveries) arrive never changes the totals.

Kind = Literal["sale", "reversal", "refund", "change"]
Scope = Literal["P", "S"]  # counters per (day, platform) / per (day, platform, SKU)
AggKey = tuple[Scope, date, str]  # name: "<platform>" or "<platform>#<sku>"
Delta = dict[str, Decimal]  # counter attribute -> amount to ADD (counts are whole numbers)

REFUNDED_EVENT = "order.refunded"
LINES_CHANGED_EVENT = "order.lines_changed"  # functions/changes: lines lowered, removed or added
COUNTS = ("orders", "sales", "units", "cancelled", "refunds")
MONEY = ("revenue", "cancelled_amount", "refunded")  # attributes "<money>_<currency>", e.g. revenue_CNY
# TransactWriteItems takes at most 100 items: the markers of a chunk plus the counters it adds to.
MAX_TRANSACTION_ITEMS = 100


@dataclass(frozen=True)
class Source:
    """A stream record that moves sales figures: which once-written item it is and what it means."""

    kind: Kind
    order_id: str
    item_sk: str  # "ORDER" or "EVT#<seq>": inserted once, so (order, item) names the contribution
    refund_amount: Decimal | None = None
    refund_currency: str | None = None
    change_reference: str | None = None  # a line change: the order's change record it folds


def classify(event_name: str, image: Mapping[str, Any] | None) -> Source | None:
    """What a stream record (its event name and deserialised NewImage) means for the figures, if anything.

    The template's FilterCriteria deliver only these records; this check repeats it, so a record the
    filter let through by mistake (or a local runtime without filters) changes nothing.
    """
    if event_name != "INSERT" or not image:
        return None
    pk, sk = image.get("pk"), image.get("sk")
    if not isinstance(pk, str) or not pk.startswith("ORDER#") or not isinstance(sk, str):
        return None
    order_id = pk.removeprefix("ORDER#")
    if sk == "ORDER":
        return Source("sale", order_id, sk)
    if not sk.startswith("EVT#"):
        return None
    if image.get("type") == REFUNDED_EVENT:
        detail = image.get("detail") or {}
        amount = Decimal(str(detail["amount"]))  # a refund without an amount is a bug: fail loudly
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"refund amount {amount} of {order_id} {sk}")
        currency = detail.get("currency")
        return Source("refund", order_id, sk, amount, str(currency) if currency else None)
    if image.get("type") == LINES_CHANGED_EVENT:
        reference = (image.get("detail") or {}).get("reference")
        if not isinstance(reference, str):
            raise ValueError(f"line change without its reference: {order_id} {sk}")
        return Source("change", order_id, sk, change_reference=reference)
    to_status, from_status = image.get("to_status"), image.get("from_status")
    if to_status in NOT_SALES and from_status is not None and from_status not in NOT_SALES:
        return Source("reversal", order_id, sk)
    return None


@dataclass(frozen=True)
class Contribution:
    """What one source adds to the counters: on the day (and platform) of the order's receipt."""

    marker: str  # "<order id>|<item sk>": the idempotency key
    kind: Kind
    day: date
    platform: str
    currency: str
    amount: Decimal  # the order total (sale, reversal) or the amount refunded
    lines: tuple[tuple[str, int, Decimal], ...] = ()  # (sku, quantity, line amount)
    # A refund of an order no longer a sale (its payment given back after a cancellation) is recorded,
    # but its revenue is already gone: it is not taken off twice.
    lowers_revenue: bool = True
    # A line change: each line's units and value before and after, and what it refunded (`amount` is
    # then the change of revenue, refund included).
    changed: tuple[ChangedLine, ...] = ()
    refund: Decimal = Decimal(0)


def change_refunds(order: Order) -> Decimal:
    """What line changes refunded of a sale that goes on (a refund that cancels every line is the
    cancellation's: the order's reversal takes off what was left)."""
    return sum((c.refund for c in order.changes if c.kind == "lines" and c.refund), Decimal(0))


def _line_changes(order: Order) -> list[ChangeRecord]:
    return [c for c in order.changes if c.kind == "lines" and c.lines]


def as_received(order: Order) -> tuple[tuple[tuple[str, int, Decimal], ...], Decimal]:
    """The order's lines (sku, quantity, amount) and total as received, before any line change: a line
    as the first change that touched it found it, the total as the first change found it."""
    lines = {line.sku: (line.quantity, line.amount) for line in order.lines}
    total = order.amounts.total
    for change in reversed(_line_changes(order)):  # undo, newest first: the oldest "before" wins
        for line in change.lines:
            lines[line.sku] = (line.before, line.amount_before)
        if change.total_before is not None:
            total = change.total_before
    kept = tuple((sku, quantity, amount) for sku, (quantity, amount) in lines.items() if quantity > 0)
    return kept, total


def contribution(source: Source, order: Order, zone: tzinfo) -> Contribution | None:
    """The contribution of `source` to the figures of `order`; None for orders that are not sales.

    Replacement orders (goods re-sent for a damaged parcel, an exchange) are zero-priced and not sales:
    they count nowhere. Refunds count on the order's day of receipt, like its cancellation would; a
    refund of an order that is rejected, cancelled or failed (read when the refund is folded: those
    statuses are final) lowers nothing more, its reversal already took the whole total off.
    """
    if order.replaces is not None:
        return None
    day = order_day(order, zone)
    marker = f"{source.order_id}|{source.item_sk}"
    if source.kind == "change":
        return _change_contribution(source, order, day, marker)
    if source.kind == "sale":
        received, total = as_received(order)
        return Contribution(marker, "sale", day, order.platform, order.amounts.currency, total, received)
    if source.kind == "refund":
        assert source.refund_amount is not None
        currency = source.refund_currency or order.amounts.currency
        return Contribution(
            marker,
            "refund",
            day,
            order.platform,
            currency,
            source.refund_amount,
            lowers_revenue=order.status not in NOT_SALES,
        )
    # A reversal takes off the order as it ends: its lines now and what was left of its total.
    lines = tuple((line.sku, line.quantity, line.amount) for line in order.lines)
    left = order.amounts.total - change_refunds(order)
    return Contribution(marker, source.kind, day, order.platform, order.amounts.currency, left, lines)


def _change_contribution(source: Source, order: Order, day: date, marker: str) -> Contribution | None:
    record = next((c for c in order.changes if c.reference == source.change_reference), None)
    if record is None or record.kind != "lines":
        return None  # written in the event's own transaction: only a record of another shape lacks it
    refund = record.refund or Decimal(0)
    moved = Decimal(0)
    if record.total_before is not None and record.total_after is not None:
        moved = record.total_after - record.total_before
    return Contribution(
        marker,
        "change",
        day,
        order.platform,
        order.amounts.currency,
        moved - refund,
        changed=tuple(record.lines),
        refund=refund,
    )


def _add(into: dict[AggKey, Delta], key: AggKey, delta: Mapping[str, Decimal | int]) -> None:
    target = into.setdefault(key, {})
    for name, value in delta.items():
        target[name] = target.get(name, Decimal(0)) + Decimal(value)


def effects(c: Contribution) -> dict[AggKey, Delta]:
    """The counters one contribution moves, and by how much (zero moves left out)."""
    out: dict[AggKey, Delta] = {}
    platform: AggKey = ("P", c.day, c.platform)
    revenue, cancelled_amount = f"revenue_{c.currency}", f"cancelled_amount_{c.currency}"
    units = sum(quantity for _, quantity, _ in c.lines)
    if c.kind == "sale":
        _add(out, platform, {"orders": 1, "sales": 1, "units": units, revenue: c.amount})
        for sku, quantity, amount in c.lines:
            _add(out, ("S", c.day, f"{c.platform}#{sku}"), {"sales": 1, "units": quantity, revenue: amount})
    elif c.kind == "reversal":
        _add(
            out,
            platform,
            {"sales": -1, "units": -units, revenue: -c.amount, "cancelled": 1, cancelled_amount: c.amount},
        )
        for sku, quantity, amount in c.lines:
            _add(
                out,
                ("S", c.day, f"{c.platform}#{sku}"),
                {"sales": -1, "units": -quantity, revenue: -amount, "cancelled": 1, cancelled_amount: amount},
            )
    elif c.kind == "change":
        moved: dict[str, Decimal | int] = {
            "units": sum(line.after - line.before for line in c.changed),
            revenue: c.amount,
        }
        if c.refund:
            moved |= {"refunds": 1, f"refunded_{c.currency}": c.refund}
        _add(out, platform, moved)
        for line in c.changed:
            # a line removed leaves the SKU's sales, a line added joins them
            sales = (line.after > 0) - (line.before > 0)
            _add(
                out,
                ("S", c.day, f"{c.platform}#{line.sku}"),
                {
                    "sales": sales,
                    "units": line.after - line.before,
                    revenue: line.amount_after - line.amount_before,
                },
            )
    else:
        lowered = -c.amount if c.lowers_revenue else Decimal(0)
        _add(out, platform, {"refunds": 1, f"refunded_{c.currency}": c.amount, revenue: lowered})
    return {key: {n: v for n, v in delta.items() if v != 0} for key, delta in out.items()}


@dataclass(frozen=True)
class Unit:
    """An idempotent piece of a contribution: applied whole, with its marker, or not at all."""

    marker: str  # "<order id>|<item sk>#<part>"
    deltas: Mapping[AggKey, Delta]


def units(c: Contribution, max_items: int = MAX_TRANSACTION_ITEMS) -> list[Unit]:
    """The contribution in parts small enough for one transaction (marker + counters <= max_items).

    An order has at most 100 lines, so it may touch 101 counters: such an order is two units. The split
    is deterministic (sorted keys), so a redelivered record yields the same units and the same markers.
    """
    found = effects(c)
    keys = sorted(k for k in found if found[k])
    size = max_items - 1
    parts = [keys[i : i + size] for i in range(0, len(keys), size)] or [[]]
    return [Unit(f"{c.marker}#{n}", {k: found[k] for k in part}) for n, part in enumerate(parts)]


def chunks(pending: Sequence[Unit], max_items: int = MAX_TRANSACTION_ITEMS) -> list[list[Unit]]:
    """Consecutive units grouped so that each group's markers plus distinct counters fit one transaction."""
    out: list[list[Unit]] = []
    current: list[Unit] = []
    keys: set[AggKey] = set()
    for unit in pending:
        if 1 + len(unit.deltas) > max_items:
            raise ValueError(f"unit {unit.marker} touches {len(unit.deltas)} counters")
        joined = keys | set(unit.deltas)
        if current and len(current) + 1 + len(joined) > max_items:
            out.append(current)
            current, joined = [], set(unit.deltas)
        current.append(unit)
        keys = joined
    if current:
        out.append(current)
    return out


def fold(pending: Iterable[Unit]) -> dict[AggKey, Delta]:
    """One delta per counter item for all of `pending` (zero deltas left out): one write per key."""
    out: dict[AggKey, Delta] = {}
    for unit in pending:
        for key, delta in unit.deltas.items():
            _add(out, key, delta)
    folded = {key: {n: v for n, v in delta.items() if v != 0} for key, delta in out.items()}
    return {key: delta for key, delta in folded.items() if delta}


def shard_for(chunk: Sequence[Unit], shards: int) -> int:
    """The write shard of a chunk: every counter of one transaction goes to the same shard, chosen by
    the chunk's first marker, so hot counters spread over `shards` items without more writes."""
    return zlib.crc32(chunk[0].marker.encode()) % shards if chunk else 0


# ---------------------------------------------------------------- pre-aggregates: reading them back


@dataclass(frozen=True)
class AggregateRow:
    """One stored counter item (of one shard): its scope, day, name and counters."""

    scope: Scope
    day: date
    name: str
    values: Mapping[str, Decimal] = field(default_factory=dict)


def _tally_add(tally: _Tally, values: Mapping[str, Decimal]) -> None:
    for name, value in values.items():
        if name == "orders":
            tally.orders += int(value)
        elif name == "sales":
            tally.sales += int(value)
        elif name == "units":
            tally.quantity += int(value)
        elif name == "cancelled":
            tally.cancelled += int(value)
        elif name.startswith("revenue_"):
            tally.revenue[name.removeprefix("revenue_")] += value
        elif name.startswith("cancelled_amount_"):
            tally.cancelled_amount[name.removeprefix("cancelled_amount_")] += value
        elif name.startswith("refunded_"):
            tally.refunded[name.removeprefix("refunded_")] += value


def report_from_aggregates(
    rows: Iterable[AggregateRow],
    start: date,
    end: date,
    platform: str | None = None,
    top: int = 10,
    zone: str = "UTC",
    truncated: bool = False,
) -> SalesReport:
    """The report from counter rows (any number of shards of each key): the same shape as `aggregate`."""
    if end < start:
        raise ValueError("end is before start")
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    total = _Tally()
    by_day: dict[date, _Tally] = {d: _Tally() for d in days}
    by_platform: dict[tuple[str, date], _Tally] = defaultdict(_Tally)
    by_sku: dict[str, _Tally] = defaultdict(_Tally)
    for row in rows:
        if row.day not in by_day:
            continue
        row_platform, _, sku = row.name.partition("#")
        if platform is not None and row_platform != platform:
            continue
        if row.scope == "P":
            for tally in (total, by_day[row.day], by_platform[(row_platform, row.day)]):
                _tally_add(tally, row.values)
        else:
            _tally_add(by_sku[sku], row.values)
    return _report(start, end, total, by_day, by_platform, by_sku, top, truncated, "aggregates", zone)

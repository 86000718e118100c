"""Line changes before shipment (partial cancellation): what the order, its money and its stock become.

Pure: the order, its open reservations and the request in; a plan out (the new lines and amounts, the
exact refund, which reserved units go back to which stock counter shard), or a RefusedError naming the
field. The service writes the plan in one transaction.

Money. A paid order keeps its amounts (what was sold and paid, as after-sales does); the cancelled
units' share of what was paid is refunded: the paid total (less earlier refunds of changes) is spread
over the lines in proportion to their value (functions/aftersales/logic.paid_per_line, so shipping, tax
and discount are shared out), n of a line's q units are worth floor(share * n / q) to the cent and the
line's last units take exactly what is left. So every change refunds at most what is left of the
payment, and after-sales, which counts what changes refunded, can never refund it again. An unpaid
order has nothing to refund: its subtotal drops by the lines' value and its total is recomputed
(subtotal + shipping + tax - discount), the amount the payment must then bring.

Stock. A line's reserved units beyond its new quantity are released, from the last warehouse and the
highest counter shard first; each reservation item shrinks (or goes) with its counters, exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from functions.aftersales.logic import ZERO, LineState, line_share, paid_per_line, paid_total
from functions.changes.logic import REFERENCE
from functions.core.errors import RefusedError
from functions.core.models.base import Money, Sku
from functions.core.models.order_in import Amounts, OrderLine
from functions.core.models.orders import AllocationInfo, Order
from functions.core.models.stock import Reservation


class LineQuantityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    quantity: StrictInt = Field(ge=0, le=10_000, description="the line's new quantity; 0 removes it")
    unit_price: Money | None = Field(default=None, description="a new line's price (only for a new line)")


class LinesChangeIn(BaseModel):
    """Body of POST /orders/{id}/changes/lines: the new quantity of each line that changes."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    lines: list[LineQuantityIn] = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=500)
    reference: str = Field(pattern=REFERENCE, description="the caller's id of this change (idempotency)")

    @field_validator("lines")
    @classmethod
    def _unique_skus(cls, lines: list[LineQuantityIn]) -> list[LineQuantityIn]:
        skus = [line.sku for line in lines]
        if len(skus) != len(set(skus)):
            raise ValueError("each sku may appear once")
        return lines

    def fingerprint(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


@dataclass(frozen=True)
class LineDelta:
    sku: str
    before: int
    after: int  # 0: the line is removed

    @property
    def cancelled(self) -> int:
        return max(self.before - self.after, 0)

    @property
    def added(self) -> int:
        return max(self.after - self.before, 0)


@dataclass(frozen=True)
class ReservationCut:
    """Units of one reservation given back: `released` (per shard) leaves it, `after` stays (None: gone)."""

    before: Reservation
    after: Reservation | None
    released: Reservation


@dataclass(frozen=True)
class LinesPlan:
    lines: list[OrderLine]  # the order's lines after the change (as before when it cancels the order)
    deltas: list[LineDelta]
    amounts: Amounts
    refund: Decimal | None  # paid orders: what goes back to the buyer (exact to the cent)
    cuts: list[ReservationCut]
    allocation: AllocationInfo | None
    cancels_order: bool  # every line is cancelled: the order is cancelled (interception, action cancel)

    @property
    def released(self) -> list[Reservation]:
        return [cut.released for cut in self.cuts]


def _deltas(order: Order, request: LinesChangeIn, added: Mapping[str, OrderLine]) -> list[LineDelta]:
    """What changes per line; `added` are the request's new lines as the product master describes them
    (the service looked them up: a SKU missing from it is unknown)."""
    by_sku = {line.sku: line for line in order.lines}
    unknown = [(i, item.sku) for i, item in enumerate(request.lines) if item.sku not in {*by_sku, *added}]
    if unknown:
        raise RefusedError(
            "UNKNOWN_LINE",
            f"order {order.order_id} has no line {', '.join(sku for _, sku in unknown)} and the product "
            "master no active SKU of that name",
            422,
            fields=[{"field": f"lines[{i}].sku", "message": f"no line {sku}"} for i, sku in unknown],
        )
    priced = [
        (i, item.sku)
        for i, item in enumerate(request.lines)
        if item.sku in by_sku and item.unit_price is not None
    ]
    unpriced = [
        (i, item.sku) for i, item in enumerate(request.lines) if item.sku in added and not item.unit_price
    ]
    if priced or unpriced:
        raise RefusedError(
            "UNIT_PRICE",
            "a new line needs its unit_price; an existing line keeps the price it was sold at",
            422,
            fields=[
                {"field": f"lines[{i}].unit_price", "message": f"not for line {sku}"} for i, sku in priced
            ]
            + [{"field": f"lines[{i}].unit_price", "message": f"needed for {sku}"} for i, sku in unpriced],
        )
    before = {sku: line.quantity for sku, line in by_sku.items()}
    deltas = [
        LineDelta(item.sku, before.get(item.sku, 0), item.quantity)
        for item in request.lines
        if item.quantity != before.get(item.sku, 0)
    ]
    if not deltas:
        raise RefusedError("NOTHING_TO_CHANGE", "every line already has the quantity asked", 422)
    if order.is_paid and any(d.after > d.before for d in deltas):
        raise RefusedError(
            "PAID_ORDER_INCREASE",
            f"order {order.order_id} is paid: its lines can only be lowered or removed here; the buyer "
            "orders more in a new order (which ships with this one when 合单 is on)",
        )
    return deltas


def _refund(order: Order, deltas: Sequence[LineDelta], cancels_order: bool) -> Decimal | None:
    if not order.is_paid:
        return None
    if cancels_order:
        return paid_total(order)  # everything that is left of the payment, shipping included
    shares = paid_per_line(order)
    return sum(
        (
            line_share(LineState(paid=shares[d.sku], quantity=d.before), d.cancelled)[0]
            for d in deltas
            if d.cancelled > 0
        ),
        ZERO,
    )


def _unpaid_amounts(order: Order, lines: Sequence[OrderLine]) -> Amounts:
    amounts = order.amounts
    subtotal = sum((line.amount for line in lines), ZERO)
    total = subtotal + amounts.shipping + amounts.tax - amounts.discount
    if total < 0:
        raise RefusedError(
            "DISCOUNT_ABOVE_LINES",
            f"the order's discount {amounts.discount} would exceed what is left ({subtotal} + fees)",
        )
    return amounts.model_copy(update={"subtotal": subtotal, "total": total})


def cut_reservations(reservations: Sequence[Reservation], units: int) -> list[ReservationCut]:
    """Release `units` of one SKU's reservations: the last warehouse first, its highest shard first."""
    cuts: list[ReservationCut] = []
    left = units
    for r in sorted(reservations, key=lambda r: r.warehouse, reverse=True):
        if left <= 0:
            break
        take = min(left, r.quantity)
        left -= take
        if r.shards is None:
            released_shards, kept_shards = None, None
        else:
            released_shards, kept_shards, need = {}, dict(r.shards), take
            for shard in sorted(r.shards, key=int, reverse=True):
                part = min(need, r.shards[shard])
                if part:
                    released_shards[shard] = part
                    kept_shards[shard] -= part
                    need -= part
            kept_shards = {shard: q for shard, q in kept_shards.items() if q > 0}
        released = Reservation(sku=r.sku, warehouse=r.warehouse, quantity=take, shards=released_shards)
        after = (
            Reservation(sku=r.sku, warehouse=r.warehouse, quantity=r.quantity - take, shards=kept_shards)
            if take < r.quantity
            else None
        )
        cuts.append(ReservationCut(before=r, after=after, released=released))
    if left > 0:
        raise ValueError(f"{units} units asked, {units - left} reserved")
    return cuts


def _replanned(
    info: AllocationInfo | None, kept: Sequence[Reservation], skus: set[str]
) -> AllocationInfo | None:
    """The allocation record after the change: the warehouses that still ship something, and waits only
    for the lines that remain."""
    if info is None:
        return None
    warehouses = sorted({r.warehouse for r in kept}) if kept else info.warehouses
    return info.model_copy(
        update={
            "warehouses": warehouses,
            "split": len(warehouses) > 1,
            "short": [s for s in info.short if s.sku in skus],
            "waitlisted": [sku for sku in info.waitlisted if sku in skus],
        }
    )


def _with_quantity(line: OrderLine, quantity: int) -> OrderLine:
    """The line with its new quantity. A bundle component line keeps an exact value (`line_total`, its
    unit price being rounded): fewer units keep what is left after the cancelled units' share (rounded
    down, as a refund counts them), more units add their unit price."""
    if quantity == line.quantity or line.line_total is None:
        return line.model_copy(update={"quantity": quantity})
    if quantity > line.quantity:
        value = line.line_total + line.unit_price * (quantity - line.quantity)
    else:
        gone = line_share(LineState(paid=line.line_total, quantity=line.quantity), line.quantity - quantity)[
            0
        ]
        value = line.line_total - gone
    return line.model_copy(update={"quantity": quantity, "line_total": value})


def plan_lines_change(
    order: Order,
    reservations: Sequence[Reservation],
    request: LinesChangeIn,
    added: Mapping[str, OrderLine] | None = None,
) -> LinesPlan:
    """`added`: the request's SKUs the order has no line for, as new lines (product master facts, the
    request's price); their quantity is set from the request."""
    added = added or {}
    deltas = _deltas(order, request, added)
    after = {d.sku: d.after for d in deltas}
    lines = [
        _with_quantity(line, after.get(line.sku, line.quantity))
        for line in order.lines
        if after.get(line.sku, line.quantity) > 0
    ]
    lines += [
        added[d.sku].model_copy(update={"quantity": d.after}) for d in deltas if d.before == 0 and d.after > 0
    ]
    cancels_order = not lines
    refund = _refund(order, deltas, cancels_order)
    if cancels_order:  # the interception's compensation releases every reservation
        return LinesPlan(list(order.lines), deltas, order.amounts, refund, [], order.allocation, True)
    cuts: list[ReservationCut] = []
    for d in deltas:
        if d.after >= d.before:
            continue  # grows: the service reserves the units (functions/changes/growth.py)
        mine = [r for r in reservations if r.sku == d.sku]
        extra = sum(r.quantity for r in mine) - d.after
        if extra > 0:
            cuts += cut_reservations(mine, extra)
    cut_keys = {(c.before.sku, c.before.warehouse) for c in cuts}
    kept = [r for r in reservations if (r.sku, r.warehouse) not in cut_keys]
    kept += [c.after for c in cuts if c.after is not None]
    amounts = order.amounts if order.is_paid else _unpaid_amounts(order, lines)
    allocation = _replanned(order.allocation, kept, {line.sku for line in lines})
    return LinesPlan(lines, deltas, amounts, refund, cuts, allocation, False)

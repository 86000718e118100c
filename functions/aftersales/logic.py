"""After-sales decisions, pure: what was paid per line, what a case may claim, what the rules decide,
and what a case does next. No I/O: the service reads and writes, these functions decide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Literal

from functions.aftersales.models import Case, CaseIn, CaseLine, CaseOrigin, CaseStatus
from functions.core.errors import RefusedError
from functions.core.line_origin import LineOrigin
from functions.core.models.aftersales import LineCounter
from functions.core.models.order_in import OrderLine
from functions.core.models.orders import Order
from functions.core.models.shipping import Shipment
from functions.core.rules import AfterSalesRules, ReviewRules
from functions.core.status import OrderStatus
from functions.ingest.logic import split_cents

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
SHIPPED = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED})
# Orders that will never ship: what was paid for them can be refunded without stopping anything.
ENDED_UNSHIPPED = frozenset({OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.FAILED})


# ---------------------------------------------------------------- money per line


def paid_total(order: Order) -> Decimal:
    """What the buyer paid (the accepted payment, plus a deposit (定金) paid before the balance, or the
    order total for orders that arrived paid), less what order changes before shipment refunded
    (functions/changes: lines cancelled)."""
    if order.payment_received is not None:
        deposit = order.payment.deposit
        paid = order.payment_received.amount + (deposit.amount if deposit is not None else ZERO)
    elif order.is_paid:
        paid = order.amounts.total
    else:
        return ZERO
    return paid - sum((change.refund for change in order.changes if change.refund is not None), ZERO)


def paid_per_line(order: Order) -> dict[str, Decimal]:
    """The paid total spread over the lines in proportion to their value (unit price x quantity), so
    order-level shipping, tax and discount are shared out. Each share is rounded down to the cent and the
    remainder goes to the last line, so the shares add up to the paid total exactly. Lines that are all
    free: the last line carries the whole total."""
    total = paid_total(order)
    weights = [line.amount for line in order.lines]
    weight_sum = sum(weights, ZERO)
    shares: dict[str, Decimal] = {}
    given = ZERO
    for index, line in enumerate(order.lines):
        if index == len(order.lines) - 1:
            shares[line.sku] = total - given
        elif weight_sum == 0:
            shares[line.sku] = ZERO
        else:
            share = (total * weights[index] / weight_sum).quantize(CENT, rounding=ROUND_DOWN)
            shares[line.sku] = share
            given += share
    return shares


@dataclass(frozen=True)
class LineState:
    """A line's after-sales counter (repository LINE# item), zero until a case claims something."""

    paid: Decimal
    quantity: int
    committed: Decimal = ZERO
    committed_qty: int = 0
    refunded: Decimal = ZERO
    returned: int = 0

    @property
    def refundable(self) -> Decimal:
        return self.paid - self.committed

    @classmethod
    def of(cls, paid: Decimal, quantity: int, counter: LineCounter | None) -> LineState:
        if counter is None:
            return cls(paid=paid, quantity=quantity)
        return cls(
            paid=paid,
            quantity=quantity,
            committed=counter.committed,
            committed_qty=counter.committed_qty,
            refunded=counter.refunded,
            returned=counter.returned,
        )


def line_share(state: LineState, units: int) -> tuple[Decimal, bool]:
    """The money `units` more units of the line are worth: their proportional share of what was paid,
    rounded down to the cent; the line's last units take exactly what is left (so the units of a line
    always add up to what was paid for it). Returns (amount, exact): exact means "only if the counter is
    still as read", which the conditional write enforces."""
    if units <= 0:
        return ZERO, False
    if state.committed_qty + units >= state.quantity:
        return max(state.paid - state.committed, ZERO), True
    share = (state.paid * units / state.quantity).quantize(CENT, rounding=ROUND_DOWN)
    return min(share, max(state.paid - state.committed, ZERO)), False


# ---------------------------------------------------------------- opening a case


def shipped_units(shipments: Sequence[Shipment], sku: str) -> list[tuple[str, int]]:
    """(warehouse, units) of `sku` in the order it shipped: where returned units go back to."""
    units: list[tuple[str, int]] = []
    for shipment in sorted(shipments, key=lambda s: (s.created_at, s.shipment_id)):
        if shipment.virtual:
            continue
        for line in shipment.lines:
            if line.sku == sku:
                units.append((shipment.warehouse, line.quantity))
    return units


def return_warehouses(
    units: Sequence[tuple[str, int]], returned_before: int, count: int
) -> list[tuple[str, int]]:
    """Units of a line are numbered in shipping order; returns take the next ones after those already
    returned, so each returned unit goes back to the warehouse it left from."""
    out: list[tuple[str, int]] = []
    position = 0
    start, end = returned_before, returned_before + count
    for warehouse, quantity in units:
        lo, hi = max(start, position), min(end, position + quantity)
        if hi > lo:
            out.append((warehouse, hi - lo))
        position += quantity
    taken = sum(q for _, q in out)
    if taken < count:  # shipped from nowhere we know of (should not happen): the first warehouse
        fallback = units[0][0] if units else None
        if fallback is None:
            raise RefusedError("NOT_SHIPPED", "these units never shipped from a warehouse", 409)
        out.append((fallback, count - taken))
    return out


def shipped_at(shipments: Sequence[Shipment]) -> datetime | None:
    return min((s.created_at for s in shipments), default=None)


def plan_lines(
    order: Order,
    shipments: Sequence[Shipment],
    request: CaseIn,
    counters: Mapping[str, LineCounter],
    now: datetime,
    rules: AfterSalesRules,
) -> list[CaseLine]:
    """Check the request against the order and what other cases claimed; the lines the case claims.

    RefusedError (409, or 422 for a request that cannot be right for this order) names what is wrong.
    """
    if not order.is_paid:
        raise RefusedError("NOT_PAID", f"order {order.order_id} is not paid: intercept it instead", 409)
    before_shipment = order.status not in SHIPPED
    by_sku = {line.sku: line for line in order.lines}
    whole = request.lines is None
    wanted = (
        [Wanted(line.sku, line.quantity) for line in order.lines]
        if request.lines is None
        else expand_bundles(
            order.lines,
            [Wanted(line.sku, line.quantity, line.amount, line.exchange_sku) for line in request.lines],
        )
    )
    if before_shipment:
        if request.kind != "refund_only":
            raise RefusedError(
                "NOT_SHIPPED",
                f"order {order.order_id} is {order.status}: nothing to return or exchange before it ships",
                409,
            )
        partial = not whole and (
            len(wanted) != len(order.lines)
            or any(
                ask.sku not in by_sku or ask.units != by_sku[ask.sku].quantity or ask.amount is not None
                for ask in wanted
            )
        )
        if partial:
            raise RefusedError(
                "WHOLE_ORDER_BEFORE_SHIPMENT",
                "before shipment a refund cancels the whole order (its fulfilment is intercepted): leave "
                "lines out, or wait until it ships",
                409,
            )
    else:
        sent = shipped_at(shipments)
        if sent is not None and now > sent + timedelta(days=rules.return_window_days):
            raise RefusedError(
                "RETURN_WINDOW_CLOSED",
                f"order {order.order_id} shipped more than {rules.return_window_days} days ago",
                409,
            )
    paid = paid_per_line(order)
    lines: list[CaseLine] = []
    for ask in wanted:
        sku, units, amount, exchange_sku = ask.sku, ask.units, ask.amount, ask.exchange_sku
        line = by_sku.get(sku)
        if line is None:
            raise RefusedError("UNKNOWN_LINE", f"order {order.order_id} has no line {sku}", 422)
        state = LineState.of(paid[sku], line.quantity, counters.get(sku))
        if units > line.quantity:
            raise RefusedError("TOO_MANY_UNITS", f"line {sku} has {line.quantity} units, not {units}", 422)
        if units == 0 and (request.kind != "refund_only" or amount is None):
            raise RefusedError("NO_UNITS", f"line {sku}: quantity 0 is a refund_only with an amount", 422)
        if line.virtual and request.kind != "refund_only" and not before_shipment:
            raise RefusedError("VIRTUAL_LINE", f"line {sku} is virtual: nothing to send back", 422)
        if amount is not None and request.kind != "refund_only":
            raise RefusedError("AMOUNT_NOT_ALLOWED", "only a refund_only case names its amount", 422)
        if exchange_sku is not None and request.kind != "exchange":
            raise RefusedError("EXCHANGE_SKU_NOT_ALLOWED", "exchange_sku belongs to an exchange", 422)
        if state.committed_qty + units > state.quantity:
            raise RefusedError(
                "OVER_CLAIMED",
                f"line {sku}: {state.quantity - state.committed_qty} of {state.quantity} units are left "
                "for after-sales",
                409,
            )
        share, exact = line_share(state, units)
        origins: list[CaseOrigin] = []
        if line.origins and amount is None and units:
            origins = origin_parts(line, paid[sku], counters.get(sku), units, ask.named)
            share, exact = sum((part.amount for part in origins), ZERO), False
        if amount is not None:
            if amount > state.refundable:
                raise RefusedError(
                    "OVER_REFUND",
                    f"line {sku}: {state.refundable} is left to refund, not {amount}",
                    409,
                )
            exact = exact and amount == share
            share = amount
        warehouses: list[tuple[str, int]] = []
        if not before_shipment and request.kind != "refund_only" and not line.virtual:
            warehouses = return_warehouses(shipped_units(shipments, sku), state.committed_qty, units)
        lines.append(
            CaseLine(
                sku=sku,
                quantity=units,
                amount=share,
                exact=exact,
                origins=origins,
                exchange_sku=exchange_sku if request.kind == "exchange" else None,
                warehouses=warehouses,
            )
        )
    if request.kind != "exchange" and sum((line.amount for line in lines), ZERO) <= 0:
        raise RefusedError("NOTHING_TO_REFUND", "nothing is left to refund on these lines", 409)
    return lines


# ---------------------------------------------------------------- automation rules


def in_good_standing(
    order: Order, other_recent_cases: int, rules: AfterSalesRules, review: ReviewRules
) -> tuple[bool, str]:
    buyer = " ".join(order.buyer.id.lower().split())
    if buyer in review.blacklisted_buyers or f"{order.platform}:{buyer}" in review.blacklisted_buyers:
        return False, "buyer is blacklisted"
    if other_recent_cases >= rules.good_standing_max_cases:
        return False, (
            f"buyer opened {other_recent_cases} other cases in {rules.good_standing_window_days} days "
            f"(limit {rules.good_standing_max_cases})"
        )
    return True, "buyer in good standing"


# Cases the OMS opens for a decision a person already took (ops resolved a logistics exception with a
# refund: functions/logistics); `opened_by` is set by the OMS, never by a caller.
DECIDED_BY_OPS = "logistics:"


def assess(case: Case, good_standing: bool, rules: AfterSalesRules) -> Literal["approve", "review"]:
    """Auto-approve a case worth less than `auto_approve_below` for a buyer in good standing, and a
    refund ops already decided on a logistics exception."""
    if case.opened_by.startswith(DECIDED_BY_OPS):
        return "approve"
    if good_standing and case.goods_value < rules.auto_approve_below:
        return "approve"
    return "review"


def return_required(
    kind: str, before_shipment: bool, lines: Sequence[CaseLine], goods_value: Decimal, rules: AfterSalesRules
) -> bool:
    """Goods come back for a return or exchange, unless they are worth less than
    `refund_without_return_below` (refund, or ship the replacement, without the return)."""
    if before_shipment or kind == "refund_only":
        return False
    if not any(line.warehouses for line in lines):
        return False
    return goods_value >= rules.refund_without_return_below


# ---------------------------------------------------------------- what a case does next

Step = Literal[
    "assess",
    "await_decision",
    "intercept",
    "await_cancellation",
    "start_return",
    "await_return",
    "await_inspection",
    "refund",
    "await_refund",
    "replace",
    "await_replacement",
    "close",
    "done",
]


def next_step(case: Case, assessed: bool) -> Step:
    """The one place the case lifecycle is written down: status -> what happens next."""
    status = case.status
    if status == CaseStatus.REQUESTED:
        return "await_decision" if assessed else "assess"
    if status == CaseStatus.APPROVED:
        if case.before_shipment:
            return "intercept"
        if case.return_required:
            return "start_return"
        return "replace" if case.kind == "exchange" else "refund"
    if status == CaseStatus.INSPECTED:
        return "replace" if case.kind == "exchange" else "refund"
    following: dict[CaseStatus, Step] = {
        CaseStatus.REJECTED: "close",
        CaseStatus.INTERCEPTING: "await_cancellation",
        CaseStatus.AWAITING_RETURN: "await_return",
        CaseStatus.RECEIVED: "await_inspection",
        CaseStatus.REFUND_PENDING: "await_refund",
        CaseStatus.REFUNDED: "close",
        CaseStatus.REPLACING: "await_replacement",
        CaseStatus.REPLACEMENT_SHIPPED: "close",
        CaseStatus.CLOSED: "done",
    }
    return following[status]


# What a person or a callback may do to a case, and in which status.
ALLOWED: dict[str, frozenset[CaseStatus]] = {
    "decide": frozenset({CaseStatus.REQUESTED}),
    "return_shipped": frozenset({CaseStatus.AWAITING_RETURN}),
    "received": frozenset({CaseStatus.AWAITING_RETURN}),
    "inspect": frozenset({CaseStatus.RECEIVED}),
}


def refusal(case: Case, action: str) -> RefusedError | None:
    if case.status in ALLOWED[action]:
        return None
    allowed = ", ".join(sorted(ALLOWED[action]))
    return RefusedError(
        "CASE_STATUS", f"case {case.case_id} is {case.status}; {action} needs it to be {allowed}", 409
    )


def settlement(case: Case) -> list[tuple[str, Decimal, int]]:
    """What closing the case gives back to the line counters: (sku, amount, units).

    Refunded money and exchanged or returned goods stay claimed; a case closed without its refund or
    replacement (rejected, return never shipped) gives back everything it claimed.
    """
    return [(line.sku, line.amount, line.quantity) for line in settled_lines(case)]


def settled_lines(case: Case) -> list[CaseLine]:
    """The case lines whose claims closing the case gives back (with their origins), as settlement."""
    if case.status in (CaseStatus.REFUNDED, CaseStatus.REPLACEMENT_SHIPPED):
        return []
    return list(case.lines)


# ---------------------------------------------------------------- refunds by bundle origin (组合装)
# A component line merged from several platform lines (two bundles, or a bundle and the SKU on its own)
# keeps one origin per platform line with its exact money (docs/products.md). After-sales accounts per
# origin, so returning one bundle refunds exactly what that bundle's components were worth, not the
# merged line's average: what was paid for the line is spread over its origins by their money (largest
# remainder, exact); a case's units are taken from the origins it names (a bundle returned as sold),
# else from the origins in posted order; within an origin, line_share's rule (rounded down, the last
# units take what is left) keeps the origins adding up to what was paid for the line.


@dataclass
class Wanted:
    """Units of one order line a case asks for; `named`: units taken from given origins (bundles)."""

    sku: str
    units: int
    amount: Decimal | None = None
    exchange_sku: str | None = None
    named: dict[int, int] = field(default_factory=dict)


def origin_paid(line_paid: Decimal, origins: Sequence[LineOrigin]) -> dict[int, Decimal]:
    """What was paid for the line, spread over its origins by their money, adding up exactly."""
    shares = split_cents(line_paid, [origin.amount for origin in origins])
    return {origin.line: share for origin, share in zip(origins, shares, strict=True)}


def expand_bundles(lines: Sequence[OrderLine], wanted: Sequence[Wanted]) -> list[Wanted]:
    """Request lines naming a bundle as sold (its SKU, n bundles) become its components' units, each
    named for the platform line it came from; merged with the components named directly. 422 for a
    bundle asked with an amount or an exchange SKU, or more bundles than the order sold."""
    by_sku = {line.sku: line for line in lines}
    sold: dict[str, dict[int, int]] = {}  # bundle SKU -> platform line -> bundles sold there
    for line in lines:
        for origin in line.origins or ():
            if origin.units_per_bundle is not None:
                sold.setdefault(origin.sku, {})[origin.line] = origin.quantity // origin.units_per_bundle
    out: dict[str, Wanted] = {}
    for ask in wanted:
        if ask.sku in by_sku or ask.sku not in sold:
            merged = out.setdefault(ask.sku, Wanted(ask.sku, 0))
            merged.units += ask.units
            merged.amount, merged.exchange_sku = ask.amount, ask.exchange_sku
            continue
        if ask.amount is not None or ask.exchange_sku is not None:
            raise RefusedError(
                "BUNDLE_LINE", f"bundle {ask.sku}: name its component lines for an amount or an exchange", 422
            )
        if ask.units > sum(sold[ask.sku].values()):
            raise RefusedError(
                "TOO_MANY_UNITS", f"bundle {ask.sku}: {sum(sold[ask.sku].values())} were sold", 422
            )
        left = ask.units
        for platform_line, bundles in sorted(sold[ask.sku].items()):
            take, left = min(bundles, left), left - min(bundles, left)
            for line in lines:
                for origin in line.origins or ():
                    if origin.line == platform_line and take and origin.units_per_bundle is not None:
                        part = out.setdefault(line.sku, Wanted(line.sku, 0))
                        part.units += take * origin.units_per_bundle
                        part.named[platform_line] = part.named.get(platform_line, 0) + (
                            take * origin.units_per_bundle
                        )
    return list(out.values())


def origin_parts(
    line: OrderLine, line_paid: Decimal, counter: LineCounter | None, units: int, named: Mapping[int, int]
) -> list[CaseOrigin]:
    """The origins `units` of the line are taken from (those `named` first, then the rest in posted
    order) and what each part is worth. 409 OVER_CLAIMED when an origin has not that many units left."""
    origins = line.origins or ()
    paid = origin_paid(line_paid, origins)
    committed = counter.origin_committed if counter is not None else {}
    committed_qty = counter.origin_committed_qty if counter is not None else {}
    left = {o.line: o.quantity - committed_qty.get(o.line, 0) for o in origins}
    take = dict(named)
    for platform_line, count in take.items():
        if count > left.get(platform_line, 0):
            raise RefusedError(
                "OVER_CLAIMED",
                f"line {line.sku}: {left.get(platform_line, 0)} units from line {platform_line} are left",
                409,
            )
    rest = units - sum(take.values())
    for origin in origins:
        more = min(rest, left[origin.line] - take.get(origin.line, 0))
        if more > 0:
            take[origin.line], rest = take.get(origin.line, 0) + more, rest - more
    if rest > 0:
        raise RefusedError("OVER_CLAIMED", f"line {line.sku}: not {units} units are left", 409)
    parts = []
    for origin in origins:
        count = take.get(origin.line, 0)
        if count <= 0:
            continue
        state = LineState(
            paid=paid[origin.line],
            quantity=origin.quantity,
            committed=committed.get(origin.line, Decimal("0.00")),
            committed_qty=committed_qty.get(origin.line, 0),
        )
        share, exact = line_share(state, count)
        parts.append(CaseOrigin(line=origin.line, quantity=count, amount=share, exact=exact))
    return parts

"""Allocate stage: source every line, reserve it all in one transaction, or backorder / reject the order.

Also: joining a merge group (合单) in that same transaction, parking a backordered order on the
waitlists of the SKUs it waits for, and releasing an order's stock on cancel.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from functions.allocate import presale
from functions.allocate.logic import (
    AllocationPlan,
    BackorderPolicy,
    Destination,
    SourcingPolicy,
    assign_shards,
    decide_short,
    merge_key,
    merge_wait_seconds,
    physical_lines,
    plan_allocation,
)
from functions.core import clock, repository, workflow
from functions.core.errors import (
    IllegalTransitionError,
    OrderInterceptedError,
    StockAvailableError,
    TransientError,
)
from functions.core.gift_rules import short_gifts, skipped, without_lines
from functions.core.interception import ensure_not_intercepted
from functions.core.models.order_in import OrderLine
from functions.core.models.orders import AllocationInfo, MergeInfo, Order, RuleHit, ShortLine
from functions.core.models.stock import Reservation, StockLevel, StockShard
from functions.core.observability import MetricName, bind_platform, count, logger
from functions.core.repository import (
    OrderChange,
    OrderMovedError,
    PriorChange,
    ReadAgain,
    TransactionRejected,
    Write,
    active_rules,
)
from functions.core.rules import AllocationRules, RuleSet
from functions.core.settings import get_settings
from functions.core.stage import StageInput
from functions.core.status import OrderStatus

# Stock read for planning can be overtaken by another order; re-plan this many times before giving up.
MAX_PLANNING_ROUNDS = 3
# DynamoDB's TransactWriteItems limit; an order whose movements need more is refused with a reason.
MAX_TRANSACTION_ITEMS = 100
ACTOR = "stage:allocate"
_FINAL_REJECTIONS = {"OUT_OF_STOCK", "BACKORDER_EXPIRED", "ORDER_TOO_LARGE"}


class ReviewDecided(BaseModel):
    """Review's answer as the fast path passes it on: an approval review left unrecorded (`recorded`
    false) is written with this stage's change (docs/adr/0007)."""

    model_config = ConfigDict(extra="ignore")

    decision: str
    reasons: list[RuleHit] = []
    rules_version: int = 0
    recorded: bool = True
    decided_at: datetime | None = None


class AllocateInput(StageInput):
    review: ReviewDecided | None = None


class AllocationResult(BaseModel):
    outcome: Literal["allocated", "backordered", "out_of_stock", "cancelled"]
    reservations: list[Reservation] = []
    short: list[str] = []
    # allocated: seconds to wait for the merge group to close before shipping (0: ship now);
    # backordered: seconds to wait for a restock before trying again.
    wait_seconds: int = 0
    reason: RuleHit | None = None


def sourcing_policy(rules: AllocationRules) -> SourcingPolicy:
    return SourcingPolicy(
        warehouse_priority=rules.warehouse_priority or [get_settings().default_warehouse],
        warehouse_regions=rules.warehouse_regions,
        allow_split=rules.allow_split,
    )


def backorder_policy(rules: AllocationRules) -> BackorderPolicy:
    return BackorderPolicy(
        out_of_stock=rules.out_of_stock,
        retry_minutes=rules.backorder_retry_minutes,
        max_hours=rules.backorder_max_hours,
        max_attempts=rules.backorder_max_attempts,
    )


def aggregate_levels(shards: list[StockShard]) -> list[StockLevel]:
    """Per-warehouse levels for the planner, from the counter shards of one SKU."""
    levels: dict[str, StockLevel] = {}
    for s in shards:
        level = levels.setdefault(
            s.warehouse, StockLevel(sku=s.sku, warehouse=s.warehouse, on_hand=0, reserved=0, available=0)
        )
        level.on_hand += s.on_hand
        level.reserved += s.reserved
        level.available += s.available
    return list(levels.values())


def _with_shards(
    order_id: str, reservations: list[Reservation], shards: dict[str, list[StockShard]]
) -> list[Reservation] | None:
    """Spread each reservation of a sharded (SKU, warehouse) over its counters; None if they cannot."""
    result: list[Reservation] = []
    for r in reservations:
        counters = [s for s in shards.get(r.sku, []) if s.warehouse == r.warehouse]
        head = next((s for s in counters if s.shard == 0), None)
        if head is None or (head.shards <= 1 and head.active <= 1):
            result.append(r)
            continue
        available = [0] * max(head.shards, len(counters))
        for s in counters:
            available[s.shard] = s.available
        taken = assign_shards(order_id, r.quantity, available, head.active)
        if taken is None:
            return None
        result.append(r.model_copy(update={"shards": taken}))
    return result


def _result_for_allocated(order: Order, reservations: list[Reservation]) -> AllocationResult:
    wait = merge_wait_seconds(order.merge.closes_at, clock.now()) if order.merge else 0
    return AllocationResult(outcome="allocated", reservations=reservations, wait_seconds=wait)


def _with_approval(
    order: Order, review: ReviewDecided | None, execution_id: str | None
) -> tuple[Order, PriorChange | None]:
    """A received order the fast path's review approved without writing: the approval, to be recorded
    first in this stage's change (its history event, `review` and `rules_version` as review writes
    them), and the order as approved. Anything else: the order as it is."""
    if order.status != OrderStatus.RECEIVED or review is None or review.recorded:
        return order, None
    if review.decision != "approve":
        raise IllegalTransitionError(order.order_id, order.status, OrderStatus.ALLOCATED)
    reasons = [hit.model_dump() for hit in review.reasons]
    prior = PriorChange(
        order,
        OrderStatus.APPROVED,
        "review.approve",
        "stage:review",
        execution_id,
        {"reasons": reasons, "rules_version": review.rules_version},
        {"review": {"decision": "approve", "reasons": reasons}, "rules_version": review.rules_version},
        review.decided_at,
    )
    return prior.applied(), prior


def _stop_if_intercepted(order: Order, review: ReviewDecided | None, execution_id: str | None) -> None:
    """Raise OrderInterceptedError if ops intercepted the order; an approval left to this stage is
    written first (its own change, on this rare path), so the history keeps review's decision."""
    try:
        ensure_not_intercepted(order, "allocate")
    except OrderInterceptedError:
        if (prior := _with_approval(order, review, execution_id)[1]) is not None:
            approval = OrderChange(
                order=prior.stored,
                target=prior.target,
                event_type=prior.event_type,
                actor=prior.actor,
                execution_id=execution_id,
                detail=prior.detail,
                set_fields=prior.set_fields,
            )
            with contextlib.suppress(OrderMovedError):  # moved on: the interception decides alone
                repository.apply_changes([approval])
        raise


def allocate_order(
    order_id: str, execution_id: str | None, review: ReviewDecided | None = None
) -> AllocationResult:
    """`review`: what the fast path's review decided; an approval it did not record is written here."""
    aggregate = repository.load_aggregate(order_id)
    bind_platform(aggregate.order.platform)
    _stop_if_intercepted(aggregate.order, review, execution_id)
    order, prior = _with_approval(aggregate.order, review, execution_id)
    if order.status == OrderStatus.ALLOCATED:
        return _result_for_allocated(order, aggregate.reservations)
    if order.status == OrderStatus.CANCELLED:
        return AllocationResult(outcome="cancelled")  # e.g. cancelled while backordered
    if (
        order.status == OrderStatus.REJECTED
        and order.rejection is not None
        and order.rejection.code in _FINAL_REJECTIONS
    ):
        short = [s.sku for s in order.allocation.short] if order.allocation else []
        return AllocationResult(outcome="out_of_stock", short=short, reason=order.rejection)
    if order.status not in (OrderStatus.APPROVED, OrderStatus.BACKORDERED):
        raise IllegalTransitionError(order_id, order.status, OrderStatus.ALLOCATED)

    rules = active_rules()
    if (ships_after := presale.waiting_until(order, clock.now())) is not None:  # 预售: not before its date
        reason = presale.wait_for_date(order, ships_after, ACTOR, rules.version, execution_id, prior)
        wait = presale.seconds_until(ships_after, clock.now())
        return AllocationResult(outcome="backordered", wait_seconds=wait, reason=reason)
    policy = sourcing_policy(rules.allocation)
    skus = [line.sku for line in physical_lines(order.lines)]
    plan: AllocationPlan | None = None
    skipped_gifts: list[OrderLine] = []  # 赠品 short of stock: left out, never holding the order back
    for _ in range(MAX_PLANNING_ROUNDS):
        shards = {sku: repository.get_stock_shards(sku) for sku in skus}
        stock = {sku: aggregate_levels(found) for sku, found in shards.items()}
        plan = plan_allocation(order.lines, stock, policy, Destination.of(order.shipping_address))
        if not plan.complete and (gifts := short_gifts(order.lines, plan.short)):
            order, skipped_gifts = without_lines(order, gifts), [*skipped_gifts, *gifts]
            plan = plan_allocation(order.lines, stock, policy, Destination.of(order.shipping_address))
        if not plan.complete:
            break
        reservations = _with_shards(order_id, plan.reservations, shards)
        if reservations is None:
            continue
        try:
            allocated = _commit_allocation(
                order, plan, reservations, rules, execution_id, skipped_gifts, prior
            )
        except TransactionRejected as rejected:
            logger.info("stock moved under us; re-planning", extra={"failed_items": sorted(rejected.tags)})
            continue
        except OrderMovedError:
            current = repository.get_order(order_id)
            _stop_if_intercepted(current, review, execution_id)  # an interception moved it, maybe
            if current.status == OrderStatus.ALLOCATED:
                return _result_for_allocated(current, repository.load_aggregate(order_id).reservations)
            order, prior = _with_approval(current, review, execution_id)
            if order.status not in (OrderStatus.APPROVED, OrderStatus.BACKORDERED):
                raise
            skipped_gifts = []
            continue
        if allocated is not None:
            return allocated
        plan = None
        break
    else:
        raise TransientError(f"order {order_id}: stock kept changing during {MAX_PLANNING_ROUNDS} plans")
    if plan is None:
        too_large = RuleHit(code="ORDER_TOO_LARGE", message=_too_large(order))
        return _reject(order, too_large, rules, execution_id, prior)
    return _short(order, plan, rules, execution_id, prior)


def _too_large(order: Order) -> str:
    return (
        f"the order's {len(physical_lines(order.lines))} physical lines need more than "
        f"{MAX_TRANSACTION_ITEMS} stock movements in one transaction; split it into smaller orders"
    )


def _leaving_backorder(order: Order) -> dict[str, Any]:
    """Fields to reset when a backordered order moves on: the token its AwaitStock task waited on."""
    return {repository.WAIT_TOKEN: None} if order.status == OrderStatus.BACKORDERED else {}


def _backorder_cleanup(order: Order) -> list[Write]:
    info = order.allocation
    if order.status != OrderStatus.BACKORDERED or info is None or info.backordered_since is None:
        return []
    return repository.waitlist_delete_items(order.order_id, info.backordered_since, info.waitlisted)


def _change(
    order: Order,
    target: OrderStatus,
    event_type: str,
    execution_id: str | None,
    detail: dict[str, Any],
    set_fields: dict[str, Any],
    actor: str = ACTOR,
    prior: PriorChange | None = None,
) -> OrderChange:
    """A move of the order (by this stage unless `actor` says who), with its history event (after
    `prior`'s, when review's approval is written with it)."""
    return OrderChange(order, target, event_type, actor, execution_id, detail, set_fields, prior)


def _next_info(
    previous: AllocationInfo | None,
    rules: RuleSet,
    outcome: Literal["allocated", "backordered", "rejected"],
    *,
    reason: RuleHit | None = None,
    short: Sequence[ShortLine] = (),
    warehouses: Sequence[str] = (),
    split: bool = False,
    waitlisted: Sequence[str] = (),
    backordered_since: datetime | None = None,
) -> AllocationInfo:
    """The order's allocation record after one more attempt: the backorder clock (unless a new one
    starts, `backordered_since`) and the count of attempts carry on."""
    return AllocationInfo(
        outcome=outcome,
        reason=reason,
        short=list(short),
        warehouses=list(warehouses),
        split=split,
        waitlisted=list(waitlisted),
        backordered_since=backordered_since or (previous.backordered_since if previous else None),
        attempts=(previous.attempts if previous else 0) + 1,
        rules_version=rules.version,
    )


def _commit_allocation(
    order: Order,
    plan: AllocationPlan,
    reservations: list[Reservation],
    rules: RuleSet,
    execution_id: str | None,
    skipped_gifts: Sequence[OrderLine] = (),
    prior: PriorChange | None = None,
) -> AllocationResult | None:
    """Reserve everything (and join or open a merge group) in one transaction; None if it cannot fit.
    Gift lines left out for want of stock leave the order and give their units back to the rule."""
    info = _next_info(order.allocation, rules, "allocated", warehouses=plan.warehouses, split=plan.split)
    extra = repository.reserve_items(order.order_id, reservations) + _backorder_cleanup(order)
    extra += [w for gift in skipped_gifts for w in repository.gift_return_items(gift, order.order_id)]
    if 2 + len(extra) > MAX_TRANSACTION_ITEMS:
        return None
    merge, leader_change, merge_items = _merge_plan(
        order, rules.allocation, budget=MAX_TRANSACTION_ITEMS - 2 - len(extra)
    )
    set_fields: dict[str, Any] = {"allocation": info.model_dump(mode="json"), **_leaving_backorder(order)}
    if merge is not None:
        set_fields["merge"] = merge.model_dump(mode="json")
    detail: dict[str, Any] = {
        "reservations": [r.model_dump() for r in reservations],
        "warehouses": plan.warehouses,
        "split": plan.split,
    }
    if merge is not None:
        detail["merge"] = {"group": merge.group, "role": merge.role}
    if skipped_gifts:
        set_fields["lines"] = [line.model_dump(mode="json") for line in order.lines]
        detail["gifts_skipped"] = [skipped(line, "out of stock") for line in skipped_gifts]
    changes = [
        _change(order, OrderStatus.ALLOCATED, "stock.reserved", execution_id, detail, set_fields, prior=prior)
    ]
    if leader_change is not None:
        changes.append(leader_change)
    (allocated, *_) = repository.apply_changes(changes, [*extra, *merge_items])
    count(MetricName.ORDERS_ALLOCATED, order.platform)
    return _result_for_allocated(allocated, reservations)


def _merge_plan(
    order: Order, rules: AllocationRules, budget: int
) -> tuple[MergeInfo | None, OrderChange | None, list[Write]]:
    """合单: join the open group of this buyer and address, or open one. (merge, leader change, items)"""
    if rules.merge_window_minutes <= 0 or not physical_lines(order.lines) or budget < 3:
        return None, None, []
    now = clock.now()
    key = merge_key(order.platform, order.buyer.id, order.shipping_address)
    group = repository.open_merge_group(key)
    if group is not None and group["leader"] != order.order_id and group["closes_at"] > now.isoformat():
        leader = repository.find_order(group["leader"])
        joinable = (
            leader is not None
            and leader.status == OrderStatus.ALLOCATED
            and leader.merge is not None
            and leader.merge.group == leader.order_id
            and group["members"] < rules.merge_max_orders
        )
        if not joinable or leader is None or leader.merge is None:
            return None, None, []  # an open group this order cannot join: it ships alone
        orders = [*leader.merge.orders, order.order_id]
        closes_at = leader.merge.closes_at
        leading = MergeInfo(group=leader.order_id, role="leader", orders=orders, closes_at=closes_at)
        leader_change = _change(
            leader,
            OrderStatus.ALLOCATED,
            "order.merged",
            None,
            {"joined": order.order_id, "orders": orders},
            {"merge": leading.model_dump(mode="json")},
        )
        mine = MergeInfo(group=leader.order_id, role="member", orders=orders, closes_at=closes_at)
        join = repository.merge_join_item(key, leader.order_id, now, rules.merge_max_orders)
        return mine, leader_change, [join]
    closes_at = now + timedelta(minutes=rules.merge_window_minutes)
    mine = MergeInfo(group=order.order_id, role="leader", orders=[order.order_id], closes_at=closes_at)
    return mine, None, [repository.merge_open_item(key, order.order_id, closes_at, now)]


def _reject(
    order: Order, reason: RuleHit, rules: RuleSet, execution_id: str | None, prior: PriorChange | None
) -> AllocationResult:
    previous = order.allocation
    short = previous.short if previous and reason.code == "BACKORDER_EXPIRED" else []
    info = _next_info(previous, rules, "rejected", reason=reason, short=short)
    return _record_rejection(order, reason, info, execution_id, prior)


def _record_rejection(
    order: Order, reason: RuleHit, info: AllocationInfo, execution_id: str | None, prior: PriorChange | None
) -> AllocationResult:
    detail = {"code": reason.code, "short": [s.model_dump() for s in info.short]}
    fields = {
        "rejection": reason.model_dump(),
        "allocation": info.model_dump(mode="json"),
        **_leaving_backorder(order),
    }
    change = _change(order, OrderStatus.REJECTED, "stock.short", execution_id, detail, fields, prior=prior)
    repository.apply_changes([change], _backorder_cleanup(order))
    count(MetricName.RESERVATIONS_REFUSED, order.platform)
    # out_of_stock, backorder_expired or order_too_large: a fixed, low-cardinality set
    count(MetricName.ORDERS_REJECTED, order.platform, reason=reason.code.lower())
    return AllocationResult(outcome="out_of_stock", short=[s.sku for s in info.short], reason=reason)


def _short(
    order: Order, plan: AllocationPlan, rules: RuleSet, execution_id: str | None, prior: PriorChange | None
) -> AllocationResult:
    """Not enough stock (or only by splitting, which is off): reject, or backorder and wait."""
    now = clock.now()
    previous = order.allocation if order.status == OrderStatus.BACKORDERED else None
    decision = decide_short(
        plan,
        backorder_policy(rules.allocation),
        backordered_since=previous.backordered_since if previous else None,
        attempts=previous.attempts if previous else 0,
        now=now,
    )
    if decision.action == "reject":
        info = _next_info(previous, rules, "rejected", reason=decision.reason, short=plan.short)
        return _record_rejection(order, decision.reason, info, execution_id, prior)

    waiting_for = [s.sku for s in plan.short] or [line.sku for line in physical_lines(order.lines)]
    info = _next_info(
        previous,
        rules,
        "backordered",
        reason=decision.reason,
        short=plan.short,
        backordered_since=previous.backordered_since if previous and previous.backordered_since else now,
        waitlisted=sorted(set(waiting_for) | set(previous.waitlisted if previous else [])),
    )
    fields = {"allocation": info.model_dump(mode="json")}
    if order.status == OrderStatus.APPROVED:
        detail = {"code": decision.reason.code, "short": [s.model_dump() for s in plan.short]}
        backorder = _change(
            order, OrderStatus.BACKORDERED, "stock.backordered", execution_id, detail, fields, prior=prior
        )
        repository.apply_changes([backorder])
    else:
        repository.update_order_fields(order, fields)
    return AllocationResult(
        outcome="backordered",
        short=[s.sku for s in plan.short],
        wait_seconds=decision.wait_seconds,
        reason=decision.reason,
    )


# ---------------------------------------------------------------- backorder: wait for a restock


def park_backorder(order_id: str, task_token: str) -> list[str]:
    """Put a backordered order on the waitlist of every SKU it waits for, with its execution's token.

    A restock of one of them (PUT /inventory/{sku}) resumes the execution with that token. If the order
    is no longer backordered, or stock arrived between the allocation attempt and now (a restock that
    came before the token was here could not wake it), raise StockAvailableError: allocate again now.
    """
    for _ in range(MAX_PLANNING_ROUNDS):
        order = repository.get_order(order_id)
        ensure_not_intercepted(order, "allocate")
        info = order.allocation
        if order.status != OrderStatus.BACKORDERED or info is None or info.backordered_since is None:
            raise StockAvailableError(f"order {order_id} is {order.status}: nothing to wait for")
        # On the order too, so an interception can stop this wait at once (functions/intercept).
        if repository.set_wait_token(order, task_token):
            break
    else:
        raise TransientError(f"order {order_id} kept changing while parking it")
    need = {line.sku: line.quantity for line in physical_lines(order.lines)}
    for sku in info.waitlisted:
        repository.put_waitlist(sku, order_id, info.backordered_since, need.get(sku, 1), task_token)
    plan = plan_allocation(
        order.lines,
        {sku: repository.get_stock(sku) for sku in need},
        sourcing_policy(active_rules().allocation),
        Destination.of(order.shipping_address),
    )
    if plan.complete and presale.waiting_until(order, clock.now()) is None:
        raise StockAvailableError(f"order {order_id}: stock arrived while parking; allocate again")
    return info.waitlisted


# ---------------------------------------------------------------- release on cancel


class ReleaseResult(BaseModel):
    status: OrderStatus
    released: list[Reservation] = []


_RELEASABLE = {
    OrderStatus.RECEIVED,
    OrderStatus.ON_HOLD,
    OrderStatus.APPROVED,
    OrderStatus.BACKORDERED,
    OrderStatus.ALLOCATED,
}


def release_order(order_id: str, reason: str, actor: str, execution_id: str | None = None) -> ReleaseResult:
    """Cancel an order that has not shipped and give back every unit it holds, in one transaction.

    Idempotent: a second call (or a call racing the first) finds the order CANCELLED and releases
    nothing, because each reservation item can be deleted once.
    """

    def attempt() -> ReleaseResult:
        aggregate = repository.load_aggregate(order_id)
        order = aggregate.order
        if order.status == OrderStatus.CANCELLED:
            return ReleaseResult(status=order.status)
        if order.status not in _RELEASABLE:
            raise IllegalTransitionError(order_id, order.status, OrderStatus.CANCELLED)
        waiting = repository.get_wait_token(order_id) if order.status == OrderStatus.BACKORDERED else None
        detail = {"reason": reason, "released": [r.model_dump() for r in aggregate.reservations]}
        cancel = _change(
            order,
            OrderStatus.CANCELLED,
            "order.cancelled",
            execution_id,
            detail,
            _leaving_backorder(order),
            actor,
        )
        try:
            repository.apply_changes(
                [cancel],
                repository.release_items(order_id, aggregate.reservations) + _backorder_cleanup(order),
            )
        except OrderMovedError:
            raise ReadAgain from None
        if waiting is not None:  # its execution waits for a restock: let it end now (Allocate: cancelled)
            workflow.send_task_success(waiting, {"cancelled": True})
        return ReleaseResult(status=OrderStatus.CANCELLED, released=aggregate.reservations)

    return repository.retrying(
        attempt, rounds=MAX_PLANNING_ROUNDS, gave_up=f"order {order_id} kept changing while cancelling"
    )

"""A deterministic load of synthetic platform orders through the whole pipeline, on one machine.

`run_simulation` takes the orders a seed gives (oms/simulate_plan.py), posts them through the API
function with several threads at once, waits for every execution and then checks the books instead of
trusting them: final status per order, stock before and after, units shipped per SKU against the stock
that left the warehouse, and what each order cost in state transitions, DynamoDB requests and Lambda
invocations. The CLI (`oms simulate`) only formats the report; tests and benchmarks call this module directly.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, timedelta
from typing import Any

from oms.carrier_sim import drive_tracking
from oms.local.clock import VirtualClock
from oms.local.stack import WAIT_BOUND_SECONDS, HttpResponse, LocalStack, local_stack
from oms.simulate_plan import (
    ALLOCATION_RULES,
    CARRIER_RULES,
    FLASH_SKU,
    HIGH_VALUE_SKU,
    MAIN_WAREHOUSE,
    MISSING,
    NEVER_PAID,
    PAID_LATER,
    PLATFORM_FUNCTION,
    SIM_START,
    SimulationPlan,
    SkuPlan,
    plan_simulation,
)

__all__ = [
    "HIGH_VALUE_SKU",
    "MAIN_WAREHOUSE",
    "PAID_LATER",
    "PLATFORM_FUNCTION",
    "SIM_START",
    "SimulationReport",
    "plan_simulation",
    "run_simulation",
]

# (phase, done, total); phases are "post" and "wait".
Progress = Callable[[str, int, int], None]


@dataclass
class StockTotals:
    on_hand: int = 0
    reserved: int = 0
    available: int = 0
    negative: bool = False  # some warehouse went below zero


@dataclass
class SimulationReport:
    orders: int
    seed: int
    concurrency: int
    final_status: dict[str, int]
    oversold: int  # SKUs that shipped more than they had, or whose stock went negative
    oversold_skus: list[str]
    stock_mismatches: list[str]  # SKUs whose books disagree (shipped vs stock decrease, reservations)
    missing_orders: int  # posted (and answered 2xx or not) but never stored
    misrouted_responses: int  # 2xx answers that named another order than the one posted
    transitions_per_order: float  # Step Functions states entered, per order
    order_events_per_order: float  # entries in the order's own timeline, per order
    dynamodb_requests_per_order: float
    lambda_invocations_per_order: float
    wall_seconds: float  # from the first post until every execution ended (the pipeline)
    orders_per_second: float  # orders / wall_seconds
    stock: dict[str, dict[str, Any]]  # "before"/"after": sku -> totals; "shipped": sku -> units
    dynamodb_requests: dict[str, int]
    lambda_invocations: dict[str, int]
    execution_status: dict[str, int]
    reasons: dict[str, int]  # rule codes behind REJECTED and ON_HOLD
    post_status: dict[str, int]  # HTTP status of each POST /orders
    intent: dict[str, int] = field(default_factory=dict)
    reviewed: dict[str, int] = field(default_factory=dict)  # held orders the simulated reviewer decided
    ledger_mismatches: list[str] = field(default_factory=list)  # SKUs whose counters disagree with the ledger
    # Sourcing at work: split / merged / backordered orders, virtual shipments, the flash sale.
    allocation: dict[str, int] = field(default_factory=dict)
    flash_sale: dict[str, Any] = field(default_factory=dict)
    # Unpaid orders: "<intent>: <final status>" -> orders; the platform's payment callbacks by answer;
    # orders cancelled at their pay deadline; unpaid orders that ended against their intent.
    unpaid: dict[str, int] = field(default_factory=dict)
    payments: dict[str, int] = field(default_factory=dict)
    cancelled_unpaid: int = 0
    refunds_flagged: int = 0
    payment_mismatches: list[str] = field(default_factory=list)
    timers_fired: dict[str, int] = field(default_factory=dict)  # one-time schedules and sweep runs
    virtual_minutes: float = 0.0  # how much simulated time the run covered

    # What the handlers published as EMF metrics during the run (oms/local/metrics.py summary):
    # "counters" per metric and dimension, the "funnel", and "latency_ms" p50/p95 per stage.
    metrics: dict[str, Any] = field(default_factory=dict)
    # After shipping, the simulated carriers' tracking (oms/carrier_sim.py): parcels, events by outcome,
    # orders by delivery state, open exception cases, reships (not in the per-order figures above).
    shipping: dict[str, Any] = field(default_factory=dict)
    # The whole run, as a user waits for it: stack start, set-up, pipeline, tracking, checks.
    total_wall_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.oversold == 0
            and not self.stock_mismatches
            and self.missing_orders == 0
            and self.misrouted_responses == 0
            and not self.ledger_mismatches
            and not self.payment_mismatches
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


def _stock_totals(skus: list[SkuPlan]) -> dict[str, StockTotals]:
    from functions.core import repository

    totals: dict[str, StockTotals] = {}
    for s in skus:
        t = StockTotals()
        for level in repository.get_stock(s.sku):
            t.on_hand += level.on_hand
            t.reserved += level.reserved
            t.available += level.available
            t.negative |= min(level.on_hand, level.reserved, level.available) < 0
        totals[s.sku] = t
    return totals


def _dynamodb_total(counts: Counter[str]) -> int:
    return sum(n for action, n in counts.items() if action != "CreateTable")


def run_simulation(
    orders: int,
    seed: int,
    concurrency: int = 8,
    progress: Progress | None = None,
) -> SimulationReport:
    """Run `orders` synthetic orders on a fresh local stack (one at a time per process: moto is global)."""
    if orders < 1 or concurrency < 1:
        raise ValueError("orders and concurrency must be at least 1")
    plan = plan_simulation(orders, seed)
    report = progress or (lambda phase, done, total: None)
    started = time.perf_counter()
    with local_stack(clock=VirtualClock(SIM_START), log_level="ERROR") as stack:
        result = _run(stack, plan, seed, concurrency, report)
    result.total_wall_seconds = round(time.perf_counter() - started, 3)
    return result


def _settle(
    stack: LocalStack,
    arn: str,
    order_id: str,
    seed: int,
    reviewed: Counter[str],
    timeout: float = WAIT_BOUND_SECONDS,
) -> dict[str, Any]:
    """Wait for the execution to end, playing the ops reviewer for orders parked on a hold.

    Half the held orders (by a seeded coin per order) are approved and go on to allocation and
    shipping, the rest are rejected, through the same review endpoint an operator uses.
    """
    from functions.core import repository
    from functions.core.status import OrderStatus

    deadline = time.monotonic() + timeout
    while True:
        try:
            return stack.wait_for_execution(arn, timeout=0.5)
        except TimeoutError:
            if time.monotonic() > deadline:
                raise
        if (
            repository.get_wait_token(order_id)
            and repository.get_order(order_id).status == OrderStatus.ON_HOLD
        ):
            approve = random.Random(f"{seed}:{order_id}").random() < 0.5  # noqa: S311 - a simulation
            decision = "approve" if approve else "reject"
            from oms.local import credentials

            answer = stack.request(
                "POST",
                f"/orders/{order_id}/review",
                {"decision": decision, "comment": "simulated reviewer"},
                headers=credentials.staff_headers("ops", "simulated-reviewer", stack.clock.now()),
            )
            if answer.status != 200:
                raise RuntimeError(f"review of held order {order_id} refused: {answer.status} {answer.body}")
            reviewed[decision] += 1


def _run(
    stack: LocalStack,
    plan: SimulationPlan,
    seed: int,
    concurrency: int,
    report: Progress,
) -> SimulationReport:
    from functions.allocate.inventory import audit_stock
    from functions.core import repository
    from functions.core.errors import OrderNotFoundError
    from functions.core.models.order_in import order_id_for
    from functions.core.status import OrderStatus
    from oms.local.catalog import register_order_products

    _store_allocation_rules(stack)
    for s in plan.skus:
        for warehouse, on_hand in s.stock.items():
            _sync_stock(stack, s.sku, warehouse, on_hand, f"wms-count-{s.sku}-{warehouse}")
    before = _stock_totals(plan.skus)
    stack.metrics.clear()  # the run's metrics are about its orders, not the set-up (rules, stock counts)
    counters_before = stack.counters()
    fired_before = len(stack.scheduler.fired) if stack.scheduler else 0
    total = len(plan.orders)
    payments = _SimulatedPlatform(stack)
    for body in plan.orders:  # what each SKU is comes from the product master (gift cards: virtual)
        register_order_products(body)

    def post(body: dict[str, Any]) -> HttpResponse:
        # The runtime runs the API function one invocation at a time (one container); the executions
        # the posts start run concurrently and contend for stock.
        from oms.local import credentials

        raw = json.dumps(body)  # signed as the body's platform, like every platform request
        return stack.request(
            "POST",
            "/orders",
            raw,
            credentials.platform_headers(
                body["platform"], raw, stack.clock.now(), method="POST", target="/orders"
            ),
        )

    started = time.perf_counter()
    responses: list[HttpResponse] = []
    restocked: Counter[str] = Counter()
    half = len(plan.orders) // 2
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sim-post") as pool:
        for part, batch in enumerate((plan.orders[:half], plan.orders[half:])):
            if part == 1:
                # Half-way: a delivery for the short SKUs (their backordered orders are woken by it).
                for sku, warehouse, units in plan.restocks:
                    on_hand = _current_on_hand(sku, warehouse) + units
                    _sync_stock(stack, sku, warehouse, on_hand, f"wms-receipt-{sku}-{warehouse}", "restock")
                    restocked[sku] += units
            for response in pool.map(post, batch):
                responses.append(response)
                report("post", len(responses), total)
    expected_ids = [order_id_for(b["platform"], b["platform_order_id"]) for b in plan.orders]
    for index, minutes in plan.pay_after_minutes.items():
        if responses[index].status in (200, 201):
            body = plan.orders[index]
            payments.pay_later(expected_ids[index], body["platform"], body["amounts"]["total"], minutes)
    accepted = [r.json() for r in responses if r.status in (200, 201)]
    # An answer about another order than the one posted means the API mixed up concurrent requests.
    misrouted = sum(
        1
        for r, order_id in zip(responses, expected_ids, strict=True)
        if r.status in (200, 201) and r.json()["order_id"] != order_id
    )
    executions = {a["execution_arn"]: a["order_id"] for a in accepted if a.get("execution_arn")}
    execution_status: Counter[str] = Counter()
    reviewed: Counter[str] = Counter()
    for done, (arn, order_id) in enumerate(executions.items(), 1):
        execution_status[_settle(stack, arn, order_id, seed, reviewed)["status"]] += 1
        report("wait", done, len(executions))
    wall = time.perf_counter() - started
    stack.drain()  # a timer fired at the last clock step may still be running
    counters_after = stack.counters()  # before the checks below, whose reads are not the orders' cost
    metrics = stack.metrics.summary()  # every execution has ended: all its metrics are in
    # Then the carriers track what shipped (deliveries, delays, damage and reships): its own figures.
    shipping, replacement_ids = drive_tracking(stack, expected_ids, seed, concurrency)

    final_status: Counter[str] = Counter()
    sourcing: Counter[str] = Counter()
    unpaid: Counter[str] = Counter()
    payment_mismatches: list[str] = []
    cancelled_unpaid = refunds_flagged = 0
    reasons: Counter[str] = Counter()
    shipped: Counter[str] = Counter()
    held: Counter[str] = Counter()  # units still reserved by orders, which must match stock.reserved
    states_entered = 0
    order_events = 0
    # Judge by the orders that were meant to exist, each once, not by what the API answered.
    for order_id, kind in zip(expected_ids, plan.intent, strict=True):
        try:
            aggregate = repository.load_aggregate(order_id)
        except OrderNotFoundError:
            final_status[MISSING] += 1
            continue
        order = aggregate.order
        final_status[order.status.value] += 1
        timed_out = order.cancellation is not None and order.cancellation.code == "PAYMENT_TIMEOUT"
        cancelled_unpaid += timed_out
        refunds_flagged += order.refund_required
        if kind in (PAID_LATER, NEVER_PAID):
            unpaid[f"{kind}: {order.status.value}"] += 1
            # Never paid: cancelled at the deadline (unless review or stock ended it first). Paid in
            # time: never cancelled for it. Anything else is a payment bug the run must not hide.
            if (kind == NEVER_PAID and not timed_out and order.status != OrderStatus.REJECTED) or (
                kind == PAID_LATER and timed_out
            ):
                payment_mismatches.append(order_id)
        order_events += len(aggregate.events)
        if order.rejection is not None:
            reasons[order.rejection.code] += 1
        elif order.status in (OrderStatus.REJECTED, OrderStatus.ON_HOLD) and order.review is not None:
            reasons.update(hit.code for hit in order.review.reasons)
        for shipment in aggregate.shipments:
            if shipment.virtual:
                sourcing["virtual_shipments"] += 1
                continue
            for line in shipment.lines:
                shipped[line.sku] += line.quantity
        _count_sourcing(sourcing, aggregate)
        for reservation in aggregate.reservations:
            held[reservation.sku] += reservation.quantity
        if order.execution_arn:
            states_entered += sum(
                1 for e in stack.execution_history(order.execution_arn) if e["type"].endswith("StateEntered")
            )
    replacement_status: Counter[str] = Counter()
    for replacement_id in replacement_ids:  # reships take stock too: they are in the books
        aggregate = repository.load_aggregate(replacement_id)
        replacement_status[aggregate.order.status.value] += 1
        for shipment in aggregate.shipments:
            for line in shipment.lines if not shipment.virtual else ():
                shipped[line.sku] += line.quantity
        for reservation in aggregate.reservations:
            held[reservation.sku] += reservation.quantity
    if replacement_ids:
        shipping["replacement_status"] = dict(sorted(replacement_status.items()))
    after = _stock_totals(plan.skus)

    oversold: list[str] = []
    mismatches: list[str] = []
    ledger_mismatches: list[str] = []
    for s in plan.skus:
        b, a = before[s.sku], after[s.sku]
        received = b.on_hand + restocked[s.sku]  # what was ever on the shelves
        if a.negative or a.on_hand < 0 or a.available < 0 or shipped[s.sku] > received:
            oversold.append(s.sku)
        if (
            shipped[s.sku] != received - a.on_hand
            or a.reserved != held[s.sku]
            or a.available != a.on_hand - a.reserved
        ):
            mismatches.append(s.sku)
        if not all(counter.ok for counter in audit_stock(s.sku)):
            ledger_mismatches.append(s.sku)  # a counter differs from the sum of its ledger movements
    flash = next((s for s in plan.skus if s.sku == FLASH_SKU), None)
    flash_sale: dict[str, Any] = {}
    if flash is not None:
        flash_sale = {
            "sku": FLASH_SKU,
            "shards": len(repository.get_stock_shards(FLASH_SKU)),
            "units_for_sale": before[FLASH_SKU].on_hand + restocked[FLASH_SKU],
            "units_asked": flash.demand,
            "units_shipped": shipped[FLASH_SKU],
            "oversold": max(0, shipped[FLASH_SKU] - before[FLASH_SKU].on_hand - restocked[FLASH_SKU]),
        }

    dynamodb = counters_after["dynamodb"] - counters_before["dynamodb"]
    lambdas = counters_after["lambda"] - counters_before["lambda"]
    lambdas.pop(PLATFORM_FUNCTION, None)  # the simulated platform is not the OMS's cost
    return SimulationReport(
        orders=total,
        seed=seed,
        concurrency=concurrency,
        final_status=dict(sorted(final_status.items())),
        oversold=len(oversold),
        oversold_skus=oversold,
        stock_mismatches=mismatches,
        missing_orders=final_status[MISSING],
        misrouted_responses=misrouted,
        transitions_per_order=round(states_entered / total, 2),
        order_events_per_order=round(order_events / total, 2),
        dynamodb_requests_per_order=round(_dynamodb_total(dynamodb) / total, 2),
        lambda_invocations_per_order=round(sum(lambdas.values()) / total, 2),
        wall_seconds=round(wall, 3),
        orders_per_second=round(total / wall, 2) if wall > 0 else 0.0,
        stock={
            "before": {sku: _levels(t) for sku, t in before.items()},
            "after": {sku: _levels(t) for sku, t in after.items()},
            "shipped": {s.sku: shipped[s.sku] for s in plan.skus},
            "restocked": {s.sku: restocked[s.sku] for s in plan.skus},
        },
        dynamodb_requests=dict(sorted((k, v) for k, v in dynamodb.items() if k != "CreateTable")),
        lambda_invocations=dict(sorted(lambdas.items())),
        execution_status=dict(sorted(execution_status.items())),
        reasons=dict(sorted(reasons.items())),
        post_status=dict(sorted(Counter(str(r.status) for r in responses).items())),
        intent=dict(sorted(Counter(plan.intent).items())),
        reviewed=dict(sorted(reviewed.items())),
        ledger_mismatches=ledger_mismatches,
        allocation=dict(sorted(sourcing.items())),
        flash_sale=flash_sale,
        unpaid=dict(sorted(unpaid.items())),
        payments=dict(sorted(payments.answers.items())),
        cancelled_unpaid=cancelled_unpaid,
        refunds_flagged=refunds_flagged,
        payment_mismatches=payment_mismatches,
        timers_fired=_timers_fired(stack, fired_before),
        virtual_minutes=round((stack.clock.now() - SIM_START).total_seconds() / 60, 1),
        metrics=metrics,
        shipping=shipping,
    )


def _admin(stack: LocalStack) -> dict[str, str]:
    from oms.local import credentials

    return credentials.staff_headers("admin", "simulated-admin", stack.clock.now())


def _store_allocation_rules(stack: LocalStack) -> None:
    """The allocation rules of the run, stored through the strategy center like an admin would."""
    current = stack.request("GET", "/rules", headers=_admin(stack)).json()
    document = {**current, "allocation": {**current["allocation"], **ALLOCATION_RULES}}
    document["carriers"] = {**current["carriers"], **CARRIER_RULES}
    document["comment"] = "oms simulate: two warehouses, backorders, merging, flash sale on sharded stock"
    answer = stack.request("PUT", "/rules", document, headers=_admin(stack))
    if answer.status != 200:
        raise RuntimeError(f"storing the simulation's rules failed: {answer.status} {answer.body}")


def _sync_stock(
    stack: LocalStack, sku: str, warehouse: str, on_hand: int, sync_id: str, reason: str | None = None
) -> None:
    """A WMS stock sync through PUT /inventory/{sku} (idempotent by its sync id), as an admin."""
    from oms.local.catalog import register_products

    register_products([sku])
    body: dict[str, Any] = {"sync_id": sync_id, "warehouse": warehouse, "on_hand": on_hand}
    if reason:
        body["reason"] = reason
    answer = stack.request("PUT", f"/inventory/{sku}", body, headers=_admin(stack))
    if answer.status not in (200, 201):
        raise RuntimeError(f"stock sync of {sku}@{warehouse} failed: {answer.status} {answer.body}")


def _current_on_hand(sku: str, warehouse: str) -> int:
    from functions.core import repository

    return sum(level.on_hand for level in repository.get_stock(sku) if level.warehouse == warehouse)


def _count_sourcing(counts: Counter[str], aggregate: Any) -> None:
    """What sourcing did to this order: split, merged, backordered (and how that ended)."""
    order = aggregate.order
    info = order.allocation
    if info is not None and info.split:
        counts["split_orders"] += 1
    if order.merge is not None and len(order.merge.orders) > 1:
        counts["merged_orders"] += 1
    if info is not None and info.backordered_since is not None:
        counts["backordered_orders"] += 1
        if order.status.value in ("SHIPPED", "DELIVERED"):
            counts["backordered_then_shipped"] += 1
        elif order.rejection is not None and order.rejection.code == "BACKORDER_EXPIRED":
            counts["backorder_expired"] += 1
        elif order.status.value == "CANCELLED" and info.outcome == "backordered":
            counts["cancelled_while_backordered"] += 1  # e.g. unpaid at its pay deadline


class _SimulatedPlatform:
    """The platforms' payment callbacks, at the moment each buyer pays (virtual time).

    Each payment is a one-time EventBridge Scheduler schedule in the simulation's own group, fired by
    the same local scheduler as the OMS's pay-deadline timers; its target (a local function) POSTs
    /orders/{id}/payment through the API, as the platform's webhook would.
    """

    GROUP = "simulated-platform"

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.answers: Counter[str] = Counter()
        self._lock = threading.Lock()
        any_function = next(iter(stack.runtime.handlers.values()))[1]
        stack.runtime.handlers[PLATFORM_FUNCTION] = (self._pay, any_function)
        self._client = stack.session.client("scheduler")
        self._client.create_schedule_group(Name=self.GROUP)

    def pay_later(self, order_id: str, platform: str, amount: str, minutes: int) -> None:
        at = self.stack.clock.now() + timedelta(minutes=minutes)
        self._client.create_schedule(
            Name=order_id,
            GroupName=self.GROUP,
            ScheduleExpression=f"at({at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S')})",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": f"arn:aws:lambda:us-east-1:123456789012:function:{PLATFORM_FUNCTION}",
                "RoleArn": "arn:aws:iam::123456789012:role/simulated-platform",
                "Input": json.dumps({"order_id": order_id, "platform": platform, "amount": amount}),
            },
        )

    def _pay(self, event: dict[str, Any], context: Any) -> None:
        from oms.local import credentials

        order_id = event["order_id"]
        raw = json.dumps(
            {
                "payment_id": f"PAY-{order_id[4:16]}",
                "amount": event["amount"],
                "paid_at": self.stack.clock.now().isoformat(),
            }
        )
        target = f"/orders/{order_id}/payment"
        headers = credentials.platform_headers(
            event["platform"], raw, self.stack.clock.now(), method="POST", target=target
        )
        answer = self.stack.request("POST", target, raw, headers)
        outcome = answer.json().get("outcome") if answer.status == 200 else answer.json()["error"]["code"]
        with self._lock:
            self.answers[f"{answer.status} {outcome}"] += 1


def _timers_fired(stack: LocalStack, since: int) -> dict[str, int]:
    if stack.scheduler is None:
        return {}
    fired: Counter[str] = Counter()
    for firing in list(stack.scheduler.fired)[since:]:
        if firing.function == PLATFORM_FUNCTION:
            fired["simulated payments"] += 1
        elif firing.kind == "schedule":
            fired["pay-deadline schedules"] += 1
        else:
            fired["sweeps"] += 1
    return dict(sorted(fired.items()))


def _levels(t: StockTotals) -> dict[str, int]:
    return {"on_hand": t.on_hand, "reserved": t.reserved, "available": t.available}

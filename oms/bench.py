"""`oms bench`: what one order costs and how fast the design goes, measured in one run on this machine.

Every figure comes from the same run of the local stack (moto + the real state machine + the real
handlers), nothing is typed in:

* per-order counts for a **happy-path order** (posted, reviewed, allocated, shipped): billed Step
  Functions state transitions (from each execution's history: one per state entered, plus one for the
  start, which is how Step Functions Standard bills), Lambda invocations and handler seconds, DynamoDB
  requests and the write/read request units DynamoDB would bill for the items actually written and read
  (sizes by DynamoDB's rules, transactions count double: oms/local/moto_patches.py records them);
* `usd_per_1000_orders`: those counts times the list prices in `PRICES` (us-east-1);
* `cold_import_ratio`: the slowest handler module's import time over `import boto3` alone, each the
  median of several fresh interpreters;
* `pipeline_vs_floor`: orders/s through the whole local pipeline over orders/s of the bare DynamoDB
  requests those same orders made, replayed in the same order against a replica table of the same stack;
* `hot_sku`: N allocations racing for one SKU with N/2 units, through the real allocate service.
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from oms.bench_ceiling import async_functions, bench_ceiling, shard_settings
from oms.bench_costs import (
    DEFAULT_MODELLED_MS,
    MODELLED_MS,
    PRICE_DATE,
    PRICE_REGION,
    PRICES,
    OrderCounts,
    counts_summary,
    deployed_log_level,
    express_usage,
    metered,
    modelled_gb_seconds,
    usd_per_1000,
)
from oms.bench_imports import ColdImports, measure_cold_imports
from oms.local import express
from oms.local.clock import VirtualClock
from oms.local.stack import LocalStack, local_stack
from oms.simulate import MAIN_WAREHOUSE, SIM_START, plan_simulation

__all__ = ["PRICES", "PRICE_DATE", "PRICE_REGION", "BenchReport", "run_bench"]

Progress = Callable[[str], None]


@dataclass
class BenchReport:
    orders: int
    concurrency: int
    happy_path_orders: int  # of `orders`, how many ended SHIPPED (the per-order figures assume all do)
    execution_status: dict[str, int]
    transitions_per_order: float
    lambda_invocations_per_order: float
    lambda_invocations: dict[str, float]  # per order, per function
    lambda_ms_per_order: dict[str, float]  # measured handler time per order, per function
    lambda_gb_seconds_per_order: float
    api_requests_per_order: float
    dynamodb_requests_per_order: float
    dynamodb_requests: dict[str, float]  # per order, per action
    dynamodb_wcu_per_order: float  # table + GSI write units
    dynamodb_wcu_breakdown: dict[str, float]
    dynamodb_rcu_per_order: float
    dynamodb_item_bytes: dict[str, float]  # mean/max size of items written
    usd_per_1000_orders: float
    usd_breakdown_per_1000: dict[str, float]
    cold_import_ratio: float  # wall
    import_seconds: dict[str, float]  # wall median per module, "boto3" included
    pipeline_orders_per_second: float
    floor_orders_per_second: float
    pipeline_vs_floor: float
    floor_replay_mismatches: int  # replayed requests whose outcome differed from the original
    hot_sku: dict[str, int]
    wall_seconds: float
    # SalesAggregatorFunction's share of the figures above, per order (docs/reports.md)
    sales_aggregates: dict[str, float] = field(default_factory=dict)
    # issue 14's figures: billed units by workflow type, every service's dollars (oms/bench_costs.py)
    standard_transitions_per_order: float = 0.0
    express_requests_per_order: float = 0.0
    express_gb_seconds_per_order: float = 0.0
    lambda_modelled_gb_seconds_per_order: float = 0.0
    services_per_order: dict[str, float] = field(default_factory=dict)  # events, messages, log bytes
    waiting_order_usd_per_1000: float = 0.0
    waiting_order_usd_breakdown_per_1000: dict[str, float] = field(default_factory=dict)
    waiting_order_counts: dict[str, Any] = field(default_factory=dict)
    # the cold imports' CPU seconds (ColdImports.cpu): the wall figures' steadier twin
    cold_import_ratio_cpu: float = 0.0
    import_cpu_seconds: dict[str, float] = field(default_factory=dict)
    prices: dict[str, Any] = field(default_factory=dict)
    # orders/s per account-region from cited quotas and these counts (oms/bench_ceiling.py)
    ceiling_orders_per_second: dict[str, Any] = field(default_factory=dict)
    ceiling_limits: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------- storage floor


def _retarget(value: Any, tables: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k == "TableName" and isinstance(v, str):
                out[k] = tables.get(v, v)
            elif k == "RequestItems" and isinstance(v, dict):
                out[k] = {tables.get(t, t): _retarget(r, tables) for t, r in v.items()}
            else:
                out[k] = _retarget(v, tables)
        return out
    if isinstance(value, list):
        return [_retarget(v, tables) for v in value]
    return value


def _replica_tables(stack: LocalStack) -> dict[str, str]:
    """An empty copy of every table (same keys and indexes), to replay the orders' requests into."""
    replicas: dict[str, str] = {}
    for name in stack.table_names.values():
        table = stack.dynamodb.describe_table(TableName=name)["Table"]
        replica = f"{name}-floor"
        kwargs: dict[str, Any] = {
            "TableName": replica,
            "AttributeDefinitions": table["AttributeDefinitions"],
            "KeySchema": table["KeySchema"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if table.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = [
                {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
                for g in table["GlobalSecondaryIndexes"]
            ]
        stack.dynamodb.create_table(**kwargs)
        replicas[name] = replica
    return replicas


def _replay(client: Any, records: list[Any], tables: dict[str, str]) -> int:
    """Send each recorded request again; count those whose success/failure differs from the original."""
    from botocore import xform_name
    from botocore.exceptions import ClientError

    mismatches = 0
    for record in records:
        call = getattr(client, xform_name(record.action))
        try:
            call(**_retarget(record.body, tables))
            ok = True
        except ClientError:
            ok = False
        mismatches += ok != (record.status < 400)
    return mismatches


# ---------------------------------------------------------------- hot SKU


def _hot_body(index: int, sku: str) -> dict[str, Any]:
    return {
        "platform": "shopify",
        "platform_order_id": f"HOT-{sku}-{index:04d}",
        "buyer": {"id": f"hot-buyer-{index}", "name": "Bench Buyer"},
        "shipping_address": {
            "name": "Bench Buyer",
            "phone": "+1 555 0100",
            "line1": "1 Main St",
            "city": "Springfield",
            "region": "IL",
            "postal_code": "62701",
            "country": "US",
        },
        "lines": [{"sku": sku, "quantity": 1, "unit_price": "10.00"}],
        "amounts": {"currency": "USD", "subtotal": "10.00", "total": "10.00"},
        "placed_at": "2026-11-11T00:00:00+00:00",
    }


def measure_hot_sku(stack: LocalStack, contenders: int) -> dict[str, int]:
    """`contenders` approved orders of 1 unit each race (one thread each) to allocate a SKU holding half."""
    from functions.allocate.service import allocate_order
    from functions.core import clock, repository
    from functions.core.models.order_in import OrderIn, order_id_for
    from functions.core.models.orders import HistoryEvent, Order
    from functions.core.status import OrderStatus
    from functions.review.service import review_order

    sku = "HOT-SKU-BENCH"
    stock = contenders // 2
    repository.set_stock(sku, MAIN_WAREHOUSE, stock)
    order_ids = []
    for i in range(contenders):
        incoming = OrderIn.model_validate(_hot_body(i, sku))
        now = clock.now()
        order = Order(
            **incoming.model_dump(),
            order_id=order_id_for(incoming.platform, incoming.platform_order_id),
            status=OrderStatus.RECEIVED,
            version=1,
            created_at=now,
            updated_at=now,
            request_hash=incoming.fingerprint(),
        )
        event = HistoryEvent(
            seq=1, at=now, type="order.received", to_status=OrderStatus.RECEIVED, actor="bench"
        )
        repository.create_order(order, event)
        if review_order(order.order_id, None).decision != "approve":
            raise RuntimeError(f"hot-SKU order {order.order_id} was not approved by review")
        order_ids.append(order.order_id)

    log_start = len(stack.runtime.dynamodb_log or [])
    gate = threading.Barrier(contenders)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def race(order_id: str) -> None:
        gate.wait()
        outcome: str
        try:
            outcome = allocate_order(order_id, None).outcome
        except Exception as exc:  # TransientError after re-planning: the state machine would retry it
            outcome = type(exc).__name__
        with lock:
            outcomes[outcome] += 1

    with ThreadPoolExecutor(max_workers=contenders, thread_name_prefix="hot-sku") as pool:
        list(pool.map(race, order_ids))
    log = (stack.runtime.dynamodb_log or [])[log_start:]
    conflicts = sum(1 for r in log if r.action == "TransactWriteItems" and r.status >= 400)
    (level,) = repository.get_stock(sku)
    reserved_by_orders = sum(
        r.quantity for oid in order_ids for r in repository.load_aggregate(oid).reservations
    )
    return {
        "contenders": contenders,
        "stock": stock,
        "successes": outcomes["allocated"],
        "out_of_stock": outcomes["out_of_stock"],
        "errors": sum(n for k, n in outcomes.items() if k not in ("allocated", "out_of_stock")),
        "oversold": max(0, reserved_by_orders - stock) + max(0, -level.available),
        "conflicts": conflicts,  # reservation transactions DynamoDB cancelled (stale plan), then re-planned
        "reserved": level.reserved,
    }


# ---------------------------------------------------------------- the run


def _sales_aggregate_cost(order_log: list[Any], orders: int) -> dict[str, float]:
    """The sales aggregator's transactions among the orders' requests: markers, counter updates, WCU."""
    transactions = markers = counters = wcu = 0
    for record in order_log:
        items = record.body.get("TransactItems", []) if record.action == "TransactWriteItems" else []
        puts = [i["Put"]["Item"]["pk"]["S"] for i in items if "Put" in i]
        if not any(pk.startswith("SALESMARK#") for pk in puts):
            continue
        transactions += 1
        markers += len(puts)
        counters += sum(1 for i in items if "Update" in i)
        wcu += record.write_units
    return {
        "transactions_per_order": _per(transactions, orders, 3),
        "marker_writes_per_order": _per(markers, orders, 3),
        "counter_writes_per_order": _per(counters, orders, 3),
        "wcu_per_order": _per(wcu, orders, 3),
    }


def _per(n: float, orders: int, digits: int = 2) -> float:
    return round(n / orders, digits)


def run_bench(
    orders: int = 60,
    concurrency: int = 8,
    seed: int = 1,
    hot_contenders: int = 20,
    import_runs: int = 5,
    progress: Progress | None = None,
) -> BenchReport:
    say = progress or (lambda message: None)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        with local_stack(clock=VirtualClock(SIM_START), log_level="ERROR") as stack:
            # the functions' environment exactly as the local stack resolved it from template.yaml
            say(f"cold imports: boto3 and each handler module, median of {import_runs} fresh interpreters")
            imports = measure_cold_imports(import_runs, dict(os.environ))
            return _run(stack, orders, concurrency, seed, hot_contenders, imports, started, say)


def _post(stack: LocalStack, body: dict[str, Any]) -> Any:
    """POST /orders signed as the body's platform, as every platform request is."""
    from oms.local import credentials
    from oms.local.catalog import register_order_products

    register_order_products(body)
    raw = json.dumps(body)
    return stack.request(
        "POST",
        "/orders",
        raw,
        credentials.platform_headers(
            body["platform"], raw, stack.clock.now(), method="POST", target="/orders"
        ),
    )


def _happy_bodies(orders: int, seed: int) -> list[dict[str, Any]]:
    """The simulation's order generator, keeping the orders review approves (no hold, no mismatch)."""
    bodies: list[dict[str, Any]] = []
    size = orders
    while len(bodies) < orders:
        plan = plan_simulation(size, seed)
        bodies = [b for b, intent in zip(plan.orders, plan.intent, strict=True) if intent == "normal"]
        size *= 2
    return bodies[:orders]


def _run(
    stack: LocalStack,
    orders: int,
    concurrency: int,
    seed: int,
    hot_contenders: int,
    imports: ColdImports,
    started: float,
    say: Progress,
) -> BenchReport:
    from functions.core import repository
    from functions.core.models.order_in import order_id_for
    from functions.core.status import OrderStatus
    from oms.local.catalog import register_order_products

    bodies = _happy_bodies(orders, seed)
    log: list[Any] = []
    stack.runtime.dynamodb_log = log
    demand: Counter[str] = Counter()
    for body in bodies:
        for line in body["lines"]:
            demand[line["sku"]] += line["quantity"]
    for sku, units in demand.items():  # enough of everything: every order is a happy path
        repository.set_stock(sku, MAIN_WAREHOUSE, units + 10)
    for body in bodies:  # the product master is set up before, not counted as the orders' writes
        register_order_products(body)
    seeded = len(log)
    lambdas_before = Counter(stack.runtime.lambda_invocations)
    seconds_before = dict(stack.runtime.lambda_seconds)

    say(f"pipeline: {orders} happy-path orders, {concurrency} posting threads")
    level = deployed_log_level(stack.template.raw)
    with metered(level) as meter:
        pipeline_started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench-post") as pool:
            responses = list(pool.map(lambda b: _post(stack, b), bodies))
        arns = [r.json()["execution_arn"] for r in responses if r.status == 201]
        statuses = Counter(stack.wait_for_execution(arn, timeout=120)["status"] for arn in arns)
        pipeline_seconds = time.perf_counter() - pipeline_started
        stack.settle()  # stream consumers (outbox, sales aggregator) finish the orders' records: theirs too
    fired_after_pipeline = len(stack.scheduler.fired) if stack.scheduler else 0
    order_log = log[seeded:]
    stack.runtime.dynamodb_log = None  # what follows is the bench's own reading, not the orders' cost

    lambdas = Counter(stack.runtime.lambda_invocations) - lambdas_before
    memory = {spec.logical_id: spec.memory_mb for spec in stack.template.functions()}
    seconds = {  # the template's functions only: tests may have registered probes in this process
        name: stack.runtime.lambda_seconds.get(name, 0.0) - seconds_before.get(name, 0.0) for name in memory
    }
    gb_seconds = sum(seconds[name] * memory[name] / 1024 for name in seconds)

    transitions = standard_transitions(stack, arns)
    shipped = 0
    for body in bodies:
        order = repository.get_order(order_id_for(body["platform"], body["platform_order_id"]))
        shipped += order.status == OrderStatus.SHIPPED

    actions = Counter(r.action for r in order_log)
    table_wcu = sum(r.write_units for r in order_log)
    index_wcu = sum(r.index_write_units for r in order_log)
    wcu = table_wcu + index_wcu
    rcu = sum(r.read_units for r in order_log)
    written = [size for r in order_log if r.write_units for size in r.item_bytes]
    api_requests = lambdas.get(stack.api_function, 0)

    say(f"storage floor: replaying the orders' {len(order_log)} DynamoDB requests against a replica table")
    replicas = _replica_tables(stack)
    _replay(stack.dynamodb, log[:seeded], replicas)
    floor_started = time.perf_counter()
    mismatches = _replay(stack.dynamodb, order_log, replicas)
    floor_seconds = time.perf_counter() - floor_started

    say(f"hot SKU: {hot_contenders} concurrent reservations for {hot_contenders // 2} units")
    stack.runtime.dynamodb_log = []
    hot = measure_hot_sku(stack, hot_contenders)
    stack.runtime.dynamodb_log = None

    n = orders
    arch = str(stack.template.raw.get("Globals", {}).get("Function", {}).get("Architectures", ["x86_64"])[0])
    fast = express_usage(express_runs(arns))
    happy = OrderCounts(
        orders=n,
        standard_transitions=transitions / n,
        express_requests=fast.requests / n,
        express_gb_seconds=fast.gb_seconds / n,
        express_log_bytes=fast.log_bytes / n,
        lambda_invocations={k: v / n for k, v in lambdas.items()},
        api_requests=api_requests / n,
        wcu=wcu / n,
        rcu=rcu / n,
        meter={k: v / n for k, v in meter.counts().items()},
        schedules_fired=0.0,  # a paid-on-arrival order sets no timer
        index_wcu=index_wcu / n,
        standard_starts=standard_starts(stack, arns) / n,
    )
    cost = usd_per_1000(happy, memory, arch)
    say("waiting orders: unpaid on arrival, paid by the platform's callback")
    waiting = _waiting_orders(stack, max(4, min(n, 20)), fired_after_pipeline)
    waiting_cost = usd_per_1000(waiting, memory, arch)
    ceiling = bench_ceiling(
        happy, waiting, async_functions(stack.template.raw), shard_settings(stack.template.raw)
    )
    pipeline_rate = n / pipeline_seconds
    floor_rate = n / floor_seconds if floor_seconds > 0 else float("inf")
    return BenchReport(
        orders=n,
        concurrency=concurrency,
        happy_path_orders=shipped,
        execution_status=dict(statuses),
        transitions_per_order=_per(transitions, n),
        lambda_invocations_per_order=_per(sum(lambdas.values()), n),
        lambda_invocations={k: _per(v, n) for k, v in sorted(lambdas.items())},
        lambda_ms_per_order={k: round(v * 1000 / n, 2) for k, v in sorted(seconds.items()) if v},
        lambda_gb_seconds_per_order=round(gb_seconds / n, 5),
        api_requests_per_order=_per(api_requests, n),
        dynamodb_requests_per_order=_per(len(order_log), n),
        dynamodb_requests={k: _per(v, n) for k, v in sorted(actions.items())},
        dynamodb_wcu_per_order=_per(wcu, n),
        dynamodb_wcu_breakdown={"table": _per(table_wcu, n), "gsi": _per(index_wcu, n)},
        dynamodb_rcu_per_order=_per(rcu, n),
        dynamodb_item_bytes={
            "mean": round(sum(written) / len(written), 1) if written else 0.0,
            "max": float(max(written, default=0)),
        },
        usd_per_1000_orders=round(sum(cost.values()), 4),
        usd_breakdown_per_1000={k: round(v, 5) for k, v in cost.items()},
        cold_import_ratio=ColdImports.ratio(imports.wall),
        import_seconds=imports.wall,
        cold_import_ratio_cpu=ColdImports.ratio(imports.cpu),
        import_cpu_seconds=imports.cpu,
        pipeline_orders_per_second=round(pipeline_rate, 2),
        floor_orders_per_second=round(floor_rate, 2),
        pipeline_vs_floor=round(pipeline_rate / floor_rate, 3),
        floor_replay_mismatches=mismatches,
        hot_sku=hot,
        wall_seconds=round(time.perf_counter() - started, 1),
        sales_aggregates=_sales_aggregate_cost(order_log, n),
        prices={
            "region": PRICE_REGION,
            "date": PRICE_DATE,
            "architecture": arch,
            "lambda_modelled_ms": {**MODELLED_MS, "other functions": DEFAULT_MODELLED_MS},
            **PRICES,
        },
        standard_transitions_per_order=_per(transitions, n),
        express_requests_per_order=round(happy.express_requests, 3),
        express_gb_seconds_per_order=round(happy.express_gb_seconds, 5),
        lambda_modelled_gb_seconds_per_order=round(modelled_gb_seconds(happy.lambda_invocations, memory), 5),
        services_per_order={k: round(v, 2) for k, v in happy.meter.items()},
        waiting_order_usd_per_1000=round(sum(waiting_cost.values()), 4),
        waiting_order_usd_breakdown_per_1000={k: round(v, 5) for k, v in waiting_cost.items()},
        waiting_order_counts=counts_summary(waiting),
        ceiling_orders_per_second=ceiling["summary"],
        ceiling_limits=ceiling["limits"],
    )


def _waiting_orders(stack: LocalStack, count: int, fired_before: int) -> OrderCounts:
    """`count` orders that arrive unpaid and are paid by the platform's callback: everything they cost."""
    from functions.core import repository
    from functions.core.models.order_in import order_id_for
    from oms.local import credentials

    bodies = [{**b, "payment": {"status": "unpaid"}} for b in _happy_bodies(count, seed=7)]
    for body in bodies:
        body["platform_order_id"] = f"WAIT-{body['platform_order_id']}"
        for line in body["lines"]:
            level = repository.get_stock(line["sku"])
            if not level or level[0].available < 100:
                repository.set_stock(line["sku"], MAIN_WAREHOUSE, 1_000)
    log: list[Any] = []
    stack.runtime.dynamodb_log = log
    lambdas_before = Counter(stack.runtime.lambda_invocations)
    with metered(deployed_log_level(stack.template.raw)) as meter:
        arns = [_post(stack, body).json()["execution_arn"] for body in bodies]
        stack.settle()
        for body in bodies:
            order_id = order_id_for(body["platform"], body["platform_order_id"])
            raw = json.dumps(
                {"payment_id": f"PAY-{order_id[4:16]}", "amount": body["amounts"]["total"]}
                | {"paid_at": stack.clock.now().isoformat()}
            )
            target = f"/orders/{order_id}/payment"
            headers = credentials.platform_headers(
                body["platform"], raw, stack.clock.now(), method="POST", target=target
            )
            answer = stack.request("POST", target, raw, headers)
            if answer.status != 200:
                raise RuntimeError(f"payment callback for {order_id} answered {answer.status}")
        for arn in arns:
            stack.wait_for_execution(arn, timeout=120)
        stack.settle()
    stack.runtime.dynamodb_log = None
    lambdas = Counter(stack.runtime.lambda_invocations) - lambdas_before
    transitions = standard_transitions(stack, arns)
    fast = express_usage(express_runs(arns))
    fired = len(stack.scheduler.fired) - fired_before if stack.scheduler else 0
    n = len(bodies)
    return OrderCounts(
        orders=n,
        standard_transitions=transitions / n,
        express_requests=fast.requests / n,
        express_gb_seconds=fast.gb_seconds / n,
        express_log_bytes=fast.log_bytes / n,
        lambda_invocations={k: v / n for k, v in lambdas.items()},
        api_requests=lambdas.get(stack.api_function, 0) / n,
        wcu=sum(r.write_units + r.index_write_units for r in log) / n,
        rcu=sum(r.read_units for r in log) / n,
        meter={k: v / n for k, v in meter.counts().items()},
        schedules_fired=max(0, fired) / n,
        index_wcu=sum(r.index_write_units for r in log) / n,
        standard_starts=standard_starts(stack, arns) / n,
    )


def standard_transitions(stack: LocalStack, arns: list[str]) -> int:
    """Billed Standard transitions of the orders started as `arns` (their fast-path executions): the
    start plus one per state entered of each waiting execution; an order that never waited has none."""
    total = 0
    for arn in arns:
        waiting = express.waiting_execution(stack, arn) if express.is_express(arn) else arn
        if waiting is not None:
            history = stack.execution_history(waiting)
            total += 1 + sum(1 for e in history if e["type"].endswith("StateEntered"))
    return total


def standard_starts(stack: LocalStack, arns: list[str]) -> int:
    """Standard executions the orders started as `arns` (their fast-path executions) handed over to."""
    return sum(not express.is_express(a) or express.waiting_execution(stack, a) is not None for a in arns)


def express_runs(arns: list[str]) -> list[Any]:
    with express.USAGE.lock:
        return [express.USAGE.runs[arn] for arn in arns if arn in express.USAGE.runs]

"""Orders per second per account-region: each cited AWS quota over what one order uses of it.

`oms bench` measures what one order uses (DynamoDB write and read units split table / indexes, Lambda
invocations per function, Express and Standard requests, EventBridge entries, schedules, API
requests); `ceilings()` divides each quota in `QUOTAS` by that use, at the default quota and at the
named increase, and names the limit that binds first. docs/scaling.md is written from its output.

Every quota is the us-east-1 default as the page named in `url` states it (read 2026-12; `quote` gives
the page's figure, docs/scaling.md its words). `raised` is the increase we would ask for (or, for our own
settings, the value we would set). Stated, not measured: Lambda durations (`MODELLED_MS` in
oms/bench_costs.py, concurrency by Little's law: invocations/s x seconds each), the share of orders that
wait (an input), and the partition loads of the shared keys in `SHARED_KEY_LOADS` (each from the key layout in
functions/core/repository, with the shard settings the bench reads from template.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from oms.bench_costs import (
    DEFAULT_MODELLED_MS,
    LOG_BYTES_PER_API_REQUEST,
    LOG_BYTES_PER_INVOCATION,
    MODELLED_MS,
    OrderCounts,
)

# An order that waits (for payment, a review, stock) runs the Standard workflow as well; what share of
# peak orders do is a business figure, not a measurement. 10 % is the figure the ceilings are quoted at.
DEFAULT_WAITING_SHARE = 0.10
TARGET_ORDERS_PER_SECOND = 20_000

_SFN_QUOTAS = "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"
_LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
_DDB_QUOTAS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"
_DDB_PARTITION = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html"
)


@dataclass(frozen=True)
class Quota:
    """One per-account-region limit: its default, the increase we would ask for, and where it is stated."""

    name: str  # as the quota page or the Service Quotas console names it
    default: float
    raised: float  # the named increase (or our own setting) the `raised` ceiling assumes
    adjustable: bool
    unit: str
    url: str
    quote: str  # the figure as the page states it (us-east-1)


QUOTAS: dict[str, Quota] = {
    "api_gateway_account": Quota(
        "Throttle quota per account, per Region (API Gateway)",
        10_000,
        25_000,
        True,
        "requests/s",
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html",
        "10,000 requests per second (RPS) with an additional burst capacity provided by the token bucket "
        "algorithm; can be increased: Yes (2,500 RPS in 13 newer Regions)",
    ),
    "api_gateway_stage": Quota(
        "ApiThrottleRate (template.yaml stage throttle, ours)",
        2_000,
        25_000,
        True,
        "requests/s",
        "template.yaml",
        "Parameters.ApiThrottleRate, Default 2000",
    ),
    "express_start": Quota(
        "StartExecution, Express (Step Functions)",
        6_000,
        25_000,
        True,
        "requests/s",
        _SFN_QUOTAS,
        "StartExecution, US East (N. Virginia), US West (Oregon), Europe (Ireland): Express bucket size "
        "6,000, refill rate per second 6,000 (the same in all other Regions); soft quotas, can be increased",
    ),
    "standard_start": Quota(
        "StartExecution, Standard (Step Functions)",
        300,
        2_500,
        True,
        "requests/s",
        _SFN_QUOTAS,
        "StartExecution, US East (N. Virginia), US West (Oregon), Europe (Ireland): Standard bucket size "
        "1,300, refill rate per second 300 (800 / 150 in all other Regions); soft quotas, can be increased",
    ),
    "standard_transitions": Quota(
        "StateTransition, Standard (Step Functions)",
        5_000,
        12_500,
        True,
        "transitions/s",
        _SFN_QUOTAS,
        "StateTransition, US East (N. Virginia), US West (Oregon), Europe (Ireland): Standard bucket "
        "size 5,000, refill rate per second 5,000 (800 / 800 in all other Regions); Express unlimited; "
        "New AWS accounts have reduced state transition quotas",
    ),
    "send_task_success": Quota(
        "SendTaskSuccess (Step Functions)",
        500,
        2_500,
        True,
        "requests/s",
        _SFN_QUOTAS,
        "SendTaskSuccess, US East (N. Virginia), US West (Oregon), Europe (Ireland): bucket size 3,000, "
        "refill rate per second 500 (1,500 / 300 in all other Regions); soft quota",
    ),
    "lambda_concurrency": Quota(
        "Concurrent executions (Lambda)",
        1_000,
        20_000,
        True,
        "executions",
        _LAMBDA_QUOTAS,
        "Concurrent executions: default 1,000, can be increased up to tens of thousands; new accounts "
        "have reduced concurrency quotas",
    ),
    "lambda_invocation_rate": Quota(
        "Invocation requests per Region (Lambda)",
        10_000,
        200_000,
        False,
        "requests/s",
        _LAMBDA_QUOTAS,
        "10 x concurrent executions quota (synchronous, all sources; asynchronous, non-AWS sources); "
        "asynchronous AWS service sources: unlimited requests accepted (follows the concurrency quota)",
    ),
    "dynamodb_table_writes": Quota(
        "Table-level write throughput, on-demand (DynamoDB)",
        40_000,
        1_500_000,
        True,
        "WRU/s",
        _DDB_QUOTAS,
        "Per table, On-Demand: 40,000 read request units and 40,000 write request units, Adjustable: Yes; "
        "No account-level read and write throughput quotas are applied to tables in on-demand mode",
    ),
    "dynamodb_index_writes": Quota(
        "Table-level write throughput, applied to each GSI (DynamoDB)",
        40_000,
        500_000,
        True,
        "WRU/s",
        _DDB_QUOTAS,
        "For on-demand capacity mode tables and GSIs, the table-level quota is the maximum read and write "
        "capacity units that are available for any table, or any individual GSI within that table",
    ),
    "dynamodb_table_reads": Quota(
        "Table-level read throughput, on-demand (DynamoDB)",
        40_000,
        500_000,
        True,
        "RRU/s",
        _DDB_QUOTAS,
        "Per table, On-Demand: 40,000 read request units and 40,000 write request units, Adjustable: Yes",
    ),
    "dynamodb_partition_writes": Quota(
        "Write units per partition (DynamoDB, not adjustable)",
        1_000,
        1_000,
        False,
        "WRU/s",
        _DDB_PARTITION,
        "each partition is limited to 1,000 write units per second and 3,000 read units per second",
    ),
    "eventbridge_put_events": Quota(
        "PutEvents throttle limit in transactions per second (EventBridge)",
        10_000,
        130_000,
        True,
        "entries/s",
        "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html",
        "PutEvents throttle limit in transactions per second, us-east-1: 10,000 per second; adjustable "
        "(counted here per entry, the conservative reading)",
    ),
    "scheduler_create": Quota(
        "CreateSchedule request rate (EventBridge Scheduler)",
        5_000,
        5_000,
        True,
        "requests/s",
        "https://docs.aws.amazon.com/scheduler/latest/UserGuide/scheduler-quotas.html",
        "CreateSchedule request rate (default 5,000 TPS in primary Regions, adjustable to tens of thousands)",
    ),
    "scheduler_delete": Quota(
        "DeleteSchedule request rate (EventBridge Scheduler)",
        1_000,
        2_500,
        True,
        "requests/s",
        "https://docs.aws.amazon.com/scheduler/latest/UserGuide/scheduler-quotas.html",
        "DeleteSchedule request rate, us-east-1: 1,000 (the figure in the page version read; adjustable)",
    ),
    "sqs_standard": Quota(
        "API calls per second per action, standard queue (SQS)",
        float("inf"),
        float("inf"),
        False,
        "requests/s",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html",
        "Standard queues support a nearly unlimited number of API calls per second, per API action "
        "(SendMessage, ReceiveMessage, or DeleteMessage)",
    ),
}


@dataclass(frozen=True)
class SharedKeyLoad:
    """Write units one order puts on the busiest partition key every order shares (hashed over shards)."""

    key: str
    wru_per_order: float  # on that key set, before dividing by the shard count
    shard_setting: str  # template.yaml parameter (or environment setting) holding the shard count
    raised_shards: int
    waiting_only: bool = False  # only an order that waits writes it
    why: str = ""


SHARED_KEY_LOADS: tuple[SharedKeyLoad, ...] = (
    SharedKeyLoad(
        "QueueIndex SHIPDUE#<k>",
        1.0,
        "SHIPMENT_DUE_SHARDS",
        32,
        why="the parcel's tracking-SLA entry enters QueueIndex at ship (repository/timers.py, 1 WRU)",
    ),
    SharedKeyLoad(
        "GSI1 STATUS#<status>#<k>",
        2.0,
        "StatusIndexShards",
        64,
        why="each status an order passes: enters (1 WRU) and later leaves (1 WRU) its shard key",
    ),
    SharedKeyLoad(
        "GSI1 EVENTTYPE#<type>#<k>, GSI2 PLATFORM#<p>#<k>, GSI4 CREATED#<k>",
        1.0,
        "StatusIndexShards",
        64,
        why="one entry per order (one platform may carry all orders)",
    ),
    SharedKeyLoad(
        "GSI5 PAYDUE#<k>",
        2.0,
        "PaymentTimerShards",
        8,
        waiting_only=True,
        why="an unpaid order's pay-deadline entry: enters at arrival, leaves when paid",
    ),
)
# One SKU's stock counter shard (and, separately, its ledger): a transactional 2 WRU at reserve and
# at ship per order line (docs/inventory.md, "Hot SKU at flash-sale scale").
HOT_SKU_WRU_PER_LINE = 4.0
HOT_SKU_MAX_SHARDS = 32


@dataclass
class OrderUse:
    """What one order of the mix uses of each limited resource, per order."""

    api_requests: float
    express_starts: float
    standard_starts: float
    standard_transitions: float
    task_resumes: float  # SendTaskSuccess: a waiting order is resumed once (its payment or decision)
    invocations: dict[str, float]  # Lambda, per function
    rate_limited_invocations: float  # those the invocation-rate quota counts
    concurrency_seconds: float  # sum of invocations x modelled seconds
    table_wru: float
    index_wru: float
    rru: float
    eventbridge_entries: float
    schedules_created: float
    sqs_requests: float
    log_bytes: float
    waiting_share: float


def _blend(a: float, b: float, share: float) -> float:
    return a * (1 - share) + b * share


def order_use(
    happy: OrderCounts,
    waiting: OrderCounts,
    waiting_share: float = DEFAULT_WAITING_SHARE,
    async_functions: frozenset[str] = frozenset(),
) -> OrderUse:
    """Per-order use of a mix where `waiting_share` of orders wait (measured as the bench's waiting
    orders) and the rest are paid on arrival. `async_functions` are invoked asynchronously by an AWS
    service (EventBridge rules, schedules): Lambda's invocation-rate quota does not count them."""
    w = waiting_share
    names = set(happy.lambda_invocations) | set(waiting.lambda_invocations)
    invocations = {
        n: _blend(happy.lambda_invocations.get(n, 0.0), waiting.lambda_invocations.get(n, 0.0), w)
        for n in sorted(names)
    }

    def meter(name: str) -> float:
        return _blend(happy.meter.get(name, 0.0), waiting.meter.get(name, 0.0), w)

    def log_bytes(c: OrderCounts) -> float:  # ours, the fast path's records, Lambda's and the access log's
        platform = sum(c.lambda_invocations.values()) * LOG_BYTES_PER_INVOCATION
        return (
            c.meter.get("log_bytes", 0.0)
            + c.express_log_bytes
            + platform
            + c.api_requests * LOG_BYTES_PER_API_REQUEST
        )

    return OrderUse(
        api_requests=_blend(happy.api_requests, waiting.api_requests, w),
        express_starts=_blend(happy.express_requests, waiting.express_requests, w),
        standard_starts=_blend(happy.standard_starts, waiting.standard_starts, w),
        standard_transitions=_blend(happy.standard_transitions, waiting.standard_transitions, w),
        task_resumes=_blend(happy.standard_starts, waiting.standard_starts, w),
        invocations=invocations,
        rate_limited_invocations=sum(v for n, v in invocations.items() if n not in async_functions),
        concurrency_seconds=sum(
            v * MODELLED_MS.get(n, DEFAULT_MODELLED_MS) / 1000 for n, v in invocations.items()
        ),
        table_wru=_blend(happy.wcu - happy.index_wcu, waiting.wcu - waiting.index_wcu, w),
        index_wru=_blend(happy.index_wcu, waiting.index_wcu, w),
        rru=_blend(happy.rcu, waiting.rcu, w),
        eventbridge_entries=meter("eventbridge_entries"),
        schedules_created=meter("schedules_created"),
        sqs_requests=meter("sqs_sent") + meter("sqs_receives") + meter("sqs_deletes"),
        log_bytes=_blend(log_bytes(happy), log_bytes(waiting), w),
        waiting_share=w,
    )


@dataclass
class LimitRow:
    limit: str
    quota: Quota
    use_per_order: float  # of the quota's unit, per order (for the partition: on the busiest shared key)
    use_per_order_raised: float  # differs from use_per_order only where the raise is a shard setting
    orders_per_second_default: float | None  # None: the quota does not limit (unlimited or unused)
    orders_per_second_raised: float | None
    needed_for_target: float | None  # the quota TARGET_ORDERS_PER_SECOND needs at this use
    note: str = ""


def _rate(quota: float, use: float) -> float | None:
    if use <= 0 or quota == float("inf"):
        return None
    return quota / use


@dataclass
class Ceiling:
    waiting_share: float
    rows: list[LimitRow] = field(default_factory=list)

    def binding(self, raised: bool = False) -> tuple[str, float]:
        """The limit that allows the fewest orders/s, and that rate."""
        rates = [
            (rate, r.limit)
            for r in self.rows
            if (rate := r.orders_per_second_raised if raised else r.orders_per_second_default) is not None
        ]
        rate, limit = min(rates)
        return limit, rate

    def summary(self) -> dict[str, Any]:
        (low, low_rate), (high, high_rate) = self.binding(False), self.binding(True)
        return {
            "default": round(low_rate),
            "raised": round(high_rate),
            "binding_default": low,
            "binding_raised": high,
            "waiting_share": self.waiting_share,
            "target": TARGET_ORDERS_PER_SECOND,
        }

    def table(self) -> list[dict[str, Any]]:
        def num(v: float | None, digits: int = 0) -> float | None:
            return None if v is None or v == float("inf") else round(v, digits)

        return [
            {
                "limit": r.limit,
                "quota": r.quota.name,
                "unit": r.quota.unit,
                "default": num(r.quota.default),
                "raised": num(r.quota.raised),
                "adjustable": r.quota.adjustable,
                "use_per_order": num(r.use_per_order, 4),
                "use_per_order_raised": num(r.use_per_order_raised, 4),
                "orders_per_second_default": num(r.orders_per_second_default),
                "orders_per_second_raised": num(r.orders_per_second_raised),
                "needed_for_target": num(r.needed_for_target),
                "url": r.quota.url,
                "note": r.note,
            }
            for r in self.rows
        ]


def shared_key_use(use: OrderUse, shards: dict[str, int], raised: bool) -> tuple[float, str]:
    """WRU per order on the busiest shared partition key, and which key it is."""
    loads = []
    for load in SHARED_KEY_LOADS:
        count = load.raised_shards if raised else max(1, shards.get(load.shard_setting, 1))
        per_order = load.wru_per_order / count * (use.waiting_share if load.waiting_only else 1.0)
        loads.append((per_order, f"{load.key} ({load.shard_setting}={count})"))
    return max(loads)


def ceilings(
    use: OrderUse, shards: dict[str, int] | None = None, quotas: dict[str, Quota] | None = None
) -> Ceiling:
    """Orders/s each limit allows at `use`, at default quotas and with the named increases."""
    q = quotas or QUOTAS
    shards = shards or {}
    per_order = {
        "api_gateway_account": use.api_requests,
        "api_gateway_stage": use.api_requests,
        "express_start": use.express_starts,
        "standard_start": use.standard_starts,
        "standard_transitions": use.standard_transitions,
        "send_task_success": use.task_resumes,
        "lambda_concurrency": use.concurrency_seconds,
        "lambda_invocation_rate": use.rate_limited_invocations,
        "dynamodb_table_writes": use.table_wru,
        "dynamodb_index_writes": use.index_wru,  # all index units as if on one GSI: a lower bound
        "dynamodb_table_reads": use.rru,
        "eventbridge_put_events": use.eventbridge_entries,
        "scheduler_create": use.schedules_created,
        "scheduler_delete": use.schedules_created,  # a paid order's timer is deleted, not fired
        "sqs_standard": use.sqs_requests,
    }
    ceiling = Ceiling(use.waiting_share)
    for name, amount in per_order.items():
        quota = q[name]
        ceiling.rows.append(
            LimitRow(
                name,
                quota,
                amount,
                amount,
                _rate(quota.default, amount),
                _rate(quota.raised, amount),
                None if quota.default == float("inf") else TARGET_ORDERS_PER_SECOND * amount,
            )
        )
    partition = q["dynamodb_partition_writes"]
    low, low_key = shared_key_use(use, shards, raised=False)
    high, high_key = shared_key_use(use, shards, raised=True)
    ceiling.rows.append(
        LimitRow(
            "dynamodb_partition_writes",
            partition,
            low,
            high,
            _rate(partition.default, low),
            _rate(partition.raised, high),
            TARGET_ORDERS_PER_SECOND * high,
            note=f"busiest shared key now: {low_key}; raised: {high_key}",
        )
    )
    return ceiling


def hot_sku_orders_per_second(shards: int = 1) -> float:
    """Orders/s (one line each) one SKU's stock sustains in one warehouse over `shards` counters."""
    return QUOTAS["dynamodb_partition_writes"].default / HOT_SKU_WRU_PER_LINE * shards


def lambda_ramp_seconds(use: OrderUse, orders_per_second: float) -> float:
    """Seconds Lambda's per-function scaling rate (1,000 environments every 10 s) needs to reach the
    busiest function's concurrency at `orders_per_second` from none
    (https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html)."""
    busiest = max(
        (v * MODELLED_MS.get(n, DEFAULT_MODELLED_MS) / 1000 for n, v in use.invocations.items()), default=0.0
    )
    return busiest * orders_per_second / 1_000 * 10


def bench_ceiling(
    happy: OrderCounts,
    waiting: OrderCounts,
    async_functions: frozenset[str],
    shards: dict[str, int],
    waiting_share: float = DEFAULT_WAITING_SHARE,
) -> dict[str, Any]:
    """What `oms bench --json` reports: the summary, the per-limit table and the order mix's use."""
    use = order_use(happy, waiting, waiting_share, async_functions)
    ceiling = ceilings(use, shards)
    summary = ceiling.summary()
    summary["hot_sku_per_counter"] = round(hot_sku_orders_per_second(1))
    summary["hot_sku_max_shards"] = round(hot_sku_orders_per_second(HOT_SKU_MAX_SHARDS))
    summary["lambda_ramp_seconds_raised"] = round(lambda_ramp_seconds(use, summary["raised"]), 1)
    summary["log_bytes_per_order"] = round(use.log_bytes)
    summary["log_mb_per_second_raised"] = round(use.log_bytes * summary["raised"] / 1024**2, 1)
    return {"summary": summary, "limits": ceiling.table()}


_ASYNC_EVENT_TYPES = {"EventBridgeRule", "CloudWatchEvent", "Schedule", "ScheduleV2"}


def async_functions(template_raw: dict[str, Any]) -> frozenset[str]:
    """Functions only an AWS service invokes asynchronously (rules, schedules): template.yaml's events."""
    found = set()
    for name, resource in template_raw.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        kinds = {e.get("Type") for e in (resource.get("Properties", {}).get("Events") or {}).values()}
        if kinds and kinds <= _ASYNC_EVENT_TYPES:
            found.add(name)
    return frozenset(found)


def shard_settings(template_raw: dict[str, Any]) -> dict[str, int]:
    """The shard counts `SHARED_KEY_LOADS` name: template parameters' defaults, else the settings' own."""
    from functions.core.settings import Settings

    params = template_raw.get("Parameters", {})
    env = template_raw.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    defaults = {"SHIPMENT_DUE_SHARDS": Settings.model_fields["shipment_due_shards"].default}
    shards: dict[str, int] = {}
    for load in SHARED_KEY_LOADS:
        setting = load.shard_setting
        value = params.get(setting, {}).get("Default", env.get(setting, defaults.get(setting, 1)))
        shards[setting] = int(value) if str(value).isdigit() else int(defaults.get(setting, 1))
    return shards


def markdown(report: dict[str, Any]) -> str:
    """docs/scaling.md's ceiling table from one `oms bench --json` report (its last line)."""

    def fmt(v: Any, digits: int = 0) -> str:
        return "no limit" if v is None else f"{v:,.{digits}f}"

    lines = [
        "| limit (`ceiling_limits[].limit`) | quota: default -> named increase | adjustable | use per order "
        "| orders/s at default | orders/s raised | quota 20,000 orders/s needs |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in report["ceiling_limits"]:
        use = fmt(r["use_per_order"], 3)
        if r["use_per_order_raised"] != r["use_per_order"]:
            use += f" -> {fmt(r['use_per_order_raised'], 3)}"
        lines.append(
            f"| `{r['limit']}` | {fmt(r['default'])} -> {fmt(r['raised'])} {r['unit']} | "
            f"{'yes' if r['adjustable'] else 'no'} | {use} | {fmt(r['orders_per_second_default'])} | "
            f"{fmt(r['orders_per_second_raised'])} | {fmt(r['needed_for_target'])} |"
        )
    c = report["ceiling_orders_per_second"]
    lines.append("")
    lines.append(
        f"**{c['default']:,} orders/s at default quotas** (binding: `{c['binding_default']}`); "
        f"**{c['raised']:,} orders/s with the named increases** (binding: `{c['binding_raised']}`); "
        f"{c['waiting_share']:.0%} of orders wait."
    )
    return "\n".join(lines)


if __name__ == "__main__":  # .venv/bin/oms bench --json | tail -1 | python -m oms.bench_ceiling
    import json
    import sys

    print(markdown(json.loads(sys.stdin.read().strip().splitlines()[-1])))

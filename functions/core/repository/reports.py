"""Sales pre-aggregates (functions/reports).

    SALES#P#<shard>     / <day>#<platform>          counters per (day, platform), one item per write shard
    SALES#S#<shard>     / <day>#<platform>#<sku>    counters per (day, platform, SKU)
    SALESMARK#<order>   / <item sk>#<part>          "this contribution is counted" (idempotency marker)

Counters are numbers ADDed to (orders, sales, units, cancelled, refunds, revenue_<CUR>, ...). The
aggregator's IAM policy may only write items whose partition key starts with SALES (docs/reports.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from functions.core import clock
from functions.core.repository._dynamo import av, item, key, plain, query_all
from functions.core.repository.unit_of_work import TransactionRejected, Write, commit, put, update

SALES_PK = "SALES#{scope}#{shard}"
SALES_MARKER_PK = "SALESMARK#"
# Stream records are redelivered for at most 24 hours (the stream's retention): markers outlive that.
SALES_MARKER_TTL_SECONDS = 7 * 24 * 3600

SalesCounterKey = tuple[str, str, str]  # (scope "P" | "S", day "YYYY-MM-DD", name)


def apply_sales_counters(
    markers: Sequence[tuple[str, str]],
    counters: Mapping[SalesCounterKey, Mapping[str, Decimal]],
    shard: int,
) -> list[int]:
    """ADD `counters` (one update per counter item, in write shard `shard`) and put `markers`
    ((order id, marker sk) pairs, each only if absent), as one transaction.

    Returns [] when applied, or the indexes of the markers that already existed, in which case nothing
    was written (the caller drops those contributions, counted before, and applies the rest again).
    """
    expires_at = int(clock.now().timestamp()) + SALES_MARKER_TTL_SECONDS
    writes: list[Write] = [
        put(
            item({"pk": f"{SALES_MARKER_PK}{order_id}", "sk": sk, "expires_at": expires_at}),
            "attribute_not_exists(pk)",
            tag=f"marker#{i}",
        )
        for i, (order_id, sk) in enumerate(markers)
    ]
    for (scope, day, name), delta in counters.items():
        writes.append(
            update(
                key(SALES_PK.format(scope=scope, shard=shard), f"{day}#{name}"),
                "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(delta))),
                names={f"#c{i}": counter for i, counter in enumerate(delta)},
                values={f":c{i}": av(amount) for i, amount in enumerate(delta.values())},
            )
        )
    try:
        commit(writes)
    except TransactionRejected as rejected:
        return sorted(int(tag.partition("#")[2]) for tag in rejected.tags if tag.startswith("marker#"))
    return []


def query_sales_counters(
    scope: str, first_day: str, last_day: str, shards: int, max_items: int | None = None
) -> tuple[list[tuple[str, str, dict[str, Decimal]]], bool]:
    """Every counter item of `scope` for the days first..last (inclusive), across all write shards:
    one paginated Query per shard. Returns ((day, name, counters), truncated by max_items)."""
    rows: list[tuple[str, str, dict[str, Decimal]]] = []
    truncated = False
    for shard in range(shards):
        found = query_all(
            max_items=max_items,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": av(SALES_PK.format(scope=scope, shard=shard)),
                ":lo": av(f"{first_day}#"),
                ":hi": av(f"{last_day}#~"),
            },
        )
        if max_items is not None and len(found) >= max_items:
            truncated = True
        for raw in found:
            day, _, name = str(raw.pop("sk")).partition("#")
            raw.pop("pk", None)
            rows.append((day, name, {k: Decimal(str(v)) for k, v in raw.items()}))
    return rows, truncated


def stream_image(image: Mapping[str, Any]) -> dict[str, Any]:
    """A stream record's NewImage (DynamoDB JSON) as plain values, like every item this package reads."""
    return plain(dict(image))

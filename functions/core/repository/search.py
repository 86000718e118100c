"""Search (GET /orders): one page of orders merged across the partitions of the best index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.core.models.orders import Order
from functions.core.repository._dynamo import av, query_all, query_page
from functions.core.repository.orders import created_sort_key, get_orders
from functions.core.settings import get_settings
from functions.core.status import OrderStatus


@dataclass(frozen=True)
class OrderSearch:
    """Filters of GET /orders. Times bound `created_at`: from inclusive, to exclusive."""

    status: OrderStatus | None = None
    platform: str | None = None
    buyer: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    def matches(self, order: Order) -> bool:
        return (
            (self.status is None or order.status == self.status)
            and (self.platform is None or order.platform == self.platform)
            and (self.buyer is None or order.buyer.id == self.buyer)
            and (self.created_from is None or order.created_at >= self.created_from)
            and (self.created_to is None or order.created_at < self.created_to)
        )

    def plan(self) -> tuple[str, list[str], bool]:
        """(index, partition keys to merge, whether the sort key is the creation time).

        The most selective filter picks the index; the others are applied to what it returns.
        """
        shards = range(get_settings().status_index_shards)
        if self.buyer is not None:
            return "GSI3", [f"BUYER#{self.buyer}"], True
        if self.platform is not None:
            return "GSI2", [f"PLATFORM#{self.platform}#{s}" for s in shards], True
        if self.status is not None:
            return "GSI1", [f"STATUS#{self.status}#{s}" for s in shards], False
        return "GSI4", [f"CREATED#{s}" for s in shards], True


@dataclass
class OrderPage:
    orders: list[Order]
    positions: dict[str, str | None] | None  # None: nothing more to read


def _partition_page(
    search: OrderSearch, index: str, partition: str, after: str | None, by_created: bool, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """The newest `limit` index entries of one partition below `after`: (entries, whether more remain)."""
    pk_name, sk_name = f"{index.lower()}pk", f"{index.lower()}sk"
    names = {"#pk": pk_name, "#sk": sk_name}
    values: dict[str, Any] = {":pk": av(partition)}
    condition = "#pk = :pk"
    upper = after
    if by_created and search.created_to is not None:
        bound = created_sort_key(search.created_to)
        upper = bound if upper is None else min(upper, bound)
    if by_created and search.created_from is not None:
        condition += " AND #sk BETWEEN :lo AND :hi"
        values[":lo"] = av(created_sort_key(search.created_from))
        values[":hi"] = av(upper if upper is not None else "\uffff")
    elif upper is not None:
        condition += " AND #sk < :hi"
        values[":hi"] = av(upper)
    else:
        names.pop("#sk")
    items, more = query_page(
        IndexName=index,
        KeyConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ScanIndexForward=False,
        Limit=limit + 1,
    )
    items = [item for item in items if item[sk_name] != upper]  # BETWEEN is inclusive
    return items[:limit], more or len(items) > limit


def search_orders(search: OrderSearch, limit: int, positions: dict[str, str | None] | None) -> OrderPage:
    """One page of orders matching `search`, newest first, merged across the index's partitions.

    Reads at most `limit` index entries per partition and examines the `limit` newest of them, so a
    page costs a bounded amount of work. Filters that the index does not key on are applied after, so a
    page may hold fewer than `limit` orders while more remain: follow the positions until None.
    """
    index, partitions, by_created = search.plan()
    sk_name = f"{index.lower()}sk"
    start = positions or {}
    candidates: list[tuple[str, str, dict[str, Any]]] = []  # (sort key, partition, item)
    more: dict[str, bool] = {}
    for partition in partitions:
        if partition in start and start[partition] is None:
            continue  # exhausted on an earlier page
        items, more[partition] = _partition_page(
            search, index, partition, start.get(partition), by_created, limit
        )
        candidates.extend((item[sk_name], partition, item) for item in items)
    candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
    examined = candidates[:limit]
    next_positions: dict[str, str | None] = {p: start.get(p) for p in partitions if p in start}
    taken_from: dict[str, int] = {}
    for sort_key, partition, _ in examined:
        next_positions[partition] = sort_key  # descending: the last one seen is the lowest
        taken_from[partition] = taken_from.get(partition, 0) + 1
    for partition in more:
        returned = sum(1 for c in candidates if c[1] == partition)
        if not more[partition] and taken_from.get(partition, 0) == returned:
            next_positions[partition] = None
    orders = get_orders([item["pk"].removeprefix("ORDER#") for _, _, item in examined])
    finished = all(next_positions.get(p, "") is None for p in partitions)
    return OrderPage(
        orders=[o for o in orders if search.matches(o)], positions=None if finished else next_positions
    )


def list_orders_by_status(
    status: OrderStatus, limit: int = 100, *, oldest_first: bool = False
) -> list[Order]:
    """Newest (or oldest) first across all shards of the status index (KEYS_ONLY: the orders are read by
    key, and one that has left `status` since the index saw it is skipped)."""
    found: list[dict[str, Any]] = []
    for shard in range(get_settings().status_index_shards):
        found.extend(
            query_all(
                IndexName="GSI1",
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues={":pk": av(f"STATUS#{status}#{shard}")},
                ScanIndexForward=oldest_first,
                Limit=limit,
                max_items=limit,
            )
        )
    found.sort(key=lambda raw: raw["gsi1sk"], reverse=not oldest_first)
    ids = [str(raw["pk"]).removeprefix("ORDER#") for raw in found[:limit]]
    return [o for o in get_orders(ids, consistent=True) if o.status == status]

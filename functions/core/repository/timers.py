"""Due timers: sparse, time-sorted index entries a sweep reads when they are due.

Every timer is a key whose sort key starts with the moment it is due (fixed-width UTC, so string order
is time order), spread over a few shards; `_due` reads every shard up to "now":
    GSI5        PAYDUE#<shard> / <due>#<order id>       an unpaid order's payment timer (on the ORDER
                                                          item; removed once applied and told)
    table       ASDUE#<shard> / <due>#<case id>        an after-sales return-shipping deadline
    QueueIndex  SHIPDUE#<shard> / <due>#<shipment id>  a parcel's tracking SLA (on its TRACKING item)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.core.models.shipping import ShipmentTracking
from functions.core.repository._dynamo import av, instant, item, items_of_entries, query_all, shard_of
from functions.core.repository.unit_of_work import Write, delete, put
from functions.core.settings import get_settings

PAY_DUE_INDEX = "GSI5"
QUEUE_INDEX = "QueueIndex"
ASDUE_SHARDS = 4


def _due(
    prefix: str, shards: int, now: datetime, limit: int, *, pk: str, sk: str, **query: Any
) -> list[dict[str, Any]]:
    """Entries due by `now`, earliest first, across every shard (at most `limit`)."""
    found: list[dict[str, Any]] = []
    upper = f"{instant(now)}#~"  # "~" sorts after every id, so timers due exactly now are in
    for shard in range(shards):
        found += query_all(
            max_items=limit,
            KeyConditionExpression=f"{pk} = :pk AND {sk} <= :upper",
            ExpressionAttributeValues={":pk": av(f"{prefix}#{shard}"), ":upper": av(upper)},
            Limit=limit,
            **query,
        )
    found.sort(key=lambda raw: str(raw[sk]))
    return found[:limit]


@dataclass(frozen=True)
class _TimerIndex:
    """One kind of timer: its key prefix, the key attributes it sorts on and where they are indexed."""

    prefix: str
    pk: str
    sk: str
    shards: Callable[[], int]
    query: dict[str, Any]

    def keys(self, timed_id: str, due: datetime) -> dict[str, str]:
        shard = shard_of(timed_id, self.shards())
        return {self.pk: f"{self.prefix}#{shard}", self.sk: f"{instant(due)}#{timed_id}"}

    def due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        return _due(self.prefix, self.shards(), now, limit, pk=self.pk, sk=self.sk, **self.query)


_PAY = _TimerIndex(
    "PAYDUE", "gsi5pk", "gsi5sk", lambda: get_settings().payment_timer_shards, {"IndexName": PAY_DUE_INDEX}
)
_RETURN = _TimerIndex("ASDUE", "pk", "sk", lambda: ASDUE_SHARDS, {"ConsistentRead": True})
_SHIP = _TimerIndex(
    "SHIPDUE", "qpk", "qsk", lambda: get_settings().shipment_due_shards, {"IndexName": QUEUE_INDEX}
)

# ---------------------------------------------------------------- payment timers (GSI5, on the ORDER item)


def pay_due_keys(order_id: str, due: datetime) -> dict[str, str]:
    return _PAY.keys(order_id, due)


def due_payment_timers(now: datetime, limit: int = 500) -> list[str]:
    """Order ids whose payment timer is due at `now`, earliest first, across every shard."""
    return [str(raw["gsi5sk"]).rsplit("#", 1)[1] for raw in _PAY.due(now, limit)]


# ---------------------------------------------------------------- return-shipping deadlines (ASDUE#)


def _asdue_key(case_id: str, due: datetime) -> dict[str, Any]:
    return {name: av(value) for name, value in _RETURN.keys(case_id, due).items()}


def return_deadline_put_item(order_id: str, case_id: str, due: datetime) -> Write:
    return put(
        {**_asdue_key(case_id, due), **item({"order_id": order_id, "case_id": case_id})}, tag="deadline"
    )


def return_deadline_delete_item(case_id: str, due: datetime) -> Write:
    return delete(_asdue_key(case_id, due), tag="deadline")


def due_return_deadlines(now: datetime, limit: int = 200) -> list[tuple[str, str]]:
    """(order id, case id) of return deadlines due at `now`, earliest first, across the shards."""
    return [(str(raw["order_id"]), str(raw["case_id"])) for raw in _RETURN.due(now, limit)]


# ---------------------------------------------------------------- tracking SLAs (QueueIndex)


def ship_due_keys(shipment_id: str, due: datetime) -> dict[str, str]:
    return _SHIP.keys(shipment_id, due)


def due_shipments(now: datetime, limit: int = 500) -> list[ShipmentTracking]:
    """Parcels whose tracking SLA ran out by `now`, earliest first, across every shard (QueueIndex)."""
    entries = _SHIP.due(now, limit)
    due = {(e["pk"], e["sk"]): e["qsk"] for e in entries}
    # KEYS_ONLY index: read the parcels, keeping those whose SLA entry is still the one found
    items = items_of_entries(entries, still=lambda raw: raw.get("qsk") == due[(raw["pk"], raw["sk"])])
    return [ShipmentTracking.model_validate(raw) for raw in items]

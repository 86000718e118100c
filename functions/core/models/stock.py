"""Stock: counters per SKU and warehouse (and their shards), the ledger, and reservations."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from functions.core.models.base import Record


class StockLevel(Record):
    sku: str
    warehouse: str
    on_hand: int
    reserved: int
    available: int
    shards: int = 1  # counter items the stock is spread over (hot SKUs)


class StockShard(Record):
    """One stock counter item of a (SKU, warehouse). Shard 0 also carries the layout (`shards`, `active`)."""

    sku: str
    warehouse: str
    shard: int = 0
    on_hand: int
    reserved: int
    available: int
    shards: int = 1  # counter items that exist (shard 0 only)
    active: int = 1  # how many of them new reservations use (shard 0 only)


class StockMovement(Record):
    """One ledger entry: a change of one stock counter item, appended in the transaction that made it."""

    sku: str
    warehouse: str
    shard: int = 0
    # returned: a buyer's return put back into stock; writeoff: units that never come back to stock (a
    # damaged or lost parcel, a return found damaged): no counter moves, the entry says why they are gone
    kind: Literal["initial", "restock", "adjust", "reserve", "release", "ship", "returned", "writeoff"]
    ref: str  # the order id, the stock sync id, or what wrote units off (exception or case id)
    on_hand_delta: int = 0
    reserved_delta: int = 0
    at: datetime
    # writeoff: units that left with a shipment and never come back (damaged, lost); counters unchanged
    quantity: int | None = Field(default=None, exclude_if=lambda value: value is None)


class Reservation(Record):
    sku: str
    warehouse: str
    quantity: int = Field(ge=1)
    # Hot SKUs keep their stock in several counter items ("shards"); which took how much. None: one item.
    shards: dict[str, int] | None = Field(default=None, exclude_if=lambda value: value is None)
    # Split by hand (functions/changes): lines of a second shipment group leave in their own parcel.
    group: int | None = Field(default=None, ge=2, exclude_if=lambda value: value is None)

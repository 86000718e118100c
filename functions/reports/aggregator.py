"""Sales pre-aggregates: fold a batch of stream records into the daily counters, exactly once.

Exactly once under redelivery: every contribution (unit) carries a marker item, put only if absent in
the same transaction as the counter updates. A redelivered record's marker exists, the transaction is
refused naming it, and the rest of the chunk is applied again without it. See docs/reports.md for the
design, the costs and the limits.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from zoneinfo import ZoneInfo

from functions.core import repository
from functions.core.errors import TransientError
from functions.core.models.orders import Order
from functions.core.observability import logger
from functions.core.settings import get_settings
from functions.reports import logic
from functions.reports.stream import FoldResult, StreamRecord

CONFLICT_RETRIES = 5


def report_zone() -> ZoneInfo:
    return ZoneInfo(get_settings().report_timezone)


def fold_records(records: Sequence[StreamRecord], max_items: int = logic.MAX_TRANSACTION_ITEMS) -> FoldResult:
    """Apply the contributions of `records` to the counters (idempotent: records may come again)."""
    result = FoldResult(records=len(records))
    zone = report_zone()
    sources: list[tuple[logic.Source, Order | None]] = []
    for record in records:
        image = repository.stream_image(record.dynamodb.NewImage or {})
        source = logic.classify(record.eventName, image)
        if source is None:
            continue
        # A sale's record is the ORDER item, which carries the order's status part only (its lines and
        # amounts are on the body item, docs/adr/0002): the order is read, like the history events' ones.
        whole = source.kind == "sale" and "lines" in image  # an order stored whole, before the split
        sources.append((source, Order.model_validate(image) if whole else None))
    wanted = {s.order_id for s, order in sources if order is None}
    # consistent: the record's transaction has committed, an eventually consistent read may not see it yet
    found = {o.order_id: o for o in repository.get_orders(sorted(wanted), consistent=True)} if wanted else {}
    pending: list[logic.Unit] = []
    for source, order in sources:
        order = order or found.get(source.order_id)
        if order is None:  # the event's order is gone: nothing to count it against
            logger.warning("sales record without its order", extra={"order_id": source.order_id})
            continue
        contribution = logic.contribution(source, order, zone)
        if contribution is None:
            continue
        result.contributions += 1
        pending.extend(logic.units(contribution, max_items))
    # The same record twice in one batch (a retry merged into the next) is one unit, and a transaction
    # may not touch one marker item twice anyway.
    unique = list({unit.marker: unit for unit in pending}.values())
    result.duplicates += len(pending) - len(unique)
    pending = unique
    result.units = len(pending)
    shards = get_settings().sales_aggregate_shards
    for chunk in logic.chunks(pending, max_items):
        _apply(chunk, shards, result)
    return result


def _apply(chunk: list[logic.Unit], shards: int, result: FoldResult) -> None:
    shard = logic.shard_for(chunk, shards)
    conflicts = 0
    while chunk:
        counters: dict[repository.SalesCounterKey, Mapping[str, Decimal]] = {
            (scope, day.isoformat(), name): delta for (scope, day, name), delta in logic.fold(chunk).items()
        }
        markers = [_marker(unit.marker) for unit in chunk]
        try:
            counted = repository.apply_sales_counters(markers, counters, shard)
        except TransientError:
            conflicts += 1
            if conflicts > CONFLICT_RETRIES:
                raise  # the batch is retried by Lambda (bisected); markers keep it exactly once
            result.retries += 1
            time.sleep(min(0.05 * 2**conflicts, 1.0))
            continue
        result.transactions += 1
        if not counted:
            result.counter_writes += len(counters)
            result.marker_writes += len(markers)
            return
        result.duplicates += len(counted)
        result.retries += 1
        skip = set(counted)
        chunk = [unit for i, unit in enumerate(chunk) if i not in skip]


def _marker(marker: str) -> tuple[str, str]:
    """("<order id>|<item sk>#<part>") -> (order id, marker sort key)."""
    order_id, _, rest = marker.partition("|")
    return order_id, rest

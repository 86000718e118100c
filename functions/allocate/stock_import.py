"""POST /inventory/import: counted stock of many SKUs from one CSV, each row applied as a stock sync.

Columns: sku, warehouse, on_hand[, reason]. Every row is applied on its own (PUT /inventory/{sku}'s
sync, so the ledger records it under the sync id `<import_id>:<row>`), and every row gets a result:
a bad row never stops the good ones and is never left out. Sending the same import again (same
import_id) applies nothing twice: each row's sync id is taken.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Literal

from pydantic import BaseModel, ValidationError

from functions.allocate.inventory import StockSync, sync_stock
from functions.core import repository
from functions.core.errors import ConflictError, TransientError
from functions.core.observability import logger

MAX_IMPORT_ROWS = 1000
REQUIRED_COLUMNS = ("sku", "warehouse", "on_hand")
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class ImportRow(BaseModel):
    row: int  # the CSV line (the header is line 1)
    sku: str | None = None
    warehouse: str | None = None
    outcome: Literal["applied", "duplicate", "invalid", "conflict", "retry"]
    on_hand: int | None = None
    message: str | None = None


class ImportReport(BaseModel):
    import_id: str
    rows: int
    counts: dict[str, int]
    results: list[ImportRow]


class ImportRefused(ValueError):
    """The file as a whole is unusable (no header, missing columns, too many rows)."""


def _read(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ImportRefused(
            f"the CSV header lacks {', '.join(missing)} (columns: sku,warehouse,on_hand[,reason])"
        )
    rows = []
    for raw in reader:
        rows.append({(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None})
        if len(rows) > MAX_IMPORT_ROWS:
            raise ImportRefused(f"an import holds at most {MAX_IMPORT_ROWS} rows")
    if not rows:
        raise ImportRefused("the CSV has no rows")
    return rows


def _apply(number: int, fields: dict[str, str], import_id: str) -> ImportRow:
    sku, warehouse = fields.get("sku") or None, fields.get("warehouse") or None
    base = {"row": number, "sku": sku, "warehouse": warehouse}
    try:
        if sku is None or not re.match(SKU_PATTERN, sku):
            raise ValueError("sku is missing or not a SKU")
        sync = StockSync.model_validate(
            {
                "sync_id": f"{import_id}:{number}",
                "warehouse": warehouse,
                "on_hand": fields.get("on_hand"),
                **({"reason": fields["reason"]} if fields.get("reason") else {}),
            }
        )
    except ValidationError as err:
        named = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
        return ImportRow(**base, outcome="invalid", message=named)
    except ValueError as err:
        return ImportRow(**base, outcome="invalid", message=str(err))
    try:
        outcome = sync_stock(sku, sync)
    except ConflictError as err:
        return ImportRow(**base, outcome="conflict", message=str(err))
    except TransientError as err:
        return ImportRow(**base, outcome="retry", message=str(err))
    return ImportRow(**base, outcome="duplicate" if outcome.duplicate else "applied", on_hand=outcome.on_hand)


def import_stock(text: str, import_id: str, actor: str) -> ImportReport:
    rows = _read(text)
    results = [_apply(number, fields, import_id) for number, fields in enumerate(rows, start=2)]
    counts: dict[str, int] = {}
    for result in results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    logger.info("stock imported", extra={"import_id": import_id, "actor": actor, "counts": counts})
    repository.record_audit(
        "inventory.import", actor, rows=len(results), detail={"import_id": import_id, "counts": counts}
    )
    return ImportReport(import_id=import_id, rows=len(results), counts=counts, results=results)

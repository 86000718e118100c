"""The audit trail of bulk work (exports, stock imports): who did what to how many rows, and when.

    AUDIT#<yyyy-mm-dd> / <at>#<id>    one record per export or import: kind, actor, at, rows, filter

A record holds codes and ids only (filters, import ids, counts), never personal data; one partition per
UTC day keeps a day's trail in one Query, and bulk work is rare enough that a day never runs hot.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from functions.core import clock
from functions.core.repository._dynamo import av, query_all
from functions.core.repository._dynamo import put as put_record


def record_audit(kind: str, actor: str, *, rows: int, detail: dict[str, Any]) -> dict[str, Any]:
    """Store one audit record (a fresh key: records are never rewritten) and return it."""
    at = clock.now()
    record = {
        "kind": kind,
        "actor": actor,
        "at": at.isoformat(),
        "rows": rows,
        "detail": {name: value for name, value in detail.items() if value is not None},
    }
    put_record(
        {"pk": f"AUDIT#{at.date().isoformat()}", "sk": f"{at.isoformat()}#{uuid.uuid4().hex[:12]}", **record}
    )
    return record


def audit_records(day: date, kind: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """A day's audit records, oldest first (optionally of one kind)."""
    found = query_all(
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": av(f"AUDIT#{day.isoformat()}")},
        ConsistentRead=True,
        Limit=limit,
        max_items=limit,
    )[:limit]
    return [
        {name: raw[name] for name in ("kind", "actor", "at", "rows", "detail") if name in raw}
        for raw in found
        if kind is None or raw.get("kind") == kind
    ]

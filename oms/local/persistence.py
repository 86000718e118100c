"""Local state that survives a restart of `oms serve`: every DynamoDB table, kept in .oms/state.

The embedded AWS (moto) lives in memory. `save` scans each table of the stack into one JSON file
(written to a temporary name, then renamed, so a crash mid-write leaves the previous state intact);
`restore` loads it back into a freshly started stack before it serves. Orders, their history, rules,
stock and its ledger, sales aggregates, holds and cases are all items, so they all come back.

Restored items are written with the tables' streams switched off: they are yesterday's writes, already
folded into the aggregates and already published, and must not be processed a second time.
Workflows that were still running (a hold waiting for a person, a payment timer) do not survive: their
executions lived in the state machine engine, which is not saved. `restore` says how many orders were
caught mid-way so `oms serve` can tell the user.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STATE_FILE = "dynamodb.json"
FORMAT = 1
_BATCH = 25  # BatchWriteItem's limit


# Statuses an order rests in while its execution still has work to do (functions/core/status.py).
MIDWAY = frozenset({"RECEIVED", "ON_HOLD", "APPROVED", "ALLOCATED", "AWAITING_PAYMENT", "PAID"})


@dataclass(frozen=True)
class Restored:
    saved_at: str
    items: int
    tables: int
    midway: int  # orders caught mid-way: stored again, but their executions are not running any more


def _midway(items: list[dict[str, Any]]) -> int:
    """Order records (pk ORDER#<id>, sk ORDER: functions/core/repository.py) in a mid-way status."""
    return sum(
        1
        for item in items
        if item.get("pk", {}).get("S", "").startswith("ORDER#")
        and item.get("sk", {}).get("S") == "ORDER"
        and item.get("status", {}).get("S") in MIDWAY
    )


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"__b64__": base64.b64encode(bytes(value)).decode("ascii")}
    raise TypeError(f"cannot save {type(value).__name__}")


def _decode(document: dict[str, Any]) -> Any:
    if set(document) == {"__b64__"}:
        return base64.b64decode(document["__b64__"])
    return document


def _scan(client: Any, table: str) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        yield from page.get("Items", [])


def save(stack: Any, directory: Path) -> int:
    """Write every table's items to `directory`; returns how many items were saved."""
    client = stack.session.client("dynamodb")
    tables = {name: list(_scan(client, name)) for name in sorted(stack.table_names.values())}
    directory.mkdir(parents=True, exist_ok=True)
    document = {"format": FORMAT, "saved_at": datetime.now(UTC).isoformat(), "tables": tables}
    target = directory / STATE_FILE
    partial = target.with_suffix(".tmp")
    partial.write_text(json.dumps(document, default=_encode, separators=(",", ":")), encoding="utf-8")
    os.replace(partial, target)
    return sum(len(items) for items in tables.values())


def saved_state(directory: Path) -> dict[str, Any] | None:
    target = directory / STATE_FILE
    if not target.is_file():
        return None
    document: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"), object_hook=_decode)
    if document.get("format") != FORMAT:
        raise ValueError(f"{target} was written by another version of oms serve (start with --fresh)")
    return document


@contextmanager
def _streams_off(table_names: list[str]) -> Iterator[None]:
    from moto.dynamodb.models import dynamodb_backends

    from oms.local.stack import ACCOUNT, REGION

    backend = dynamodb_backends[ACCOUNT][REGION]
    shards = {name: backend.tables[name].stream_shard for name in table_names if name in backend.tables}
    for name in shards:
        backend.tables[name].stream_shard = None
    try:
        yield
    finally:
        for name, shard in shards.items():
            backend.tables[name].stream_shard = shard


def restore(stack: Any, directory: Path) -> Restored | None:
    """Load the saved items into the (just started, empty) stack; None when nothing was saved."""
    document = saved_state(directory)
    if document is None:
        return None
    client = stack.session.client("dynamodb")
    known = set(stack.table_names.values())
    tables = {name: items for name, items in document["tables"].items() if name in known}
    count = 0
    with _streams_off(list(tables)):
        for name, items in tables.items():
            for start in range(0, len(items), _BATCH):
                requests = [{"PutRequest": {"Item": item}} for item in items[start : start + _BATCH]]
                pending: dict[str, Any] = {name: requests}
                while pending:
                    pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            count += len(items)
    midway = sum(_midway(items) for items in tables.values())
    return Restored(saved_at=str(document["saved_at"]), items=count, tables=len(tables), midway=midway)


class Autosave:
    """Saves every `interval` seconds while the server runs, and once more at `stop()`."""

    def __init__(self, stack: Any, directory: Path, interval: float = 30.0) -> None:
        self.stack = stack
        self.directory = directory
        self.interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="oms-autosave", daemon=True)

    def start(self) -> Autosave:
        self._thread.start()
        return self

    def save_now(self) -> int:
        with self._lock:
            return save(self.stack, self.directory)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.save_now()
            except Exception as err:  # keep serving; the final save at shutdown tries again
                print(f"oms serve: could not save state to {self.directory}: {err}", flush=True)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(timeout=10)
        return self.save_now()

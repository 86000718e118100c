"""Helpers for the inventory and allocation tests: rules in force, stock syncs, waiting for a state."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from functions.allocate.inventory import audit_stock
from oms.local.stack import WAIT_BOUND_SECONDS

T = TypeVar("T")


@contextmanager
def allocation_rules(oms: Any, **fields: Any) -> Iterator[dict[str, Any]]:
    """Store, through the strategy center (PUT /rules), a rule set whose allocation section has
    `fields`, for the duration of the block; the rules in force before are stored again afterwards."""
    before = oms.call("GET", "/rules").json()
    document = {**before, "allocation": {**before["allocation"], **fields}, "comment": "stock test"}
    stored = oms.call("PUT", "/rules", document)  # as an admin, the driver's default
    assert stored.status == 200, stored.body
    try:
        yield stored.json()
    finally:
        latest = oms.call("GET", "/rules").json()
        restored = oms.call("PUT", "/rules", {**before, "version": latest["version"]})
        assert restored.status == 200, restored.body


def sync(
    oms: Any, sku: str, on_hand: int, warehouse: str = "WH-MAIN", sync_id: str | None = None, **extra: Any
):
    body = {"sync_id": sync_id or f"sync-{uuid.uuid4().hex[:12]}", "warehouse": warehouse, "on_hand": on_hand}
    return oms.call("PUT", f"/inventory/{sku}", {**body, **extra})


def eventually(
    probe: Callable[[], T | None], timeout: float = WAIT_BOUND_SECONDS, what: str = "condition"
) -> T:
    """Poll `probe` (wall clock; the virtual clock stands still) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def assert_conserved(sku: str) -> list[Any]:
    """Every counter of `sku` equals its ledger, and its reserved the open reservations of orders."""
    audits = audit_stock(sku)
    assert audits, f"no stock counters for {sku}"
    bad = [a for a in audits if not a.ok]
    assert not bad, bad
    return audits

"""Helpers for the inventory and allocation tests: rules in force, stock syncs, waiting for a state."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from boto3.dynamodb.types import TypeSerializer

from functions.allocate.inventory import audit_stock
from functions.core.rules import AllocationRules, RuleSet

T = TypeVar("T")
_ser = TypeSerializer()


@contextmanager
def allocation_rules(stack: Any, **fields: Any) -> Iterator[RuleSet]:
    """Store a rule set whose allocation section has `fields`, for the duration of the block.

    Written straight to the rule item the strategy center reads (RULES / CURRENT); the previous item is
    put back afterwards, so tests sharing the session stack do not see each other's rules.
    """
    table = stack.table_names["OrdersTable"]
    key = {"pk": {"S": "RULES"}, "sk": {"S": "CURRENT"}}
    previous = stack.dynamodb.get_item(TableName=table, Key=key).get("Item")
    rules = RuleSet(version=90_000 + len(fields), allocation=AllocationRules(**fields))
    item = {k: _ser.serialize(v) for k, v in rules.model_dump().items()}
    stack.dynamodb.put_item(TableName=table, Item={**key, **item})
    try:
        yield rules
    finally:
        if previous is None:
            stack.dynamodb.delete_item(TableName=table, Key=key)
        else:
            stack.dynamodb.put_item(TableName=table, Item=previous)


def sync(
    oms: Any, sku: str, on_hand: int, warehouse: str = "WH-MAIN", sync_id: str | None = None, **extra: Any
):
    body = {"sync_id": sync_id or f"sync-{uuid.uuid4().hex[:12]}", "warehouse": warehouse, "on_hand": on_hand}
    return oms.call("PUT", f"/inventory/{sku}", {**body, **extra})


def eventually(probe: Callable[[], T | None], timeout: float = 15.0, what: str = "condition") -> T:
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

"""Shared fixtures: one embedded local stack for every e2e test of the session, and a driver around it.

The stack (moto + the real state machine + the real handlers, on a virtual clock) is started lazily by
the first test that asks for it and stopped as soon as no following test needs it, so other test
modules that start their own local stack never find ours still holding moto. Tests share its moto
state, so each one uses fresh SKUs and platform order ids (see tests/factories.py).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `functions`, `oms` and `tests.factories` import from the repo root

from oms.local.clock import VirtualClock  # noqa: E402
from oms.local.stack import HttpResponse, LocalStack  # noqa: E402
from tests.factories import order_id_of  # noqa: E402

VIRTUAL_START = datetime(2026, 1, 1, tzinfo=UTC)
WAREHOUSE = "WH-MAIN"  # DEFAULT_WAREHOUSE of template.yaml


class _SessionStack:
    """Owns the one LocalStack of the session; start on demand, stop when no longer needed."""

    def __init__(self) -> None:
        self.stack: LocalStack | None = None

    def get(self) -> LocalStack:
        if self.stack is None:
            self.stack = LocalStack(clock=VirtualClock(VIRTUAL_START)).start()
        return self.stack

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.runtime.before_invoke = None
            self.stack.stop()
            self.stack = None


_SESSION = _SessionStack()


@pytest.fixture(scope="session")
def session_stack() -> Iterator[_SessionStack]:
    yield _SESSION
    _SESSION.stop()


@pytest.fixture
def stack(session_stack: _SessionStack) -> Iterator[LocalStack]:
    """The session's local stack; any fault-injection hook a test installs is removed afterwards."""
    local = session_stack.get()
    local.runtime.before_invoke = None
    try:
        yield local
    finally:
        local.runtime.before_invoke = None


def pytest_configure(config: pytest.Config) -> None:
    # Every stage flushes Powertools metrics; locally there are none to publish, which is not news.
    config.addinivalue_line("filterwarnings", "ignore:No application metrics to publish:UserWarning")


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if nextitem is None or "stack" not in getattr(nextitem, "fixturenames", ()):
        _SESSION.stop()


class Oms:
    """What a platform and an operator see: the HTTP API, executions, stock."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack

    # ---------------------------------------------------------------- API
    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> HttpResponse:
        """Every test's HTTP call goes through here, so credentials are added in one place."""
        return self.stack.request(method, path, body, headers)

    def post(self, body: Any) -> HttpResponse:
        return self.call("POST", "/orders", body)

    def get(self, order_id: str) -> HttpResponse:
        return self.call("GET", f"/orders/{order_id}")

    def order(self, order_id: str) -> dict[str, Any]:
        response = self.get(order_id)
        assert response.status == 200, response.body
        return response.json()  # type: ignore[no-any-return]

    def history(self, order_id: str) -> HttpResponse:
        return self.call("GET", f"/orders/{order_id}/history")

    def pay(
        self, order_id: str, payment_id: str, amount: str, paid_at: str = "2026-01-01T00:00:00Z"
    ) -> HttpResponse:
        """The payment callback (POST /orders/{id}/payment)."""
        body = {"payment_id": payment_id, "amount": amount, "paid_at": paid_at}
        return self.call("POST", f"/orders/{order_id}/payment", body)

    def run(self, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """POST an order, wait for its execution to end; (the order as GET returns it, the execution)."""
        response = self.post(body)
        assert response.status == 201, response.body
        execution = self.wait(response.json()["execution_arn"])
        return self.order(response.json()["order_id"]), execution

    # ---------------------------------------------------------------- executions
    def wait(self, execution_arn: str) -> dict[str, Any]:
        return self.stack.wait_for_execution(execution_arn, timeout=30)

    def executions_named(self, name: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"stateMachineArn": self.stack.order_state_machine_arn, "maxResults": 1000}
        while True:
            page = self.stack.sfn.list_executions(**kwargs)
            found += [e for e in page["executions"] if e["name"] == name]
            if not page.get("nextToken"):
                return found
            kwargs["nextToken"] = page["nextToken"]

    def executions_of(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        return self.executions_named(order_id_of(body))

    def states_entered(self, execution_arn: str) -> list[str]:
        return [
            event["stateEnteredEventDetails"]["name"]
            for event in self.stack.execution_history(execution_arn)
            if "stateEnteredEventDetails" in event
        ]

    # ---------------------------------------------------------------- stock
    def set_stock(self, sku: str, on_hand: int, warehouse: str = WAREHOUSE) -> None:
        from functions.core import repository

        repository.set_stock(sku, warehouse, on_hand)

    def stock(self, sku: str, warehouse: str = WAREHOUSE) -> dict[str, int]:
        from functions.core import repository

        for level in repository.get_stock(sku):
            if level.warehouse == warehouse:
                return {"on_hand": level.on_hand, "reserved": level.reserved, "available": level.available}
        raise AssertionError(f"no stock row for {sku}@{warehouse}")


@pytest.fixture
def oms(stack: LocalStack) -> Oms:
    return Oms(stack)

"""Shared fixtures: a fresh embedded local stack for each test module, and a driver around it.

The stack (moto + the real state machine + the real handlers, on a virtual clock) is started lazily by
the first test of a module that asks for it and stopped after that module's last test, so every module
starts from empty tables: a test costs the same wherever it runs in the suite (moto evaluates some
queries over whole tables, so a stack shared by the session got slower with every test). Under
pytest-xdist each worker process holds its own stack (`make test` runs modules whole on a worker).
Tests of one module share its stack, so each one uses fresh SKUs and platform order ids
(see tests/factories.py).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `functions`, `oms` and `tests.factories` import from the repo root

from hypothesis import settings as hypothesis_settings  # noqa: E402

from oms.local.clock import VirtualClock  # noqa: E402
from oms.local.stack import WAIT_BOUND_SECONDS, HttpResponse, LocalStack  # noqa: E402
from tests.factories import order_id_of  # noqa: E402

# No test waits on wall-clock speed: hypothesis' per-example deadline (200 ms) would fail a correct example
# that a loaded machine merely ran slowly. Properties are bounded by their example counts instead.
hypothesis_settings.register_profile("oms", deadline=None)
hypothesis_settings.load_profile("oms")

VIRTUAL_START = datetime(2026, 1, 1, tzinfo=UTC)
WAREHOUSE = "WH-MAIN"  # DEFAULT_WAREHOUSE of template.yaml


class _SessionStack:
    """Owns the one LocalStack of this process; started on demand, stopped after each module."""

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


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the stack after a module's last test (and before any test that does not use it, so a module
    that starts its own local stack never finds ours still holding moto)."""
    if (
        nextitem is None
        or "stack" not in getattr(nextitem, "fixturenames", ())
        or getattr(nextitem, "module", None) is not getattr(item, "module", None)
    ):
        _SESSION.stop()


# Modules that take longest (measured on the 2-core machine: wall seconds of a module's tests, real
# processes and the browser included), slowest first. Collection puts them ahead of the rest, and
# `make test` runs pytest-xdist with --no-loadscope-reorder, so workers take them first and the short
# modules (the unit tests last) fill in behind: the run does not end with one worker idle while the
# other finishes a long module it picked up late. A module not listed keeps its place after these.
SLOWEST_MODULES = (
    "tests/test_bench.py",
    "tests/e2e/test_stock_conservation.py",
    "tests/e2e/test_openapi_fuzz.py",
    "tests/test_cli.py",
    "tests/browser/test_console_people.py",
    "tests/browser/test_console.py",
    "tests/test_metrics_simulation.py",
    "tests/e2e/test_aftersales_properties.py",
    "tests/test_cli_serve_process.py",
    "tests/e2e/test_sourcing.py",
    "tests/connectors/test_connector_push_platforms.py",
    "tests/e2e/test_aftersales.py",
    "tests/browser/test_console_bulk.py",
    "tests/e2e/test_deposit_balance.py",
    "tests/e2e/test_payment.py",
    "tests/browser/test_console_line_changes.py",
    "tests/e2e/test_shipping.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: position for position, path in enumerate(SLOWEST_MODULES)}
    items.sort(
        key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank))
    )  # stable: modules stay whole


class Credentials:
    """How the driver authenticates: as a signing platform, as staff with a role, or not at all."""

    _lock = threading.Lock()

    @classmethod
    def timestamp(cls, stack: LocalStack) -> str:
        """Unix ms, strictly increasing per stack: the virtual clock stands still between calls, and two
        requests with the same body and timestamp would carry the same signature (a replay)."""
        now_ms = int(stack.clock.now().timestamp() * 1000)
        with cls._lock:
            last = max(now_ms, getattr(stack, "last_signed_ms", 0) + 1)
            stack.last_signed_ms = last  # type: ignore[attr-defined]
            return str(last)

    @staticmethod
    def platform_headers(
        platform: str,
        raw_body: str,
        stack: LocalStack,
        secret: str | None = None,
        *,
        method: str = "POST",
        target: str = "/orders",
    ) -> dict[str, str]:
        from functions.core.auth.signing import (
            HEADER_PLATFORM,
            HEADER_SIGNATURE,
            HEADER_TIMESTAMP,
            sign_request,
        )
        from functions.core.secrets import auth_keys

        timestamp = Credentials.timestamp(stack)
        secret = secret or auth_keys().platform_secret(platform)
        return {
            HEADER_PLATFORM: platform,
            HEADER_TIMESTAMP: timestamp,
            HEADER_SIGNATURE: sign_request(secret, method, target, timestamp, raw_body),
        }

    @staticmethod
    def carrier_headers(
        carrier: str, raw_body: str, stack: LocalStack, secret: str | None = None, *, target: str
    ) -> dict[str, str]:
        """A carrier's webhook signature (X-OMS-Carrier instead of X-OMS-Platform, its own secret)."""
        from functions.core.auth.signing import (
            HEADER_CARRIER,
            HEADER_SIGNATURE,
            HEADER_TIMESTAMP,
            sign_request,
        )
        from functions.core.secrets import auth_keys

        timestamp = Credentials.timestamp(stack)
        secret = secret or auth_keys().carrier_secret(carrier)
        return {
            HEADER_CARRIER: carrier,
            HEADER_TIMESTAMP: timestamp,
            HEADER_SIGNATURE: sign_request(secret, "POST", target, timestamp, raw_body),
        }

    @staticmethod
    def staff_headers(role: str, user: str, now: datetime) -> dict[str, str]:
        from functions.core.auth.tokens import mint_token
        from functions.core.secrets import auth_keys

        return {"Authorization": f"Bearer {mint_token(auth_keys().staff_key, user, role, now)}"}


def _platform_of(raw_body: str) -> str:
    try:
        document = json.loads(raw_body)
    except ValueError:
        return "tmall"
    named = document.get("platform") if isinstance(document, dict) else None
    return named if isinstance(named, str) else "tmall"


class Oms:
    """What a platform and an operator see: the HTTP API, executions, stock.

    Calls are authenticated like a real caller's: POST /orders is signed as the body's platform,
    everything else carries an admin token, unless the driver was made with `as_role`, `as_platform`
    or `anonymous`.
    """

    def __init__(
        self,
        stack: LocalStack,
        identity: tuple[str, str] | None = ("auto", ""),
        register_products: bool = True,
    ) -> None:
        self.stack = stack
        self.identity = identity  # ("auto", ""), ("staff", role), ("platform", name) or None
        # Posted orders' SKUs are registered in the product master first (virtual lines as virtual
        # products), so tests about other things need not; `without_product_seeding()` turns it off.
        self.register_products = register_products

    def without_product_seeding(self) -> Oms:
        return Oms(self.stack, self.identity, register_products=False)

    def as_role(self, role: str, user: str | None = None) -> Oms:
        """Calls as a staff member with `role` (user `test-<role>` unless named)."""
        return Oms(self.stack, ("staff", f"{role}:{user or 'test-' + role.replace('_', '-')}"))

    def as_platform(self, platform: str) -> Oms:
        return Oms(self.stack, ("platform", platform))

    def as_carrier(self, carrier: str) -> Oms:
        """Calls signed as a carrier (its tracking webhook)."""
        return Oms(self.stack, ("carrier", carrier))

    def anonymous(self) -> Oms:
        return Oms(self.stack, None)

    def token(self, role: str = "admin", user: str = "test-admin") -> str:
        """A staff token, as `oms token --role ROLE --user USER` mints it locally."""
        return Credentials.staff_headers(role, user, self.stack.clock.now())["Authorization"].split(" ", 1)[1]

    def signature(
        self,
        platform: str,
        raw_body: str,
        secret: str | None = None,
        *,
        method: str = "POST",
        target: str = "/orders",
    ) -> dict[str, str]:
        """Signature headers for `raw_body`, with a fresh timestamp (and another secret, to forge)."""
        return Credentials.platform_headers(
            platform, raw_body, self.stack, secret, method=method, target=target
        )

    # ---------------------------------------------------------------- API
    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> HttpResponse:
        """Every test's HTTP call goes through here, so credentials are added in one place."""
        raw = body if isinstance(body, str) or body is None else json.dumps(body)
        if self.register_products and (method.upper(), path.split("?")[0].rstrip("/")) == ("POST", "/orders"):
            self.register_order_products(raw)
        return self.stack.request(
            method, path, raw, {**self.credentials(method, path, raw), **(headers or {})}
        )

    def credentials(self, method: str, path: str, raw_body: str | None) -> dict[str, str]:
        if self.identity is None:
            return {}
        kind, name = self.identity
        now = self.stack.clock.now()
        if kind == "auto":
            if (method.upper(), path.split("?")[0].rstrip("/")) == ("POST", "/orders"):
                return Credentials.platform_headers(
                    _platform_of(raw_body or ""), raw_body or "", self.stack, method=method, target=path
                )
            return Credentials.staff_headers("admin", "test-admin", now)
        if kind == "platform":
            return Credentials.platform_headers(name, raw_body or "", self.stack, method=method, target=path)
        if kind == "carrier":
            return Credentials.carrier_headers(name, raw_body or "", self.stack, target=path)
        role, user = name.split(":", 1)
        return Credentials.staff_headers(role, user, now)

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

    def track(self, shipment: dict[str, Any], status: str, event_id: str, occurred_at: str) -> HttpResponse:
        """The shipment's carrier posts one tracking event (signed as that carrier)."""
        body = {
            "event_id": event_id,
            "tracking_number": shipment["tracking_number"],
            "status": status,
            "occurred_at": occurred_at,
        }
        return self.as_carrier(shipment["carrier"]).call(
            "POST", f"/shipments/{shipment['shipment_id']}/tracking", body
        )

    # ---------------------------------------------------------------- executions
    def wait(self, execution_arn: str) -> dict[str, Any]:
        return self.stack.wait_for_execution(execution_arn, timeout=WAIT_BOUND_SECONDS)

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
    def register_order_products(self, raw_body: str | None) -> None:
        from oms.local.catalog import register_order_products

        try:
            document = json.loads(raw_body or "")
        except ValueError:
            return
        register_order_products(document)

    def register_product(self, sku: str, *, virtual: bool = False) -> None:
        from oms.local.catalog import register_products

        register_products([sku], virtual=[sku] if virtual else [])

    def set_stock(self, sku: str, on_hand: int, warehouse: str = WAREHOUSE) -> None:
        from functions.core import repository

        self.register_product(sku)
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

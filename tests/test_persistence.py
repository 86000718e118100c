"""`oms serve` restarted: yesterday's orders, rules and stock are still there (.oms/state), and
nothing restored is processed twice (sales figures and published events stay as they were)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oms.local import persistence
from oms.local.clock import VirtualClock
from oms.local.stack import LocalStack
from tests.factories import new_sku, order_body

pytestmark = pytest.mark.e2e

YESTERDAY = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def admin(stack: LocalStack) -> dict[str, str]:
    from oms.local import credentials

    return credentials.staff_headers("admin", "restart-test", stack.clock.now())


def call(stack: LocalStack, method: str, path: str, body: Any = None, role: str = "admin") -> Any:
    from oms.local import credentials

    headers = credentials.staff_headers(role, "restart-test", stack.clock.now())
    answer = stack.request(method, path, body, headers)
    assert answer.status in (200, 201), (method, path, answer.status, answer.body)
    return answer.json()


def post(stack: LocalStack, body: dict[str, Any]) -> dict[str, Any]:
    from oms.local import credentials
    from oms.local.catalog import register_order_products

    register_order_products(body)
    raw = json.dumps(body)
    headers = credentials.platform_headers(
        body["platform"], raw, stack.clock.now(), method="POST", target="/orders"
    )
    answer = stack.request("POST", "/orders", raw, headers)
    assert answer.status == 201, answer.body
    return answer.json()  # type: ignore[no-any-return]


def test_a_restart_finds_yesterdays_orders_rules_and_stock(tmp_path: Path):
    sku, platform = new_sku(), "restartmall"
    with LocalStack(clock=VirtualClock(YESTERDAY)) as stack:
        call(stack, "PUT", f"/inventory/{sku}", {"sync_id": "count-1", "warehouse": "WH-MAIN", "on_hand": 7})
        rules = call(stack, "GET", "/rules")
        rules["review"]["hold_above_total"] = "777.00"
        stored_rules = call(stack, "PUT", "/rules", rules)
        answer = post(stack, order_body([(sku, 2, "50.00")], platform=platform))
        stack.wait_for_execution(answer["execution_arn"])
        held = post(stack, order_body([(sku, 1, "1000.00")], platform=platform))  # above 777: held
        held_order = f"/orders/{held['order_id']}"
        stack.run_until(lambda: call(stack, "GET", held_order)["status"] == "ON_HOLD", 20, advance=False)
        stack.settle()
        order_before = call(stack, "GET", f"/orders/{answer['order_id']}")
        history_before = call(stack, "GET", f"/orders/{answer['order_id']}/history")
        stock_before = call(stack, "GET", f"/inventory/{sku}")
        day = YESTERDAY.date().isoformat()
        sales_before = call(stack, "GET", f"/reports/sales?from={day}&to={day}&platform={platform}")
        events_before = call(stack, "GET", f"/events?order_id={answer['order_id']}")
        saved = persistence.save(stack, tmp_path)
    assert saved > 0

    with LocalStack(clock=VirtualClock(YESTERDAY + timedelta(days=1))) as stack:
        assert stack.request("GET", f"/orders/{answer['order_id']}", headers=admin(stack)).status == 404
        restored = persistence.restore(stack, tmp_path)
        assert restored is not None
        assert restored.items == saved
        assert restored.midway == 1  # the held order: stored again, its execution is not running
        assert call(stack, "GET", held_order)["status"] == "ON_HOLD"
        stack.settle()
        order_after = call(stack, "GET", f"/orders/{answer['order_id']}")
        assert order_after["status"] == "SHIPPED"
        assert order_after == order_before
        history_after = call(stack, "GET", f"/orders/{answer['order_id']}/history")
        business = [e for e in history_before["timeline"] if e["source"] == "order"]
        assert history_after["timeline"] == business  # the order's own timeline, every event
        assert history_after["execution"]["status"] == "GONE"  # the engine's history is not kept
        assert call(stack, "GET", "/rules")["review"]["hold_above_total"] == "777.00"
        assert call(stack, "GET", "/rules")["version"] == stored_rules["version"]
        assert call(stack, "GET", f"/inventory/{sku}") == stock_before
        found = call(stack, "GET", f"/orders?platform={platform}")["items"]
        assert {o["order_id"] for o in found} == {answer["order_id"], held["order_id"]}  # the index too
        # Restored writes are not new writes: the sales and the outbox count them once.
        assert call(stack, "GET", f"/reports/sales?from={day}&to={day}&platform={platform}") == sales_before
        assert call(stack, "GET", f"/events?order_id={answer['order_id']}") == events_before
        # And the restored OMS keeps working: the stock left can be sold today.
        today = post(stack, order_body([(sku, 1, "50.00")], platform=platform))
        assert stack.wait_for_execution(today["execution_arn"])["status"] == "SUCCEEDED"
        assert call(stack, "GET", f"/orders/{today['order_id']}")["status"] == "SHIPPED"


def test_nothing_saved_is_nothing_restored_and_a_foreign_format_is_refused(tmp_path: Path):
    assert persistence.saved_state(tmp_path) is None
    (tmp_path / persistence.STATE_FILE).write_text(json.dumps({"format": 99, "tables": {}}))
    with pytest.raises(ValueError, match="--fresh"):
        persistence.saved_state(tmp_path)

"""`oms token`, `oms orders`, `oms review`, `oms report` against a served local stack."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from functions.core.auth.principals import Principal
from functions.core.auth.tokens import verify_token
from oms import commands
from oms.local import credentials
from oms.local.http import serve
from tests.factories import new_sku, order_body

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(stack, oms):
    server = serve(stack, port=0)
    try:
        yield server.url, oms.token("ops", "cli-test")
    finally:
        server.shutdown()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = commands.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_token_is_a_local_staff_token(capsys):
    code, out, _ = run(capsys, "token", "--role", "ops", "--user", "alice")
    assert code == 0
    principal = verify_token(credentials.KEYS.staff_key, out.strip(), datetime.now(UTC))
    assert principal == Principal("staff", "alice", "ops")
    with pytest.raises(SystemExit):
        commands.main(["token", "--role", "root", "--user", "alice"])


def test_orders_search(capsys, served, oms):
    url, token = served
    platform = f"c{uuid.uuid4().hex[:10]}"
    ids = [oms.run(order_body(platform=platform))[0]["order_id"] for _ in range(3)]
    code, out, _ = run(
        capsys,
        "orders",
        "--platform",
        platform,
        "--limit",
        "2",
        "--all",
        "--json",
        "--url",
        url,
        "--token",
        token,
    )
    assert code == 0
    assert sorted(o["order_id"] for o in json.loads(out)["items"]) == sorted(ids)
    code, out, _ = run(capsys, "orders", "--platform", platform, "--url", url, "--token", token)
    assert code == 0
    assert all(order_id in out for order_id in ids)


def test_review_lists_the_queue_and_approves(capsys, served, oms, stack):
    from tests.review_helpers import post_and_hold

    url, token = served
    held = post_and_hold(oms, stack, order_body([(new_sku(), 1, "6000.00")]))
    code, out, _ = run(capsys, "review", "--reason", "HIGH_VALUE", "--url", url, "--token", token)
    assert code == 0
    assert held["order_id"] in out
    code, out, err = run(
        capsys,
        "review",
        held["order_id"],
        "--reject",
        "--comment",
        "no stock for it",
        "--url",
        url,
        "--token",
        token,
    )
    assert code == 0, err
    assert f"{held['order_id']}: reject accepted" in out
    oms.wait(held["execution_arn"])
    order = oms.order(held["order_id"])
    assert order["status"] == "REJECTED"
    assert order["manual_review"]["actor"] == "user:cli-test"


def test_review_needs_a_role_that_may(capsys, served, oms):
    url, _ = served
    viewer = oms.token("viewer", "cli-viewer")
    code, _, err = run(capsys, "review", "ord-" + "0" * 24, "--reject", "--url", url, "--token", viewer)
    assert code == 1
    assert "403 FORBIDDEN" in err


def test_report(capsys, served, oms, stack):
    url, token = served
    platform = f"c{uuid.uuid4().hex[:10]}"
    sku = new_sku()
    oms.set_stock(sku, 20)
    oms.run(order_body([(sku, 3, "7.00")], platform=platform))
    stack.settle()  # the stream records reach the sales aggregator
    day = stack.clock.now().date().isoformat()
    code, out, _ = run(
        capsys, "report", "--platform", platform, "--from", day, "--to", day, "--url", url, "--token", token
    )
    assert code == 0
    assert "1 orders, 1 sales, revenue 21.00 CNY" in out
    assert sku in out


def test_unreachable_server_is_a_clear_error(capsys):
    code, _, err = run(capsys, "orders", "--url", "http://127.0.0.1:9", "--token", "x", "--timeout", "2")
    assert code == 1
    assert "is `oms serve` running?" in err

"""`oms orders --export` and `oms review --approve-all REASON` against a live local server."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from oms.cli import main
from oms.local.catalog import register_order_products
from oms.local.clock import VirtualClock
from oms.local.http import LocalHttpServer
from oms.local.stack import LocalStack
from tests.factories import address, new_sku, order_body
from tests.review_helpers import wait_for
from tests.serving import serving


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[LocalStack, LocalHttpServer]]:
    with serving(LocalStack(clock=VirtualClock(datetime(2026, 5, 1, tzinfo=UTC)))) as live_pair:
        yield live_pair


def _token(stack: LocalStack, role: str = "ops") -> str:
    """A staff token issued on the stack's clock (a token issued in the future is refused)."""
    from oms.local import credentials

    return credentials.staff_token(role, f"cli-{role}", stack.clock.now())


def _post(stack: LocalStack, body: dict) -> str:
    from oms.local import credentials

    register_order_products(body)  # its SKUs are in the product master, as capture requires
    raw = json.dumps(body)
    response = stack.request(
        "POST",
        "/orders",
        raw,
        credentials.platform_headers("tmall", raw, stack.clock.now(), method="POST", target="/orders"),
    )
    assert response.status == 201, response.body
    return str(response.json()["order_id"])


def test_orders_export_writes_the_search_as_csv_masked_for_viewers(live, tmp_path, capsys):
    from functions.core import repository

    stack, server = live
    sku = new_sku()
    repository.set_stock(sku, "WH-MAIN", 5)
    order_id = _post(stack, order_body([(sku, 1)], shipping_address=address(name="Wang Fang")))
    wait_for(stack, lambda: repository.get_order(order_id).status == "SHIPPED", what="shipped")

    target = tmp_path / "orders.csv"
    assert (
        main(
            [
                "orders",
                "--export",
                str(target),
                "--status",
                "SHIPPED",
                "--url",
                server.url,
                "--token",
                _token(stack),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [r["receiver_name"] for r in rows if r["order_id"] == order_id] == ["Wang Fang"]
    assert "orders written to" in capsys.readouterr().err

    assert main(["orders", "--export", "-", "--url", server.url, "--token", _token(stack, "viewer")]) == 0
    masked = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["receiver_name"] for r in masked if r["order_id"] == order_id] == ["W***"]


def test_review_approve_all_asks_then_approves_every_order_held_for_the_reason(live, monkeypatch, capsys):
    from functions.core import repository

    stack, server = live
    sku = new_sku()
    repository.set_stock(sku, "WH-MAIN", 5)
    held = [_post(stack, order_body([(sku, 1, "6000.00")])) for _ in range(2)]
    wait_for(stack, lambda: all(repository.get_wait_token(o) for o in held), what="both waiting")
    stack.settle()

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["review", "--approve-all", "HIGH_VALUE", "--url", server.url, "--token", _token(stack)]) == 1
    assert "nothing approved" in capsys.readouterr().out
    assert {repository.get_order(o).status for o in held} == {"ON_HOLD"}

    asked: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "y")
    assert main(["review", "--approve-all", "HIGH_VALUE", "--url", server.url, "--token", _token(stack)]) == 0
    assert asked == ["Approve 2 orders held for HIGH_VALUE? [y/N] "]
    assert "2 orders held for HIGH_VALUE: 2 applied" in capsys.readouterr().out
    wait_for(stack, lambda: {repository.get_order(o).status for o in held} == {"SHIPPED"}, what="shipped")
    assert main(["review", "--approve-all", "HIGH_VALUE", "--url", server.url, "--token", _token(stack)]) == 0
    assert "no orders are held for HIGH_VALUE" in capsys.readouterr().out


def test_review_approve_all_without_a_terminal_needs_yes(live, monkeypatch, capsys):
    from functions.core import repository

    stack, server = live
    sku = new_sku()
    repository.set_stock(sku, "WH-MAIN", 5)
    held = _post(stack, order_body([(sku, 1, "7000.00")]))
    wait_for(stack, lambda: repository.get_wait_token(held) is not None, what="waiting")
    stack.settle()

    def no_prompt(prompt: str) -> str:
        raise AssertionError(f"asked {prompt!r}")

    monkeypatch.setattr("sys.stdin.isatty", lambda: False)  # a script or a pipe: nobody to ask
    monkeypatch.setattr("builtins.input", no_prompt)
    command = ["review", "--approve-all", "HIGH_VALUE", "--url", server.url, "--token", _token(stack)]
    assert main(command) == 1
    assert "1 orders held for HIGH_VALUE: confirm with --yes" in capsys.readouterr().err
    assert repository.get_order(held).status == "ON_HOLD"

    assert main([*command, "--yes"]) == 0
    assert "1 orders held for HIGH_VALUE: 1 applied" in capsys.readouterr().out
    wait_for(stack, lambda: repository.get_order(held).status == "SHIPPED", what="shipped")
    review = repository.get_order(held).manual_review
    assert review is not None
    assert (review.decision, review.actor) == ("approve", "user:cli-ops")

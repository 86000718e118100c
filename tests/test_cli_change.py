"""`oms change ORDER_ID --line SKU=N --add SKU=N@PRICE --reason R` against a live local server: the
change applied, said in words, and a refusal printed with its code."""

from __future__ import annotations

import pytest

from oms.cli import main
from oms.local import credentials
from oms.local.http import serve
from tests.e2e.stock_support import eventually
from tests.factories import new_sku, order_body

pytestmark = pytest.mark.e2e


def test_change_lowers_a_line_and_adds_one_then_says_a_refusal(oms, stack, capsys):
    a, c = new_sku(), new_sku()
    oms.set_stock(a, 5)
    oms.set_stock(c, 1)
    posted = oms.post(order_body([(a, 3, "10.00")], payment={"status": "unpaid"}))
    order_id = posted.json()["order_id"]
    eventually(lambda: oms.order(order_id)["status"] == "AWAITING_PAYMENT", what="awaiting payment")
    server = serve(stack, port=0)
    try:
        token = credentials.staff_token("ops", "cli-ops", stack.clock.now())
        connection = ["--url", server.url, "--token", token]
        args = ["change", order_id, "--line", f"{a}=1", "--add", f"{c}=1@4.50", "--reason", "buyer asked"]
        assert main([*args, "--reference", "cli-1", *connection]) == 0
        said = capsys.readouterr().out.strip()
        assert said == (
            f"lines of {order_id} changed; total now 14.50 CNY; "
            "2 unit(s) back in stock; 1 more unit(s) reserved"
        )
        assert main(["change", order_id, "--line", f"{c}=3", "--reason", "more", *connection]) == 1
        assert "409 OUT_OF_STOCK" in capsys.readouterr().err
        assert main(["change", order_id, "--line", "nonsense", "--reason", "x", *connection]) == 1
        assert "write SKU=QUANTITY" in capsys.readouterr().err
    finally:
        server.shutdown()
    assert [(line["sku"], line["quantity"]) for line in oms.order(order_id)["lines"]] == [(a, 1), (c, 1)]
    assert oms.stock(c) == {"on_hand": 1, "reserved": 1, "available": 0}

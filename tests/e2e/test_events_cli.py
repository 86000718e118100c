"""`oms events` against a served local stack."""

from __future__ import annotations

import json

import pytest

from oms import commands
from oms.local.http import serve
from tests.factories import new_sku, order_body, order_id_of

pytestmark = pytest.mark.e2e


def test_oms_events_lists_what_an_order_published(capsys, stack, oms):
    sku = new_sku()
    oms.set_stock(sku, 3)
    body = order_body([(sku, 1)])
    oms.run(body)
    stack.settle()
    order_id = order_id_of(body)
    server = serve(stack, port=0)
    try:
        token = oms.token("ops", "cli-events")
        code = commands.main(["events", order_id, "--json", "--url", server.url, "--token", token])
        out, _ = capsys.readouterr()
        assert code == 0
        assert [e["detail"]["seq"] for e in json.loads(out)["events"]][:4] == [1, 2, 3, 4]
        code = commands.main(
            ["events", order_id, "--type", "order.shipped", "--url", server.url, "--token", token]
        )
        out, _ = capsys.readouterr()
        assert code == 0
        assert "order.shipped" in out
        assert f"{order_id}:4" in out
        assert "review.approve" not in out
        assert commands.main(["events", "--url", server.url, "--token", token]) == 1
        assert "ORDER_ID or --type" in capsys.readouterr().err
    finally:
        server.shutdown()

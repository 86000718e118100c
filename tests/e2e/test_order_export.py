"""GET /orders/export: a search as CSV, masked for the viewer role, capped, and refused to platforms."""

from __future__ import annotations

import csv
import io

import pytest

from tests.factories import address, new_sku, order_body

pytestmark = pytest.mark.e2e


def _rows(response) -> list[dict[str, str]]:
    assert response.status == 200, response.body
    assert response.headers["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.body)))


def test_export_is_the_search_as_csv_masked_for_viewers_and_capped(oms):
    sku = new_sku()
    oms.set_stock(sku, 10)
    bodies = [
        order_body(
            [(sku, 1, "12.50")],
            platform="jd",
            shipping_address=address(name="Zhang Wei", phone="13800138000", line1="=HYPERLINK(1)"),
        )
        for _ in range(3)
    ]
    ids = [oms.run(body)[0]["order_id"] for body in bodies]

    full = _rows(oms.as_role("ops", "ops.li").call("GET", "/orders/export?platform=jd&status=SHIPPED"))
    mine = [row for row in full if row["order_id"] in ids]
    assert len(mine) == 3
    assert {row["receiver_name"] for row in mine} == {"Zhang Wei"}
    assert {row["receiver_phone"] for row in mine} == {"13800138000"}
    assert {row["address"] for row in mine} == {"'=HYPERLINK(1)"}  # never a live formula
    assert {(row["total"], row["units"], row["status"]) for row in mine} == {("12.50", "1", "SHIPPED")}

    seen = _rows(oms.as_role("viewer", "v.li").call("GET", "/orders/export?platform=jd&status=SHIPPED"))
    masked = [row for row in seen if row["order_id"] in ids]
    assert len(masked) == 3
    assert {row["receiver_name"] for row in masked} == {"Z***"}
    assert {row["receiver_phone"] for row in masked} == {"***8000"}
    assert {row["address"] for row in masked} == {"***"}
    assert "Zhang Wei" not in seen.__repr__()

    capped = oms.call("GET", "/orders/export?platform=jd&max_rows=2")
    assert len(_rows(capped)) == 2
    assert capped.headers["X-Export-Truncated"] == "true"
    assert oms.call("GET", "/orders/export?platform=jd&max_rows=10001").status == 422
    assert oms.call("GET", "/orders/export?format=xlsx").status == 422
    assert oms.as_platform("jd").call("GET", "/orders/export").status == 403

"""Bulk work leaves an audit record: GET /audit (admin) lists each order export and stock import of a
day with who, when, the filter and the row count; the records hold no personal data."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import new_sku

pytestmark = pytest.mark.e2e

CSV = {"Content-Type": "text/csv"}


def test_exports_and_imports_are_recorded_with_who_when_filter_and_rows(oms, stack):
    a, b = new_sku(), new_sku()
    import_id = f"audit-{uuid.uuid4().hex[:8]}"
    text = f"sku,warehouse,on_hand\r\n{a},WH-MAIN,5\r\n{b},WH-MAIN,oops\r\n"
    imported = oms.as_role("admin", "admin.wang").call(
        "POST", f"/inventory/import?import_id={import_id}", text, CSV
    )
    assert imported.status == 200, imported.body
    exported = oms.as_role("viewer", "v.li").call(
        "GET", "/orders/export?platform=jd&status=SHIPPED&max_rows=3"
    )
    assert exported.status == 200, exported.body
    rows = int(exported.headers.get("X-Export-Rows") or exported.headers.get("x-export-rows"))

    day = stack.clock.now().date().isoformat()
    trail = oms.as_role("admin", "admin.wang").call("GET", f"/audit?day={day}")
    assert trail.status == 200, trail.body
    records = trail.json()["records"]
    mine = [r for r in records if r["detail"].get("import_id") == import_id]
    assert [(r["kind"], r["actor"], r["rows"]) for r in mine] == [("inventory.import", "user:admin.wang", 2)]
    assert mine[0]["detail"]["counts"] == {"applied": 1, "invalid": 1}
    exports = [r for r in records if r["kind"] == "orders.export" and r["actor"] == "user:v.li"]
    assert exports, records
    assert exports[-1]["rows"] == rows
    assert exports[-1]["detail"] | {"truncated": None} == {
        "status": "SHIPPED",
        "platform": "jd",
        "buyer_filtered": False,
        "max_rows": 3,
        "masked": True,
        "truncated": None,
    }
    assert exports[-1]["at"].startswith(day)

    only_imports = oms.as_role("admin", "admin.wang").call("GET", f"/audit?day={day}&kind=inventory.import")
    assert {r["kind"] for r in only_imports.json()["records"]} == {"inventory.import"}
    assert oms.as_role("ops", "ops.li").call("GET", f"/audit?day={day}").status == 403
    assert oms.as_role("admin", "admin.wang").call("GET", f"/audit?day={day}&who=x").status == 422

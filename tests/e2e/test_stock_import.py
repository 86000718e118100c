"""POST /inventory/import: a CSV of counted stock, a result per row; bad rows never hide or stop good ones."""

from __future__ import annotations

import pytest

from tests.factories import new_sku

pytestmark = pytest.mark.e2e

CSV = {"Content-Type": "text/csv"}


def test_import_reports_every_row_and_applies_the_good_ones_once(oms):
    a, b = new_sku(), new_sku()
    text = "\r\n".join(
        [
            "sku,warehouse,on_hand,reason",
            f"{a},WH-MAIN,7,restock",
            f"{b},WH-EAST,3,",
            f"{a},WH-EAST,-1,",
            "bad sku!,WH-MAIN,1,",
            f"{b},,4,",
            f"{b},WH-MAIN,two,",
        ]
    )
    answer = oms.as_role("admin", "admin.wang").call("POST", "/inventory/import?import_id=count-1", text, CSV)
    assert answer.status == 200, answer.body
    report = answer.json()
    assert [(r["row"], r["outcome"]) for r in report["results"]] == [
        (2, "applied"),
        (3, "applied"),
        (4, "invalid"),
        (5, "invalid"),
        (6, "invalid"),
        (7, "invalid"),
    ]
    assert report["counts"] == {"applied": 2, "invalid": 4}
    assert "on_hand" in report["results"][2]["message"]
    assert "warehouse" in report["results"][4]["message"]
    assert oms.stock(a) == {"on_hand": 7, "reserved": 0, "available": 7}
    assert oms.stock(b, "WH-EAST") == {"on_hand": 3, "reserved": 0, "available": 3}
    ledger = oms.call("GET", f"/inventory/{a}/ledger").json()
    assert "count-1:2" in str(ledger)

    again = oms.as_role("admin", "admin.wang").call("POST", "/inventory/import?import_id=count-1", text, CSV)
    assert again.json()["counts"] == {"duplicate": 2, "invalid": 4}
    assert oms.stock(a) == {"on_hand": 7, "reserved": 0, "available": 7}


def test_an_unusable_file_is_refused_whole(oms):
    refused = oms.call("POST", "/inventory/import?import_id=x1", "sku,on_hand\r\nA,1", CSV)
    assert refused.status == 422
    assert refused.json()["error"]["code"] == "INVALID_CSV"
    assert "warehouse" in refused.json()["error"]["message"]
    too_many = "sku,warehouse,on_hand\r\n" + "\r\n".join(f"S{i},WH-MAIN,1" for i in range(1001))
    assert oms.call("POST", "/inventory/import?import_id=x2", too_many, CSV).status in (413, 422)
    assert oms.call("POST", "/inventory/import", "sku,warehouse,on_hand\r\nA,W,1", CSV).status == 422
    assert (
        oms.as_role("ops", "ops.li")
        .call("POST", "/inventory/import?import_id=x3", "sku,warehouse,on_hand\r\nA,W,1", CSV)
        .status
        == 403
    )

"""GET /orders: search by status, platform, buyer and creation time; opaque pagination; error bodies."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import pytest

from tests.factories import new_sku, order_body

pytestmark = pytest.mark.e2e


def new_platform() -> str:
    return f"p{uuid.uuid4().hex[:12]}"


def new_buyer() -> str:
    return f"buyer-{uuid.uuid4().hex[:12]}"


def post_orders(oms, stack, count: int, *, seconds_apart: int = 1, **body_kwargs) -> list[str]:
    """POST `count` orders, `seconds_apart` virtual seconds apart; their ids, oldest first."""
    ids, arns = [], []
    for _ in range(count):
        response = oms.post(order_body(**body_kwargs))
        assert response.status == 201, response.body
        ids.append(response.json()["order_id"])
        arns.append(response.json()["execution_arn"])
        stack.clock.advance(seconds_apart)
    for arn in arns:
        oms.wait(arn)
    return ids


def list_all(oms, limit: int, **filters) -> tuple[list[str], int]:
    """Follow next_token to the end: (order ids in the order served, number of pages)."""
    ids: list[str] = []
    pages = 0
    token = None
    while True:
        params = {**filters, "limit": limit, **({"next_token": token} if token else {})}
        response = oms.call("GET", "/orders?" + urlencode(params))
        assert response.status == 200, response.body
        page = response.json()
        assert len(page["items"]) <= limit
        ids += [item["order_id"] for item in page["items"]]
        pages += 1
        token = page["next_token"]
        if token is None:
            return ids, pages
        assert pages < 50, "pagination does not end"


def test_buyer_search_pages_newest_first_without_gaps_or_repeats(oms, stack):
    buyer = new_buyer()
    ids = post_orders(oms, stack, 5, buyer={"id": buyer, "name": "Han Meimei"})
    served, pages = list_all(oms, 2, buyer=buyer)
    assert served == list(reversed(ids))
    assert pages == 3


def test_platform_search_merges_every_shard_in_creation_order(oms, stack):
    platform = new_platform()
    ids = post_orders(oms, stack, 9, platform=platform)
    served, _ = list_all(oms, 3, platform=platform)
    assert served == list(reversed(ids))


def test_orders_created_in_the_same_instant_are_each_served_once(oms, stack):
    platform = new_platform()
    ids = post_orders(oms, stack, 6, seconds_apart=0, platform=platform)
    served, _ = list_all(oms, 4, platform=platform)
    assert sorted(served) == sorted(ids)
    assert len(served) == 6


def test_status_filter_on_top_of_the_platform(oms, stack):
    platform = new_platform()
    sku = new_sku()
    oms.set_stock(sku, 10)
    shipped = post_orders(oms, stack, 2, platform=platform, lines=[(sku, 1)])
    rejected = post_orders(oms, stack, 2, platform=platform, total="999.00")
    served, _ = list_all(oms, 10, platform=platform, status="REJECTED")
    assert served == list(reversed(rejected))
    served, _ = list_all(oms, 10, platform=platform, status="SHIPPED")
    assert served == list(reversed(shipped))


def test_status_index_alone_lists_orders_of_that_status(oms, stack):
    rejected = post_orders(oms, stack, 2, platform=new_platform(), total="999.00")
    response = oms.call("GET", "/orders?status=REJECTED&limit=100")
    assert response.status == 200
    items = response.json()["items"]
    assert {item["status"] for item in items} == {"REJECTED"}
    assert set(rejected) <= {item["order_id"] for item in items}


def test_creation_time_range(oms, stack):
    platform = new_platform()
    first = post_orders(oms, stack, 1, seconds_apart=3600, platform=platform)
    middle_start = stack.clock.now()
    middle = post_orders(oms, stack, 2, seconds_apart=60, platform=platform)
    middle_end = stack.clock.now()
    stack.clock.advance(3600)
    last = post_orders(oms, stack, 1, platform=platform)

    window = {"platform": platform, "from": middle_start.isoformat(), "to": middle_end.isoformat()}
    served, _ = list_all(oms, 1, **window)
    assert served == list(reversed(middle))
    served, _ = list_all(oms, 10, platform=platform, to=middle_start.isoformat())
    assert served == first
    served, _ = list_all(oms, 10, platform=platform, **{"from": middle_end.isoformat()})
    assert served == last


def test_summary_shape(oms, stack):
    buyer = new_buyer()
    (order_id,) = post_orders(oms, stack, 1, buyer={"id": buyer, "name": "Han Meimei"}, total="20.00")
    (item,) = oms.call("GET", f"/orders?buyer={buyer}").json()["items"]
    assert item["order_id"] == order_id
    assert item["buyer"] == {"id": buyer, "name": "Han Meimei"}
    assert item["status"] == "REJECTED"  # the lines add up to 10.00
    assert item["lines"] == 1
    assert item["currency"] == "CNY"


# ---------------------------------------------------------------- errors


def test_a_token_from_another_query_is_refused(oms, stack):
    buyer = new_buyer()
    post_orders(oms, stack, 3, buyer={"id": buyer})
    token = oms.call("GET", f"/orders?buyer={buyer}&limit=1").json()["next_token"]
    assert token
    response = oms.call("GET", f"/orders?buyer={new_buyer()}&limit=1&next_token={token}")
    assert response.status == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST"
    assert "another query" in response.json()["error"]["message"]


@pytest.mark.parametrize("token", ["garbage!", "eyJ2IjoyfQ", "x" * 9000])
def test_a_malformed_token_is_a_4xx_in_the_error_shape(oms, token):
    response = oms.call("GET", f"/orders?next_token={token}")
    assert response.status in (400, 422)
    assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_bad_query_values_name_the_field(oms):
    response = oms.call("GET", "/orders?status=LOST&limit=0")
    assert response.status == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert sorted(f["field"] for f in error["fields"]) == ["query.limit", "query.status"]
    assert "query.status" in error["message"]


def test_from_after_to_is_400(oms):
    response = oms.call("GET", "/orders?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z")
    assert response.status == 400
    assert response.json()["error"] == {
        "code": "BAD_REQUEST",
        "message": "'from' must be before 'to'",
        "fields": [],
    }


def test_unknown_route_is_404_in_the_error_shape(oms):
    response = oms.call("GET", "/orders/ord-000000000000000000000000/nothing")
    assert response.status in (403, 404)
    assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_validation_error_body_names_fields_without_echoing_input(oms):
    body = order_body()
    body["shipping_address"]["phone"] = "not a phone"
    response = oms.post(body)
    assert response.status == 422
    error = response.json()["error"]
    assert [f["field"] for f in error["fields"]] == ["body.shipping_address.phone"]
    assert "not a phone" not in response.body


# ---------------------------------------------------------------- the document


def test_openapi_document_lists_routes_and_the_error_body(oms):
    response = oms.call("GET", "/openapi.json")
    assert response.status == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    assert {"/orders", "/orders/{order_id}", "/orders/{order_id}/history"} <= set(doc["paths"])
    assert "/openapi.json" not in doc["paths"]
    assert {p["name"] for p in doc["paths"]["/orders"]["get"]["parameters"]} >= {
        "status",
        "platform",
        "buyer",
        "from",
        "to",
        "limit",
        "next_token",
    }
    post = doc["paths"]["/orders"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/OrderIn")
    assert post["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    assert "Error" in doc["components"]["schemas"]
    assert {"staffToken", "platformSignature"} <= set(doc["components"]["securitySchemes"])

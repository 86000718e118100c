"""Hostile requests through the real authorizer and API function (issue: hardening for a real account).

Each case was accepted before the canonical request signature: a signature reused on another path or
query, two different GETs signed in the same millisecond refused as a replay, a staff token issued a
year ahead, a quantity sent as "5" or true, and answers without nosniff.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from functions.core.auth.signing import (
    HEADER_PLATFORM,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    sign_request,
    timestamp_ms,
)
from functions.core.auth.tokens import mint_token
from tests.factories import new_sku, order_body, order_id_of

pytestmark = pytest.mark.e2e


@pytest.fixture
def two_tmall_orders(oms, stack) -> tuple[str, str]:
    if getattr(stack, "tmall_orders_for_hostile_tests", None) is None:
        sku = new_sku()
        oms.set_stock(sku, 4)
        first, _ = oms.run(order_body([(sku, 1)], platform="tmall"))
        second, _ = oms.run(order_body([(sku, 1)], platform="tmall"))
        stack.tmall_orders_for_hostile_tests = (str(first["order_id"]), str(second["order_id"]))
    return stack.tmall_orders_for_hostile_tests  # type: ignore[no-any-return]


def _headers_at(oms, platform: str, method: str, target: str, timestamp: str) -> dict[str, str]:
    from functions.core.secrets import auth_keys

    secret = auth_keys().platform_secret(platform)
    return {
        HEADER_PLATFORM: platform,
        HEADER_TIMESTAMP: timestamp,
        HEADER_SIGNATURE: sign_request(secret, method, target, timestamp, ""),
    }


def test_an_unused_signature_is_refused_on_another_path(oms, two_tmall_orders):
    first, second = two_tmall_orders
    headers = oms.signature("tmall", "", method="GET", target=f"/orders/{first}")
    moved = oms.anonymous().call("GET", f"/orders/{second}", None, headers)
    assert moved.status == 401
    assert moved.json()["error"]["code"] == "BAD_SIGNATURE"
    # the same headers, unused, still work where they were meant to go
    assert oms.anonymous().call("GET", f"/orders/{first}", None, headers).status == 200


def test_an_unused_signature_is_refused_with_another_query(oms, two_tmall_orders):
    headers = oms.signature("tmall", "", method="GET", target="/orders?status=HELD")
    widened = oms.anonymous().call("GET", "/orders?status=SHIPPED", None, headers)
    assert widened.status == 401
    assert widened.json()["error"]["code"] == "BAD_SIGNATURE"
    dropped = oms.anonymous().call("GET", "/orders", None, headers)
    assert dropped.status == 401


def test_query_parameter_order_does_not_matter(oms, two_tmall_orders):
    headers = oms.signature("tmall", "", method="GET", target="/orders?status=SHIPPED&limit=5")
    response = oms.anonymous().call("GET", "/orders?limit=5&status=SHIPPED", None, headers)
    assert response.status == 200


def test_two_gets_signed_in_the_same_millisecond_are_both_accepted(oms, two_tmall_orders):
    first, second = two_tmall_orders
    # a moment no other test signs at (the driver's timestamps count up from the clock's now)
    timestamp = timestamp_ms(oms.stack.clock.now() - timedelta(milliseconds=1234))
    for order_id in (first, second):
        target = f"/orders/{order_id}"
        response = oms.anonymous().call(
            "GET", target, None, _headers_at(oms, "tmall", "GET", target, timestamp)
        )
        assert response.status == 200, response.body
    # the very same request again is a replay
    target = f"/orders/{first}"
    again = oms.anonymous().call("GET", target, None, _headers_at(oms, "tmall", "GET", target, timestamp))
    assert again.status == 401
    assert again.json()["error"]["code"] == "REPLAYED"


def test_a_staff_token_issued_in_the_future_is_refused(oms):
    from functions.core.secrets import auth_keys

    ahead = oms.stack.clock.now() + timedelta(days=365)
    token = mint_token(auth_keys().staff_key, "mallory", "admin", ahead, timedelta(days=7))
    response = oms.anonymous().call("GET", "/orders", None, {"Authorization": f"Bearer {token}"})
    assert response.status == 401
    skewed = mint_token(
        auth_keys().staff_key, "alice", "admin", oms.stack.clock.now() + timedelta(seconds=30)
    )
    assert oms.anonymous().call("GET", "/orders", None, {"Authorization": f"Bearer {skewed}"}).status == 200


@pytest.mark.parametrize("quantity", ["5", True, 5.0], ids=["string", "boolean", "float"])
def test_a_quantity_that_is_not_an_integer_is_422_naming_the_field(oms, quantity):
    body = order_body()
    body["lines"][0]["quantity"] = quantity
    response = oms.call("POST", "/orders", json.dumps(body))
    assert response.status == 422
    assert "quantity" in response.body
    assert oms.get(order_id_of(body)).status == 404


def test_every_answer_carries_the_security_headers(oms, two_tmall_orders):
    first, _ = two_tmall_orders
    answers = {
        "ok": oms.call("GET", f"/orders/{first}"),
        "public": oms.anonymous().call("GET", "/openapi.json"),
        "unauthenticated": oms.anonymous().call("GET", "/orders"),
        "not found": oms.call("GET", "/orders/ord-" + "0" * 24),
        "invalid": oms.call("POST", "/orders", "{"),
        "bad signature": oms.anonymous().call(
            "POST", "/orders", "{}", oms.signature("tmall", "{}", secret="not-the-secret")
        ),
    }
    for name, response in answers.items():
        headers = {k.lower(): v for k, v in response.headers.items()}
        assert headers.get("x-content-type-options") == "nosniff", name
        assert headers.get("cache-control") == "no-store", name
        assert "max-age=" in headers.get("strict-transport-security", ""), name
        assert headers.get("x-frame-options") == "DENY", name

"""Authentication and authorisation through the real authorizer and API functions on the local stack.

Each role against each route of the permissions table, signature failures (bad, stale, replayed),
object-level checks (a platform never reaches another platform's order), and masking for the viewer.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from functions.core.auth.keys import staff_token_key
from functions.core.auth.permissions import PERMISSIONS
from functions.core.auth.principals import PLATFORM, PUBLIC, Role
from functions.core.auth.signing import sign_request, timestamp_ms
from functions.core.auth.tokens import mint_token
from tests.factories import new_sku, order_body, order_id_of

pytestmark = pytest.mark.e2e

IDENTITIES = [*(("staff", r.value) for r in Role), ("platform", "tmall"), ("anonymous", "")]


@pytest.fixture
def tmall_order(oms, stack) -> str:
    """One shipped tmall order per local stack (the session may start a new one between modules)."""
    if getattr(stack, "tmall_order_for_auth_tests", None) is None:
        order, _ = oms.run(order_body(platform="tmall"))
        stack.tmall_order_for_auth_tests = str(order["order_id"])
    return str(stack.tmall_order_for_auth_tests)


def driver(oms, kind: str, name: str):
    if kind == "staff":
        return oms.as_role(name)
    if kind == "platform":
        return oms.as_platform(name)
    return oms.anonymous()


def concrete(route: str, order_id: str) -> str:
    return (
        route.replace("{order_id}", order_id)
        .replace("{sku}", "SKU-1")
        .replace("{shipment_id}", "shp-1")
        .replace("{exception_id}", "exc-" + "0" * 24)
    )


@pytest.mark.parametrize(("method", "route"), sorted(PERMISSIONS), ids=lambda v: str(v))
@pytest.mark.parametrize(("kind", "name"), IDENTITIES, ids=lambda v: str(v) or "-")
def test_each_identity_against_each_route(oms, tmall_order, method, route, kind, name):
    allowed = PERMISSIONS[(method, route)]
    role = {"staff": name, "platform": PLATFORM, "anonymous": PUBLIC}[kind]
    body = "{}" if method in {"POST", "PUT"} else None
    path = concrete(route, tmall_order)
    response = driver(oms, kind, name).call(method, path, body)
    if not oms.stack.gateway.declares(method, path):  # a route whose work has not landed yet
        assert response.status == 404, response.body
        assert response.json()["error"]["code"] == "NOT_FOUND"
    elif PUBLIC in allowed or role in allowed:
        assert response.status not in (401, 403), response.body
    else:
        assert response.status == (401 if kind == "anonymous" else 403), response.body
    if response.status >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_allowed_reads_answer_200(oms, tmall_order):
    for kind, name in IDENTITIES[:-1]:
        caller = driver(oms, kind, name)
        assert caller.call("GET", f"/orders/{tmall_order}").status == 200
        assert caller.call("GET", f"/orders/{tmall_order}/history").status == 200
        assert caller.call("GET", "/orders?limit=5").status == 200


def test_refusal_names_the_role_and_route(oms, tmall_order):
    response = oms.as_role("viewer").call("POST", f"/orders/{tmall_order}/review", {"decision": "approve"})
    assert response.status == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    assert "viewer" in response.json()["error"]["message"]
    assert "/orders/{order_id}/review" in response.json()["error"]["message"]


def test_undeclared_route_is_answered_by_the_gateway(oms):
    response = oms.as_role("admin").call("DELETE", "/orders")
    assert response.status == 404
    assert response.json()["error"] == {
        "code": "NOT_FOUND",
        "message": "no route DELETE /orders",
        "fields": [],
    }


def test_every_declared_route_is_in_the_permissions_table(stack):
    """A route in template.yaml that the table lacks would be refused to everyone: catch it here."""
    events = stack.template.raw["Resources"][stack.api_function]["Properties"]["Events"].values()
    declared = {(e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in events}
    assert declared - set(PERMISSIONS) == set()


def test_openapi_needs_no_credentials(oms):
    assert oms.anonymous().call("GET", "/openapi.json").status == 200


# ---------------------------------------------------------------- platform signatures


def signed(
    oms,
    platform: str,
    raw: str,
    *,
    secret: str | None = None,
    at=None,
    method: str = "POST",
    target: str = "/orders",
) -> dict[str, str]:
    if at is None:
        return oms.signature(platform, raw, secret, method=method, target=target)
    from functions.core.secrets import auth_keys

    ts = timestamp_ms(at)
    key = secret or auth_keys().platform_secret(platform)
    signature = sign_request(key, method, target, ts, raw)
    return {"X-OMS-Platform": platform, "X-OMS-Timestamp": ts, "X-OMS-Signature": signature}


def test_bad_signature_is_401_and_nothing_is_written(oms):
    body = order_body()
    raw = json.dumps(body)
    response = oms.anonymous().call(
        "POST", "/orders", raw, signed(oms, "tmall", raw, secret="not-the-secret")
    )
    assert response.status == 401
    assert response.json()["error"]["code"] == "BAD_SIGNATURE"
    assert oms.get(order_id_of(body)).status == 404


def test_body_changed_after_signing_is_401(oms):
    body = order_body()
    raw = json.dumps(body)
    headers = signed(oms, "tmall", raw)
    tampered = json.dumps({**body, "remark": "changed in flight"})
    response = oms.anonymous().call("POST", "/orders", tampered, headers)
    assert response.status == 401
    assert response.json()["error"]["code"] == "BAD_SIGNATURE"
    assert oms.get(order_id_of(body)).status == 404


def test_another_platforms_secret_does_not_sign_for_this_one(oms):
    from functions.core.secrets import auth_keys

    raw = json.dumps(order_body(platform="tmall"))
    headers = signed(oms, "tmall", raw, secret=auth_keys().platform_secret("jd"))
    assert oms.anonymous().call("POST", "/orders", raw, headers).status == 401


@pytest.mark.parametrize("minutes", [-6, 6])
def test_stale_or_future_timestamp_is_401(oms, minutes):
    body = order_body()
    raw = json.dumps(body)
    at = oms.stack.clock.now() + timedelta(minutes=minutes)
    response = oms.anonymous().call("POST", "/orders", raw, signed(oms, "tmall", raw, at=at))
    assert response.status == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    assert oms.get(order_id_of(body)).status == 404


def test_replayed_signature_is_401(oms):
    body = order_body()
    raw = json.dumps(body)
    headers = signed(oms, "tmall", raw)
    first = oms.anonymous().call("POST", "/orders", raw, headers)
    assert first.status == 201
    oms.wait(first.json()["execution_arn"])
    again = oms.anonymous().call("POST", "/orders", raw, headers)
    assert again.status == 401
    assert again.json()["error"]["code"] == "REPLAYED"
    fresh = oms.anonymous().call("POST", "/orders", raw, signed(oms, "tmall", raw))
    assert fresh.status == 200  # the same order sent again, signed afresh: an idempotent resend


def test_a_replay_racing_the_original_is_refused(oms):
    body = order_body()
    raw = json.dumps(body)
    headers = signed(oms, "tmall", raw)
    barrier = threading.Barrier(6)

    def send(_: int) -> int:
        barrier.wait()
        return oms.anonymous().call("POST", "/orders", raw, headers).status

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(send, range(6)))
    assert statuses == [201] + [401] * 5
    oms.wait(oms.executions_of(body)[0]["executionArn"])


def test_signed_get_with_empty_body(oms, tmall_order):
    response = oms.anonymous().call(
        "GET",
        f"/orders/{tmall_order}",
        None,
        signed(oms, "tmall", "", method="GET", target=f"/orders/{tmall_order}"),
    )
    assert response.status == 200


# ---------------------------------------------------------------- staff tokens


def test_expired_token_is_401(oms):
    from functions.core.secrets import auth_keys

    token = mint_token(auth_keys().staff_key, "alice", "admin", oms.stack.clock.now(), timedelta(minutes=1))
    oms.stack.clock.advance(61)
    response = oms.anonymous().call("GET", "/orders", None, {"Authorization": f"Bearer {token}"})
    assert response.status == 401


def test_token_minted_with_another_key_is_401(oms):
    token = mint_token(staff_token_key(b"k" * 40), "mallory", "admin", oms.stack.clock.now())
    response = oms.anonymous().call("GET", "/orders", None, {"Authorization": f"Bearer {token}"})
    assert response.status == 401


# ---------------------------------------------------------------- object level (BOLA)


def test_a_platform_cannot_read_another_platforms_order(oms, tmall_order):
    jd = oms.as_platform("jd")
    for path in (f"/orders/{tmall_order}", f"/orders/{tmall_order}/history"):
        response = jd.call("GET", path)
        assert response.status == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
    # the answer is the one for an order that does not exist: no existence leak
    missing = jd.call("GET", "/orders/ord-" + "0" * 24).json()
    assert missing["error"]["code"] == "NOT_FOUND"


def test_a_platform_cannot_act_on_another_platforms_order(oms, tmall_order):
    response = oms.as_platform("jd").call("POST", f"/orders/{tmall_order}/payment", {"payment_id": "p"})
    assert response.status == 404


def test_a_platform_cannot_post_orders_in_another_platforms_name(oms):
    body = order_body(platform="tmall")
    response = oms.as_platform("jd").call("POST", "/orders", body)
    assert response.status == 403
    assert oms.get(order_id_of(body)).status == 404


def test_a_platform_lists_only_its_own_orders(oms):
    sku = new_sku()
    oms.set_stock(sku, 5)
    mine, _ = oms.run(order_body([(sku, 1)], platform="pinduoduo", buyer={"id": "shared-buyer-1"}))
    theirs, _ = oms.run(order_body([(sku, 1)], platform="douyin", buyer={"id": "shared-buyer-1"}))
    pdd = oms.as_platform("pinduoduo")
    listed = pdd.call("GET", "/orders?buyer=shared-buyer-1&limit=100").json()["items"]
    assert {o["order_id"] for o in listed} == {mine["order_id"]}
    assert pdd.call("GET", "/orders?platform=douyin").status == 403
    staff = oms.call("GET", "/orders?buyer=shared-buyer-1&limit=100").json()["items"]
    assert {o["order_id"] for o in staff} == {mine["order_id"], theirs["order_id"]}


# ---------------------------------------------------------------- privacy


def test_viewer_sees_personal_data_masked_others_do_not(oms, tmall_order):
    full = oms.as_role("ops").call("GET", f"/orders/{tmall_order}").json()
    assert full["shipping_address"]["name"] == "Li Lei"
    assert full["buyer"]["name"] == "Li Lei"
    masked = oms.as_role("viewer").call("GET", f"/orders/{tmall_order}").json()
    assert masked["shipping_address"]["name"] == "L***"
    assert masked["shipping_address"]["phone"] == "***0000"
    assert masked["shipping_address"]["line1"] == "***"
    assert masked["buyer"]["name"] == "L***"
    assert masked["status"] == full["status"]
    listed = oms.as_role("viewer").call("GET", "/orders?platform=tmall&limit=100").json()["items"]
    assert listed
    assert all(item["buyer"]["name"] is None or item["buyer"]["name"].endswith("***") for item in listed)

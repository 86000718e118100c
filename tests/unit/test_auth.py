"""functions/core/auth/: signatures, tokens and the permissions table, without AWS."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from functions.core.auth.keys import platform_secret, staff_token_key
from functions.core.auth.permissions import PERMISSIONS, authorize, match_route
from functions.core.auth.principals import ANONYMOUS, PLATFORM, AuthError, Principal, Role
from functions.core.auth.signing import (
    canonical_query,
    canonical_request,
    sign_request,
    signed_request,
    split_target,
    timestamp_ms,
    verify_request,
)
from functions.core.auth.tokens import authenticate, mint_token, verify_token

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MASTER = b"m" * 40
KEY = staff_token_key(MASTER)


def signed_headers(
    secret: str, body: str, at: datetime = NOW, platform: str = "tmall", target: str = "/orders"
) -> dict[str, str]:
    ts = timestamp_ms(at)
    signature = sign_request(secret, "POST", target, ts, body)
    return {"X-OMS-Platform": platform, "X-OMS-Timestamp": ts, "X-OMS-Signature": signature}


# ---------------------------------------------------------------- platform signatures


def test_platform_secrets_differ_per_platform_and_master():
    assert platform_secret(MASTER, "tmall") != platform_secret(MASTER, "jd")
    assert platform_secret(MASTER, "tmall") != platform_secret(b"x" * 40, "tmall")
    assert platform_secret(MASTER, "tmall", {"tmall": "explicit" * 5}) == "explicit" * 5


def test_good_signature_passes_and_header_names_are_case_insensitive():
    secret = platform_secret(MASTER, "tmall")
    headers = {k.lower(): v for k, v in signed_headers(secret, '{"a":1}').items()}
    signed = signed_request(headers, NOW)
    assert signed is not None
    assert signed.principal == Principal("platform", "tmall", PLATFORM)
    verify_request(signed, secret, "POST", "/orders", [], '{"a":1}')
    verify_request(signed, secret, "post", "/orders", [], b'{"a":1}')


@pytest.mark.parametrize(
    ("secret", "body"),
    [("wrong-secret", '{"a":1}'), (None, '{"a":2}'), (None, '{"a":1} ')],
    ids=["wrong-secret", "other-body", "body-with-trailing-space"],
)
def test_bad_signature_is_refused(secret, body):
    right = platform_secret(MASTER, "tmall")
    signed = signed_request(signed_headers(secret or right, '{"a":1}' if secret else body), NOW)
    assert signed is not None
    with pytest.raises(AuthError) as refused:
        verify_request(signed, right, "POST", "/orders", [], '{"a":1}')
    assert (refused.value.status, refused.value.code) == (401, "BAD_SIGNATURE")


@pytest.mark.parametrize("offset", [timedelta(minutes=-5, seconds=-1), timedelta(minutes=5, seconds=1)])
def test_stale_or_future_timestamp_is_refused(offset):
    headers = signed_headers("s" * 64, "", at=NOW + offset)
    with pytest.raises(AuthError) as refused:
        signed_request(headers, NOW)
    assert refused.value.code == "STALE_REQUEST"


@pytest.mark.parametrize("offset", [timedelta(minutes=-4, seconds=-59), timedelta(minutes=4, seconds=59)])
def test_timestamps_inside_the_window_pass(offset):
    assert signed_request(signed_headers("s" * 64, "", at=NOW + offset), NOW) is not None


@pytest.mark.parametrize(
    "change",
    [
        {"X-OMS-Signature": None},
        {"X-OMS-Platform": "Not A Platform"},
        {"X-OMS-Timestamp": "2026-03-01T12:00:00Z"},
        {"X-OMS-Signature": "abc"},
    ],
    ids=["missing-signature", "bad-platform", "iso-timestamp", "short-signature"],
)
def test_malformed_signature_headers_are_401(change):
    headers = signed_headers("s" * 64, "")
    for key, value in change.items():
        if value is None:
            del headers[key]
        else:
            headers[key] = value
    with pytest.raises(AuthError) as refused:
        signed_request(headers, NOW)
    assert refused.value.status == 401


# ---------------------------------------------------------------- staff tokens


def test_token_round_trip():
    token = mint_token(KEY, "alice", Role.OPS, NOW)
    assert verify_token(KEY, token, NOW + timedelta(hours=11)) == Principal("staff", "alice", "ops")


def test_expired_token_is_refused():
    token = mint_token(KEY, "alice", "ops", NOW, ttl=timedelta(minutes=10))
    with pytest.raises(AuthError) as refused:
        verify_token(KEY, token, NOW + timedelta(minutes=10))
    assert refused.value.code == "TOKEN_EXPIRED"


def _forge(token: str, **claims) -> str:
    head, payload, sig = token.split(".")
    doc = json.loads(base64.urlsafe_b64decode(payload + "=="))
    doc.update(claims)
    new_payload = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")
    return f"{head}.{new_payload}.{sig}"


def test_token_living_longer_than_the_maximum_is_refused():
    token = mint_token(KEY, "bob", "admin", NOW, ttl=timedelta(days=7))
    with pytest.raises(AuthError):
        verify_token(KEY, _forge(token, exp=int((NOW + timedelta(days=8)).timestamp())), NOW)
    # (a forged exp also breaks the signature; the lifetime check stands on its own for a leaked key)


def test_tampered_role_is_refused():
    token = mint_token(KEY, "bob", "viewer", NOW)
    with pytest.raises(AuthError):
        verify_token(KEY, _forge(token, role="admin"), NOW)


def test_token_of_another_key_is_refused():
    token = mint_token(staff_token_key(b"z" * 40), "bob", "admin", NOW)
    with pytest.raises(AuthError):
        verify_token(KEY, token, NOW)


def test_alg_none_is_refused():
    token = mint_token(KEY, "bob", "admin", NOW)
    _, payload, _ = token.split(".")
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    with pytest.raises(AuthError):
        verify_token(KEY, f"{none_header}.{payload}.", NOW)


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c", "x" * 5000, "....."])
def test_garbage_tokens_are_refused(token):
    with pytest.raises(AuthError):
        verify_token(KEY, token, NOW)


def test_minting_refuses_unknown_roles_and_bad_users():
    with pytest.raises(ValueError, match="Role"):
        mint_token(KEY, "alice", "root", NOW)
    with pytest.raises(ValueError, match="user"):
        mint_token(KEY, "alice smith", "ops", NOW)


def test_authenticate_prefers_nothing_when_both_are_sent():
    headers = {
        "Authorization": "Bearer " + mint_token(KEY, "a", "ops", NOW),
        **signed_headers("s" * 64, ""),
    }
    with pytest.raises(AuthError, match="not both"):
        authenticate(headers, NOW, KEY)
    assert authenticate({}, NOW, KEY) == (ANONYMOUS, None)
    with pytest.raises(AuthError):
        authenticate({"Authorization": "Basic abc"}, NOW, KEY)


# ---------------------------------------------------------------- the permissions table


def test_every_route_of_the_table_matches_itself_and_a_concrete_path():
    for method, route in PERMISSIONS:
        assert match_route(method, route) == route
        concrete = route.replace("{order_id}", "ord-" + "0" * 24).replace("{sku}", "SKU-1")
        assert match_route(method.lower(), concrete + "?x=1") == route


def test_unknown_routes_and_methods_are_refused_for_everyone():
    admin = Principal("staff", "root", "admin")
    for method, path in [("GET", "/secrets"), ("DELETE", "/orders/ord-1"), ("GET", "/orders/a/b/c")]:
        with pytest.raises(AuthError) as refused:
            authorize(method, path, admin)
        assert refused.value.status == 403


def test_roles():
    order = "/orders/ord-" + "0" * 24
    allowed = {
        ("POST", order + "/review"): {"ops", "admin"},
        ("POST", order + "/intercept"): {"ops", "admin"},
        ("POST", order + "/aftersales"): {"customer_service", "admin", "platform"},
        ("PUT", "/rules"): {"admin"},
        ("PUT", "/inventory/SKU-1"): {"admin"},
        ("GET", "/reports/sales"): {"viewer", "ops", "customer_service", "merchandiser", "admin"},
        ("POST", "/orders"): {"platform"},
        ("GET", order): {"viewer", "ops", "customer_service", "merchandiser", "admin", "platform"},
        ("PUT", "/products/SKU-1"): {"merchandiser", "admin"},
        ("POST", "/products/import"): {"merchandiser", "admin"},
        ("GET", "/products"): {"viewer", "ops", "customer_service", "merchandiser", "admin"},
    }
    principals = [Principal("staff", "u", r.value) for r in Role] + [
        Principal("platform", "tmall", "platform")
    ]
    for (method, path), roles in allowed.items():
        for principal in principals:
            if principal.role in roles:
                authorize(method, path, principal)
            else:
                with pytest.raises(AuthError) as refused:
                    authorize(method, path, principal)
                assert refused.value.status == 403


def test_anonymous_is_401_except_on_public_routes():
    assert authorize("GET", "/openapi.json", ANONYMOUS) == "/openapi.json"
    with pytest.raises(AuthError) as refused:
        authorize("GET", "/orders", ANONYMOUS)
    assert refused.value.status == 401


def test_principal_context_round_trip_and_forgeries():
    for principal in (Principal("staff", "alice", "ops"), Principal("platform", "jd", "platform")):
        assert Principal.from_context(principal.to_context()) == principal
    assert Principal.from_context({"kind": "staff", "id": "x", "role": "root"}) == ANONYMOUS
    assert Principal.from_context({"kind": "platform", "id": "jd", "role": "admin"}) == ANONYMOUS
    assert Principal.from_context(None) == ANONYMOUS


# ---------------------------------------------------------------- canonical request (hostile cases)


def test_the_canonical_request_names_method_path_sorted_query_timestamp_and_body_hash():
    text = canonical_request("get", "/orders", [("status", "HELD"), ("limit", "5")], "1700000000000", "")
    assert text.split("\n") == [
        "OMS-HMAC-SHA256",
        "GET",
        "/orders",
        "limit=5&status=HELD",
        "1700000000000",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ]


def test_query_values_are_percent_encoded_before_sorting():
    assert canonical_query([("b", "x y"), ("a", "é/&="), ("a", "1")]) == "a=%C3%A9%2F%26%3D&a=1&b=x%20y"


@pytest.mark.parametrize(
    ("method", "target"),
    [("GET", "/orders"), ("POST", "/orders/x"), ("POST", "/orders?platform=jd"), ("PUT", "/orders")],
    ids=["other-method", "other-path", "added-query", "put"],
)
def test_a_signature_is_refused_for_any_other_request(method, target):
    secret = platform_secret(MASTER, "tmall")
    signed = signed_request(signed_headers(secret, "{}"), NOW)  # signed: POST /orders, no query
    assert signed is not None
    path, query = split_target(target)
    with pytest.raises(AuthError) as refused:
        verify_request(signed, secret, method, path, query, "{}")
    assert refused.value.code == "BAD_SIGNATURE"


def test_replay_keys_differ_per_request_with_the_same_timestamp():
    secret = platform_secret(MASTER, "tmall")
    keys = set()
    for target in ("/orders/a", "/orders/b", "/orders?limit=1"):
        signed = signed_request(signed_headers(secret, "", target=target), NOW)
        assert signed is not None
        path, query = split_target(target)
        keys.add(verify_request(signed, secret, "POST", path, query, ""))
    assert len(keys) == 3


@pytest.mark.parametrize("ahead", [timedelta(days=365), timedelta(minutes=2)], ids=["a-year", "two-minutes"])
def test_a_token_issued_in_the_future_is_refused(ahead):
    token = mint_token(KEY, "mallory", Role.ADMIN, NOW + ahead, timedelta(days=7))
    with pytest.raises(AuthError):
        verify_token(KEY, token, NOW)


def test_a_token_within_the_clock_skew_passes():
    token = mint_token(KEY, "alice", Role.ADMIN, NOW + timedelta(seconds=30))
    assert verify_token(KEY, token, NOW).id == "alice"


VECTOR_SECRET = "3f6c1a2b9d8e7f60514233445566778899aabbccddeeff00112233445566778f"
VECTORS = [
    ("POST", "/orders", '{"platform":"tmall","platform_order_id":"TM-1001"}', ""),
    ("GET", "/orders?status=SHIPPED&limit=5", "", "limit=5&status=SHIPPED"),
    (
        "GET",
        "/orders?from=2026-11-11T00:00:00%2B08:00&status=HELD",
        "",
        "from=2026-11-11T00%3A00%3A00%2B08%3A00&status=HELD",
    ),
]


@pytest.mark.parametrize(("method", "target", "body", "query"), VECTORS)
def test_the_documented_test_vectors_are_what_the_oms_computes(method, target, body, query):
    """docs/integrators.md's table: an integrator checks their code against these."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "integrators.md").read_text()
    signature = sign_request(VECTOR_SECRET, method, target, "1764064805123", body)
    row = next(line for line in doc.splitlines() if f"`{method} {target}" in line)
    assert f"`{signature}`" in row
    assert canonical_query(split_target(target)[1]) == query
    if query:
        assert f"`{query}`" in row

"""functions/core/auth.py: signatures, tokens and the permissions table, without AWS."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from functions.core import auth
from functions.core.auth import PERMISSIONS, AuthError, Principal, Role

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MASTER = b"m" * 40
KEY = auth.staff_token_key(MASTER)


def signed_headers(
    secret: str, body: str, at: datetime = NOW, platform: str = "tmall", target: str = "/orders"
) -> dict[str, str]:
    ts = auth.timestamp_ms(at)
    signature = auth.sign_request(secret, "POST", target, ts, body)
    return {"X-OMS-Platform": platform, "X-OMS-Timestamp": ts, "X-OMS-Signature": signature}


# ---------------------------------------------------------------- platform signatures


def test_platform_secrets_differ_per_platform_and_master():
    assert auth.platform_secret(MASTER, "tmall") != auth.platform_secret(MASTER, "jd")
    assert auth.platform_secret(MASTER, "tmall") != auth.platform_secret(b"x" * 40, "tmall")
    assert auth.platform_secret(MASTER, "tmall", {"tmall": "explicit" * 5}) == "explicit" * 5


def test_good_signature_passes_and_header_names_are_case_insensitive():
    secret = auth.platform_secret(MASTER, "tmall")
    headers = {k.lower(): v for k, v in signed_headers(secret, '{"a":1}').items()}
    signed = auth.signed_request(headers, NOW)
    assert signed is not None
    assert signed.principal == Principal("platform", "tmall", auth.PLATFORM)
    auth.verify_request(signed, secret, "POST", "/orders", [], '{"a":1}')
    auth.verify_request(signed, secret, "post", "/orders", [], b'{"a":1}')


@pytest.mark.parametrize(
    ("secret", "body"),
    [("wrong-secret", '{"a":1}'), (None, '{"a":2}'), (None, '{"a":1} ')],
    ids=["wrong-secret", "other-body", "body-with-trailing-space"],
)
def test_bad_signature_is_refused(secret, body):
    right = auth.platform_secret(MASTER, "tmall")
    signed = auth.signed_request(signed_headers(secret or right, '{"a":1}' if secret else body), NOW)
    assert signed is not None
    with pytest.raises(AuthError) as refused:
        auth.verify_request(signed, right, "POST", "/orders", [], '{"a":1}')
    assert (refused.value.status, refused.value.code) == (401, "BAD_SIGNATURE")


@pytest.mark.parametrize("offset", [timedelta(minutes=-5, seconds=-1), timedelta(minutes=5, seconds=1)])
def test_stale_or_future_timestamp_is_refused(offset):
    headers = signed_headers("s" * 64, "", at=NOW + offset)
    with pytest.raises(AuthError) as refused:
        auth.signed_request(headers, NOW)
    assert refused.value.code == "STALE_REQUEST"


@pytest.mark.parametrize("offset", [timedelta(minutes=-4, seconds=-59), timedelta(minutes=4, seconds=59)])
def test_timestamps_inside_the_window_pass(offset):
    assert auth.signed_request(signed_headers("s" * 64, "", at=NOW + offset), NOW) is not None


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
        auth.signed_request(headers, NOW)
    assert refused.value.status == 401


# ---------------------------------------------------------------- staff tokens


def test_token_round_trip():
    token = auth.mint_token(KEY, "alice", Role.OPS, NOW)
    assert auth.verify_token(KEY, token, NOW + timedelta(hours=11)) == Principal("staff", "alice", "ops")


def test_expired_token_is_refused():
    token = auth.mint_token(KEY, "alice", "ops", NOW, ttl=timedelta(minutes=10))
    with pytest.raises(AuthError) as refused:
        auth.verify_token(KEY, token, NOW + timedelta(minutes=10))
    assert refused.value.code == "TOKEN_EXPIRED"


def _forge(token: str, **claims) -> str:
    head, payload, sig = token.split(".")
    doc = json.loads(base64.urlsafe_b64decode(payload + "=="))
    doc.update(claims)
    new_payload = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")
    return f"{head}.{new_payload}.{sig}"


def test_token_living_longer_than_the_maximum_is_refused():
    token = auth.mint_token(KEY, "bob", "admin", NOW, ttl=timedelta(days=7))
    with pytest.raises(AuthError):
        auth.verify_token(KEY, _forge(token, exp=int((NOW + timedelta(days=8)).timestamp())), NOW)
    # (a forged exp also breaks the signature; the lifetime check stands on its own for a leaked key)


def test_tampered_role_is_refused():
    token = auth.mint_token(KEY, "bob", "viewer", NOW)
    with pytest.raises(AuthError):
        auth.verify_token(KEY, _forge(token, role="admin"), NOW)


def test_token_of_another_key_is_refused():
    token = auth.mint_token(auth.staff_token_key(b"z" * 40), "bob", "admin", NOW)
    with pytest.raises(AuthError):
        auth.verify_token(KEY, token, NOW)


def test_alg_none_is_refused():
    token = auth.mint_token(KEY, "bob", "admin", NOW)
    _, payload, _ = token.split(".")
    none_header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    with pytest.raises(AuthError):
        auth.verify_token(KEY, f"{none_header}.{payload}.", NOW)


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c", "x" * 5000, "....."])
def test_garbage_tokens_are_refused(token):
    with pytest.raises(AuthError):
        auth.verify_token(KEY, token, NOW)


def test_minting_refuses_unknown_roles_and_bad_users():
    with pytest.raises(ValueError, match="Role"):
        auth.mint_token(KEY, "alice", "root", NOW)
    with pytest.raises(ValueError, match="user"):
        auth.mint_token(KEY, "alice smith", "ops", NOW)


def test_authenticate_prefers_nothing_when_both_are_sent():
    headers = {
        "Authorization": "Bearer " + auth.mint_token(KEY, "a", "ops", NOW),
        **signed_headers("s" * 64, ""),
    }
    with pytest.raises(AuthError, match="not both"):
        auth.authenticate(headers, NOW, KEY)
    assert auth.authenticate({}, NOW, KEY) == (auth.ANONYMOUS, None)
    with pytest.raises(AuthError):
        auth.authenticate({"Authorization": "Basic abc"}, NOW, KEY)


# ---------------------------------------------------------------- the permissions table


def test_every_route_of_the_table_matches_itself_and_a_concrete_path():
    for method, route in PERMISSIONS:
        assert auth.match_route(method, route) == route
        concrete = route.replace("{order_id}", "ord-" + "0" * 24).replace("{sku}", "SKU-1")
        assert auth.match_route(method.lower(), concrete + "?x=1") == route


def test_unknown_routes_and_methods_are_refused_for_everyone():
    admin = Principal("staff", "root", "admin")
    for method, path in [("GET", "/secrets"), ("DELETE", "/orders/ord-1"), ("GET", "/orders/a/b/c")]:
        with pytest.raises(AuthError) as refused:
            auth.authorize(method, path, admin)
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
                auth.authorize(method, path, principal)
            else:
                with pytest.raises(AuthError) as refused:
                    auth.authorize(method, path, principal)
                assert refused.value.status == 403


def test_anonymous_is_401_except_on_public_routes():
    assert auth.authorize("GET", "/openapi.json", auth.ANONYMOUS) == "/openapi.json"
    with pytest.raises(AuthError) as refused:
        auth.authorize("GET", "/orders", auth.ANONYMOUS)
    assert refused.value.status == 401


def test_principal_context_round_trip_and_forgeries():
    for principal in (Principal("staff", "alice", "ops"), Principal("platform", "jd", "platform")):
        assert Principal.from_context(principal.to_context()) == principal
    assert Principal.from_context({"kind": "staff", "id": "x", "role": "root"}) == auth.ANONYMOUS
    assert Principal.from_context({"kind": "platform", "id": "jd", "role": "admin"}) == auth.ANONYMOUS
    assert Principal.from_context(None) == auth.ANONYMOUS


# ---------------------------------------------------------------- canonical request (hostile cases)


def test_the_canonical_request_names_method_path_sorted_query_timestamp_and_body_hash():
    text = auth.canonical_request("get", "/orders", [("status", "HELD"), ("limit", "5")], "1700000000000", "")
    assert text.split("\n") == [
        "OMS-HMAC-SHA256",
        "GET",
        "/orders",
        "limit=5&status=HELD",
        "1700000000000",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ]


def test_query_values_are_percent_encoded_before_sorting():
    assert auth.canonical_query([("b", "x y"), ("a", "é/&="), ("a", "1")]) == "a=%C3%A9%2F%26%3D&a=1&b=x%20y"


@pytest.mark.parametrize(
    ("method", "target"),
    [("GET", "/orders"), ("POST", "/orders/x"), ("POST", "/orders?platform=jd"), ("PUT", "/orders")],
    ids=["other-method", "other-path", "added-query", "put"],
)
def test_a_signature_is_refused_for_any_other_request(method, target):
    secret = auth.platform_secret(MASTER, "tmall")
    signed = auth.signed_request(signed_headers(secret, "{}"), NOW)  # signed: POST /orders, no query
    assert signed is not None
    path, query = auth.split_target(target)
    with pytest.raises(AuthError) as refused:
        auth.verify_request(signed, secret, method, path, query, "{}")
    assert refused.value.code == "BAD_SIGNATURE"


def test_replay_keys_differ_per_request_with_the_same_timestamp():
    secret = auth.platform_secret(MASTER, "tmall")
    keys = set()
    for target in ("/orders/a", "/orders/b", "/orders?limit=1"):
        signed = auth.signed_request(signed_headers(secret, "", target=target), NOW)
        assert signed is not None
        path, query = auth.split_target(target)
        keys.add(auth.verify_request(signed, secret, "POST", path, query, ""))
    assert len(keys) == 3


@pytest.mark.parametrize("ahead", [timedelta(days=365), timedelta(minutes=2)], ids=["a-year", "two-minutes"])
def test_a_token_issued_in_the_future_is_refused(ahead):
    token = auth.mint_token(KEY, "mallory", Role.ADMIN, NOW + ahead, timedelta(days=7))
    with pytest.raises(AuthError):
        auth.verify_token(KEY, token, NOW)


def test_a_token_within_the_clock_skew_passes():
    token = auth.mint_token(KEY, "alice", Role.ADMIN, NOW + timedelta(seconds=30))
    assert auth.verify_token(KEY, token, NOW).id == "alice"


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
    signature = auth.sign_request(VECTOR_SECRET, method, target, "1764064805123", body)
    row = next(line for line in doc.splitlines() if f"`{method} {target}" in line)
    assert f"`{signature}`" in row
    assert auth.canonical_query(auth.split_target(target)[1]) == query
    if query:
        assert f"`{query}`" in row

"""Who may call what: principals, the one permissions table, platform signatures and staff tokens.

Pure logic (no AWS): the Lambda authorizer (functions/authorizer) and the API function
(functions/api/security.py) both decide with these functions, on AWS and locally alike.

* Platforms sign every request: hex HMAC-SHA256, keyed with the platform's secret, over the canonical
  request (scheme, method, path, sorted query, X-OMS-Timestamp, SHA-256 of the raw body, one a line;
  docs/integrators.md has test vectors). The timestamp (Unix milliseconds) must be within five minutes
  of the server's clock, and a canonical request is accepted once (the API function records its hash).
* Staff send `Authorization: Bearer <token>`: a JWT (HS256) whose claims name the user and one role;
  a token issued in the future (beyond a minute of clock skew) is refused.
* Carriers sign their tracking webhooks the same way as platforms, naming themselves in `X-OMS-Carrier`
  (instead of `X-OMS-Platform`) and keyed with the carrier's own secret (docs/shipping.md).
* PERMISSIONS maps (method, route) to who may call it. A route that is not in it is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlsplit

HEADER_PLATFORM = "X-OMS-Platform"
HEADER_CARRIER = "X-OMS-Carrier"
HEADER_TIMESTAMP = "X-OMS-Timestamp"
HEADER_SIGNATURE = "X-OMS-Signature"
REPLAY_WINDOW = timedelta(minutes=5)
SIGNATURE_SCHEME = "OMS-HMAC-SHA256"  # the first line of every canonical request
TOKEN_CLOCK_SKEW = timedelta(minutes=1)  # how far ahead of ours the minting clock may run
TOKEN_ISSUER = "oms"  # noqa: S105 - the iss claim, not a secret
MAX_TOKEN_TTL = timedelta(days=7)

_PLATFORM_NAME = re.compile(r"^[a-z][a-z0-9_-]{1,31}$")
_CARRIER_NAME = re.compile(r"^[A-Z][A-Z0-9]{1,15}$")  # the carrier codes of CarrierRules
_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")
_TIMESTAMP = re.compile(r"^[0-9]{10,16}$")


class Role(StrEnum):
    """Staff roles. Admin may do everything staff may do; the others only what the table lists."""

    OPS = "ops"  # review held orders, intercept orders
    CUSTOMER_SERVICE = "customer_service"  # after-sales cases
    ADMIN = "admin"  # rules, inventory, and everything above
    MERCHANDISER = "merchandiser"  # the product master (商品资料)
    VIEWER = "viewer"  # read only, personal data masked


PLATFORM = "platform"  # the role of a signing platform (scoped to its own orders)
CARRIER = "carrier"  # the role of a signing carrier (scoped to its own shipments)
PUBLIC = "public"  # no credentials needed

Access = frozenset[str]
READERS: Access = frozenset(Role)
ADMIN: Access = frozenset({Role.ADMIN})
OPS: Access = frozenset({Role.OPS, Role.ADMIN})
AFTERSALES: Access = frozenset({Role.CUSTOMER_SERVICE, Role.ADMIN})
MERCHANDISING: Access = frozenset({Role.MERCHANDISER, Role.ADMIN})
OWN_PLATFORM: Access = frozenset({PLATFORM})
OWN_CARRIER: Access = frozenset({CARRIER})

# The one permissions table: (method, route) -> the roles (and PLATFORM / PUBLIC) that may call it.
# Routes are API Gateway resource paths. A platform reaches only its own orders on every route with
# {order_id} (checked in functions/api/security.py). A new route is one added line; without it, 403.
PERMISSIONS: dict[tuple[str, str], Access] = {
    ("GET", "/openapi.json"): frozenset({PUBLIC}),
    ("POST", "/orders"): OWN_PLATFORM,
    ("GET", "/orders"): READERS | OWN_PLATFORM,
    ("GET", "/orders/{order_id}"): READERS | OWN_PLATFORM,
    ("GET", "/orders/{order_id}/history"): READERS | OWN_PLATFORM,
    ("POST", "/orders/{order_id}/review"): OPS,
    ("POST", "/orders/{order_id}/intercept"): OPS,
    ("POST", "/orders/{order_id}/payment"): ADMIN | OWN_PLATFORM,
    ("POST", "/orders/{order_id}/aftersales"): AFTERSALES | OWN_PLATFORM,
    ("GET", "/orders/{order_id}/aftersales"): READERS | OWN_PLATFORM,
    ("POST", "/shipments/{shipment_id}/tracking"): OWN_CARRIER | ADMIN,
    ("GET", "/shipments/{shipment_id}"): READERS | OWN_PLATFORM,
    ("GET", "/exceptions"): READERS,
    ("POST", "/exceptions/{exception_id}/resolve"): OPS,
    # After-sales cases (functions/aftersales): a platform reaches the cases of its own orders only.
    ("GET", "/aftersales/{case_id}"): READERS | OWN_PLATFORM,
    ("POST", "/aftersales/{case_id}/approve"): AFTERSALES,
    ("POST", "/aftersales/{case_id}/reject"): AFTERSALES,
    ("POST", "/aftersales/{case_id}/return-shipped"): AFTERSALES | OWN_PLATFORM,
    ("POST", "/aftersales/{case_id}/received"): OPS,
    ("POST", "/aftersales/{case_id}/inspect"): OPS,
    ("POST", "/refunds/{refund_id}/callback"): ADMIN | OWN_PLATFORM,
    ("GET", "/holds"): READERS,
    ("POST", "/holds/decisions"): OPS,
    ("POST", "/orders/interceptions"): OPS,
    ("GET", "/orders/export"): READERS,
    ("GET", "/audit"): ADMIN,
    ("POST", "/orders/{order_id}/changes/address"): OPS | OWN_PLATFORM,
    ("POST", "/orders/{order_id}/changes/lines"): OPS | OWN_PLATFORM,
    ("POST", "/orders/{order_id}/changes/split"): OPS,
    ("GET", "/inventory/{sku}"): READERS,
    ("PUT", "/inventory/{sku}"): ADMIN,
    ("POST", "/inventory/import"): ADMIN,
    ("GET", "/inventory/{sku}/ledger"): READERS,
    ("GET", "/rules"): READERS,
    ("GET", "/rules/versions"): READERS,
    ("GET", "/rules/versions/{number}"): READERS,
    ("PUT", "/rules"): ADMIN,
    ("POST", "/rules/dry-run"): ADMIN,
    ("GET", "/reports/sales"): READERS,
    ("GET", "/events"): OPS,
    ("GET", "/events/schemas"): READERS,
    ("POST", "/events/replay"): ADMIN,
    ("PUT", "/webhooks/{platform}"): ADMIN,
    ("GET", "/webhooks"): ADMIN,
    ("GET", "/webhooks/deliveries"): OPS,
    # Channel connectors (functions/connectors): shops are admin's, SKU maps ops'; a push is signed the
    # platform's own way with its shop's secret, so one shop's secret admits only that shop's orders.
    ("PUT", "/channels/{platform}/shops/{shop}"): ADMIN,
    ("GET", "/channels"): READERS,
    ("PUT", "/channels/{platform}/shops/{shop}/sku-map"): OPS,
    ("GET", "/channels/{platform}/shops/{shop}/held"): READERS,
    ("POST", "/channels/{platform}/webhooks"): frozenset({PUBLIC}),
    # Product master (functions/products): merchandisers and admins write, every staff role reads.
    ("GET", "/products"): READERS,
    ("GET", "/products/{sku}"): READERS,
    ("GET", "/products/{sku}/versions"): READERS,
    ("PUT", "/products/{sku}"): MERCHANDISING,
    ("POST", "/products/import"): MERCHANDISING,
}


class AuthError(Exception):
    """Refused: 401 (who are you?) or 403 (you may not)."""

    def __init__(self, status: Literal[401, 403], code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Principal:
    kind: Literal["staff", "platform", "carrier", "anonymous"]
    id: str
    role: str

    @property
    def name(self) -> str:
        """What history events record as the actor: staff:alice, platform:tmall."""
        return f"{self.kind}:{self.id}"

    @property
    def platform(self) -> str | None:
        return self.id if self.kind == "platform" else None

    def to_context(self) -> dict[str, str]:
        """What the authorizer hands the API function (API Gateway passes string values only)."""
        return {"principal": self.name, "kind": self.kind, "id": self.id, "role": self.role}

    @classmethod
    def from_context(cls, context: Mapping[str, Any] | None) -> Principal:
        context = context or {}
        kind, pid, role = context.get("kind"), context.get("id"), context.get("role")
        if kind == "staff" and isinstance(pid, str) and role in set(Role):
            return cls("staff", pid, str(role))
        if kind == "platform" and isinstance(pid, str) and _PLATFORM_NAME.match(pid) and role == PLATFORM:
            return cls("platform", pid, PLATFORM)
        if kind == "carrier" and isinstance(pid, str) and _CARRIER_NAME.match(pid) and role == CARRIER:
            return cls("carrier", pid, CARRIER)
        return ANONYMOUS


ANONYMOUS = Principal("anonymous", "anonymous", PUBLIC)


# ---------------------------------------------------------------- routes


def _compile(route: str) -> re.Pattern[str]:
    parts = [re.escape(p) if not p.startswith("{") else "[^/]+" for p in route.strip("/").split("/")]
    return re.compile("^/" + "/".join(parts) + "$")


# Static routes first: /orders/export is not the order "export" of /orders/{order_id}.
_ROUTES = sorted(
    ((method, route, _compile(route)) for method, route in PERMISSIONS), key=lambda entry: "{" in entry[1]
)


def match_route(method: str, path: str) -> str | None:
    """The table's route for a concrete path (or for the route itself), None when it has none."""
    method = method.upper()
    path = "/" + path.split("?", 1)[0].strip("/")
    for m, route, pattern in _ROUTES:
        if m == method and (path == route or pattern.match(path)):
            return route
    return None


def path_parameter(route: str, path: str, name: str) -> str | None:
    """The value of {name} in `path`, matched against `route`."""
    parts, values = route.strip("/").split("/"), path.split("?", 1)[0].strip("/").split("/")
    if len(parts) != len(values):
        return None
    for part, value in zip(parts, values, strict=True):
        if part == "{" + name + "}":
            return value
    return None


def authorize(method: str, path: str, principal: Principal) -> str:
    """The matched route if `principal` may call it; AuthError otherwise (unknown routes included)."""
    route = match_route(method, path)
    if route is None:
        raise AuthError(403, "FORBIDDEN", f"no permission for {method.upper()} {path}: unknown route")
    allowed = PERMISSIONS[(method.upper(), route)]
    if PUBLIC in allowed or principal.role in allowed:
        return route
    if principal.kind == "anonymous":
        raise AuthError(401, "UNAUTHENTICATED", "missing credentials")
    raise AuthError(
        403, "FORBIDDEN", f"{principal.kind} {principal.role} may not call {method.upper()} {route}"
    )


# ---------------------------------------------------------------- keys


def platform_secret(master: bytes, platform: str, overrides: Mapping[str, str] | None = None) -> str:
    """The platform's signing secret: an explicit one if the admin set it, else derived from the master.

    Derived secrets differ per platform and reveal nothing about each other or the master key.
    """
    if overrides and platform in overrides:
        return overrides[platform]
    return hmac.new(master, f"oms-platform-v1:{platform}".encode(), hashlib.sha256).hexdigest()


def carrier_secret(master: bytes, carrier: str, overrides: Mapping[str, str] | None = None) -> str:
    """A carrier's webhook signing secret: explicit, or derived from the master (as for platforms)."""
    if overrides and carrier in overrides:
        return overrides[carrier]
    return hmac.new(master, f"oms-carrier-v1:{carrier}".encode(), hashlib.sha256).hexdigest()


def webhook_secret(webhook_master: bytes, platform: str) -> str:
    """The key outbound webhooks to `platform` are signed with, derived from the webhook master key: a
    separate secret, so the function that POSTs to platform-chosen URLs never holds the signing key
    that platform and staff credentials derive from."""
    return hmac.new(webhook_master, f"oms-webhook-v1:{platform}".encode(), hashlib.sha256).hexdigest()


def staff_token_key(master: bytes) -> bytes:
    return hmac.new(master, b"oms-staff-token-v1", hashlib.sha256).digest()


# ---------------------------------------------------------------- platform signatures


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """HTTP header names are case-insensitive (API Gateway passes them as the client sent them)."""
    lowered = name.lower()
    for key, value in (headers or {}).items():
        if key.lower() == lowered:
            return value
    return None


def sign(secret: str, timestamp: str, body: str | bytes) -> str:
    """The body signature of outbound webhook deliveries: HMAC-SHA256 over `<timestamp>.<raw body>`.

    Requests to the OMS are signed over the whole canonical request instead (sign_request)."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    message = timestamp.encode() + b"." + raw
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


QueryPairs = Iterable[tuple[str, str]]


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")  # RFC 3986 unreserved characters stay, everything else is %XX


def canonical_query(pairs: QueryPairs) -> str:
    """Decoded (name, value) pairs, each percent-encoded, sorted, joined as `a=1&b=2` (empty if none)."""
    return "&".join(sorted(f"{_encode(name)}={_encode(value)}" for name, value in pairs))


def canonical_request(method: str, path: str, query: QueryPairs, timestamp: str, body: str | bytes) -> str:
    """What a platform or carrier signs: one field a line, the body as its SHA-256 (hex)."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return "\n".join(
        (
            SIGNATURE_SCHEME,
            method.upper(),
            path or "/",
            canonical_query(query),
            timestamp,
            hashlib.sha256(raw).hexdigest(),
        )
    )


def split_target(target: str) -> tuple[str, list[tuple[str, str]]]:
    """The path and the decoded query pairs of a request target (`/orders?status=HELD`, or a full URL)."""
    parts = urlsplit(target)
    return parts.path or "/", parse_qsl(parts.query, keep_blank_values=True)


def sign_request(secret: str, method: str, target: str, timestamp: str, body: str | bytes) -> str:
    """The X-OMS-Signature of a request to the OMS; `target` is the path after the API's base URL, with
    its query string (the base URL's own path, such as the stage `/Prod`, is not part of it)."""
    path, query = split_target(target)
    message = canonical_request(method, path, query, timestamp, body)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def timestamp_ms(at: datetime) -> str:
    return str(int(at.timestamp() * 1000))


@dataclass(frozen=True)
class SignedRequest:
    platform: str  # the signer's name: a platform, or (kind "carrier") a carrier code
    timestamp: str
    signature: str
    kind: Literal["platform", "carrier"] = "platform"

    @property
    def principal(self) -> Principal:
        if self.kind == "carrier":
            return Principal("carrier", self.platform, CARRIER)
        return Principal("platform", self.platform, PLATFORM)


def signed_request(headers: Mapping[str, str] | None, now: datetime) -> SignedRequest | None:
    """The platform (or carrier) signature headers, checked for shape and freshness; None when there are
    none."""
    platform = header(headers, HEADER_PLATFORM)
    carrier = header(headers, HEADER_CARRIER)
    timestamp = header(headers, HEADER_TIMESTAMP)
    signature = header(headers, HEADER_SIGNATURE)
    if platform is None and carrier is None and timestamp is None and signature is None:
        return None
    if platform is not None and carrier is not None:
        raise AuthError(401, "UNAUTHENTICATED", f"send {HEADER_PLATFORM} or {HEADER_CARRIER}, not both")
    signer_header = HEADER_CARRIER if carrier is not None else HEADER_PLATFORM
    signer = carrier if carrier is not None else platform
    if signer is None or timestamp is None or signature is None:
        raise AuthError(
            401, "UNAUTHENTICATED", f"send all of {signer_header}, {HEADER_TIMESTAMP}, {HEADER_SIGNATURE}"
        )
    if carrier is not None and not _CARRIER_NAME.match(carrier):
        raise AuthError(401, "UNAUTHENTICATED", f"{HEADER_CARRIER} is not a carrier code")
    if carrier is None and not _PLATFORM_NAME.match(signer):
        raise AuthError(401, "UNAUTHENTICATED", f"{HEADER_PLATFORM} is not a platform name")
    if not _TIMESTAMP.match(timestamp):
        raise AuthError(401, "UNAUTHENTICATED", f"{HEADER_TIMESTAMP} must be Unix time in milliseconds")
    skew = abs(int(timestamp) / 1000 - now.timestamp())
    if skew > REPLAY_WINDOW.total_seconds():
        raise AuthError(
            401, "STALE_REQUEST", f"{HEADER_TIMESTAMP} is {int(skew)} s from the server's clock (max 300)"
        )
    signature = signature.lower()
    if not _SIGNATURE.match(signature):
        raise AuthError(401, "UNAUTHENTICATED", f"{HEADER_SIGNATURE} must be 64 hex digits")
    return SignedRequest(signer, timestamp, signature, "carrier" if carrier is not None else "platform")


def verify_request(
    request: SignedRequest, secret: str, method: str, path: str, query: QueryPairs, body: str | bytes
) -> str:
    """Constant-time check of the signature against the canonical request; returns the request's replay
    key (SHA-256 of the canonical request: the same request is accepted once, any other one is new)."""
    message = canonical_request(method, path, query, request.timestamp, body)
    expected = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.signature):
        raise AuthError(
            401,
            "BAD_SIGNATURE",
            "signature does not match the canonical request (method, path, query, timestamp, body)",
        )
    return hashlib.sha256(message.encode()).hexdigest()


# ---------------------------------------------------------------- staff tokens (JWT, HS256)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_TOKEN_HEADER = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())


def mint_token(
    key: bytes, user: str, role: Role | str, now: datetime, ttl: timedelta = timedelta(hours=12)
) -> str:
    if not _USER_NAME.match(user):
        raise ValueError(f"user {user!r}: letters, digits and ._@- only, at most 64")
    if ttl <= timedelta(0) or ttl > MAX_TOKEN_TTL:
        raise ValueError(f"ttl must be positive and at most {MAX_TOKEN_TTL}")
    claims = {
        "iss": TOKEN_ISSUER,
        "sub": user,
        "role": Role(role).value,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{_TOKEN_HEADER}.{payload}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def verify_token(key: bytes, token: str, now: datetime) -> Principal:
    refused = AuthError(401, "UNAUTHENTICATED", "invalid staff token")
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 4096:
        raise refused
    head, payload, signature = parts
    try:
        header_doc = json.loads(_unb64(head))
        given = _unb64(signature)
        claims = json.loads(_unb64(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError) as err:
        raise refused from err
    if not isinstance(header_doc, dict) or header_doc.get("alg") != "HS256":
        raise refused  # never "none", never another algorithm
    expected = hmac.new(key, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, given) or not isinstance(claims, dict):
        raise refused
    sub, role, exp, iat = claims.get("sub"), claims.get("role"), claims.get("exp"), claims.get("iat")
    if (
        claims.get("iss") != TOKEN_ISSUER
        or not isinstance(sub, str)
        or not _USER_NAME.match(sub)
        or role not in set(Role)
        or not isinstance(exp, int)
        or not isinstance(iat, int)
        or isinstance(exp, bool)
        or isinstance(iat, bool)
    ):
        raise refused
    if exp <= now.timestamp():
        raise AuthError(401, "TOKEN_EXPIRED", "staff token expired; mint a new one")
    if iat > (now + TOKEN_CLOCK_SKEW).timestamp():
        raise refused  # issued in the future: it would outlive MAX_TOKEN_TTL counted from now
    if exp - iat > MAX_TOKEN_TTL.total_seconds():
        raise refused  # lives longer than any token this OMS issues
    return Principal("staff", sub, str(role))


def bearer(headers: Mapping[str, str] | None) -> str | None:
    value = header(headers, "Authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "UNAUTHENTICATED", "Authorization must be 'Bearer <token>'")
    return token.strip()


def verify_token_with_any(keys: tuple[bytes, ...], token: str, now: datetime) -> Principal:
    """verify_token with the current key, then the previous one (a rotation's overlap)."""
    refused = AuthError(401, "UNAUTHENTICATED", "invalid staff token")
    for key in keys:
        try:
            return verify_token(key, token, now)
        except AuthError as err:
            if err.code == "TOKEN_EXPIRED":  # the signature matched: this key is the token's
                raise
            refused = err
    raise refused


def authenticate(
    headers: Mapping[str, str] | None, now: datetime, staff_keys: bytes | tuple[bytes, ...]
) -> tuple[Principal, SignedRequest | None]:
    """Who is calling. A platform's signature is checked later, where the body is (API function).
    `staff_keys`: the staff-token key, or the current and previous ones during a rotation's overlap."""
    token = bearer(headers)
    signed = signed_request(headers, now)
    if token is not None and signed is not None:
        raise AuthError(401, "UNAUTHENTICATED", "send a staff token or a platform signature, not both")
    if token is not None:
        keys = (staff_keys,) if isinstance(staff_keys, bytes) else staff_keys
        return verify_token_with_any(keys, token, now), None
    if signed is not None:
        return signed.principal, signed
    return ANONYMOUS, None

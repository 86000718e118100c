"""Signed requests: platforms and carriers sign every request to the OMS; the OMS signs its webhooks.

Hex HMAC-SHA256, keyed with the signer's secret, over the canonical request (scheme, method, path,
sorted query, X-OMS-Timestamp, SHA-256 of the raw body, one a line; docs/integrators.md has test
vectors). The timestamp (Unix milliseconds) must be within five minutes of the server's clock, and a
canonical request is accepted once (the API function records its hash). Carriers name themselves in
`X-OMS-Carrier` instead of `X-OMS-Platform` (docs/shipping.md).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import parse_qsl, quote, urlsplit

from functions.core.auth.principals import (
    CARRIER,
    CARRIER_NAME,
    PLATFORM,
    PLATFORM_NAME,
    AuthError,
    Principal,
)

HEADER_PLATFORM = "X-OMS-Platform"
HEADER_CARRIER = "X-OMS-Carrier"
HEADER_TIMESTAMP = "X-OMS-Timestamp"
HEADER_SIGNATURE = "X-OMS-Signature"
REPLAY_WINDOW = timedelta(minutes=5)
SIGNATURE_SCHEME = "OMS-HMAC-SHA256"  # the first line of every canonical request

_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")
_TIMESTAMP = re.compile(r"^[0-9]{10,16}$")


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
    if carrier is not None and not CARRIER_NAME.match(carrier):
        raise AuthError(401, "UNAUTHENTICATED", f"{HEADER_CARRIER} is not a carrier code")
    if carrier is None and not PLATFORM_NAME.match(signer):
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

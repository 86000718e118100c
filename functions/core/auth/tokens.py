"""Staff tokens and who a request comes from.

Staff send `Authorization: Bearer <token>`: a JWT (HS256) whose claims name the user and one role; a
token issued in the future (beyond a minute of clock skew) is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from functions.core.auth.principals import ANONYMOUS, AuthError, Principal, Role
from functions.core.auth.signing import SignedRequest, header, signed_request

TOKEN_CLOCK_SKEW = timedelta(minutes=1)  # how far ahead of ours the minting clock may run
TOKEN_ISSUER = "oms"  # noqa: S105 - the iss claim, not a secret
MAX_TOKEN_TTL = timedelta(days=7)

_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


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

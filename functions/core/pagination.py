"""Opaque continuation tokens for list endpoints (pure: no AWS).

A token carries, per index partition the list reads, the sort key of the last item it examined (or
None once that partition is exhausted), plus a digest of the query it belongs to. Clients treat it as
an opaque string; the server refuses a token that is malformed or was issued for another query, so
a token can only move a caller forward through a query it is already allowed to run.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

Positions = dict[str, str | None]  # partition key -> last sort key examined (None: exhausted)

MAX_TOKEN_CHARS = 8_000


class InvalidTokenError(ValueError):
    """The next_token is not one this server issued for this query."""


def query_digest(query: dict[str, Any]) -> str:
    canonical = json.dumps(query, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_token(digest: str, positions: Positions) -> str:
    raw = json.dumps({"v": 1, "q": digest, "p": positions}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str, digest: str) -> Positions:
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidTokenError("next_token is too long")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        document = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as err:
        raise InvalidTokenError("next_token is malformed") from err
    if not isinstance(document, dict) or document.get("v") != 1 or not isinstance(document.get("p"), dict):
        raise InvalidTokenError("next_token is malformed")
    if document.get("q") != digest:
        raise InvalidTokenError("next_token belongs to another query; start again without it")
    positions: Positions = {}
    for key, value in document["p"].items():
        if not isinstance(key, str) or not (value is None or isinstance(value, str)):
            raise InvalidTokenError("next_token is malformed")
        positions[key] = value
    return positions

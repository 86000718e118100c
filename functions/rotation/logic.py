"""Rotation of the staff-token key, the pure part: the auth secret's next version.

The staff-token key rotates by itself (SecretRotationFunction, every StaffKeyRotationDays); the key
platform and carrier secrets derive from (`signing_key`) does not, because rotating it changes every
integrator's secret (docs/admin.md). The previous token key stays accepted until the next rotation,
which is never sooner than MAX_TOKEN_TTL: every token minted before a rotation verifies until it expires.
"""

from __future__ import annotations

from typing import Any

TOKEN_KEY = "token_key"  # noqa: S105 - the name of a field, not a key
PREVIOUS_TOKEN_KEY = "previous_token_key"  # noqa: S105 - a field name


def rotated(document: dict[str, Any], current_token_key: bytes, new_token_key: bytes) -> dict[str, Any]:
    """The next secret version: a new token key, the current one kept as the previous; nothing else moves."""
    if current_token_key == new_token_key:
        raise ValueError("the new token key must differ from the current one")
    return {**document, TOKEN_KEY: new_token_key.hex(), PREVIOUS_TOKEN_KEY: current_token_key.hex()}

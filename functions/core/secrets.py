"""The auth secret (Secrets Manager): the master signing key and any explicit per-platform secrets.

Document: {"signing_key": "<random>", "platforms": {"<platform>": "<secret>", ...},
"carriers": {"<carrier code>": "<secret>", ...}} (carriers sign their tracking webhooks the same way).
A platform (or carrier) with no explicit entry signs with a secret derived from the signing key
(functions.core.auth.platform_secret, carrier_secret), so adding a platform needs no deployment and
rotating one platform means giving it an explicit entry.
Staff tokens are signed with `token_key` (hex) once SecretRotationFunction has rotated it, else with a
key derived from the signing key; `previous_token_key` stays accepted until the next rotation
(functions/rotation).
Fetched once and kept for AUTH_CACHE_SECONDS, so a rotation takes effect within that time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from functions.core import aws
from functions.core.auth import keys
from functions.core.auth.keys import staff_token_key
from functions.core.settings import get_auth_settings

T = TypeVar("T")


@dataclass(frozen=True)
class AuthKeys:
    master: bytes
    platforms: dict[str, str] = field(default_factory=dict)
    carriers: dict[str, str] = field(default_factory=dict)
    token_key: bytes | None = None  # set by the rotation; until then the key derives from `master`
    previous_token_key: bytes | None = None

    def platform_secret(self, platform: str) -> str:
        return keys.platform_secret(self.master, platform, self.platforms)

    def carrier_secret(self, carrier: str) -> str:
        return keys.carrier_secret(self.master, carrier, self.carriers)

    @property
    def staff_key(self) -> bytes:
        """The key new staff tokens are signed with."""
        return self.token_key or staff_token_key(self.master)

    @property
    def staff_keys(self) -> tuple[bytes, ...]:
        """The keys a staff token may be signed with: the current one, then the one before a rotation."""
        return (self.staff_key, self.previous_token_key) if self.previous_token_key else (self.staff_key,)

    @classmethod
    def parse(cls, secret_string: str) -> AuthKeys:
        document = json.loads(secret_string)
        key = document.get("signing_key") if isinstance(document, dict) else None
        if not isinstance(key, str) or len(key) < 32:
            raise ValueError("auth secret: signing_key must be a string of at least 32 characters")
        platforms = document.get("platforms") or {}
        if not isinstance(platforms, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and len(v) >= 32 for k, v in platforms.items()
        ):
            raise ValueError("auth secret: platforms must map names to secrets of at least 32 characters")
        carriers = document.get("carriers") or {}
        if not isinstance(carriers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and len(v) >= 32 for k, v in carriers.items()
        ):
            raise ValueError("auth secret: carriers must map codes to secrets of at least 32 characters")
        token_keys = [_hex_key(document, name) for name in ("token_key", "previous_token_key")]
        return cls(key.encode(), dict(platforms), dict(carriers), *token_keys)


def _hex_key(document: dict[str, object], name: str) -> bytes | None:
    value = document.get(name)
    if value is None:
        return None
    try:
        key = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        key = b""
    if len(key) < 32:
        raise ValueError(f"auth secret: {name} must be at least 32 bytes, hex")
    return key


class CachedSecret(Generic[T]):
    """A Secrets Manager secret, parsed once and kept for `ttl_seconds` (a different ARN reads at once).
    One per secret and container; thread-safe."""

    def __init__(self, parse: Callable[[str], T]) -> None:
        self._parse = parse
        self._lock = threading.Lock()
        self._cached: tuple[float, str, T] | None = None

    def get(self, arn: str, ttl_seconds: float) -> T:
        with self._lock:
            cached = self._cached
            if cached and cached[1] == arn and time.monotonic() < cached[0]:
                return cached[2]
            response = aws.secretsmanager().get_secret_value(SecretId=arn)
            value = self._parse(response["SecretString"])
            self._cached = (time.monotonic() + ttl_seconds, arn, value)
            return value

    def forget(self) -> None:
        with self._lock:
            self._cached = None


_auth_keys = CachedSecret(AuthKeys.parse)


def auth_keys() -> AuthKeys:
    settings = get_auth_settings()
    return _auth_keys.get(settings.auth_secret_arn, settings.auth_cache_seconds)


def forget() -> None:
    _auth_keys.forget()

"""The keys outbound webhooks are signed with: one per platform, derived from the webhook secret.

The webhook secret (Secrets Manager, {"signing_key": "<random>"}) is not the auth secret: the delivery
function POSTs to URLs platforms configure, so it must hold nothing that could sign a request to the OMS
or mint a staff token. A platform gets its webhook key from PUT /webhooks/{platform} (admin).
Fetched once and kept for AUTH_CACHE_SECONDS, as the auth secret is.
"""

from __future__ import annotations

import json
import threading
import time

from functions.core import auth, aws
from functions.core.settings import get_webhook_key_settings

_lock = threading.Lock()
_cached: tuple[float, str, bytes] | None = None


def _master() -> bytes:
    global _cached
    settings = get_webhook_key_settings()
    with _lock:
        cached = _cached
        if cached and cached[1] == settings.webhook_secret_arn and time.monotonic() < cached[0]:
            return cached[2]
        response = aws.secretsmanager().get_secret_value(SecretId=settings.webhook_secret_arn)
        document = json.loads(response["SecretString"])
        key = document.get("signing_key") if isinstance(document, dict) else None
        if not isinstance(key, str) or len(key) < 32:
            raise ValueError("webhook secret: signing_key must be a string of at least 32 characters")
        _cached = (time.monotonic() + settings.auth_cache_seconds, settings.webhook_secret_arn, key.encode())
        return _cached[2]


def webhook_secret(platform: str) -> str:
    """The key `platform` verifies our webhook deliveries with (X-OMS-Signature over timestamp.body)."""
    return auth.webhook_secret(_master(), platform)


def forget() -> None:
    global _cached
    with _lock:
        _cached = None

"""The keys outbound webhooks are signed with: one per platform, derived from the webhook secret.

The webhook secret (Secrets Manager, {"signing_key": "<random>"}) is not the auth secret: the delivery
function POSTs to URLs platforms configure, so it must hold nothing that could sign a request to the OMS
or mint a staff token. A platform gets its webhook key from PUT /webhooks/{platform} (admin).
Fetched once and kept for AUTH_CACHE_SECONDS, as the auth secret is.
"""

from __future__ import annotations

import json

from functions.core.auth import keys
from functions.core.secrets import CachedSecret
from functions.core.settings import get_webhook_key_settings


def _signing_key(secret_string: str) -> bytes:
    document = json.loads(secret_string)
    key = document.get("signing_key") if isinstance(document, dict) else None
    if not isinstance(key, str) or len(key) < 32:
        raise ValueError("webhook secret: signing_key must be a string of at least 32 characters")
    return key.encode()


_master_key = CachedSecret(_signing_key)


def _master() -> bytes:
    settings = get_webhook_key_settings()
    return _master_key.get(settings.webhook_secret_arn, settings.auth_cache_seconds)


def webhook_secret(platform: str) -> str:
    """The key `platform` verifies our webhook deliveries with (X-OMS-Signature over timestamp.body)."""
    return keys.webhook_secret(_master(), platform)


def forget() -> None:
    _master_key.forget()

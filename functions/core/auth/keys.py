"""The secrets platforms, carriers, webhooks and staff tokens are keyed with, derived from master keys."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping


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

"""The connectors' configuration (one validated model; defaults fit the local stack)."""

from __future__ import annotations

from functools import cache

from pydantic import Field

from functions.core.settings import Settings


class ChannelSettings(Settings):
    # Shop secrets live in Secrets Manager under this prefix: <prefix><platform>/<shop>.
    channel_secret_prefix: str = Field(
        default="oms/channels/",
        pattern=r"^[A-Za-z0-9/_+=.@-]{1,200}/$",
        validation_alias="CHANNEL_SECRET_PREFIX",
    )
    credentials_cache_seconds: int = Field(
        default=60, ge=0, le=3600, validation_alias="CHANNEL_CACHE_SECONDS"
    )
    # On the local stack nothing leaves the machine: native calls only to a loopback address.
    loopback_only: bool = Field(default=False, validation_alias="WEBHOOK_LOOPBACK_ONLY")
    http_timeout_seconds: float = Field(default=5.0, gt=0, le=30, validation_alias="CHANNEL_HTTP_TIMEOUT")
    # The pull reads [cursor - overlap, now - settle): late-indexed platform records are not skipped.
    pull_overlap_seconds: int = Field(default=300, ge=0, le=86_400, validation_alias="CHANNEL_PULL_OVERLAP")
    pull_max_pages: int = Field(default=20, ge=1, le=1000, validation_alias="CHANNEL_PULL_MAX_PAGES")


@cache
def get_channel_settings() -> ChannelSettings:
    return ChannelSettings()  # type: ignore[call-arg]

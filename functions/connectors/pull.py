"""The scheduled incremental pull: per shop, the orders modified since the cursor, through the same
`apply` as pushes (so a pushed order found again by the pull stays one order)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from functions.connectors import outbound, registry
from functions.connectors.connectors import connector_for
from functions.connectors.contract import NativeError, Pullable
from functions.connectors.service import apply
from functions.connectors.settings import get_channel_settings
from functions.core import clock
from functions.core.observability import logger

FIRST_WINDOW = timedelta(days=1)  # a new shop's first pull looks back one day
MAX_WINDOW = timedelta(days=1)  # TOP: start_modified and end_modified within one day


@dataclass(frozen=True)
class Pulled:
    platform: str
    shop: str
    since: datetime
    until: datetime
    found: int
    outcomes: dict[str, int]
    malformed: int
    error: str | None = None


def pull_all(now: datetime | None = None) -> list[Pulled]:
    now = now or clock.now()
    return [
        pull_shop(str(shop["platform"]), str(shop["shop"]), now)
        for shop in registry.shops()
        if shop.get("pull") and shop.get("api_base_url")
    ]


def pull_shop(platform: str, shop: str, now: datetime) -> Pulled:
    connector = connector_for(platform)
    if not isinstance(connector, Pullable):
        raise ValueError(f"{platform} is not pulled")
    settings = get_channel_settings()
    document = registry.get_shop(platform, shop) or {}
    credentials = registry.credentials(platform, shop)
    cursor = registry.cursor(platform, shop)
    since = (cursor or now - FIRST_WINDOW) - timedelta(seconds=settings.pull_overlap_seconds)
    until = min(now, since + MAX_WINDOW)
    outcomes: dict[str, int] = {}
    found = malformed = 0
    if credentials is None:
        return Pulled(platform, shop, since, until, 0, {}, 0, "no credentials")
    for page in range(1, settings.pull_max_pages + 1):
        call = connector.pull_call(credentials, since, until, page, now)
        answer = outbound.send(str(document["api_base_url"]), call)
        if not answer.ok:
            logger.warning("channel pull failed", extra={"platform": platform, "status": answer.status})
            return Pulled(platform, shop, since, until, found, outcomes, malformed, answer.error or "failed")
        notices, more = connector.pull_page(answer.json())
        for notice, raw in notices:
            found += 1
            try:
                result = apply(platform, shop, notice, _source(raw, notice.topic))
            except NativeError:
                malformed += 1
                continue
            outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
        if not more:
            break
    registry.set_cursor(platform, shop, until, found)
    logger.info("channel pulled", extra={"platform": platform, "found": found, "outcomes": outcomes})
    return Pulled(platform, shop, since, until, found, outcomes, malformed)


def _source(raw: bytes, topic: str) -> dict[str, Any]:
    return {"raw": raw.decode("utf-8"), "headers": {}, "query": {"topic": topic}}

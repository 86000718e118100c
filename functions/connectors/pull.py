"""The scheduled incremental pull: per shop, the orders modified since the cursor, through the same
`apply` as pushes (so a pushed order found again by the pull stays one order)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from functions.connectors import outbound, registry
from functions.connectors.connectors import connector_for
from functions.connectors.contract import NativeError, Pullable, Push
from functions.connectors.service import apply
from functions.connectors.settings import get_channel_settings
from functions.core import clock
from functions.core.observability import logger

FIRST_WINDOW = timedelta(days=1)  # a new shop's first pull looks back one day
MAX_SPAN_PER_RUN = timedelta(days=2)  # further behind, the cursor catches up over the next runs


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
    """Pull one shop, one window of the platform's size after another (TOP: a day, PDD: 30 minutes), until
    now or MAX_SPAN_PER_RUN."""
    connector = connector_for(platform)
    if not isinstance(connector, Pullable):
        raise ValueError(f"{platform} is not pulled")
    settings = get_channel_settings()
    base_url = str((registry.get_shop(platform, shop) or {})["api_base_url"])
    credentials = registry.credentials(platform, shop)
    cursor = registry.cursor(platform, shop)
    since = cursor - timedelta(seconds=settings.pull_overlap_seconds) if cursor else now - FIRST_WINDOW
    start, outcomes, found, malformed = since, dict[str, int](), 0, 0
    if credentials is None:
        return Pulled(platform, shop, since, since, 0, {}, 0, "no credentials")
    while True:
        until = min(now, since + connector.pull_window)
        for page in range(1, settings.pull_max_pages + 1):
            answer = outbound.send(base_url, connector.pull_call(credentials, since, until, page, now))
            if not answer.ok:
                logger.warning("channel pull failed", extra={"platform": platform, "status": answer.status})
                return Pulled(
                    platform, shop, start, since, found, outcomes, malformed, answer.error or "failed"
                )
            pulled, more = connector.pull_page(answer.json())
            for raw, query in pulled:
                found += 1
                try:  # one malformed record does not stop the rest of the page
                    notice = connector.parse(Push({}, query, raw))
                    result = apply(platform, shop, notice, _source(raw, query))
                except NativeError:
                    malformed += 1
                    logger.warning("pulled order malformed", extra={"platform": platform})
                    continue
                outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
            if not more:
                break
        registry.set_cursor(platform, shop, until, found)
        if until >= now or until - start >= MAX_SPAN_PER_RUN:
            break
        since = until
    logger.info("channel pulled", extra={"platform": platform, "found": found, "outcomes": outcomes})
    return Pulled(platform, shop, start, until, found, outcomes, malformed)


def _source(raw: bytes, query: dict[str, str]) -> dict[str, Any]:
    return {"raw": raw.decode("utf-8"), "headers": {}, "query": query}

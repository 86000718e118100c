"""The one source of "now" for business logic, so the local runtime can drive time virtually."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """Current UTC time: the system clock on AWS, the injected clock locally."""
    return _now()


def use_clock(source: Callable[[], datetime]) -> None:
    global _now
    _now = source


def reset_clock() -> None:
    use_clock(lambda: datetime.now(UTC))

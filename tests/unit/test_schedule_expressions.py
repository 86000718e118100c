"""EventBridge at()/rate()/cron() as the local scheduler evaluates them (oms/local/expressions.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oms.local.expressions import At, ExpressionError, Rate, parse

ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)  # a Thursday


def firings(expression: str, count: int = 4, timezone: str = "UTC") -> list[datetime]:
    parsed = parse(expression, timezone=timezone, anchor=ANCHOR)
    found: list[datetime] = []
    moment = None
    while len(found) < count:
        moment = parsed.next_after(moment)
        if moment is None:
            break
        found.append(moment)
    return found


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_at_fires_once_in_its_time_zone():
    assert firings("at(2026-03-01T10:00:00)") == [utc(2026, 3, 1, 10)]
    assert firings("at(2026-03-01T10:00:00)", timezone="Asia/Shanghai") == [utc(2026, 3, 1, 2)]
    parsed = parse("at(2026-03-01T10:00:00)", anchor=ANCHOR)
    assert isinstance(parsed, At)
    assert parsed.one_time


def test_at_in_the_past_is_due_at_once():
    parsed = parse("at(2025-12-31T23:00:00)", anchor=ANCHOR)
    assert parsed.next_after(None) == utc(2025, 12, 31, 23)


def test_rate_counts_from_when_the_schedule_appeared():
    assert firings("rate(1 minute)", 3) == [
        utc(2026, 1, 1, 0, 1),
        utc(2026, 1, 1, 0, 2),
        utc(2026, 1, 1, 0, 3),
    ]
    assert firings("rate(2 hours)", 2) == [utc(2026, 1, 1, 2), utc(2026, 1, 1, 4)]
    assert firings("rate(1 day)", 1) == [utc(2026, 1, 2)]
    rate = parse("rate(5 minutes)", anchor=ANCHOR)
    assert isinstance(rate, Rate)
    # after a clock jump, the next firing is the next period after the jump: missed ones coalesce
    assert rate.next_after(utc(2026, 1, 1, 1, 2, 30)) == utc(2026, 1, 1, 1, 5)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cron(0 12 * * ? *)", [utc(2026, 1, 1, 12), utc(2026, 1, 2, 12)]),
        ("cron(0/15 * * * ? *)", [utc(2026, 1, 1, 0, 15), utc(2026, 1, 1, 0, 30)]),
        ("cron(0 9 ? * MON-FRI *)", [utc(2026, 1, 1, 9), utc(2026, 1, 2, 9), utc(2026, 1, 5, 9)]),
        ("cron(0 0 L * ? *)", [utc(2026, 1, 31), utc(2026, 2, 28), utc(2026, 3, 31)]),
        ("cron(15 10 ? * 6L 2026)", [utc(2026, 1, 30, 10, 15), utc(2026, 2, 27, 10, 15)]),  # last Friday
        (
            "cron(0 8 1W * ? *)",
            [utc(2026, 1, 1, 8), utc(2026, 2, 2, 8), utc(2026, 3, 2, 8)],
        ),  # nearest weekday
        ("cron(30 2 ? * 2#1 *)", [utc(2026, 1, 5, 2, 30), utc(2026, 2, 2, 2, 30)]),  # first Monday
        ("cron(0 0 1 JAN,JUL ? *)", [utc(2026, 7, 1), utc(2027, 1, 1)]),
        ("cron(0 0 29 2 ? *)", [utc(2028, 2, 29), utc(2032, 2, 29)]),
    ],
)
def test_cron(expression, expected):
    assert firings(expression, len(expected)) == expected


def test_cron_in_a_time_zone():
    assert firings("cron(0 9 * * ? *)", 1, timezone="Asia/Shanghai") == [utc(2026, 1, 1, 1)]


def test_cron_with_a_finished_year_list_ends():
    assert firings("cron(0 0 1 1 ? 2026)", 3) == []  # 2026-01-01T00:00 is the anchor itself
    assert firings("cron(0 0 2 1 ? 2026)", 3) == [utc(2026, 1, 2)]


@pytest.mark.parametrize(
    "expression",
    [
        "rate(0 minutes)",
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(5 weeks)",
        "at(2026-13-01T00:00:00)",
        "at(2026-01-01 00:00:00)",
        "cron(0 12 * * * *)",  # both day fields given
        "cron(0 12 ? * ? *)",  # neither
        "cron(0 12 * *)",
        "cron(61 12 * * ? *)",
        "cron(0 12 ? * FUNDAY *)",
        "cron(0 12 ? * 2#6 *)",
        "every 5 minutes",
    ],
)
def test_invalid_expressions_are_refused_as_aws_would(expression):
    with pytest.raises(ExpressionError):
        parse(expression, anchor=ANCHOR)


def test_unknown_time_zone_is_refused():
    with pytest.raises(ExpressionError, match="time zone"):
        parse("at(2026-01-01T00:00:00)", timezone="Mars/Olympus", anchor=ANCHOR)


def test_rate_never_fires_at_its_anchor():
    rate = parse("rate(10 minutes)", anchor=ANCHOR)
    assert rate.next_after(None) == ANCHOR + timedelta(minutes=10)
    assert rate.next_after(ANCHOR - timedelta(hours=1)) == ANCHOR + timedelta(minutes=10)

"""EventBridge schedule expressions, evaluated locally: `at(...)`, `rate(...)` and `cron(...)`.

The grammar is AWS's, not Unix cron's: six fields (minutes hours day-of-month month day-of-week year),
day-of-week 1-7 = SUN-SAT, exactly one of day-of-month and day-of-week is `?`, and the wildcards
`L` (last day of the month, last <weekday> of the month), `W` (nearest weekday) and `#` (the nth
weekday of the month). moto accepts any string; this module refuses what AWS would refuse, so a bad
expression in template.yaml or in code fails locally too.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {
    name: i + 1
    for i, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_HORIZON_YEARS = 200  # look this far ahead before deciding a cron expression never fires again


class ExpressionError(ValueError):
    """Not a valid EventBridge schedule expression."""


@dataclass(frozen=True)
class At:
    moment: datetime  # UTC

    def next_after(self, after: datetime | None) -> datetime | None:
        return self.moment if after is None or self.moment > after else None

    @property
    def one_time(self) -> bool:
        return True


@dataclass(frozen=True)
class Rate:
    period: timedelta
    anchor: datetime  # when the schedule was first seen; it fires anchor + k * period

    def next_after(self, after: datetime | None) -> datetime | None:
        moment = after if after is not None else self.anchor
        if moment < self.anchor:
            return self.anchor + self.period
        periods = (moment - self.anchor) // self.period + 1
        return self.anchor + periods * self.period

    @property
    def one_time(self) -> bool:
        return False


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int] | None  # None: every year
    day_of_month: str  # the raw field; evaluated per month (L, W need the month)
    day_of_week: str
    zone: ZoneInfo
    anchor: datetime  # never fires at or before this moment

    @property
    def one_time(self) -> bool:
        return False

    def next_after(self, after: datetime | None) -> datetime | None:
        start = max(after, self.anchor) if after is not None else self.anchor
        local = start.astimezone(self.zone).replace(second=0, microsecond=0, tzinfo=None)
        local += timedelta(minutes=1)
        limit = local.year + _HORIZON_YEARS
        while local.year <= limit:
            if self.years is not None and local.year not in self.years:
                later = [y for y in self.years if y > local.year]
                if not later:
                    return None
                local = datetime(min(later), 1, 1)
                continue
            if local.month not in self.months:
                local = _first_of_next_month(local)
                continue
            if local.day not in self._days(local.year, local.month):
                local = datetime(local.year, local.month, local.day) + timedelta(days=1)
                continue
            if local.hour not in self.hours:
                local = local.replace(minute=0) + timedelta(hours=1)
                continue
            if local.minute not in self.minutes:
                local += timedelta(minutes=1)
                continue
            return local.replace(tzinfo=self.zone).astimezone(UTC)
        return None

    def _days(self, year: int, month: int) -> set[int]:
        if self.day_of_month != "?":
            return _days_of_month(self.day_of_month, year, month)
        return _days_of_week(self.day_of_week, year, month)


Expression = At | Rate | Cron


def parse(expression: str, *, timezone: str = "UTC", anchor: datetime | None = None) -> Expression:
    """Parse an EventBridge expression. `anchor` (UTC) is when the schedule came to exist."""
    text = expression.strip()
    anchor = anchor or datetime.now(UTC)
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError) as err:
        raise ExpressionError(f"unknown time zone {timezone!r}") from err
    if match := _AT.match(text):
        try:
            local = datetime.fromisoformat(match.group(1))
        except ValueError as err:
            raise ExpressionError(f"{expression!r}: {err}") from err
        return At(local.replace(tzinfo=zone).astimezone(UTC))
    if match := _RATE.match(text):
        value, unit = int(match.group(1)), match.group(2).rstrip("s")
        if value < 1:
            raise ExpressionError(f"{expression!r}: the rate must be positive")
        if (value == 1) != (match.group(2) == unit):
            raise ExpressionError(f"{expression!r}: say '1 {unit}' or '{value} {unit}s'")
        return Rate(timedelta(seconds=value * _UNIT_SECONDS[unit]), anchor)
    if match := _CRON.match(text):
        return _parse_cron(match.group(1), zone, anchor, expression)
    raise ExpressionError(f"{expression!r} is not at(...), rate(...) or cron(...)")


def _parse_cron(body: str, zone: ZoneInfo, anchor: datetime, expression: str) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise ExpressionError(f"{expression!r}: cron takes 6 fields (min hour dom month dow year)")
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ExpressionError(f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'")
    try:
        cron = Cron(
            minutes=frozenset(_values(minute, 0, 59)),
            hours=frozenset(_values(hour, 0, 23)),
            months=frozenset(_values(month, 1, 12, _MONTHS)),
            years=None if year == "*" else frozenset(_values(year, 1970, 2199)),
            day_of_month=dom,
            day_of_week=dow,
            zone=zone,
            anchor=anchor,
        )
        # Validate the day fields once, against any month.
        _days_of_month(dom, 2024, 1) if dom != "?" else _days_of_week(dow, 2024, 1)
    except ValueError as err:
        raise ExpressionError(f"{expression!r}: {err}") from err
    return cron


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    result: set[int] = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = _number(step_text, 1, high)
        if part in {"*", "?"}:
            first, last = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            first, last = _number(a, low, high, names), _number(b, low, high, names)
            if first > last:
                raise ValueError(f"range {part} runs backwards")
        else:
            first = _number(part, low, high, names)
            last = high if step > 1 else first
        result.update(range(first, last + 1, step))
    return result


def _number(text: str, low: int, high: int, names: dict[str, int] | None = None) -> int:
    if names is not None and text.isalpha():
        if text.upper() not in names:
            raise ValueError(f"unknown name {text!r}")
        return names[text.upper()]
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a number")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{value} is outside {low}-{high}")
    return value


def _days_of_month(field: str, year: int, month: int) -> set[int]:
    last = calendar.monthrange(year, month)[1]
    if field == "L":
        return {last}
    if field.endswith("W"):
        target = min(_number(field[:-1], 1, 31), last)
        return {_nearest_weekday(year, month, target, last)}
    return {d for d in _values(field, 1, 31) if d <= last}


def _nearest_weekday(year: int, month: int, day: int, last: int) -> int:
    weekday = calendar.weekday(year, month, day)  # Monday = 0
    if weekday == 5:  # Saturday: the Friday before, or the Monday after the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before the last day
        return day + 1 if day < last else day - 2
    return day


def _days_of_week(field: str, year: int, month: int) -> set[int]:
    last = calendar.monthrange(year, month)[1]

    def aws_weekday(day: int) -> int:  # 1 = Sunday ... 7 = Saturday
        return (calendar.weekday(year, month, day) + 1) % 7 + 1

    if "#" in field:
        day_text, nth_text = field.split("#", 1)
        wanted, nth = _number(day_text, 1, 7, _DAYS), _number(nth_text, 1, 5)
        matches = [d for d in range(1, last + 1) if aws_weekday(d) == wanted]
        return {matches[nth - 1]} if len(matches) >= nth else set()
    if field.endswith("L") and field != "L":
        wanted = _number(field[:-1], 1, 7, _DAYS)
        return {max(d for d in range(1, last + 1) if aws_weekday(d) == wanted)}
    if field == "L":
        field = "7"  # AWS: L alone in day-of-week is Saturday, the last day of the week
    wanted_days = _values(field, 1, 7, _DAYS)
    return {d for d in range(1, last + 1) if aws_weekday(d) in wanted_days}


def _first_of_next_month(moment: datetime) -> datetime:
    if moment.month == 12:
        return datetime(moment.year + 1, 1, 1)
    return datetime(moment.year, moment.month + 1, 1)

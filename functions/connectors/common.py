"""Helpers several connectors share (pure)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import ValidationError

from functions.connectors.contract import Native, NativeError, SignatureError

CHINA = timezone(timedelta(hours=8))  # TOP, JOS, 抖店 and 拼多多 timestamps are Beijing time
M = TypeVar("M", bound=Native)


def base64_hmac_sha256(secret: str, raw: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def same(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.strip().encode())


def require_signature(given: str | None, expected: str, header_name: str) -> None:
    if not given:
        raise SignatureError("UNAUTHENTICATED", f"{header_name} is missing")
    if not same(expected, given):
        raise SignatureError("BAD_SIGNATURE", f"{header_name} does not match the body")


def load_json(platform: str, raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except (ValueError, RecursionError):
        raise NativeError.field("body", f"not JSON: a {platform} push is a JSON document") from None


def validate(model: type[M], platform: str, document: Any, prefix: str = "") -> M:
    try:
        return model.model_validate(document)
    except ValidationError as err:
        raise NativeError.of(platform, err, prefix) from None


def china_time(text: str) -> datetime:
    """`yyyy-MM-dd HH:mm:ss` in Beijing time (TOP, JOS), or an ISO time with its own offset."""
    value = datetime.fromisoformat(text.strip().replace(" ", "T"))
    return value if value.tzinfo else value.replace(tzinfo=CHINA)


def fresh(at: datetime, now: datetime, window: timedelta, name: str) -> None:
    """Refuse a signed timestamp outside `window` of our clock (a replay, or a badly skewed clock)."""
    if abs(now - at) > window:
        raise SignatureError("STALE_SIGNATURE", f"{name} {at.isoformat()} is more than {window} from now")


_PHONE_JUNK = re.compile(r"[^0-9+() -]")


def phone(*candidates: str | None) -> str | None:
    """The first candidate that looks like a phone number, with separators platforms add removed."""
    for candidate in candidates:
        if candidate:
            cleaned = _PHONE_JUNK.sub("", candidate).strip()
            if len(re.sub(r"\D", "", cleaned)) >= 5:
                return cleaned[:25]
    return None


def cents(value: Decimal | int | str) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def fen(value: int) -> Decimal:
    """Amounts platforms send in 分 (JD's and 抖店's *_amount fields, 拼多多's are yuan)."""
    return (Decimal(value) / 100).quantize(Decimal("0.01"))

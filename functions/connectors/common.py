"""Helpers several connectors share (pure)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlencode

from pydantic import ValidationError

from functions.connectors.contract import (
    Credentials,
    Native,
    NativeCall,
    NativeError,
    NativeLine,
    SignatureError,
)

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


def china_timestamp(at: datetime) -> str:
    """`yyyy-MM-dd HH:mm:ss` in Beijing time, as TOP, JOS and 抖店 requests carry it."""
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def signed_china_time(text: str) -> datetime:
    """A signed request's `timestamp` (TOP, JOS): malformed is a bad signature, not a bad payload."""
    try:
        return china_time(text)
    except ValueError:
        raise SignatureError("BAD_SIGNATURE", "timestamp is not yyyy-MM-dd HH:mm:ss") from None


def fresh(at: datetime, now: datetime, window: timedelta, name: str = "timestamp") -> None:
    """Refuse a signed timestamp outside `window` of our clock (a replay, or a badly skewed clock)."""
    if abs(now - at) > window:
        raise SignatureError("STALE_SIGNATURE", f"{name} is more than {window} from now")


def same_app(given: str | None, credentials: Credentials, name: str) -> None:
    """The push names the shop's registered app (when one is registered) in the platform's `name` field."""
    if credentials.app_key and given != credentials.app_key:
        raise SignatureError("BAD_SIGNATURE", f"{name} is not this shop's app")


def compact_json(document: Any) -> str:
    """JSON as the Chinese platforms' APIs take it in a form field: no spaces, characters kept."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def form_call(
    params: Mapping[str, str], name: str, content_type: str = "application/x-www-form-urlencoded"
) -> NativeCall:
    """A platform API call posted as a form to the shop's gateway (`api_base_url` itself)."""
    return NativeCall("POST", "", urlencode(params).encode(), {"Content-Type": content_type}, name=name)


def checked_answer(answer: Any) -> dict[str, Any]:
    """A TOP/PDD API answer, refused when it is TOP's/PDD's `error_response` (or not an object)."""
    if not isinstance(answer, dict) or "error_response" in answer:
        error = answer.get("error_response") if isinstance(answer, dict) else answer
        raise NativeError.field("error_response", json.dumps(error, ensure_ascii=False)[:300])
    return answer


def goods_total(lines: Iterable[NativeLine]) -> Decimal:
    return sum((line.unit_price * line.quantity for line in lines), Decimal("0"))


def unpaid_discount(subtotal: Decimal, shipping: Decimal, paid: Decimal, field: str, message: str) -> Decimal:
    """What the buyer did not pay of goods plus shipping; paying more is refused, naming `field`."""
    discount = subtotal + shipping - paid
    if discount < 0:
        raise NativeError.field(field, message)
    return discount


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

"""The md5 request signature of JOS (JD) and the PDD open platform, and reading a signed form push.

Both (jos.jd.com "签名算法", open.pinduoduo.com "签名规则"): every parameter except `sign` (and empty
values), sorted by name, concatenated as name+value, wrapped in the app secret on both sides, md5,
upper-case hex.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from urllib.parse import parse_qsl

from functions.connectors.common import require_signature
from functions.connectors.contract import NativeError, SignatureError


def sign(params: Mapping[str, str], secret: str) -> str:
    text = "".join(f"{k}{v}" for k, v in sorted(params.items()) if k != "sign" and v != "")
    return hashlib.md5(f"{secret}{text}{secret}".encode()).hexdigest().upper()  # noqa: S324 - documented scheme


def signed(params: Mapping[str, str], secret: str) -> dict[str, str]:
    return {**params, "sign": sign(params, secret)}


def form(platform: str, raw: bytes) -> dict[str, str]:
    """A form-encoded push (application/x-www-form-urlencoded), as the platforms' APIs are called."""
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw)))
    except (ValueError, UnicodeDecodeError):
        raise NativeError.field("body", f"not a form: a {platform} push is form-encoded") from None


def verify(params: Mapping[str, str], secret: str) -> None:
    if not params.get("sign"):
        raise SignatureError("UNAUTHENTICATED", "sign is missing")
    require_signature(params.get("sign"), sign(params, secret), "sign")

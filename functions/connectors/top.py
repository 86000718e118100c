"""TOP (Taobao Open Platform) request signing, shared by the Taobao/Tmall connector and the fake platform.

open.taobao.com, "API调用方法详解 / 签名算法": every parameter except `sign` (and empty values), sorted by
name, concatenated as name+value; a non-form body is appended; then
    md5:         upper(hex(md5(secret + text + secret)))
    hmac:        upper(hex(HMAC-MD5(secret, text)))
    hmac-sha256: upper(hex(HMAC-SHA256(secret, text)))
`timestamp` is `yyyy-MM-dd HH:mm:ss` in Beijing time; TOP accepts 10 minutes of clock difference.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import timedelta

from functions.connectors.common import china_timestamp

SIGN_METHODS = ("md5", "hmac", "hmac-sha256")
SKEW = timedelta(minutes=10)


def sign(params: Mapping[str, str], secret: str, sign_method: str, body: bytes = b"") -> str:
    text = "".join(f"{k}{v}" for k, v in sorted(params.items()) if k != "sign" and v != "").encode() + body
    key = secret.encode()
    if sign_method == "md5":
        return hashlib.md5(key + text + key).hexdigest().upper()  # noqa: S324 - TOP's documented scheme
    if sign_method == "hmac":
        return hmac.new(key, text, hashlib.md5).hexdigest().upper()
    if sign_method == "hmac-sha256":
        return hmac.new(key, text, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"sign_method must be one of {', '.join(SIGN_METHODS)}")


timestamp = china_timestamp  # TOP's `timestamp` parameter


def signed(
    params: Mapping[str, str], secret: str, body: bytes = b"", sign_method: str = "hmac-sha256"
) -> dict[str, str]:
    full = {**params, "sign_method": sign_method}
    return {**full, "sign": sign(full, secret, sign_method, body)}

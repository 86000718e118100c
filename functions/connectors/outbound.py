"""Calls into a platform's own API (ship-back, pull): https, or plain http to a loopback address."""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from functions.connectors.contract import NativeCall
from functions.connectors.settings import get_channel_settings


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no answer (blocked, refused, timed out)
    body: bytes
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and self.error is None

    def json(self) -> Any:
        return json.loads(self.body or b"null")


def loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_of(base_url: str, call: NativeCall) -> str:
    url = base_url.rstrip("/") + call.path if call.path else base_url
    return f"{url}?{urlencode(call.query)}" if call.query else url


def send(base_url: str, call: NativeCall) -> Answer:
    url = url_of(base_url, call)
    scheme = urlsplit(url).scheme
    if scheme not in ("https", "http") or (scheme == "http" and not loopback(url)):
        return Answer(None, b"", "the platform's API must be https (http only to a loopback address)")
    if get_channel_settings().loopback_only and not loopback(url):
        return Answer(None, b"", "blocked: the local stack calls no address outside this machine")
    request = urllib.request.Request(url, data=call.body or None, headers=call.headers, method=call.method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=get_channel_settings().http_timeout_seconds) as answer:  # noqa: S310
            body = answer.read()
            return Answer(int(answer.status), body, _platform_error(body))
    except urllib.error.HTTPError as err:
        return Answer(int(err.code), err.read()[:2000], f"HTTP {err.code}")
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        return Answer(None, b"", f"{type(err).__name__}: {err}"[:300])


def _platform_error(body: bytes) -> str | None:
    """TOP, JOS and PDD answer errors with HTTP 200 and an error document."""
    try:
        document = json.loads(body or b"null")
    except ValueError:
        return None
    if isinstance(document, dict):
        for key in ("error_response", "errors"):
            if document.get(key):
                return json.dumps(document[key], ensure_ascii=False)[:300]
    return None

"""A small HTTP client for the OMS API (standard library only), used by the `oms` commands."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def ensure_products(admin: ApiClient, skus: Iterable[str], virtual: Iterable[str] = ()) -> None:
    """Register in the product master each SKU it does not know yet (virtual ones as a service), as an
    admin: capture refuses SKUs the master does not know."""
    virtual_skus = set(virtual)
    for sku in sorted(set(skus) | virtual_skus):
        try:
            admin.call("GET", f"/products/{sku}")
        except ApiError as err:
            if err.status != 404:
                raise
            spec: dict[str, Any] = {"version": 0}
            if sku in virtual_skus:
                spec |= {"kind": "virtual", "virtual_kind": "service"}
            admin.call("PUT", f"/products/{sku}", spec)


class ApiClient:
    def __init__(self, base_url: str, token: str, timeout: float = 30.0) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"--url must be an http(s) URL, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        """As staff (the bearer token): the parsed JSON answer; ApiError for an error status."""
        data = None if body is None else json.dumps(body)
        return self.send(method, path, data, {"Authorization": f"Bearer {self.token}"}, query)[1]

    def post_as_platform(self, path: str, platform: str, raw: str) -> tuple[int, Any]:
        """POST `raw` signed as `platform` with the local development key (the one place the CLI signs
        a platform request): (status, parsed answer); ApiError for an error status."""
        from oms.local import credentials

        headers = credentials.platform_headers(platform, raw, method="POST", target=path)
        return self.send("POST", path, raw, headers)

    def send(
        self,
        method: str,
        path: str,
        raw: str | None,
        headers: dict[str, str],
        query: dict[str, Any] | None = None,
    ) -> tuple[int, Any]:
        params = {k: str(v) for k, v in (query or {}).items() if v not in (None, "")}
        url = self.base_url + path + (f"?{urllib.parse.urlencode(params)}" if params else "")
        data = None if raw is None else raw.encode()
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - scheme checked
        for name, value in headers.items():
            request.add_header(name, value)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                text = response.read()
                status = int(response.status)
                kind = response.headers.get("Content-Type") or ""
        except urllib.error.HTTPError as err:
            raise _api_error(err) from err
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise ApiError(
                0, "UNREACHABLE", f"cannot reach {self.base_url} ({reason}); is `oms serve` running?"
            ) from err
        if kind.startswith("text/"):  # an export (CSV): the text as it came
            return status, text.decode()
        return status, json.loads(text) if text else None


def default_url() -> str:
    """Where the OMS listens: $OMS_URL (set it once for a server on another port), else port 3000."""
    return os.environ.get("OMS_URL") or "http://127.0.0.1:3000"


def _api_error(err: urllib.error.HTTPError) -> ApiError:
    try:
        body = json.loads(err.read() or b"null")
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return ApiError(err.code, str(error.get("code", "")), str(error.get("message", "")))
    return ApiError(err.code, "HTTP", str(err.reason))

"""The ops console's static files (oms/console/), served by `oms serve` at /console.

Plain HTML, JavaScript and CSS committed as they are: nothing to build. Only the files that are in the
folder are served (no path from the request reaches the file system), with a strict CSP: the page runs
its own script and talks to this origin's API only.
"""

from __future__ import annotations

import json
from pathlib import Path

CONSOLE_DIR = Path(__file__).resolve().parents[1] / "console"
PREFIX = "/console"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _files() -> dict[str, Path]:
    return {f"{PREFIX}/{p.name}": p for p in CONSOLE_DIR.iterdir() if p.suffix in _TYPES and p.is_file()}


def is_console(path: str) -> bool:
    bare = path.split("?", 1)[0]
    return bare == PREFIX or bare.startswith(PREFIX + "/")


PERMISSIONS_PATH = f"{PREFIX}/permissions.json"


def permissions() -> bytes:
    """The API's permissions table, "METHOD /route" -> roles, so the console offers only what the
    reader's role may do (one table: functions/core/auth/permissions.py; the API still checks every call)."""
    from functions.core.auth.permissions import PERMISSIONS

    table = {f"{method} {route}": sorted(roles) for (method, route), roles in PERMISSIONS.items()}
    return json.dumps(table, sort_keys=True).encode("utf-8")


def static_response(path: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) for a GET of a /console path."""
    bare = path.split("?", 1)[0]
    if bare == PERMISSIONS_PATH:
        return 200, {"Content-Type": "application/json", **_HEADERS}, permissions()
    if bare in (PREFIX, PREFIX + "/"):
        bare = f"{PREFIX}/index.html"
    target = _files().get(bare)
    if target is None:
        body = b'{"error": {"code": "NOT_FOUND", "message": "no such console file", "fields": []}}'
        return 404, {"Content-Type": "application/json"}, body
    return 200, {"Content-Type": _TYPES[target.suffix], **_HEADERS}, target.read_bytes()

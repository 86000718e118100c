"""The console's static files: only what is in oms/console/ is served, with a strict CSP."""

from __future__ import annotations

import pytest

from oms.local.console import is_console, static_response


@pytest.mark.parametrize("path", ["/console", "/console/", "/console?token=abc"])
def test_console_root_is_the_page(path):
    status, headers, body = static_response(path)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert b'<script src="/console/app.js">' in body
    assert "script-src 'self'" in headers["Content-Security-Policy"]


def test_script_and_style():
    assert static_response("/console/app.js")[1]["Content-Type"].startswith("text/javascript")
    assert static_response("/console/app.css")[1]["Content-Type"].startswith("text/css")


@pytest.mark.parametrize(
    "path", ["/console/../pyproject.toml", "/console/%2e%2e/README.md", "/console/nope.js", "/console/a/b"]
)
def test_nothing_else_is_served(path):
    assert static_response(path)[0] == 404


def test_only_console_paths_are_claimed():
    assert is_console("/console/app.js")
    assert not is_console("/consoles")
    assert not is_console("/orders")

"""Fixtures of the console's browser tests: one headless Chromium, the console served from the stack."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from oms.local.http import serve
from oms.local.stack import WAIT_BOUND_SECONDS
from tests.browser.support import CHROMEDRIVER, CHROMIUM


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="oms-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_BOUND_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def console(stack, oms, browser):
    """Open a console path as `role`; returns a function (path, role) -> the driver."""
    server = serve(stack, port=0)

    def open_(fragment: str, role: str = "ops", poll_ms: int | None = None):
        poll = f"&poll={poll_ms}" if poll_ms else ""
        browser.get(f"{server.url}/console?token={oms.token(role, f'browser-{role}')}{poll}#{fragment}")
        return browser

    try:
        yield open_
    finally:
        browser.get("about:blank")  # no live update of this test's page reaches the next test's server
        server.shutdown()

"""Helpers of the console's browser tests: find Chromium, wait for what a person would see."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

import pytest

from oms.local.stack import WAIT_BOUND_SECONDS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SKIP_WITHOUT_CHROMIUM = pytest.mark.skipif(
    CHROMIUM is None or shutil.which(CHROMEDRIVER) is None,
    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)",
)


def wait_for(driver: Any, css: str, timeout: float = WAIT_BOUND_SECONDS) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def wait_until(
    driver: Any, condition: Callable[[], Any], timeout: float = WAIT_BOUND_SECONDS, what: str = ""
) -> Any:
    """Poll `condition` (a person's view of the page) until it is truthy; stale elements are retried."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    def check(_: Any) -> Any:
        try:
            return condition()
        except StaleElementReferenceException:  # the live update redrew the page meanwhile
            return False

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(check, message=what)


def texts(driver: Any, css: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


def text_of(driver: Any, css: str) -> str:
    """The visible text of the first element matching `css`, "" when there is none."""
    found = texts(driver, css)
    return found[0] if found else ""

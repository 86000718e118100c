"""The console's bulk actions in headless Chromium: select held orders and approve them at once, with
what was not decided shown to the person, and no bulk controls for a role that may not use them."""

from __future__ import annotations

import pytest

from tests.browser.support import SKIP_WITHOUT_CHROMIUM, wait_for, wait_until
from tests.browser.test_console import held_order
from tests.review_helpers import review

pytestmark = [pytest.mark.browser, pytest.mark.e2e, SKIP_WITHOUT_CHROMIUM]


def test_select_many_held_orders_and_approve_them_at_once(console, oms, stack):
    first, second, taken = (held_order(oms, stack) for _ in range(3))
    driver = console("/holds")
    for order in (first, second, taken):
        wait_for(driver, f'input.pick[value="{order["order_id"]}"]').click()
    # A colleague rejects one of them while this person is still choosing.
    assert review(oms, taken["order_id"], "reject", "duplicate order").status == 200

    driver.find_element("css selector", "#bulk-comment").send_keys("checked by phone")
    driver.find_element("css selector", "button.approve-selected").click()

    flash = wait_until(driver, lambda: driver.find_element("id", "flash").text, what="the bulk answer")
    assert flash == "Approve 3 orders: 2 applied, 1 stale."
    report = wait_for(driver, f'#bulk-report li[data-order="{taken["order_id"]}"]')
    assert "stale (now REJECTED)" in report.text
    for order in (first, second):
        assert oms.wait(order["execution_arn"])["status"] == "SUCCEEDED"
        decided = oms.order(order["order_id"])
        assert decided["status"] == "SHIPPED"
        assert decided["manual_review"]["actor"] == "user:browser-ops"
        assert decided["manual_review"]["comment"] == "checked by phone"
    assert oms.order(taken["order_id"])["status"] == "REJECTED"


def test_a_viewer_sees_no_bulk_decision_controls(console, oms, stack):
    order = held_order(oms, stack)
    driver = console("/holds", role="viewer")
    wait_for(driver, f'tr[data-order="{order["order_id"]}"]')
    assert driver.find_elements("css selector", "#bulk-decide") == []
    assert driver.find_elements("css selector", "input.pick") == []

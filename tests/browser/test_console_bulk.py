"""The console's bulk actions in headless Chromium: select held orders and approve them at once, with
what was not decided shown to the person, and no bulk controls for a role that may not use them."""

from __future__ import annotations

import uuid

import pytest
from selenium.webdriver.support.ui import Select

from tests.browser.support import SKIP_WITHOUT_CHROMIUM, wait_for, wait_until
from tests.browser.test_console import held_order
from tests.factories import new_sku, order_body
from tests.review_helpers import post_and_hold, review

pytestmark = [pytest.mark.browser, pytest.mark.e2e, SKIP_WITHOUT_CHROMIUM]


def _held_on(oms, stack, platform: str) -> dict:
    sku = new_sku()
    oms.set_stock(sku, 5)
    return dict(post_and_hold(oms, stack, order_body([(sku, 1, "6000.00")], platform=platform)))


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


def test_select_orders_in_the_list_and_intercept_them_at_once(console, oms, stack):
    platform = f"i{uuid.uuid4().hex[:10]}"
    sku = new_sku()
    oms.set_stock(sku, 5)
    shipped, _ = oms.run(order_body([(sku, 1)], platform=platform))
    waiting = [_held_on(oms, stack, platform) for _ in range(2)]
    driver = console(f"/orders?platform={platform}")
    for order in (*waiting, shipped):
        wait_for(driver, f'input.pick[value="{order["order_id"]}"]').click()
    Select(driver.find_element("id", "intercept-action")).select_by_value("cancel")
    driver.find_element("id", "intercept-reason").send_keys("buyer cancelled by phone")
    driver.find_element("css selector", "button.intercept-selected").click()

    flash = wait_until(driver, lambda: driver.find_element("id", "flash").text, what="the bulk answer")
    assert flash == "Intercept (cancel) 3 orders: 2 requested, 1 refused."
    report = wait_for(driver, f'#bulk-report li[data-order="{shipped["order_id"]}"]')
    assert "refused AFTER_SALES" in report.text
    for order in waiting:
        oms.wait(order["execution_arn"])
        assert oms.order(order["order_id"])["status"] == "CANCELLED"
    assert oms.order(shipped["order_id"])["status"] == "SHIPPED"


def test_export_button_saves_the_search_as_csv(console, oms):
    platform = f"x{uuid.uuid4().hex[:10]}"
    for _ in range(2):
        oms.run(order_body(platform=platform))
    driver = console(f"/orders?platform={platform}")
    wait_for(driver, "button#export").click()
    flash = wait_until(driver, lambda: driver.find_element("id", "flash").text, what="the export")
    assert flash == "Exported 2 orders to orders.csv."


def test_stock_import_page_shows_a_result_per_row(console, oms):
    good = new_sku()
    driver = console("/stock", role="admin")
    area = wait_for(driver, "#import-csv")
    area.send_keys(f"sku,warehouse,on_hand\n{good},WH-MAIN,6\n{good},WH-EAST,-2\n")
    driver.find_element("id", "import-send").click()
    flash = wait_until(driver, lambda: driver.find_element("id", "flash").text, what="the import report")
    assert flash.endswith("2 rows, 1 applied, 1 invalid.")
    bad = wait_for(driver, 'tr[data-outcome="invalid"]')
    assert bad.text.startswith("3")
    assert "on_hand" in bad.text
    assert "on hand 6" in driver.find_element("css selector", 'tr[data-outcome="applied"]').text
    assert oms.stock(good) == {"on_hand": 6, "reserved": 0, "available": 6}
    assert "Only admin" in wait_for(console("/stock", role="ops"), "#read-only-note").text

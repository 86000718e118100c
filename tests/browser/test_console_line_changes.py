"""The order page's line editor in headless Chromium: lower a quantity on a paid order and read the
refund and the new line; ask an unpaid order for more than the stock has and read why it was refused."""

from __future__ import annotations

import pytest

from tests.browser.support import SKIP_WITHOUT_CHROMIUM, text_of, wait_for, wait_until
from tests.e2e.stock_support import allocation_rules, eventually
from tests.factories import new_sku, order_body

TIMES = "\u00d7"  # the multiplication sign the page puts before a quantity

pytestmark = [pytest.mark.browser, pytest.mark.e2e, SKIP_WITHOUT_CHROMIUM]


def _set(field, value: str) -> None:
    field.clear()
    field.send_keys(value)


def test_lowering_a_quantity_shows_the_refund_and_the_new_line(console, oms, stack):
    a, b = new_sku(), new_sku()
    oms.set_stock(a, 10)
    oms.set_stock(b, 10)
    body = order_body([(a, 3, "45.00"), (b, 2, "12.50")], shipping="6.00", discount="5.00")
    with allocation_rules(oms, merge_window_minutes=30):
        posted = oms.post(body)
        order_id = posted.json()["order_id"]
        eventually(lambda: oms.order(order_id)["status"] == "ALLOCATED", what="allocated")
        driver = console(f"/orders/{order_id}")
        _set(wait_for(driver, f'#line-editor input.line-qty[data-sku="{a}"]'), "2")
        _set(driver.find_element("id", "change-reason"), "buyer wants two")
        driver.find_element("css selector", "button.save-lines").click()

        flash = wait_until(driver, lambda: driver.find_element("id", "flash").text, what="the answer")
        assert flash == f"Lines of {order_id} changed; refund 45.28 CNY; 1 unit(s) back in stock."
        wait_until(
            driver,
            lambda: text_of(driver, f'#order-lines tr[data-sku="{a}"] td.qty') == f"{TIMES} 2",
            what="two units",
        )
        assert text_of(driver, f'#order-lines tr[data-sku="{b}"] td.qty') == f"{TIMES} 2"
        assert oms.stock(a) == {"on_hand": 10, "reserved": 2, "available": 8}
        oms.wait(posted.json()["execution_arn"])
    events = [e for e in oms.history(order_id).json()["timeline"] if e.get("type") == "order.lines_changed"]
    assert events[0]["actor"] == "user:browser-ops"


def test_more_than_the_stock_has_is_refused_with_the_reason_on_screen(console, oms, stack):
    a = new_sku()
    oms.set_stock(a, 3)
    posted = oms.post(order_body([(a, 2, "10.00")], payment={"status": "unpaid"}))
    order_id = posted.json()["order_id"]
    eventually(lambda: oms.order(order_id)["status"] == "AWAITING_PAYMENT", what="awaiting payment")
    driver = console(f"/orders/{order_id}")
    _set(wait_for(driver, f'#line-editor input.line-qty[data-sku="{a}"]'), "5")
    _set(driver.find_element("id", "change-reason"), "buyer wants five")
    driver.find_element("css selector", "button.save-lines").click()

    flash = wait_until(driver, lambda: driver.find_element("id", "flash").text, what="the refusal")
    assert flash == f"not enough stock for {a} (1 of 3 more)"
    assert text_of(driver, f'#order-lines tr[data-sku="{a}"] td.qty') == f"{TIMES} 2"
    assert oms.stock(a) == {"on_hand": 3, "reserved": 2, "available": 1}


def test_split_sends_the_ticked_line_in_a_second_parcel(console, oms, stack):
    a, b = new_sku(), new_sku()
    oms.set_stock(a, 5)
    oms.set_stock(b, 5)
    with allocation_rules(oms, merge_window_minutes=30):
        posted = oms.post(order_body([(a, 1, "20.00"), (b, 2, "5.00")]))
        order_id = posted.json()["order_id"]
        eventually(lambda: oms.order(order_id)["status"] == "ALLOCATED", what="allocated")
        driver = console(f"/orders/{order_id}")
        wait_for(driver, f'#split-card input.split-line[data-sku="{b}"]').click()
        _set(driver.find_element("id", "split-reason"), "fragile, ship apart")
        driver.find_element("css selector", "button.split-order").click()

        flash = wait_until(driver, lambda: driver.find_element("id", "flash").text, what="the answer")
        assert flash == f"Order {order_id} split: {b} will ship in parcel 2, the rest in parcel 1."
        oms.wait(posted.json()["execution_arn"])
    driver = console(f"/orders/{order_id}")
    wait_for(driver, f'#order-lines tr[data-shipment="{order_id}-WH-MAIN-G2"]')
    parcels = [row.text for row in driver.find_elements("css selector", "#order-lines tr[data-shipment]")]
    assert sorted(p.split(":")[0] for p in parcels) == [
        f"Shipment {order_id}-WH-MAIN",
        f"Shipment {order_id}-WH-MAIN-G2",
    ]
    assert not driver.find_elements("id", "split-card")  # shipped: nothing left to split


def test_an_order_without_reserved_stock_cannot_be_split_and_the_page_says_why(console, oms, stack):
    a, b = new_sku(), new_sku()
    oms.set_stock(a, 5)
    oms.set_stock(b, 5)
    posted = oms.post(order_body([(a, 1, "6000.00"), (b, 1, "5.00")]))  # high value: held at review
    order_id = posted.json()["order_id"]
    eventually(lambda: oms.order(order_id)["status"] == "ON_HOLD", what="held")
    driver = console(f"/orders/{order_id}")
    wait_for(driver, f'#split-card input.split-line[data-sku="{b}"]').click()
    _set(driver.find_element("id", "split-reason"), "fragile, ship apart")
    driver.find_element("css selector", "button.split-order").click()

    flash = wait_until(driver, lambda: driver.find_element("id", "flash").text, what="the refusal")
    assert flash == f"order {order_id} is ON_HOLD: split it once its stock is reserved"
    assert oms.order(order_id)["status"] == "ON_HOLD"

"""The console as people meet it: what they read, not only which elements exist.

Each test asserts visible text or state a person relies on: hold reasons as words, the buyer's remark,
why an order was cancelled, buttons only for who may press them, pages that update by themselves,
business events first, local times with UTC on hover, a layout that fits 800 px, and Sales that keeps
held and unpaid orders out of the money.
"""

from __future__ import annotations

import re
import threading
import uuid
from datetime import datetime, timedelta

import pytest

from functions.core import repository
from tests.browser.support import SKIP_WITHOUT_CHROMIUM, text_of, texts, wait_for, wait_until
from tests.factories import new_sku, order_body
from tests.review_helpers import review

pytestmark = [pytest.mark.browser, pytest.mark.e2e, SKIP_WITHOUT_CHROMIUM]


def post_held(oms, stack, **overrides) -> dict:
    """An order review holds (6000.00 is over the high-value line, or a remark), once it is ON_HOLD."""
    from tests.review_helpers import wait_for as wait_stack

    sku = new_sku()
    oms.set_stock(sku, 10)
    price = overrides.pop("price", "6000.00")
    platform = overrides.pop("platform", f"h{uuid.uuid4().hex[:10]}")
    body = order_body([(sku, 1, price)], platform=platform, **overrides)
    posted = oms.post(body)
    assert posted.status == 201, posted.body
    order_id = posted.json()["order_id"]
    wait_stack(stack, lambda: oms.order(order_id)["status"] == "ON_HOLD", what="held")
    return {**oms.order(order_id), "execution_arn": posted.json()["execution_arn"]}


def test_hold_reasons_filter_reads_as_words_and_filters(console, oms, stack):
    post_held(oms, stack)
    driver = console("/holds")
    reasons = wait_for(driver, "#hold-reasons")
    assert re.search(r"By reason: all · (\w+ \(\d+\) · )*HIGH_VALUE \(\d+\)", reasons.text), reasons.text
    assert "http" not in reasons.text
    reasons.find_element("css selector", 'a[data-reason="HIGH_VALUE"]').click()
    wait_until(driver, lambda: text_of(driver, "h2") == "Held orders: HIGH_VALUE", what="filtered")
    assert all("HIGH_VALUE" in row for row in texts(driver, "#results tbody tr"))


def test_the_buyer_remark_is_shown_where_it_holds_the_order(console, oms, stack):
    order = post_held(oms, stack, price="10.00", remark="please send the blue one")
    assert [r["code"] for r in order["hold"]["reasons"]] == ["BUYER_REMARK"]
    driver = console(f"/orders/{order['order_id']}")
    assert wait_for(driver, "#buyer-remark").text == "“please send the blue one”"
    hold = driver.find_element("id", "hold-card").text
    assert "BUYER_REMARK" in hold
    assert "Buyer remark: please send the blue one" in hold.replace("“", "").replace("”", "").replace('"', "")
    queue = console("/holds?reason=BUYER_REMARK")
    row = wait_for(queue, f'tr[data-order="{order["order_id"]}"]')
    assert "read the remark" in row.text


def test_a_payment_timeout_cancellation_says_why(console, oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 5)
    platform = f"t{uuid.uuid4().hex[:10]}"
    posted = oms.post(order_body([(sku, 1, "10.00")], platform=platform, payment={"status": "unpaid"}))
    assert posted.status == 201, posted.body
    order_id = posted.json()["order_id"]
    oms.wait(posted.json()["execution_arn"])  # the virtual clock runs past the pay deadline
    assert oms.order(order_id)["status"] == "CANCELLED"
    driver = console(f"/orders/{order_id}")
    assert wait_for(driver, "#cancellation").text.startswith("PAYMENT_TIMEOUT: ")
    listed = console(f"/orders?platform={platform}")
    row = wait_for(listed, f'tr[data-order="{order_id}"]')
    assert "PAYMENT_TIMEOUT" in row.find_element("css selector", "td.why").text


def test_a_viewer_gets_no_buttons_that_would_answer_403(console, oms, stack):
    order = post_held(oms, stack)
    driver = console("/holds", role="viewer")
    row = wait_for(driver, f'tr[data-order="{order["order_id"]}"]')
    assert row.find_elements("css selector", "button") == []
    assert "your role (viewer) may not approve or reject" in driver.find_element("id", "read-only-note").text
    page = console(f"/orders/{order['order_id']}", role="viewer")
    card = wait_for(page, "#hold-card")
    assert card.find_elements("css selector", "button") == []
    ops = console(f"/orders/{order['order_id']}", role="ops")
    assert [b.text for b in wait_for(ops, "#hold-card").find_elements("css selector", "button")] == [
        "Approve",
        "Reject",
    ]


def test_the_order_list_shows_a_new_order_without_a_reload(console, oms, stack):
    platform = f"l{uuid.uuid4().hex[:10]}"
    driver = console(f"/orders?platform={platform}", poll_ms=500)
    wait_until(driver, lambda: text_of(driver, "#results tbody tr") == "No orders.", what="empty list")
    assert "live · updated" in driver.find_element("id", "live").text
    sku = new_sku()
    oms.set_stock(sku, 5)
    order, _ = oms.run(order_body([(sku, 1)], platform=platform))
    row = f'tr[data-order="{order["order_id"]}"]'
    wait_until(driver, lambda: "SHIPPED" in text_of(driver, row), what="the new order, shipped, no reload")


def test_an_approved_order_updates_in_place_and_keeps_the_decision_not_the_problem(console, oms, stack):
    order = post_held(oms, stack)
    driver = console(f"/orders/{order['order_id']}", poll_ms=500)
    assert wait_for(driver, "#order-status").text == "ON_HOLD"
    assert review(oms, order["order_id"], "approve", comment="called the buyer").status == 200
    oms.wait(order["execution_arn"])
    wait_until(driver, lambda: text_of(driver, "#order-status") == "SHIPPED", what="shipped, no reload")
    assert text_of(driver, "#review-outcome").startswith("held, then approved by a person")
    assert "was held for: HIGH_VALUE: total 6000.00" in " ".join(text_of(driver, "#review-outcome").split())
    decided = text_of(driver, "#manual-review")
    assert decided.startswith("approve by user:ops.li at ")
    assert "“called the buyer”" in decided
    assert driver.find_elements("id", "hold-card") == []
    listed = console(f"/orders?platform={order['platform']}")
    row = wait_for(listed, f'tr[data-order="{order["order_id"]}"]')
    assert row.find_element("css selector", "td.why").text == ""  # approved: no longer a problem


def test_nothing_says_no_orders_while_the_list_is_loading(console, oms, stack):
    release = threading.Event()

    def slow_search(function_name, event):
        if function_name == "ApiFunction" and event.get("path") == "/orders":
            release.wait(20)

    stack.runtime.before_invoke = slow_search
    try:
        driver = console(f"/orders?platform=p{uuid.uuid4().hex[:10]}")
        wait_until(driver, lambda: "Loading…" in driver.find_element("id", "view").text, what="loading")
        assert "No orders." not in driver.find_element("id", "view").text
    finally:
        release.set()
        stack.runtime.before_invoke = None
    wait_until(driver, lambda: text_of(driver, "#results tbody tr") == "No orders.", what="answer")


def test_times_are_local_with_utc_on_hover(console, oms, browser):
    sku = new_sku()
    oms.set_stock(sku, 5)
    order, _ = oms.run(order_body([(sku, 1)]))
    created = datetime.fromisoformat(order["created_at"])
    browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Shanghai"})
    try:
        driver = console(f"/orders/{order['order_id']}")
        wait_for(driver, "#timeline")
        received = driver.find_element("xpath", "//dt[text()='Received']/following-sibling::dd[1]/time")
        local = (created + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
        assert received.text == local
        assert received.get_attribute("title") == created.strftime("%Y-%m-%d %H:%M:%S UTC")
        assert "Asia/Shanghai" in driver.find_element("id", "who").get_attribute("title")
    finally:
        browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ""})


def test_the_order_list_fits_an_800_pixel_window(console, oms, browser):
    platform = f"n{uuid.uuid4().hex[:10]}"
    sku = new_sku()
    oms.set_stock(sku, 5)
    order, _ = oms.run(order_body([(sku, 1)], platform=platform))
    browser.set_window_size(800, 900)
    try:
        driver = console(f"/orders?platform={platform}")
        row = wait_for(driver, f'tr[data-order="{order["order_id"]}"]')
        width = driver.execute_script("return document.documentElement.clientWidth")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= width
        table = "return document.querySelector('table.orders').getBoundingClientRect().right"
        right = driver.execute_script(table)
        assert right <= width
        assert order["order_id"] in row.text
        assert "SHIPPED" in row.text
        assert driver.find_element("id", "token").is_displayed()
    finally:
        browser.set_window_size(1280, 900)


def test_sales_separate_placed_paid_shipped_and_waiting_over_a_fitting_range(console, oms, stack):
    platform = f"s{uuid.uuid4().hex[:10]}"
    sku = new_sku()
    oms.set_stock(sku, 50)
    oms.run(order_body([(sku, 4, "12.50")], platform=platform))  # shipped: 50.00
    post_held(oms, stack, platform=platform)  # 6000.00 held for review: not money in
    unpaid = oms.post(order_body([(sku, 1, "30.00")], platform=platform, payment={"status": "unpaid"}))
    assert unpaid.status == 201, unpaid.body
    unpaid_id = unpaid.json()["order_id"]
    stack.run_until(lambda: repository.get_order(unpaid_id).status == "AWAITING_PAYMENT", 20, advance=False)
    stack.settle()
    driver = console(f"/reports?platform={platform}", role="viewer")
    wait_for(driver, "#sales-split")
    figures = {
        name: text_of(driver, f"#sales-{name} strong")
        for name in ("placed", "paid", "shipped", "waiting", "revenue", "stopped")
    }
    assert figures == {
        "placed": "3",
        "paid": "1",
        "shipped": "1",
        "waiting": "2",
        "revenue": "50.00 CNY",
        "stopped": "0",
    }
    days = re.search(r"\((\d+) days?,", text_of(driver, "#sales-range"))
    assert days, text_of(driver, "#sales-range")
    assert int(days.group(1)) <= 7  # not 30 empty days
    assert "fitted to the days with orders" in text_of(driver, "#sales-range")

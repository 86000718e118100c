"""The ops console in headless Chromium (Debian's chromium and chromedriver, driven by Selenium).

`oms serve`'s HTTP server in front of the session's local stack, a staff token in the URL as
`oms serve` prints it, and a person's clicks: the order list and search, an order's timeline and state
machine path, the held-order queue (approve when the review endpoint exists), exceptions, sales.
"""

from __future__ import annotations

import uuid

import pytest

from tests.browser.support import SKIP_WITHOUT_CHROMIUM, texts, wait_for
from tests.factories import new_sku, order_body

pytestmark = [pytest.mark.browser, pytest.mark.e2e, SKIP_WITHOUT_CHROMIUM]


def test_order_list_and_search(console, oms):
    platform = f"b{uuid.uuid4().hex[:10]}"
    order, _ = oms.run(order_body(platform=platform))
    driver = console(f"/orders?platform={platform}")
    row = wait_for(driver, f'tr[data-order="{order["order_id"]}"]')
    assert platform in row.text
    assert driver.find_element("id", "who").text == "browser-ops (ops)"
    assert "token=" not in driver.current_url  # the token left the address bar
    select = driver.find_element("css selector", "#search select[name=status]")
    assert [o.get_attribute("value") for o in select.find_elements("css selector", "option")][1] == "RECEIVED"


def test_order_page_shows_timeline_and_state_machine_path(console, oms):
    sku = new_sku()
    oms.set_stock(sku, 5)
    order, _ = oms.run(order_body([(sku, 1)]))
    driver = console("/orders")
    link = wait_for(driver, f'a.order-link[href="#/orders/{order["order_id"]}"]')
    link.click()
    wait_for(driver, '#state-path li[data-state="Fulfilled"]')
    assert texts(driver, "#state-path li strong") == [
        "Review",
        "ReviewDecision",
        "Allocate",
        "AllocationOutcome",  # paid on arrival: straight on to Ship
        "Ship",
        "Fulfilled",
    ]
    # nothing waited: every state ran on the fast path (Express), and the reader is told so
    assert all("fast path" in meta for meta in texts(driver, "#state-path li .meta"))
    assert driver.find_element("id", "executions").text == "· fast path SUCCEEDED"
    timeline = "\n".join(texts(driver, "#timeline tbody tr"))
    assert "RECEIVED → APPROVED" in timeline
    assert "SHIPPED" in timeline
    assert "TaskStateEntered" not in timeline  # business events by default: no Step Functions plumbing
    assert "TaskScheduled" not in timeline
    toggle = driver.find_element("id", "show-workflow")
    assert "workflow detail" in driver.find_element("css selector", "label.toggle").text
    toggle.click()
    detailed = "\n".join(texts(driver, "#timeline tbody tr"))
    assert "TaskStateEntered" in detailed
    assert "RECEIVED → APPROVED" in detailed
    assert driver.find_element("id", "order-status").text == "SHIPPED"


def test_a_waiting_order_shows_the_fast_path_then_the_waiting_workflow(console, oms, stack):
    from tests.review_helpers import wait_for as wait_until

    sku = new_sku()
    oms.set_stock(sku, 5)
    posted = oms.post(order_body([(sku, 1, "10.00")], payment={"status": "unpaid"}))
    order_id = posted.json()["order_id"]
    wait_until(stack, lambda: oms.order(order_id)["status"] == "AWAITING_PAYMENT", what="waiting")
    assert oms.pay(order_id, "PAY-CONSOLE-1", "10.00", stack.clock.now().isoformat()).status == 200
    oms.wait(posted.json()["execution_arn"])
    driver = console(f"/orders/{order_id}")
    wait_for(driver, '#state-path li[data-state="Fulfilled"]')
    rows = texts(driver, "#state-path li")
    handed = next(r for r in rows if r.startswith("HandOver"))
    waited = next(r for r in rows if r.startswith("AwaitPayment"))
    assert "fast path" in handed
    assert "waiting workflow" in waited
    assert "waited" in waited
    executions = driver.find_element("id", "executions").text
    assert executions == "· fast path SUCCEEDED · waiting workflow SUCCEEDED"


def test_a_retried_and_failed_stage_is_marked_on_the_path(console, oms, stack):
    from functions.core.errors import TransientError

    calls = []

    def flaky(function_name, event):
        if function_name == "AllocateFunction":
            calls.append(event)
            if len(calls) <= 2:
                raise TransientError("throttled")

    sku = new_sku()
    oms.set_stock(sku, 5)
    stack.runtime.before_invoke = flaky
    order, _ = oms.run(order_body([(sku, 1)]))
    driver = console(f"/orders/{order['order_id']}")
    allocate = wait_for(driver, '#state-path li[data-state="Allocate"]')
    assert "2 retries" in allocate.text
    assert "TransientError" in allocate.text
    assert "failed" in allocate.get_attribute("class")


def held_order(oms, stack) -> dict:
    """An order review holds, once its execution waits for a person (or ends held, without that work)."""
    from tests.review_helpers import wait_for

    sku = new_sku()
    oms.set_stock(sku, 10)
    posted = oms.post(order_body([(sku, 1, "6000.00")], platform=f"h{uuid.uuid4().hex[:10]}"))
    assert posted.status == 201, posted.body
    order_id = posted.json()["order_id"]
    wait_for(stack, lambda: oms.order(order_id)["status"] == "ON_HOLD", what="held")
    return {**oms.order(order_id), "execution_arn": posted.json()["execution_arn"]}


def test_held_orders_queue(console, oms, stack):
    order = held_order(oms, stack)
    driver = console("/holds")
    row = wait_for(driver, f'tr[data-order="{order["order_id"]}"]')
    assert "HIGH_VALUE" in row.text
    assert row.find_elements("css selector", "button.approve")  # ops may decide: the buttons are there


def test_approve_a_held_order(console, oms, stack):
    order = held_order(oms, stack)
    driver = console("/holds")
    row = wait_for(driver, f'tr[data-order="{order["order_id"]}"]')
    row.find_element("css selector", "input[aria-label=comment]").send_keys("called the buyer")
    row.find_element("css selector", "button.approve").click()
    assert "approve sent" in wait_for(driver, "#flash.ok").text
    assert oms.wait(order["execution_arn"])["status"] == "SUCCEEDED"
    decided = oms.order(order["order_id"])
    assert decided["status"] == "SHIPPED"
    assert decided["manual_review"]["actor"] == "user:browser-ops"
    assert decided["manual_review"]["comment"] == "called the buyer"


def test_exception_cases_list_failed_orders(console, oms, stack):
    def crash(function_name, event):
        if function_name == "ShipFunction":
            raise RuntimeError("label printer on fire")

    sku = new_sku()
    oms.set_stock(sku, 5)
    stack.runtime.before_invoke = crash
    order, _ = oms.run(order_body([(sku, 1)]))
    stack.runtime.before_invoke = None
    assert order["status"] == "FAILED"
    driver = console("/exceptions")
    row = wait_for(driver, f'#failed tr[data-order="{order["order_id"]}"]')
    assert "ship: RuntimeError" in row.text


def test_logistics_exceptions_are_listed_and_resolved_with_a_reship(console, oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 5)
    order, _ = oms.run(order_body([(sku, 1)]))
    (parcel,) = order["shipments"]
    opened = oms.track(parcel, "damaged", f"dmg-{uuid.uuid4().hex[:8]}", stack.clock.now().isoformat())
    exception_id = opened.json()["exception_id"]
    driver = console("/exceptions")
    row = wait_for(driver, f'#logistics tr[data-exception="{exception_id}"]')
    assert "damaged" in row.text
    assert order["order_id"] in row.text
    row.find_element("css selector", "button.reship").click()
    wait_for(driver, "#flash.ok")
    assert "replacement rpl-" in driver.find_element("id", "flash").text
    assert f'data-exception="{exception_id}"' not in driver.find_element("id", "logistics").get_attribute(
        "innerHTML"
    )
    resolved = [
        e for e in oms.history(order["order_id"]).json()["timeline"] if e["type"] == "exception.resolved"
    ]
    assert resolved[0]["actor"] == "user:browser-ops"


def test_sales_chart(console, oms, stack):
    platform = f"s{uuid.uuid4().hex[:10]}"
    sku = new_sku()
    oms.set_stock(sku, 50)
    oms.run(order_body([(sku, 4, "12.50")], platform=platform))
    stack.settle()  # the stream records reach the sales aggregator
    driver = console(f"/reports?platform={platform}", role="viewer")
    wait_for(driver, "#top-skus tbody tr")
    assert texts(driver, "#top-skus tbody tr")[0].split() == [sku, "4", "50.00", "CNY"]
    assert platform in driver.find_element("id", "platforms").text
    assert "shipped" in driver.find_element("css selector", ".legend").text
    painted = driver.execute_script(
        "const c = document.getElementById('sales-chart');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n;"
    )
    assert painted > 100  # bars and the revenue line were drawn


def test_order_page_shows_the_events_published_for_it(console, oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 5)
    order, _ = oms.run(order_body([(sku, 1)]))
    stack.settle()
    driver = console(f"/orders/{order['order_id']}")
    wait_for(driver, '#published-events tr[data-type="fulfilment.updated"]')
    types = [
        row.get_attribute("data-type")
        for row in driver.find_elements("css selector", "#published-events tbody tr")
    ]
    assert types[:4] == ["order.received", "review.approve", "stock.reserved", "order.shipped"]
    assert f"{order['order_id']}:4" in "\n".join(texts(driver, "#published-events tbody tr"))
    viewer = console(f"/orders/{order['order_id']}", role="viewer")
    wait_for(viewer, "#timeline")
    assert viewer.find_elements("css selector", "#published-events") == []  # ops and admin only


def test_order_page_shows_after_sales_cases(console, oms):
    from tests.e2e.aftersales_support import confirm_refund, one_line_order, open_case, wait_case

    order, _ = one_line_order(oms, quantity=1, price="20.00")
    case = open_case(oms, order["order_id"], "refund_only", reason="not_received").json()
    confirm_refund(oms, wait_case(oms, case["case_id"], "REFUND_PENDING"))
    wait_case(oms, case["case_id"], "CLOSED")
    driver = console(f"/orders/{order['order_id']}")
    row = wait_for(driver, "#aftersales tbody tr")
    assert case["case_id"] in row.text
    assert "refund_only (not_received)" in row.text
    assert "CLOSED" in row.text
    assert "Refunded 20.00 CNY in 1 refund(s)" in driver.page_source

"""Platform webhooks arrive twice, at once, with changed content, while DynamoDB throttles, or hostile.

Already covered in tests/e2e/test_ingest_idempotency.py (not repeated): a sequential resend, a resend
while the first execution runs, 10 identical concurrent posts, the same key with other content after
the first was stored (409), invalid fields (422 naming the field), malformed JSON, a body over the size
limit (413). This file adds: identical and changed resends racing each other, resends across a
throttled store, hostile bodies (4xx, no DynamoDB write at all, nothing echoed into the logs), and that
a whole order's processing logs none of the buyer's personal data.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from functions.core import repository
from functions.core.observability import logger
from tests.factories import new_sku, order_body, order_id_of
from tests.reliability.faults import DynamoFault, throttled

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
MARK = "Zq7Secret"  # planted in personal fields; must never reach a log line


def received_count(order_id: str) -> int:
    return [e.to_status for e in repository.load_aggregate(order_id).events].count("RECEIVED")


def test_identical_and_changed_resends_racing_make_one_order_and_refuse_the_other_content(oms):
    sku = new_sku()
    oms.set_stock(sku, 20)
    body = order_body([(sku, 1)])
    changed = order_body([(sku, 5)], platform_order_id=body["platform_order_id"])
    bodies = [body] * 6 + [changed] * 6
    gate = threading.Barrier(len(bodies))

    def post(b: dict):
        gate.wait()
        return b, oms.post(b)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        answers = list(pool.map(post, bodies))

    created = [(b, a) for b, a in answers if a.status == 201]
    assert len(created) == 1
    winner = created[0][0]
    for b, a in answers:
        if b is winner:
            assert a.status in (200, 201)
        else:
            assert a.status == 409, a.body
            assert a.json()["error"]["code"] == "CONFLICT"
    assert len(oms.executions_of(body)) == 1
    execution = oms.wait(oms.executions_of(body)[0]["executionArn"])
    assert execution["status"] == "SUCCEEDED"
    order_id = order_id_of(body)
    assert received_count(order_id) == 1
    quantity = winner["lines"][0]["quantity"]
    assert oms.order(order_id)["lines"][0]["quantity"] == quantity
    assert oms.stock(sku) == {"on_hand": 20 - quantity, "reserved": 0, "available": 20 - quantity}


def test_webhook_answered_503_while_the_store_throttles_is_stored_once_when_resent(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    body = order_body([(sku, 2)])
    fault = DynamoFault("TransactWriteItems", (order_id_of(body), "order.received"), throttled)
    put_fault = DynamoFault("PutItem", (order_id_of(body),), throttled)

    def both(action: str, payload: dict) -> None:
        fault.before(action, payload)
        put_fault.before(action, payload)

    stack.runtime.before_dynamodb = both
    first = oms.post(body)
    assert first.status == 503, first.body
    assert first.headers.get("Retry-After")
    assert fault.hits + put_fault.hits >= 3  # the SDK retried before giving up
    assert oms.get(order_id_of(body)).status == 404
    assert oms.executions_of(body) == []

    stack.runtime.before_dynamodb = None  # the platform resends; the table answers again
    again, resent = oms.post(body), oms.post(body)
    assert (again.status, resent.status) == (201, 200)
    assert oms.wait(again.json()["execution_arn"])["status"] == "SUCCEEDED"
    assert len(oms.executions_of(body)) == 1
    assert received_count(order_id_of(body)) == 1
    assert oms.stock(sku) == {"on_hand": 8, "reserved": 0, "available": 8}


# ---------------------------------------------------------------- hostile input


@pytest.fixture
def writes(stack) -> Iterator[list[str]]:
    """DynamoDB writes made from this test's thread (the API runs in the caller's thread locally),
    except the replay guard's record of the request signature (SIG#...), written before the body is read."""
    seen: list[str] = []
    me = threading.get_ident()

    def record(action: str, body: dict) -> None:
        if action in WRITES and threading.get_ident() == me:
            if action == "PutItem" and body.get("Item", {}).get("pk", {}).get("S", "").startswith("SIG#"):
                return
            seen.append(action)

    stack.runtime.before_dynamodb = record
    yield seen
    stack.runtime.before_dynamodb = None


@pytest.fixture
def logs() -> Iterator[Callable[[], str]]:
    """Everything the functions' logger writes (at DEBUG, its most talkative level) during the test."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous_level, sink = logger.log_level, io.StringIO()
    previous_stream = handler.setStream(sink)
    logger.setLevel("DEBUG")
    try:
        yield sink.getvalue
    finally:
        logger.setLevel(previous_level)
        handler.setStream(previous_stream)


def _personal(**extra) -> dict:
    body = order_body([(new_sku(), 1)])
    body["buyer"]["name"] = f"{MARK} Buyer"
    body["shipping_address"].update(name=f"{MARK} Buyer", line1=f"9 {MARK} Rd", city=f"{MARK}ville")
    body.update(extra)
    return body


def _raw(path: tuple, literal: str) -> str:
    """A personal-data order whose field at `path` is the raw JSON `literal` (NaN, 1e999, ...)."""
    body = _personal()
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = "__RAW__"
    text = json.dumps(body)
    assert text.count('"__RAW__"') == 1
    return text.replace('"__RAW__"', literal)


def _nested(depth: int) -> str:
    return '{"platform":' + "[" * depth + "]" * depth + "}"


HOSTILE: dict[str, object] = {
    "deeply-nested": _nested(100_000),
    "nan-total": _raw(("amounts", "total"), "NaN"),
    "infinite-quantity": _raw(("lines", 0, "quantity"), "1e999"),
    "huge-quantity": _raw(("lines", 0, "quantity"), "99999999999999999999999"),
    "sub-cent-price": _raw(("lines", 0, "unit_price"), '"0.001"'),
    "path-in-order-id": _personal(platform_order_id="../../ORDER#x/EVT#1"),
    "nul-in-order-id": _personal(platform_order_id="PO-\u0000-1"),
    "script-in-sku": {
        **_personal(),
        "lines": [{"sku": "<script>x</script>", "quantity": 1, "unit_price": "1.00"}],
    },
    "unknown-platform": _personal(platform="evil.example"),
    "extra-field": _personal(__proto__={"admin": True}),
    "injection-in-id": _personal(platform_order_id="x' OR '1'='1"),
    "negative-price": {
        **_personal(),
        "lines": [{"sku": "SKU-NEG", "quantity": 1, "unit_price": "-1.00"}],
    },
    "ten-thousand-lines": {
        **_personal(),
        "lines": [{"sku": f"S{i}", "quantity": 1, "unit_price": "1.00"} for i in range(10_000)],
    },
    "not-json-content": "platform=tmall&platform_order_id=1",
    "utf16-garbage": "\ufeff\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_refused_with_4xx_writes_nothing_and_logs_no_personal_data(oms, writes, logs, name):
    payload = HOSTILE[name]
    # signed as a known platform without parsing the body (the driver's own JSON parser would choke)
    response = oms.as_platform("tmall").without_product_seeding().post(payload)
    assert 400 <= response.status < 500, (response.status, response.body[:300])
    assert writes == []
    output = logs()
    assert MARK not in output
    assert MARK not in response.body  # errors name the field, never echo the value


def test_an_order_processed_end_to_end_logs_none_of_the_buyers_personal_data(oms, logs):
    body = _personal()
    oms.set_stock(body["lines"][0]["sku"], 5)
    order, execution = oms.run(body)
    assert execution["status"] == "SUCCEEDED"
    output = logs()
    assert order["order_id"] in output  # the functions did log, with the order's id
    assert MARK not in output

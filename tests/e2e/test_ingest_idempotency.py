"""Ingest stores each platform order once and starts one execution, however often and however fast it is sent.

Bad input is refused at the door with a 4xx that names the field, and leaves nothing behind.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from functions.core import repository
from tests.factories import mutated, new_sku, order_body, order_id_of

pytestmark = pytest.mark.e2e


def received_events(order_id: str) -> list:
    return [e for e in repository.load_aggregate(order_id).events if e.to_status == "RECEIVED"]


def test_sequential_duplicate_is_the_same_order(oms):
    sku = new_sku()
    oms.set_stock(sku, 10)
    body = order_body([(sku, 2)])

    first = oms.post(body)
    assert first.status == 201
    oms.wait(first.json()["execution_arn"])

    second = oms.post(json.loads(json.dumps(body)))
    assert second.status == 200
    assert second.json()["created"] is False
    assert second.json()["order_id"] == first.json()["order_id"]
    assert second.json()["execution_arn"] == first.json()["execution_arn"]
    assert second.json()["status"] == "SHIPPED"  # what is stored, not a fresh RECEIVED

    assert len(oms.executions_of(body)) == 1
    assert len(received_events(first.json()["order_id"])) == 1
    assert oms.stock(sku) == {"on_hand": 8, "reserved": 0, "available": 8}


def test_duplicate_while_first_is_still_running_starts_nothing_new(oms):
    sku = new_sku()
    oms.set_stock(sku, 10)
    body = order_body([(sku, 1)])
    first = oms.post(body)
    second = oms.post(body)  # the execution of the first has not been waited for
    assert (first.status, second.status) == (201, 200)
    oms.wait(first.json()["execution_arn"])
    assert len(oms.executions_of(body)) == 1
    assert oms.stock(sku)["on_hand"] == 9


def test_concurrent_duplicates_make_one_order_and_one_execution(oms):
    sku = new_sku()
    oms.set_stock(sku, 10)
    body = order_body([(sku, 1)])
    barrier = threading.Barrier(10)

    def post(_: int):
        barrier.wait()
        return oms.post(body)

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(post, range(10)))

    assert sorted(a.status for a in answers) == [200] * 9 + [201]
    assert {a.json()["order_id"] for a in answers} == {order_id_of(body)}
    assert {a.json()["execution_arn"] for a in answers} == {answers[0].json()["execution_arn"]}
    assert [a.json()["created"] for a in answers].count(True) == 1

    executions = oms.executions_of(body)
    assert len(executions) == 1
    assert oms.wait(executions[0]["executionArn"])["status"] == "SUCCEEDED"
    assert len(received_events(order_id_of(body))) == 1
    assert oms.order(order_id_of(body))["status"] == "SHIPPED"
    assert oms.stock(sku) == {"on_hand": 9, "reserved": 0, "available": 9}


def test_same_key_with_different_content_is_a_conflict(oms):
    sku = new_sku()
    oms.set_stock(sku, 10)
    body = order_body([(sku, 1)])
    stored, _ = oms.run(body)

    changed = order_body([(sku, 5)], platform_order_id=body["platform_order_id"])
    response = oms.post(changed)
    assert response.status == 409
    assert response.json()["error"]["code"] == "CONFLICT"
    assert body["platform_order_id"] in response.json()["error"]["message"]

    assert oms.order(stored["order_id"]) == stored
    assert len(oms.executions_of(body)) == 1
    assert oms.stock(sku) == {"on_hand": 9, "reserved": 0, "available": 9}


def test_resend_with_equal_amounts_written_differently_is_not_a_conflict(oms):
    body = order_body([(new_sku(), 1, "10.00")])
    first = oms.post(body)
    assert first.status == 201
    oms.wait(first.json()["execution_arn"])
    resend = mutated(body, ("lines", 0, "unit_price"), 10)
    response = oms.post(resend)
    assert response.status == 200, response.body
    assert response.json()["order_id"] == first.json()["order_id"]


def test_same_platform_order_id_on_another_platform_is_another_order(oms):
    body = order_body()
    other = {**body, "platform": "jd"}
    first, second = oms.post(body), oms.post(other)
    assert (first.status, second.status) == (201, 201)
    assert first.json()["order_id"] != second.json()["order_id"]
    for answer in (first, second):
        oms.wait(answer.json()["execution_arn"])


# ---------------------------------------------------------------- bad input


def _nothing_written(oms, body) -> None:
    assert oms.get(order_id_of(body)).status == 404
    assert oms.executions_of(body) == []


@pytest.mark.parametrize(
    ("path", "value", "delete", "loc"),
    [
        (("buyer",), None, True, ["body", "buyer"]),
        (("lines", 0, "sku"), None, True, ["body", "lines", 0, "sku"]),
        (("lines", 0, "quantity"), -1, False, ["body", "lines", 0, "quantity"]),
        (("shipping_address", "country"), "China", False, ["body", "shipping_address", "country"]),
        (("amounts", "total"), "ten", False, ["body", "amounts", "total"]),
        (("placed_at",), "yesterday", False, ["body", "placed_at"]),
    ],
    ids=["missing-buyer", "missing-sku", "negative-quantity", "bad-country", "bad-total", "bad-date"],
)
def test_invalid_body_is_422_naming_the_field(oms, path, value, delete, loc):
    body = mutated(order_body(), path, value, delete=delete)
    response = oms.post(body)
    assert response.status == 422
    assert [d["loc"] for d in response.json()["error"]["fields"]] == [loc]
    _nothing_written(oms, body)


def test_malformed_json_is_422(oms):
    body = order_body()
    text = json.dumps(body)[:-5]  # cut off mid-document
    response = oms.post(text)
    assert response.status == 422
    assert response.json()["error"]["fields"][0]["type"] == "json_invalid"
    _nothing_written(oms, body)


@pytest.mark.parametrize("raw", ["", "null", "[]", '"order"'])
def test_body_that_is_not_an_order_object_is_422(oms, raw):
    response = oms.post(raw)
    assert response.status == 422


def test_oversized_body_is_413_and_not_parsed(oms):
    body = order_body(remark="x" * 500)
    body["buyer"]["name"] = "y" * 100
    padded = json.dumps(body) + " " * (256 * 1024)  # still valid JSON, but larger than the API takes
    response = oms.post(padded)
    assert response.status == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    _nothing_written(oms, body)


def test_body_just_under_the_limit_is_accepted(oms):
    body = order_body()
    text = json.dumps(body)
    padded = text + " " * (256_000 - len(text.encode()))
    response = oms.post(padded)
    assert response.status == 201
    oms.wait(response.json()["execution_arn"])


def test_duplicate_skus_are_refused_and_nothing_written(oms):
    sku = new_sku()
    body = order_body([(sku, 1), (sku, 2)])
    response = oms.post(body)
    assert response.status == 422
    _nothing_written(oms, body)


def test_duplicate_sku_error_names_lines(oms):
    sku = new_sku()
    response = oms.post(order_body([(sku, 1), (sku, 2)]))
    assert response.status == 422
    assert response.json()["error"]["fields"][0]["loc"][:2] == ["body", "lines"]


@pytest.mark.e2e
def test_concurrent_duplicates_through_the_service_yield_one_order_and_one_execution(oms, stack):
    """The API runs one request per container; many containers run ingest at once on AWS, so the
    service itself is raced here from threads, interleaving its DynamoDB and Step Functions calls."""

    from functions.core.models.order_in import OrderIn
    from functions.ingest.service import ingest_order

    sku = new_sku()
    oms.set_stock(sku, 5)
    body = order_body([(sku, 1)])
    order_in = OrderIn.model_validate(body)
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: ingest_order(order_in), range(10)))
    assert len({r.order.order_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert len({r.order.execution_arn for r in results}) == 1
    assert len(oms.executions_of(body)) == 1
    execution_arn = results[0].order.execution_arn
    assert oms.wait(execution_arn)["status"] == "SUCCEEDED"
    received = [
        e for e in oms.history(results[0].order.order_id).json()["timeline"] if e["type"] == "order.received"
    ]
    assert len(received) == 1

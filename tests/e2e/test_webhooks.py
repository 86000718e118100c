"""Outbound status webhooks: signed like the platforms' own requests, retried with back-off on the
stack's clock, dead-lettered after six attempts, never POSTed twice once delivered."""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from functions.core.auth.signing import HEADER_PLATFORM, HEADER_SIGNATURE, HEADER_TIMESTAMP, sign
from functions.core.secrets import auth_keys
from functions.webhooks.logic import HEADER_EVENT_ID, HEADER_IDEMPOTENCY_KEY, MAX_ATTEMPTS
from tests.factories import new_sku, order_body, order_id_of

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events"


class Sink:
    """A platform's webhook endpoint on 127.0.0.1: records every request, answers as told."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.failures: dict[str, int] = {}  # event type -> how many more times to answer 503
        self.always_fail = False
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                event_type = self.headers["X-OMS-Event-Type"]
                headers = {k.lower(): v for k, v in self.headers.items()}  # HTTP header names: any case
                sink.requests.append({"headers": headers, "body": body, "type": event_type})
                status = 200
                if sink.always_fail or sink.failures.get(event_type, 0) > 0:
                    sink.failures[event_type] = sink.failures.get(event_type, 0) - 1
                    status = 503
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/oms-webhooks"

    def of(self, order_id: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if json.loads(r["body"])["order_id"] == order_id]


@pytest.fixture
def sink() -> Iterator[Sink]:
    endpoint = Sink()
    yield endpoint
    endpoint.server.shutdown()


@pytest.fixture
def platform(oms: Any, sink: Sink) -> str:
    name = f"wh-{uuid.uuid4().hex[:10]}"
    response = oms.call("PUT", f"/webhooks/{name}", {"url": sink.url})
    assert response.status == 200, response.body
    return name


def _ship(oms: Any, platform: str) -> str:
    sku = new_sku()
    oms.set_stock(sku, 5)
    body = order_body([(sku, 1)], platform=platform)
    order, _ = oms.run(body)
    assert order["status"] == "SHIPPED"
    oms.stack.settle()
    return order_id_of(body)


def _deliveries(oms: Any, order_id: str) -> dict[str, dict[str, Any]]:
    response = oms.as_role("ops").call("GET", f"/webhooks/deliveries?order_id={order_id}")
    assert response.status == 200, response.body
    return {d["event_type"]: d for d in response.json()["deliveries"]}


def test_status_changes_are_posted_signed_with_the_platform_secret(oms, stack, sink, platform):
    order_id = _ship(oms, platform)
    received = sink.of(order_id)
    assert [r["type"] for r in received] == [
        "review.approve",
        "stock.reserved",
        "order.shipped",
        "fulfilment.updated",
    ]
    from functions.webhooks.keys import webhook_secret

    secret = webhook_secret(platform)
    assert secret != auth_keys().platform_secret(platform)  # not the key the platform signs requests with
    # the admin hands the platform its webhook key: PUT /webhooks/{platform} answers it
    again = oms.call("PUT", f"/webhooks/{platform}", {"url": sink.url}).json()
    assert again["signing_secret"] == secret
    for request in received:
        headers, body = request["headers"], request["body"]
        assert headers[HEADER_PLATFORM.lower()] == platform
        expected = sign(secret, headers[HEADER_TIMESTAMP.lower()], body)
        assert headers[HEADER_SIGNATURE.lower()] == expected  # verifiable with its webhook key
        detail = json.loads(body)
        assert (
            headers[HEADER_EVENT_ID.lower()] == headers[HEADER_IDEMPOTENCY_KEY.lower()] == detail["event_id"]
        )
        schema = json.loads((DOCS / f"{request['type']}.schema.json").read_text())
        assert jsonschema_rs.validator_for(schema).is_valid(detail)
    forged = sign(
        "not-the-secret-" * 3, received[0]["headers"][HEADER_TIMESTAMP.lower()], received[0]["body"]
    )
    assert forged != received[0]["headers"][HEADER_SIGNATURE.lower()]
    deliveries = _deliveries(oms, order_id)
    assert {d["status"] for d in deliveries.values()} == {"delivered"}
    assert deliveries["order.shipped"]["attempts"] == 1


def test_a_failed_delivery_is_retried_with_back_off_then_succeeds(oms, stack, sink, platform):
    sink.failures["order.shipped"] = 2
    order_id = _ship(oms, platform)
    started = stack.clock.now()
    stack.advance(30 + 60 + 5)  # the back-off: 30 s after the first failure, 60 s after the second
    attempts = [r for r in sink.of(order_id) if r["type"] == "order.shipped"]
    assert len(attempts) == 3
    assert len({json.loads(r["body"])["event_id"] for r in attempts}) == 1  # one idempotency key
    times = [int(r["headers"][HEADER_TIMESTAMP.lower()]) for r in attempts]
    gaps = [(later - earlier) / 1000 for earlier, later in itertools.pairwise(times)]
    assert gaps[0] >= 30
    assert gaps[1] >= 60
    delivery = _deliveries(oms, order_id)["order.shipped"]
    assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == ("delivered", 3, 200)
    assert stack.clock.now() > started


def test_an_endpoint_that_keeps_failing_gets_the_message_dead_lettered(oms, stack, sink, platform):
    sink.always_fail = True
    order_id = _ship(oms, platform)
    stack.advance(30 + 60 + 120 + 240 + 480 + 60 + 30)  # every back-off, then the last visibility timeout
    attempts = [r for r in sink.of(order_id) if r["type"] == "order.shipped"]
    assert len(attempts) == MAX_ATTEMPTS
    delivery = _deliveries(oms, order_id)["order.shipped"]
    assert (delivery["status"], delivery["attempts"]) == ("failed", MAX_ATTEMPTS)
    sqs = stack.session.client("sqs")
    dead: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=stack.queue_urls["WebhookDLQ"], MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        dead += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(
            QueueUrl=stack.queue_urls["WebhookDLQ"],
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    mine = [d for d in dead if d["detail"]["order_id"] == order_id]
    assert sorted(d["detail-type"] for d in mine) == sorted(
        ["review.approve", "stock.reserved", "order.shipped", "fulfilment.updated"]
    )


def test_a_redelivered_message_is_not_posted_again(oms, stack, sink, platform):
    order_id = _ship(oms, platform)
    shipped = [
        e for e in stack.event_sources.events_on("oms-local-orders") if e["detail"]["order_id"] == order_id
    ]
    again = next(e for e in shipped if e["detail-type"] == "order.shipped")
    sqs = stack.session.client("sqs")
    sqs.send_message(
        QueueUrl=stack.queue_urls["WebhookQueue"], MessageBody=json.dumps(again)
    )  # at-least-once
    stack.settle()
    stack.advance(1)
    assert [r["type"] for r in sink.of(order_id)].count("order.shipped") == 1


def test_platforms_without_an_endpoint_get_nothing_and_endpoints_are_validated(oms, stack, sink):
    order_id = _ship(oms, f"wh-{uuid.uuid4().hex[:10]}")
    assert sink.of(order_id) == []
    assert _deliveries(oms, order_id) == {}
    bad = oms.call("PUT", "/webhooks/jd", {"url": "http://example.com/hook"})
    assert bad.status == 422
    assert "https" in bad.body
    assert oms.as_role("ops").call("PUT", "/webhooks/jd", {"url": sink.url}).status == 403
    listed = oms.call("GET", "/webhooks").json()["endpoints"]
    assert all(e["url"].startswith(("https://", "http://127.0.0.1")) for e in listed)


def test_oms_serve_sink_captures_deliveries_and_checks_their_signatures(oms, stack):
    import urllib.request

    from oms.local.http import WEBHOOK_SINK_PATH, serve

    server = serve(stack, port=0)
    try:
        platform = f"wh-{uuid.uuid4().hex[:10]}"
        url = f"{server.url}{WEBHOOK_SINK_PATH}/{platform}"
        assert oms.call("PUT", f"/webhooks/{platform}", {"url": url}).status == 200
        order_id = _ship(oms, platform)
        with urllib.request.urlopen(f"{server.url}{WEBHOOK_SINK_PATH}", timeout=10) as answer:
            captured = json.load(answer)["deliveries"]
    finally:
        server.shutdown()
    mine = [c for c in captured if c["detail"]["order_id"] == order_id]
    assert [c["event_type"] for c in mine] == [
        "review.approve",
        "stock.reserved",
        "order.shipped",
        "fulfilment.updated",
    ]
    assert all(c["signature_valid"] and c["platform"] == platform for c in mine)
    assert _deliveries(oms, order_id)["order.shipped"]["response_status"] == 204


def test_locally_webhooks_never_leave_the_machine(oms, stack, sink):
    platform = f"wh-{uuid.uuid4().hex[:10]}"
    assert oms.call("PUT", f"/webhooks/{platform}", {"url": "https://erp.example.com/hook"}).status == 200
    order_id = _ship(oms, platform)
    deliveries = _deliveries(oms, order_id)
    assert {d["status"] for d in deliveries.values()} == {"blocked"}
    assert deliveries["order.shipped"]["attempts"] == 0

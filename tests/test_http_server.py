"""The local HTTP server: real sockets in front of the local stack, everything a client sees."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.core.models.order_in import order_id_for
from oms.local.catalog import register_order_products, register_products
from oms.local.clock import VirtualClock
from oms.local.http import LocalHttpServer, serve
from oms.local.stack import WAIT_BOUND_SECONDS, LocalStack
from tests.factories import mutated, new_sku, order_body
from tests.serving import serving

pytestmark = pytest.mark.e2e

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
CLOCK = VirtualClock(datetime(2026, 3, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[LocalStack, LocalHttpServer]]:
    # Its own stack, not the session one: moto is process-global, so only one may run at a time, and the
    # conftest stops the session stack before any test that does not ask for it.
    with serving(LocalStack(clock=CLOCK)) as served_pair:
        yield served_pair


def credentials(method: str, url: str, raw: str) -> dict[str, str]:
    """As a platform would (POST /orders, signed as the body's platform) or as admin staff."""
    from oms.local import credentials as local

    now = CLOCK.now()
    if method == "POST" and url.split("?")[0].endswith("/orders"):
        try:
            platform = json.loads(raw).get("platform", "tmall")
        except (ValueError, AttributeError):
            platform = "tmall"
        name = platform if isinstance(platform, str) else "tmall"
        return local.platform_headers(name, raw, now, method=method, target=url)
    return local.staff_headers("admin", "http-test", now)


def call(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, Any]:
    """(status, headers, parsed JSON body or None), for error statuses too; authenticated."""
    data = json.dumps(body).encode() if body is not None else None
    auth = credentials(method, url, data.decode() if data else "")
    request = urllib.request.Request(url, data=data, method=method, headers={**auth, **(headers or {})})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=WAIT_BOUND_SECONDS) as response:
            raw = response.read()
            return response.status, response.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, err.headers, json.loads(raw) if raw else None


def test_binds_to_an_ephemeral_loopback_port(served):
    _, server = served
    assert server.host == "127.0.0.1"
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"


def test_order_posted_over_http_ships_and_its_history_reads_back(served):
    from functions.core import repository

    stack, server = served
    sku = new_sku()
    register_products([sku])
    repository.set_stock(sku, "WH-MAIN", 5)
    body = order_body([(sku, 2, "12.50")])

    status, headers, answer = call("POST", f"{server.url}/orders", body)
    assert status == 201, answer
    assert headers["Content-Type"] == "application/json"
    assert headers["Location"] == f"/orders/{answer['order_id']}"
    assert answer["order_id"] == order_id_for(body["platform"], body["platform_order_id"])
    assert stack.wait_for_execution(answer["execution_arn"])["status"] == "SUCCEEDED"

    status, _, history = call("GET", f"{server.url}/orders/{answer['order_id']}/history")
    assert status == 200, history
    assert history["order_id"] == answer["order_id"]
    assert history["status"] == "SHIPPED"
    assert history["execution"]["status"] == "SUCCEEDED"
    order_events = [e for e in history["timeline"] if e["source"] == "order"]
    assert [e["to_status"] for e in order_events] == ["RECEIVED", "APPROVED", "ALLOCATED", "SHIPPED"]
    workflow = [e for e in history["timeline"] if e["source"] == "workflow"]
    types = [e["type"] for e in workflow]
    assert types[0] == "ExecutionStarted"
    assert types[-1] == "ExecutionSucceeded"
    entered = [e["state"] for e in workflow if e["type"].endswith("StateEntered")]
    assert entered[:1] == ["Review"]
    assert {"Allocate", "Ship", "Fulfilled"} <= set(entered)
    assert repository.get_stock(sku)[0].on_hand == 3


def test_a_query_string_and_client_headers_do_not_disturb_routing(served):
    stack, server = served
    body = order_body()
    register_order_products(body)
    headers = {"X-Request-Id": "abc", "User-Agent": "t"}
    status, _, refused = call("POST", f"{server.url}/orders?source=test", body, headers=headers)
    assert status == 422, refused  # the query string reached the API: an unknown parameter is named
    assert refused["error"]["code"] == "UNKNOWN_PARAMETER"
    assert [f["field"] for f in refused["error"]["fields"]] == ["query.source"]
    status, _, answer = call("POST", f"{server.url}/orders", body, headers=headers)
    assert status == 201, answer
    stack.wait_for_execution(answer["execution_arn"])
    status, _, found = call("GET", f"{server.url}/orders?platform={body['platform']}&limit=50")
    assert status == 200, found
    assert answer["order_id"] in [o["order_id"] for o in found["items"]]


@pytest.mark.parametrize(
    ("path", "value", "delete", "field"),
    [
        (("lines", 0, "quantity"), 0, False, "quantity"),
        (("shipping_address",), ..., True, "shipping_address"),
        (("amounts", "currency"), "yuan", False, "currency"),
        (("placed_at",), "2026-11-25T10:00:00", False, "placed_at"),  # not timezone-aware
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(served, path, value, delete, field):
    stack, server = served
    body = mutated(order_body(), path, value, delete=delete)
    stack.settle()  # stream consumers still folding earlier tests' records would write in this window
    before = stack.counters()["dynamodb"]

    status, _, answer = call("POST", f"{server.url}/orders", body)

    assert status == 422, answer
    assert any(err["loc"][0] == "body" and err["loc"][-1] == field for err in answer["error"]["fields"]), (
        answer
    )
    written = stack.counters()["dynamodb"] - before
    # The one write is the replay guard's record of the request's signature (before any route runs).
    assert {action: n for action, n in written.items() if action in WRITES} == {"PutItem": 1}, written
    order_id = order_id_for(body["platform"], body["platform_order_id"])
    status, _, answer = call("GET", f"{server.url}/orders/{order_id}")
    assert status == 404, answer
    assert answer["error"]["code"] == "NOT_FOUND"


def test_a_body_that_is_not_json_is_rejected(served):
    _, server = served
    request = urllib.request.Request(
        f"{server.url}/orders",
        data=b"{not json",
        method="POST",
        headers={"Content-Type": "application/json", **credentials("POST", "/orders", "{not json")},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=WAIT_BOUND_SECONDS)
    assert caught.value.code == 422


def test_unknown_paths_and_methods_are_answered_by_the_api_not_the_server(served):
    _, server = served
    status, _, _ = call("GET", f"{server.url}/nowhere")
    assert status == 404
    # http.server answers 501 for methods it has no do_<METHOD> for; every method reaches the API here.
    status, _, _ = call("DELETE", f"{server.url}/orders/{order_id_for('tmall', 'x')}")
    assert status in (404, 405)


def test_a_crashing_function_is_a_502_like_api_gateway(served, capsys):
    stack, server = served

    def crash(function_name: str, event: dict[str, Any]) -> None:
        if function_name == "ApiFunction":  # the authorizer before it still runs
            raise RuntimeError("injected crash")

    stack.runtime.before_invoke = crash
    try:
        status, _, answer = call("GET", f"{server.url}/orders/{order_id_for('tmall', 'y')}")
    finally:
        stack.runtime.before_invoke = None
    assert status == 502
    assert answer == {"message": "Internal server error"}
    assert "injected crash" in capsys.readouterr().err


def test_refuses_to_bind_beyond_loopback(served):
    stack, _ = served
    with pytest.raises(ValueError, match="loopback"):
        serve(stack, host="0.0.0.0", port=0)


def test_concurrent_clients_each_get_their_own_answer(served):
    # The API handler is not re-entrant in one process; the server must not let requests interleave in it.
    _, server = served
    ids = [f"ord-{i:024x}" for i in range(120)]
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so an unguarded handler fails every time
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda order_id: call("GET", f"{server.url}/orders/{order_id}"), ids))
    finally:
        sys.setswitchinterval(previous)
    assert [status for status, _, _ in answers] == [404] * len(ids)
    assert [body["error"]["message"] for _, _, body in answers] == [f"order {i} not found" for i in ids]


def test_utf8_bodies_survive_the_round_trip(served):
    _, server = served
    body = order_body(buyer={"id": "buyer-cn", "name": "李雷"}, remark="请尽快发货")
    register_order_products(body)
    status, _, answer = call("POST", f"{server.url}/orders", body)
    assert status == 201, answer
    status, _, order = call("GET", f"{server.url}/orders/{answer['order_id']}")
    assert (order["buyer"]["name"], order["remark"]) == ("李雷", "请尽快发货")


def test_the_root_redirects_a_browser_to_the_console(served):
    _, server = served
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=WAIT_BOUND_SECONDS)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        response.read()
        assert (response.status, response.getheader("Location")) == (302, "/console")
    finally:
        connection.close()
    with urllib.request.urlopen(f"{server.url}/", timeout=WAIT_BOUND_SECONDS) as followed:
        assert followed.url == f"{server.url}/console"
        assert b"OMS console" in followed.read()


def test_a_burst_of_simultaneous_connections_is_each_answered(served):
    # A peak's worth of clients connect at once, before any of them is served: the listen backlog
    # must hold them all (socketserver's default of 5 drops or resets the rest).
    _, server = served
    clients = 64
    sockets = [
        socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_BOUND_SECONDS)
        for _ in range(clients)
    ]
    try:
        for n, sock in enumerate(sockets):
            request = f"GET /orders/ord-{n:024x} HTTP/1.1\r\nHost: local\r\nConnection: close\r\n"
            headers = credentials("GET", "/orders/x", "")
            request += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
            sock.sendall(request.encode())
        answers = []
        for sock in sockets:
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
            answers.append(received)
    finally:
        for sock in sockets:
            sock.close()
    assert [answer.split(b"\r\n", 1)[0] for answer in answers] == [b"HTTP/1.1 404 Not Found"] * clients
    assert all(f"ord-{n:024x} not found".encode() in answer for n, answer in enumerate(answers))
    assert server._httpd.request_queue_size >= 1024


def test_a_client_that_hangs_up_early_is_not_a_server_error(served, capsys):
    _, server = served
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_BOUND_SECONDS) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close
        sock.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: local\r\n\r\n")
    status, _, _ = call("GET", f"{server.url}/openapi.json")  # the server still answers the next one
    assert status == 200
    assert "Traceback" not in capsys.readouterr().err

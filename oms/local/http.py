"""A real HTTP port in front of the local stack, so curl, browsers and SDKs can talk to the OMS.

`GET /metrics` is answered by the server itself: the summary of the metrics the handlers published
(oms/local/metrics.py). So is the local webhook sink, a stand-in for the platforms' endpoints
(docs/events.md): `POST /local/webhook-sink/<platform>` keeps what the OMS delivered (checking the
signature with that platform's secret), `GET /local/webhook-sink` lists it.
Every other request, whatever its method, becomes `LocalStack.request(...)`:
the same API Gateway proxy event the deployed API receives, run through the real API function. The
server binds to loopback only: the local stack has no authentication, and a laptop's OMS must not be
reachable from the network.
"""

from __future__ import annotations

import json
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from oms.local import console
from oms.local.stack import LocalStack

METRICS_PATH = "/metrics"  # served by this server itself, like the console, outside the API's routes
WEBHOOK_SINK_PATH = "/local/webhook-sink"  # the platforms' webhook endpoints, locally (served here too)
LOOPBACK = frozenset({"127.0.0.1", "localhost"})
# Headers the server computes itself; copying the function's would corrupt the framing.
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
# What API Gateway answers when the integration (the Lambda function) itself fails.
_GATEWAY_ERROR = b'{"message": "Internal server error"}'


class _OmsHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a hung client must not keep the process alive on shutdown
    # The listen backlog: a flash sale's burst of connections waits in the kernel's queue for a thread
    # instead of being refused (socketserver's default is 5).
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], stack: LocalStack, verbose: bool) -> None:
        self.stack = stack
        self.verbose = verbose
        self.webhooks: deque[dict[str, Any]] = deque(maxlen=10_000)
        super().__init__(address, _ProxyHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away before its answer (a closed tab, a stopped curl) is not a server error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _OmsHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, and 100-continue for curl's larger bodies

    def __getattr__(self, name: str) -> Callable[[], None]:
        # BaseHTTPRequestHandler dispatches to do_<METHOD>; API Gateway accepts any method and lets the
        # API decide (404/405), so every method token is routed the same way.
        if name.startswith("do_") and name[3:].isupper():
            return self._proxy
        raise AttributeError(name)

    def _proxy(self) -> None:
        if self.command in ("GET", "HEAD") and self.path.split("?", 1)[0] == "/":
            self._write(302, {"Location": console.PREFIX}, b"")  # a browser pointed at the port
            return
        if self.command in ("GET", "HEAD") and console.is_console(self.path):
            self._write(*console.static_response(self.path))  # the ops console's static files
            return
        if self.command in ("GET", "HEAD") and self.path.split("?", 1)[0] == METRICS_PATH:
            self._metrics()
            return
        if self.path.split("?", 1)[0].startswith(WEBHOOK_SINK_PATH):
            self._webhook_sink()
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400, "bad Content-Length")
            return
        body = self.rfile.read(length).decode("utf-8", errors="replace") if length > 0 else None
        headers = dict(self.headers.items())  # repeated headers: the last wins, as in API Gateway's map
        try:
            # The runtime runs the API function one request at a time, as one Lambda container does.
            response = self.server.stack.request(self.command, self.path, body, headers)
        except Exception:  # the function crashed: API Gateway turns that into a 502
            traceback.print_exc(file=sys.stderr)
            self._write(502, {"Content-Type": "application/json"}, _GATEWAY_ERROR)
            return
        self._write(response.status, response.headers, response.body.encode("utf-8"))

    def _metrics(self) -> None:
        """The local stand-in for CloudWatch: what the handlers published, summarised (not an API route)."""
        payload = json.dumps(self.server.stack.metrics.summary(), sort_keys=True).encode("utf-8")
        self._write(200, {"Content-Type": "application/json", "Cache-Control": "no-store"}, payload)

    def _webhook_sink(self) -> None:
        """Stand-in for the platforms' webhook endpoints: keep each delivery, check its signature."""
        path = self.path.split("?", 1)[0].rstrip("/")
        json_headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
        if self.command in ("GET", "HEAD") and path == WEBHOOK_SINK_PATH:
            payload = json.dumps({"deliveries": list(self.server.webhooks)}).encode("utf-8")
            self._write(200, json_headers, payload)
            return
        platform = path[len(WEBHOOK_SINK_PATH) + 1 :]
        if self.command != "POST" or not platform or "/" in platform:
            self._write(404, json_headers, b'{"message": "POST /local/webhook-sink/<platform>"}')
            return
        from functions.core.auth.signing import HEADER_SIGNATURE, HEADER_TIMESTAMP, sign
        from oms.local import credentials

        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", errors="replace")
        timestamp = self.headers.get(HEADER_TIMESTAMP) or ""
        expected = sign(credentials.webhook_secret(platform), timestamp, body)
        try:
            detail = json.loads(body)
        except ValueError:
            detail = None
        self.server.webhooks.append(
            {
                "platform": platform,
                "event_id": self.headers.get("Idempotency-Key"),
                "event_type": self.headers.get("X-OMS-Event-Type"),
                "signature_valid": expected == self.headers.get(HEADER_SIGNATURE),
                "received_at": self.server.stack.clock.now().isoformat(),
                "detail": detail,
            }
        )
        self._write(204, {}, b"")

    def _write(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class LocalHttpServer:
    """A running server: `.port`, `.url`, `.shutdown()`; also a context manager."""

    def __init__(self, httpd: _OmsHTTPServer) -> None:
        self._httpd = httpd
        self.host = str(httpd.server_address[0])
        self.port = int(httpd.server_address[1])
        self._thread = threading.Thread(target=httpd.serve_forever, name="oms-http", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def shutdown(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalHttpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def serve(
    stack: LocalStack, host: str = "127.0.0.1", port: int = 3000, *, verbose: bool = False
) -> LocalHttpServer:
    """Serve `stack` on host:port in a background thread (port 0 picks a free port)."""
    if host not in LOOPBACK:
        raise ValueError(f"the local OMS binds to loopback only, not {host!r}")
    return LocalHttpServer(_OmsHTTPServer((host, port), stack, verbose))

"""A small fake of the platforms' own APIs on 127.0.0.1, so the connectors' pull and ship-back run locally.

* TOP (Taobao/Tmall) at `<url>/top/router/rest`: `taobao.trades.sold.increment.get` answers the seeded
  trades of the session's seller modified in [start_modified, end_modified] (paged, `has_next`);
  `taobao.logistics.offline.send` records the shipment. Requests must carry a valid TOP signature.
* Shopify at `<url>/shopify/<shop>/admin/api/<version>/orders/<id>/fulfillments.json`: records the
  fulfillment if `X-Shopify-Access-Token` is the shop's token.
Everything received is kept in `calls` for tests and for `oms serve` to show.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from functions.connectors import top
from functions.connectors.common import china_time

_FULFILLMENTS = re.compile(r"^/shopify/([^/]+)/admin/api/[^/]+/orders/([0-9]+)/fulfillments\.json$")


@dataclass
class TopApp:
    app_key: str
    secret: str
    sessions: dict[str, str] = field(default_factory=dict)  # session -> seller_nick


class FakePlatform:
    def __init__(self) -> None:
        self.top_apps: dict[str, TopApp] = {}
        self.trades: dict[str, dict[str, Any]] = {}  # tid -> trade (the fullinfo shape)
        self.shopify_tokens: dict[str, str] = {}  # shop domain -> admin API access token
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    # ---------------------------------------------------------------- seeding
    def add_top_app(self, app_key: str, secret: str, session: str, seller_nick: str) -> None:
        app = self.top_apps.setdefault(app_key, TopApp(app_key, secret))
        app.sessions[session] = seller_nick

    def put_trade(self, trade: dict[str, Any]) -> None:
        with self._lock:
            self.trades[str(trade["tid"])] = trade

    def add_shopify_shop(self, shop: str, access_token: str) -> None:
        self.shopify_tokens[shop] = access_token

    def received(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [c for c in self.calls if c["name"] == name]

    # ---------------------------------------------------------------- server
    @property
    def url(self) -> str:
        assert self.server is not None, "start() first"
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self, port: int = 0) -> FakePlatform:
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer(*platform.handle("GET", self.path, dict(self.headers.items()), b""))

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer(*platform.handle("POST", self.path, dict(self.headers.items()), body))

            def _answer(self, status: int, document: Any) -> None:
                payload = json.dumps(document, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True, name="fake-platform").start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    # ---------------------------------------------------------------- requests
    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        parts = urlsplit(path)
        if parts.path == "/top/router/rest":
            params = dict(parse_qsl(parts.query))
            if method == "POST":
                params.update(dict(parse_qsl(body.decode("utf-8"))))
            return 200, self._top(params)
        match = _FULFILLMENTS.match(parts.path)
        if match and method == "POST":
            return self._fulfillment(match.group(1), match.group(2), headers, body)
        return 404, {"errors": "Not Found"}

    def _top(self, params: dict[str, str]) -> dict[str, Any]:
        app = self.top_apps.get(params.get("app_key", ""))
        if app is None:
            return _top_error(29, "Invalid app Key")
        method = params.get("sign_method", "md5")
        if method not in top.SIGN_METHODS or params.get("sign") != top.sign(params, app.secret, method):
            return _top_error(25, "Invalid signature")
        seller = app.sessions.get(params.get("session", ""))
        if seller is None:
            return _top_error(27, "Invalid session")
        name = params.get("method", "")
        if name == "taobao.trades.sold.increment.get":
            return self._increment(seller, params)
        if name == "taobao.logistics.offline.send":
            trade = self.trades.get(params.get("tid", ""))
            if trade is None or trade.get("seller_nick") != seller:
                return _top_error(15, "Remote service error", "isv.logistics-offline-service-error:B04")
            with self._lock:
                self.calls.append(
                    {
                        "name": name,
                        "tid": params["tid"],
                        "out_sid": params.get("out_sid"),
                        "company_code": params.get("company_code"),
                    }
                )
                trade["status"] = "WAIT_BUYER_CONFIRM_GOODS"
            return {"logistics_offline_send_response": {"shipping": {"is_success": True}}}
        return _top_error(22, "Invalid method")

    def _increment(self, seller: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            start, end = china_time(params["start_modified"]), china_time(params["end_modified"])
            page, size = int(params.get("page_no", "1")), int(params.get("page_size", "40"))
        except (KeyError, ValueError):
            return _top_error(41, "Invalid arguments", "isv.invalid-parameter")
        with self._lock:
            matching = sorted(
                (
                    t
                    for t in self.trades.values()
                    if t["seller_nick"] == seller and start <= china_time(t["modified"]) <= end
                ),
                key=lambda t: (t["modified"], t["tid"]),
            )
            self.calls.append({"name": "taobao.trades.sold.increment.get", "page_no": page})
        chunk = matching[(page - 1) * size : page * size]
        return {
            "trades_sold_increment_get_response": {
                "total_results": len(matching),
                "has_next": page * size < len(matching),
                "trades": {"trade": chunk},
            }
        }

    def _fulfillment(self, shop: str, order_id: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        token = next((v for k, v in headers.items() if k.lower() == "x-shopify-access-token"), None)
        if token is None or self.shopify_tokens.get(shop) != token:
            return 401, {
                "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
            }
        document = json.loads(body or b"{}")
        fulfillment = document.get("fulfillment")
        if not isinstance(fulfillment, dict) or not fulfillment.get("line_items"):
            return 422, {"errors": {"line_items": ["can't be blank"]}}
        with self._lock:
            number = len(self.calls) + 1
            self.calls.append(
                {"name": "fulfillment.create", "shop": shop, "order_id": order_id, "fulfillment": fulfillment}
            )
        return 201, {
            "fulfillment": {
                "id": 255858046 + number,
                "order_id": int(order_id),
                "status": "success",
                **fulfillment,
            }
        }


def _top_error(code: int, msg: str, sub_code: str = "") -> dict[str, Any]:
    return {"error_response": {"code": code, "msg": msg, "sub_code": sub_code, "request_id": "fake"}}


# ---------------------------------------------------------------- signing pushes, as the platforms do


def shopify_headers(
    shop: str, topic: str, secret: str, body: bytes, triggered_at: datetime
) -> dict[str, str]:
    from functions.connectors.common import base64_hmac_sha256

    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Hmac-Sha256": base64_hmac_sha256(secret, body),
        "X-Shopify-Triggered-At": triggered_at.isoformat(),
        "X-Shopify-API-Version": "2024-10",
    }


def top_push_query(app_key: str, secret: str, topic: str, body: bytes, at: datetime) -> dict[str, str]:
    params = {"app_key": app_key, "timestamp": top.timestamp(at), "topic": topic, "v": "2.0"}
    return top.signed(params, secret, body)


Seeder = Callable[[FakePlatform], None]

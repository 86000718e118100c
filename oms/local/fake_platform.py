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
import shlex
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from functions.connectors import top
from functions.connectors.common import china_time

_FULFILLMENTS = re.compile(r"^/shopify/([^/]+)/admin/api/[^/]+/orders/([0-9]+)/fulfillments\.json$")
_WOO_TRACKING = re.compile(
    r"^/woo/([^/]+)/wp-json/wc-shipment-tracking/v3/orders/([0-9]+)/shipment-trackings$"
)


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
        self.apps: dict[str, str] = {}  # JOS / PDD / 抖店 app key -> app secret
        self.douyin_orders: dict[str, dict[str, Any]] = {}  # order_id -> shop_order_detail
        self.pdd_orders: dict[str, tuple[str, dict[str, Any]]] = {}  # order_sn -> (access token, order_info)
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

    def add_app(self, app_key: str, secret: str) -> None:
        self.apps[app_key] = secret

    def put_pdd_order(self, access_token: str, order: dict[str, Any]) -> None:
        """An order of the mall that `access_token` was granted for (pdd.order.number.list.increment.get)."""
        with self._lock:
            self.pdd_orders[str(order["order_sn"])] = (access_token, order)

    def put_douyin_order(self, order: dict[str, Any]) -> None:
        with self._lock:
            self.douyin_orders[str(order["order_id"])] = order

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
        if parts.path.startswith("/douyin/") and method == "POST":
            return 200, self._douyin(
                parts.path.removeprefix("/douyin/").replace("/", "."), dict(parse_qsl(parts.query))
            )
        if parts.path == "/jd/routerjson" and method == "POST":
            return 200, self._md5_signed(dict(parse_qsl(body.decode())), "method", "app_key")
        if parts.path == "/pdd/api/router" and method == "POST":
            return 200, self._md5_signed(dict(parse_qsl(body.decode())), "type", "client_id")
        match = _WOO_TRACKING.match(parts.path)
        if match and method == "POST":
            with self._lock:
                self.calls.append(
                    {
                        "name": "shipment-trackings.create",
                        "shop": match.group(1),
                        "order_id": match.group(2),
                        "body": json.loads(body or b"{}"),
                    }
                )
            return 201, {"tracking_id": uuid.uuid4().hex[:10], **json.loads(body or b"{}")}
        return 404, {"errors": "Not Found"}

    def _douyin(self, method: str, query: dict[str, str]) -> dict[str, Any]:
        from functions.connectors.douyin import api_sign

        secret = self.apps.get(query.get("app_key", ""))
        if secret is None or query.get("sign") != api_sign(
            query["app_key"], secret, method, query.get("param_json", ""), query.get("timestamp", "")
        ):
            return {"code": 40004, "msg": "签名校验失败", "data": None}
        business = json.loads(query.get("param_json") or "{}")
        if method == "order.orderDetail":
            order = self.douyin_orders.get(str(business.get("shop_order_id")))
            if order is None:
                return {"code": 50002, "msg": "订单不存在", "data": None}
            return {"code": 10000, "msg": "success", "data": {"shop_order_detail": order}}
        with self._lock:
            self.calls.append({"name": method, **business})
        return {"code": 10000, "msg": "success", "data": {}}

    def _md5_signed(self, params: dict[str, str], method_key: str, app_key: str) -> dict[str, Any]:
        from functions.connectors import md5sign

        secret = self.apps.get(params.get(app_key, ""))
        if secret is None or params.get("sign") != md5sign.sign(params, secret):
            return {"error_response": {"code": "19", "zh_desc": "签名错误", "en_desc": "Invalid signature"}}
        if params.get(method_key) == "pdd.order.number.list.increment.get":
            return self._pdd_increment(params)
        with self._lock:
            business = json.loads(params.get("360buy_param_json") or "{}")  # JOS: business params as JSON
            self.calls.append({"name": params.get(method_key, ""), **params, **business})
        return {f"{params.get(method_key, '').replace('.', '_')}_response": {"is_success": True}}

    def _pdd_increment(self, params: dict[str, str]) -> dict[str, Any]:
        start, end = int(params["start_updated_at"]), int(params["end_updated_at"])
        if end - start > 1800:
            return {"error_response": {"error_code": 10000, "error_msg": "时间跨度不能超过30分钟"}}
        page, size = int(params.get("page", "1")), int(params.get("page_size", "100"))
        with self._lock:
            self.calls.append({"name": "pdd.order.number.list.increment.get", "page": page})
            matching = sorted(
                (
                    order
                    for token, order in self.pdd_orders.values()
                    if token == params.get("access_token")
                    and start <= china_time(order["updated_at"]).timestamp() <= end
                ),
                key=lambda order: (order["updated_at"], order["order_sn"]),
            )
        chunk = matching[(page - 1) * size : page * size]
        return {
            "order_sn_increment_get_response": {
                "total_count": len(matching),
                "has_next": page * size < len(matching),
                "order_sn_list": chunk,
            }
        }

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


# ---------------------------------------------------------------- `oms serve`: one demo shop per connector

DEMO_SKUS = ("TEA-LONGJING-250G", "MUG-CERAMIC-350")


@dataclass(frozen=True)
class DemoShop:
    platform: str
    shop: str  # our key, in /channels/{platform}/shops/{shop}
    native_shop_id: str  # how the platform names it in a push (header or field)
    app_key: str
    secret: str
    api_base_url: str
    pull: bool = False


def _demo_secret(name: str) -> str:
    import hashlib
    import hmac

    from oms.local.stack import LOCAL_SIGNING_KEY

    return hmac.new(LOCAL_SIGNING_KEY.encode(), f"demo-channel:{name}".encode(), hashlib.sha256).hexdigest()


def demo_shops(fake_url: str) -> list[DemoShop]:
    return [
        DemoShop(
            "shopify",
            "demo-shop.myshopify.com",
            "demo-shop.myshopify.com",
            "",
            _demo_secret("shopify"),
            f"{fake_url}/shopify/demo-shop.myshopify.com",
        ),
        DemoShop(
            "tmall",
            "tmall-demo",
            "OMS演示旗舰店",
            "12345678",
            _demo_secret("tmall"),
            f"{fake_url}/top/router/rest",
            pull=True,
        ),
        DemoShop("jd", "jd-demo", "10001", "jd-demo-app", _demo_secret("jd"), f"{fake_url}/jd/routerjson"),
        DemoShop(
            "douyin",
            "douyin-demo",
            "20001",
            "7000000000000000001",
            _demo_secret("douyin"),
            f"{fake_url}/douyin",
        ),
        DemoShop(
            "pinduoduo",
            "pdd-demo",
            "30001",
            "pdd-demo-client",
            _demo_secret("pinduoduo"),
            f"{fake_url}/pdd/api/router",
        ),
        DemoShop(
            "woocommerce",
            "woo-demo",
            "woo.example.com",
            "",
            _demo_secret("woocommerce"),
            f"{fake_url}/woo/woo.example.com",
        ),
    ]


def start_demo_channels(base_url: str, now: datetime) -> FakePlatform:
    """Start the fake platform, register one demo shop per connector, seed Tmall trades for the pull,
    and print what a newcomer needs to push as each platform (docs/connectors.md)."""
    from functions.connectors import registry
    from functions.connectors.contract import Credentials
    from oms.local.catalog import register_products

    register_products(DEMO_SKUS)  # the trades' SKUs: capture refuses what the product master lacks
    fake = FakePlatform().start()
    print(
        f"Channel connectors (docs/connectors.md): native pushes to {base_url}/channels/<platform>/webhooks",
        flush=True,
    )
    for demo in demo_shops(fake.url):
        token = f"demo-token-{demo.platform}"
        registry.put_credentials(demo.platform, demo.shop, Credentials(demo.secret, token, demo.app_key))
        registry.put_shop(
            demo.platform,
            demo.shop,
            {
                "platform": demo.platform,
                "shop": demo.shop,
                "api_base_url": demo.api_base_url,
                "pull": demo.pull,
                "native_shop_id": demo.native_shop_id if demo.native_shop_id != demo.shop else None,
                "updated_at": now.isoformat(),
                "updated_by": "oms-serve",
            },
        )
        if demo.platform == "shopify":
            fake.add_shopify_shop(demo.shop, token)
        elif demo.platform == "tmall":
            fake.add_top_app(demo.app_key, demo.secret, token, demo.native_shop_id)
        elif demo.app_key:
            fake.add_app(demo.app_key, demo.secret)
        named = f" (pushes name it {demo.native_shop_id})" if demo.native_shop_id != demo.shop else ""
        app = f" app_key={demo.app_key}" if demo.app_key else ""
        print(f"  {demo.platform:<12} shop {demo.shop}{named}{app} secret={demo.secret}", flush=True)
    for number, sku in enumerate(DEMO_SKUS, start=1):
        fake.put_trade(_demo_trade(number, sku, now))
    print(
        f"Fake platform APIs (Tmall pull every 5 minutes finds {len(DEMO_SKUS)} trades; ship-backs land "
        f"here): {fake.url}",
        flush=True,
    )
    shopify = next(d for d in demo_shops(fake.url) if d.platform == "shopify")
    body = json.dumps(_demo_shopify_order(now), separators=(",", ":"))
    headers = shopify_headers(shopify.shop, "orders/create", shopify.secret, body.encode(), now)
    signed = " ".join(f"-H {shlex.quote(f'{k}: {v}')}" for k, v in headers.items())
    print("Push a Shopify orders/create as Shopify signs it:", flush=True)
    print(
        f"  curl -sS -X POST {base_url}/channels/shopify/webhooks {signed} -d {shlex.quote(body)}", flush=True
    )
    return fake


def _demo_shopify_order(now: datetime) -> dict[str, Any]:
    return {
        "id": 5600000000001,
        "name": "#1001",
        "email": "jon@example.com",
        "currency": "CNY",
        "created_at": now.isoformat(),
        "updated_at": now.isoformat(),
        "financial_status": "paid",
        "total_price": "346.00",
        "total_tax": "0.00",
        "total_discounts": "0.00",
        "customer": {
            "id": 115310627314723954,
            "email": "jon@example.com",
            "first_name": "Jon",
            "last_name": "Snow",
        },
        "shipping_address": {
            "name": "Jon Snow",
            "address1": "1 Nanjing Rd",
            "city": "Shanghai",
            "province_code": "SH",
            "zip": "200000",
            "country_code": "CN",
            "phone": "+86 138 0000 0000",
        },
        "line_items": [
            {
                "id": 866550311766439020,
                "product_id": 632910392,
                "variant_id": 808950810,
                "sku": DEMO_SKUS[0],
                "title": "Longjing tea 250 g",
                "quantity": 2,
                "price": "168.00",
            }
        ],
        "shipping_lines": [{"price": "10.00", "title": "Standard"}],
    }


def _demo_trade(number: int, sku: str, now: datetime) -> dict[str, Any]:
    at = top.timestamp(now)
    return {
        "tid": 3000000000000000000 + number,
        "status": "WAIT_SELLER_SEND_GOODS",
        "seller_nick": "OMS演示旗舰店",
        "buyer_open_uid": f"AAdemo{number}",
        "created": at,
        "modified": at,
        "pay_time": at,
        "payment": "58.00",
        "total_fee": "48.00",
        "post_fee": "10.00",
        "receiver_name": "张三",
        "receiver_mobile": "13800000000",
        "receiver_state": "浙江省",
        "receiver_city": "杭州市",
        "receiver_district": "余杭区",
        "receiver_address": "文一西路969号",
        "receiver_zip": "311121",
        "orders": {
            "order": [
                {
                    "oid": 3000000000000000100 + number,
                    "num_iid": 600000000001,
                    "sku_id": "1",
                    "outer_sku_id": sku,
                    "title": sku,
                    "price": "48.00",
                    "num": 1,
                }
            ]
        },
    }

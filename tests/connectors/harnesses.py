"""One harness per push platform: register a shop on the fake platform and the OMS, build documented-shape
orders with fresh ids, and push them signed (or forged, or stale) the platform's own way."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from functions.connectors import md5sign
from functions.connectors.common import CHINA, base64_hmac_sha256
from functions.connectors.douyin import push_sign
from oms.local.fake_platform import FakePlatform
from tests.connectors.channel_support import fixture, fresh_id, new_secret, raw


class Harness:
    platform = ""
    signs_time = False  # whether the platform's signature covers a timestamp (a stale one is refused)

    def __init__(self, oms: Any, fake: FakePlatform) -> None:
        self.oms, self.fake = oms, fake
        self.secret, self.app_key, self.token = new_secret(), str(fresh_id(8)), uuid.uuid4().hex
        self.native_shop = self.native_shop_id()
        self.key = f"{self.platform[:4]}-{uuid.uuid4().hex[:8]}"
        fake.add_app(self.app_key, self.secret)
        body = {
            "secret": self.secret,
            "app_key": self.app_key,
            "access_token": self.token,
            "native_shop_id": self.native_shop,
            "api_base_url": f"{fake.url}{self.api_path()}",
        }
        response = oms.call("PUT", f"/channels/{self.platform}/shops/{self.key}", body)
        assert response.status == 200, response.body

    def now(self) -> datetime:
        return self.oms.stack.clock.now()  # type: ignore[no-any-return]

    def post(self, body: bytes, headers: dict[str, str], query: str = "") -> Any:
        path = f"/channels/{self.platform}/webhooks" + (f"?{query}" if query else "")
        return self.oms.anonymous().call("POST", path, body.decode(), headers)

    # ------------------------------------------------------------ per platform
    def native_shop_id(self) -> str:
        raise NotImplementedError

    def api_path(self) -> str:
        raise NotImplementedError

    def order(self, sku_a: str, remark: str = "") -> Any:
        raise NotImplementedError

    def native_id(self, document: Any) -> str:
        raise NotImplementedError

    def second_line(self, document: Any) -> tuple[str, str]:
        """(item_id, sku_id) of the line without a merchant code."""
        raise NotImplementedError

    def push(
        self,
        document: Any,
        *,
        event: str = "create",
        secret: str | None = None,
        age: timedelta = timedelta(0),
    ) -> Any:
        raise NotImplementedError

    def with_address(self, document: Any, street: str) -> Any:
        raise NotImplementedError

    def cancelled(self, document: Any) -> Any:
        raise NotImplementedError

    def refunding(self, document: Any) -> Any:
        raise NotImplementedError

    def broken(self, document: Any) -> tuple[Any, str]:
        raise NotImplementedError


class WooCommerce(Harness):
    platform = "woocommerce"

    def native_shop_id(self) -> str:
        self.host = f"shop-{uuid.uuid4().hex[:8]}.example.com"
        return self.host

    def api_path(self) -> str:
        return f"/woo/{self.host}"

    def order(self, sku_a: str, remark: str = "") -> Any:
        document = fixture("woocommerce_order.json", SKU_A=sku_a)
        document["id"] = fresh_id(6)
        document["customer_note"] = remark
        document["shipping"]["phone"] = "+49 30 7654321"
        document["x_custom_plugin_field"] = {"anything": [1, 2, 3]}  # unknown fields are tolerated
        return document

    def native_id(self, document: Any) -> str:
        return str(document["id"])

    def second_line(self, document: Any) -> tuple[str, str]:
        line = document["line_items"][1]
        return str(line["product_id"]), str(line["variation_id"])

    def push(
        self,
        document: Any,
        *,
        event: str = "create",
        secret: str | None = None,
        age: timedelta = timedelta(0),
    ) -> Any:
        body = raw(document)
        topic = {"create": "order.created"}.get(event, "order.updated")
        headers = {
            "X-WC-Webhook-Source": f"https://{self.host}/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": "order",
            "X-WC-Webhook-Event": topic.split(".")[1],
            "X-WC-Webhook-Signature": base64_hmac_sha256(secret or self.secret, body),
            "X-WC-Webhook-ID": "3",
            "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
        }
        return self.post(body, headers)

    def _touched(self, document: Any, minutes: int = 5) -> Any:
        changed = copy.deepcopy(document)
        modified = datetime.fromisoformat(document["date_modified_gmt"]) + timedelta(minutes=minutes)
        changed["date_modified_gmt"] = modified.isoformat(timespec="seconds")
        return changed

    def with_address(self, document: Any, street: str) -> Any:
        changed = self._touched(document)
        changed["shipping"]["address_1"] = street
        return changed

    def cancelled(self, document: Any) -> Any:
        changed = self._touched(document, 10)
        changed["status"] = "cancelled"
        return changed

    def refunding(self, document: Any) -> Any:
        changed = self._touched(document, 10)
        changed["status"] = "refunded"
        return changed

    def broken(self, document: Any) -> tuple[Any, str]:
        changed = copy.deepcopy(document)
        changed["line_items"][0]["quantity"] = "two"
        return changed, "line_items.0.quantity"


class Jd(Harness):
    platform = "jd"
    signs_time = True

    def native_shop_id(self) -> str:
        return str(fresh_id(7))

    def api_path(self) -> str:
        return "/jd/routerjson"

    def order(self, sku_a: str, remark: str = "") -> Any:
        document = fixture("jd_order.json", SKU_A=sku_a, VENDER_ID=self.native_shop)
        info = document["orderInfo"]
        info["orderId"] = str(fresh_id(12))
        info["orderRemark"] = remark
        info["jdUnknownNewField"] = "tolerated"
        return document

    def native_id(self, document: Any) -> str:
        return str(document["orderInfo"]["orderId"])

    def second_line(self, document: Any) -> tuple[str, str]:
        item = document["orderInfo"]["itemInfoList"][1]
        return item["wareId"], item["skuId"]

    def push(
        self,
        document: Any,
        *,
        event: str = "create",
        secret: str | None = None,
        age: timedelta = timedelta(0),
    ) -> Any:
        params = {
            "method": "jingdong.pop.order.get",
            "app_key": self.app_key,
            "timestamp": (self.now() - age).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
            "v": "2.0",
            "360buy_param_json": json.dumps(document, ensure_ascii=False, separators=(",", ":")),
        }
        body = urlencode(md5sign.signed(params, secret or self.secret)).encode()
        return self.post(body, {"Content-Type": "application/x-www-form-urlencoded"})

    def _touched(self, document: Any, minutes: int = 5) -> Any:
        changed = copy.deepcopy(document)
        at = datetime.strptime(document["orderInfo"]["modified"], "%Y-%m-%d %H:%M:%S") + timedelta(
            minutes=minutes
        )
        changed["orderInfo"]["modified"] = at.strftime("%Y-%m-%d %H:%M:%S")
        return changed

    def with_address(self, document: Any, street: str) -> Any:
        changed = self._touched(document)
        changed["orderInfo"]["consigneeInfo"]["fullAddress"] = street
        return changed

    def cancelled(self, document: Any) -> Any:
        changed = self._touched(document, 10)
        changed["orderInfo"]["orderState"] = "TRADE_CANCELED"
        return changed

    def refunding(self, document: Any) -> Any:
        changed = self._touched(document, 10)
        changed["orderInfo"]["orderState"] = "LOCKED"
        return changed

    def broken(self, document: Any) -> tuple[Any, str]:
        changed = copy.deepcopy(document)
        changed["orderInfo"]["itemInfoList"][0]["jdPrice"] = "一百"
        return changed, "360buy_param_json.orderInfo.itemInfoList.0.jdPrice"


class Pinduoduo(Harness):
    platform = "pinduoduo"
    signs_time = True

    def native_shop_id(self) -> str:
        return str(fresh_id(9))

    def api_path(self) -> str:
        return "/pdd/api/router"

    def order(self, sku_a: str, remark: str = "") -> Any:
        document = fixture("pinduoduo_order.json", SKU_A=sku_a)
        document["order_sn"] = f"260101-{fresh_id(15)}"
        document["buyer_memo"] = remark
        document["new_pdd_field"] = {"nested": True}
        return document

    def native_id(self, document: Any) -> str:
        return str(document["order_sn"])

    def second_line(self, document: Any) -> tuple[str, str]:
        item = document["item_list"][1]
        return str(item["goods_id"]), str(item["sku_id"])

    def push(
        self,
        document: Any,
        *,
        event: str = "create",
        secret: str | None = None,
        age: timedelta = timedelta(0),
    ) -> Any:
        params = {
            "type": "pdd.order.information.get",
            "client_id": self.app_key,
            "timestamp": str(int((self.now() - age).timestamp())),
            "data_type": "JSON",
            "mall_id": self.native_shop,
            "order_info": json.dumps(document, ensure_ascii=False, separators=(",", ":")),
        }
        body = urlencode(md5sign.signed(params, secret or self.secret)).encode()
        return self.post(body, {"Content-Type": "application/x-www-form-urlencoded"})

    def _touched(self, document: Any, minutes: int = 5) -> Any:
        changed = copy.deepcopy(document)
        at = datetime.strptime(document["updated_at"], "%Y-%m-%d %H:%M:%S") + timedelta(minutes=minutes)
        changed["updated_at"] = at.strftime("%Y-%m-%d %H:%M:%S")
        return changed

    def with_address(self, document: Any, street: str) -> Any:
        changed = self._touched(document)
        changed["address"] = street
        return changed

    def cancelled(self, document: Any) -> Any:
        changed = self._touched(document, 10)
        changed["refund_status"] = 4
        return changed

    def refunding(self, document: Any) -> Any:
        changed = self._touched(document, 10)
        changed["refund_status"] = 2
        return changed

    def broken(self, document: Any) -> tuple[Any, str]:
        changed = copy.deepcopy(document)
        del changed["receiver_name"]
        return changed, "order_info.receiver_name"


class Douyin(Harness):
    platform = "douyin"

    def native_shop_id(self) -> str:
        return str(fresh_id(7))

    def api_path(self) -> str:
        return "/douyin"

    def order(self, sku_a: str, remark: str = "") -> Any:
        document = fixture("douyin_order_detail.json", SKU_A=sku_a)
        document["order_id"] = str(fresh_id(19))
        document["shop_id"] = int(self.native_shop)
        document["buyer_words"] = remark
        document["sku_order_list"][0]["order_id"] = str(fresh_id(19))
        document["some_new_field"] = "tolerated"
        return document

    def native_id(self, document: Any) -> str:
        return str(document["order_id"])

    def second_line(self, document: Any) -> tuple[str, str]:
        raise NotImplementedError("the 抖店 fixture has one line")

    def push(
        self,
        document: Any,
        *,
        event: str = "create",
        secret: str | None = None,
        age: timedelta = timedelta(0),
    ) -> Any:
        tag = {"create": "100", "update": "105", "cancel": "106", "refund": "200"}[event]
        if tag in ("100", "105"):
            self.fake.put_douyin_order(document)
        data = {
            "p_id": int(document["order_id"]),
            "s_ids": [int(s["order_id"]) for s in document["sku_order_list"]],
            "shop_id": int(self.native_shop),
            "order_status": document["order_status"],
            "biz": 2,
        }
        body = raw([{"tag": tag, "msg_id": uuid.uuid4().hex, "data": json.dumps(data)}])
        headers = {"app-id": self.app_key, "event-sign": push_sign(self.app_key, secret or self.secret, body)}
        return self.post(body, headers)

    def with_address(self, document: Any, street: str) -> Any:
        changed = copy.deepcopy(document)
        changed["post_addr"]["detail"] = street
        changed["update_time"] = document["update_time"] + 300
        return changed

    def cancelled(self, document: Any) -> Any:
        return document

    def refunding(self, document: Any) -> Any:
        return document

    def broken(self, document: Any) -> tuple[Any, str]:
        changed = copy.deepcopy(document)
        changed["sku_order_list"][0]["item_num"] = 0
        return changed, "data.shop_order_detail.sku_order_list.0.item_num"


HARNESSES = {h.platform: h for h in (WooCommerce, Jd, Pinduoduo, Douyin)}
EVENT_OF = {"cancelled": "cancel", "refunding": "refund"}

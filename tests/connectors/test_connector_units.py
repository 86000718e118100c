"""The connectors' pure parts: native signatures, parsing in the platforms' terms, SKU resolution."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from functions.connectors import douyin, md5sign, shopify, taobao, top, woocommerce
from functions.connectors.common import base64_hmac_sha256
from functions.connectors.contract import Credentials, NativeError, NativeLine, Push, SignatureError
from functions.connectors.mapping import to_order
from tests.connectors.channel_support import fixture, raw

NOW = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
SECRET = "s" * 40


def _line(ref: str, code: str | None, price: str = "10.00", item: str = "1", sku: str = "") -> NativeLine:
    return NativeLine(ref, item, sku, code, None, 1, Decimal(price))


# ---------------------------------------------------------------- signatures


def test_top_signature_covers_sorted_parameters_and_the_body():
    params = {"b": "2", "a": "1", "empty": "", "sign": "ignored"}
    expected_md5 = hashlib.md5(f"{SECRET}a1b2{SECRET}".encode()).hexdigest().upper()
    assert top.sign(params, SECRET, "md5") == expected_md5
    assert top.sign(params, SECRET, "hmac-sha256", b"{}") != top.sign(params, SECRET, "hmac-sha256")
    assert len({top.sign(params, SECRET, m) for m in top.SIGN_METHODS}) == 3
    with pytest.raises(ValueError, match="sign_method"):
        top.sign(params, SECRET, "sha1")


def test_md5_signature_of_jos_and_pdd():
    params = {"method": "m", "app_key": "k", "timestamp": "t", "sign": "x"}
    text = f"{SECRET}app_keykmethodmtimestampt{SECRET}"
    assert md5sign.sign(params, SECRET) == hashlib.md5(text.encode()).hexdigest().upper()
    md5sign.verify(md5sign.signed(params, SECRET), SECRET)
    with pytest.raises(SignatureError) as refused:
        md5sign.verify({**md5sign.signed(params, SECRET), "app_key": "other"}, SECRET)
    assert refused.value.code == "BAD_SIGNATURE"


def _shopify_headers(body: bytes, secret: str = SECRET, at: datetime = NOW) -> dict[str, str]:
    return {
        "X-Shopify-Hmac-Sha256": base64_hmac_sha256(secret, body),
        "X-Shopify-Triggered-At": at.isoformat(),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": "Demo.myshopify.com",
    }


def test_shopify_signature_good_bad_missing_and_stale():
    body = b'{"id":1}'
    credentials = Credentials(SECRET)
    connector = shopify.CONNECTOR
    connector.verify(Push(_shopify_headers(body), {}, body), credentials, NOW)
    assert connector.shop_of(Push(_shopify_headers(body), {}, body)) == "demo.myshopify.com"
    cases = {
        "BAD_SIGNATURE": _shopify_headers(body + b" "),
        "STALE_SIGNATURE": _shopify_headers(body, at=NOW - timedelta(hours=6)),
        "UNAUTHENTICATED": {k: v for k, v in _shopify_headers(body).items() if "Hmac" not in k},
    }
    for code, headers in cases.items():
        with pytest.raises(SignatureError) as refused:
            connector.verify(Push(headers, {}, body), credentials, NOW)
        assert refused.value.code == code


def test_woocommerce_signature_is_base64_hmac_of_the_raw_body():
    body = raw(fixture("woocommerce_order.json", SKU_A="A"))
    headers = {"X-WC-Webhook-Signature": base64_hmac_sha256(SECRET, body)}
    woocommerce.CONNECTOR.verify(Push(headers, {}, body), Credentials(SECRET), NOW)
    tampered = Push(headers, {}, body.replace(b"EUR", b"USD"))
    with pytest.raises(SignatureError):
        woocommerce.CONNECTOR.verify(tampered, Credentials(SECRET), NOW)


def test_douyin_push_signature_and_tags():
    message = {"tag": "106", "msg_id": "1", "data": json.dumps({"p_id": 42, "shop_id": 7})}
    body = raw([message])
    credentials = Credentials(SECRET, app_key="app")
    headers = {"app-id": "app", "event-sign": douyin.push_sign("app", SECRET, body)}
    douyin.CONNECTOR.verify(Push(headers, {}, body), credentials, NOW)
    with pytest.raises(SignatureError):
        douyin.CONNECTOR.verify(Push({**headers, "app-id": "other"}, {}, body), credentials, NOW)
    assert douyin.CONNECTOR.parse(Push(headers, {}, body)).kind == "cancel"
    assert douyin.CONNECTOR.parse(Push(headers, {}, raw([{**message, "tag": "100"}]))).kind == "fetch"
    assert douyin.CONNECTOR.parse(Push(headers, {}, raw([{**message, "tag": "999"}]))).kind == "ignore"
    other_shop = {**message, "data": json.dumps({"p_id": 43, "shop_id": 8})}
    with pytest.raises(NativeError):
        douyin.CONNECTOR.shop_of(Push(headers, {}, raw([message, other_shop])))


# ---------------------------------------------------------------- parsing


def test_shopify_unknown_fields_are_ignored_and_money_is_exact():
    document = fixture("shopify_order.json", SKU_A="A")
    document["a_field_shopify_adds_next_year"] = {"x": 1}
    notice = shopify.CONNECTOR.parse(Push({"X-Shopify-Topic": "orders/create"}, {}, raw(document)))
    order = notice.order
    assert order is not None
    assert (order.subtotal, order.shipping, order.discount, order.tax, order.total) == (
        Decimal("199.00"),
        Decimal("10.00"),
        Decimal("10.00"),
        Decimal("9.50"),
        Decimal("208.50"),
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("line_items"), "line_items"),
        (lambda d: d["shipping_address"].update(country_code="Canada"), "shipping_address.country_code"),
        (lambda d: d.update(total_price="-1"), "total_price"),
    ],
)
def test_malformed_shopify_names_the_shopify_field(change, field):
    document = fixture("shopify_order.json", SKU_A="A")
    change(document)
    with pytest.raises(NativeError) as malformed:
        shopify.CONNECTOR.parse(Push({"X-Shopify-Topic": "orders/create"}, {}, raw(document)))
    assert [f["field"] for f in malformed.value.fields] == [field]


def test_taobao_payment_above_goods_and_post_fee_is_refused():
    document = fixture("tmall_trade.json", SKU_A="A", SELLER_NICK="n")
    document["trade_fullinfo_get_response"]["trade"]["payment"] = "999.00"
    with pytest.raises(NativeError) as malformed:
        taobao.TMALL.parse(Push({}, {"topic": "taobao_trade_TradeCreate"}, raw(document)))
    assert malformed.value.fields[0]["field"] == "payment"


# ---------------------------------------------------------------- SKU mapping


def _order(lines: list[NativeLine]):
    document = fixture("shopify_order.json", SKU_A="A")
    native = shopify.native_order(shopify.ShopifyOrder.model_validate(document))
    return native.__class__(
        **{
            **native.__dict__,
            "lines": lines,
            "subtotal": sum((line.unit_price for line in lines), Decimal("0")),
        }
    )


def test_the_shops_map_beats_the_merchant_code_and_unknown_codes_hold_the_order():
    known = {"OURS-1", "OURS-2"}.__contains__
    order = _order([_line("1", "OURS-1", item="10"), _line("2", "NOT-OURS", item="20", sku="5")])
    held = to_order("shopify", "s", order, {}, known)
    assert held.order is None
    assert [(u.item_id, u.sku_id) for u in held.unmapped] == [("20", "5")]
    mapped = to_order("shopify", "s", order, {("20", "5"): "OURS-2", ("10", ""): "OURS-2"}, known)
    assert mapped.order is not None
    assert {line.sku: line.quantity for line in mapped.order.lines} == {"OURS-2": 2}  # both map to OURS-2


def test_two_lines_of_one_sku_at_different_prices_are_refused():
    order = _order([_line("1", "OURS-1"), _line("2", "OURS-1", price="12.00")])
    with pytest.raises(NativeError):
        to_order("shopify", "s", order, {}, {"OURS-1"}.__contains__)

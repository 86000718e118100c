"""Receive a platform's push (or a pulled record): verify, map, then create, update or intercept.

Idempotent: the order id is derived from (platform, shop, native id), so a push and the pull finding the
same order, or a platform's retry, end in one order. An update older than the last one applied (by the
platform's modified time) is ignored as stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from functions.connectors import capture, outbound, registry
from functions.connectors.connectors import connector_for
from functions.connectors.contract import (
    Connector,
    Credentials,
    Fetchable,
    NativeError,
    Notice,
    Push,
    SignatureError,
)
from functions.connectors.mapping import UNMAPPED_SKU, our_order_id, platform_order_id, to_order
from functions.core import clock
from functions.core.errors import RefusedError
from functions.core.observability import logger

_SECRET_HEADERS = ("hmac", "sign", "token", "authorization", "cookie")


@dataclass(frozen=True)
class Received:
    platform: str
    shop: str
    native_id: str
    order_id: str
    outcome: str  # created, unchanged, updated, intercepted, held, stale, ignored, not_captured, ...
    status: str | None = None
    reason: str | None = None
    unmapped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def http_status(self) -> int:
        return {"created": 201, "held": 202}.get(self.outcome, 200)

    def body(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "order_id": self.order_id,
            "platform": self.platform,
            "shop": self.shop,
            "platform_order_id": platform_order_id(self.shop, self.native_id),
            "outcome": self.outcome,
            "status": self.status,
        }
        if self.reason:
            document["reason"] = self.reason
        if self.unmapped:
            document["unmapped_lines"] = self.unmapped
        return document


def shop_key(platform: str, connector: Connector, push: Push) -> str:
    named = connector.shop_of(push)
    if registry.get_shop(platform, named) is not None:
        return named
    alias = registry.shop_by_native_id(platform, named)
    if alias is None:
        raise SignatureError("UNAUTHENTICATED", f"{platform} shop {named!r} is not registered")
    return alias


def receive_push(platform: str, headers: Mapping[str, str], query: Mapping[str, str], raw: bytes) -> Received:
    connector = connector_for(platform)
    push = Push(headers, query, raw)
    shop = shop_key(platform, connector, push)
    credentials = registry.credentials(platform, shop)
    if credentials is None:
        raise SignatureError("UNAUTHENTICATED", f"{platform} shop {shop} has no secret")
    connector.verify(push, credentials, clock.now())
    notice = read(platform, shop, connector, connector.parse(push))
    kept = {k: v for k, v in headers.items() if not any(s in k.lower() for s in _SECRET_HEADERS)}
    return apply(platform, shop, notice, {"raw": raw.decode("utf-8"), "headers": kept, "query": dict(query)})


def read(platform: str, shop: str, connector: Connector, notice: Notice) -> Notice:
    """A notice that names an order without its content: read the order from the platform's API."""
    if notice.kind != "fetch":
        return notice
    if not isinstance(connector, Fetchable):
        raise NativeError.field("tag", f"{platform} sent a notice its connector cannot read")
    document = registry.get_shop(platform, shop) or {}
    if not document.get("api_base_url"):
        raise NativeError.field("shop", f"{platform} shop {shop} has no api_base_url to read the order from")
    answer = outbound.send(
        str(document["api_base_url"]),
        connector.detail_call(credentials_of(platform, shop), notice.native_id, clock.now()),
    )
    if not answer.ok:
        raise RefusedError(
            "RETRY", f"{platform} did not answer the order read ({answer.status}); retry", status=503
        )
    return connector.detail_notice(answer.json())


def apply(platform: str, shop: str, notice: Notice, source: Mapping[str, Any]) -> Received:
    """What a notice does to our order (`source` is kept with an order held for UNMAPPED_SKU)."""
    order_id = our_order_id(platform, shop, notice.native_id)
    actor = f"platform:{platform}"
    existing = capture.find(order_id)

    def answer(outcome: str, **extra: Any) -> Received:
        order = capture.find(order_id)
        result = Received(
            platform,
            shop,
            notice.native_id,
            order_id,
            outcome,
            order.status.value if order else None,
            **extra,
        )
        logger.info(
            "channel notice applied", extra={"platform": platform, "order_id": order_id, "outcome": outcome}
        )
        return result

    if notice.kind in ("ignore", "fetch"):
        return answer("ignored")
    if notice.kind in ("cancel", "refund"):
        if existing is None:
            registry.unpark(platform, shop, notice.native_id)  # cancelled while held: nothing to release
            return answer("not_captured", reason=notice.reason)
        return answer(capture.intercept(order_id, notice.reason or f"{notice.kind} on {platform}", actor))

    native = notice.order
    if native is None:
        raise NativeError.field("order", "missing")
    if existing is None:
        if native.cancelled:
            return answer("not_captured", reason="cancelled on the platform before capture")
        mapped = to_order(platform, shop, native, registry.sku_map(platform, shop), capture.sku_known)
        if mapped.order is None:
            unmapped = [vars(u) for u in mapped.unmapped]
            registry.park(
                platform,
                shop,
                notice.native_id,
                {
                    "order_id": order_id,
                    "reason": UNMAPPED_SKU,
                    "unmapped": unmapped,
                    "held_at": clock.now().isoformat(),
                    **source,
                },
            )
            return answer("held", reason=UNMAPPED_SKU, unmapped=unmapped)
        captured = capture.capture(mapped.order)
        registry.put_order_refs(order_id, platform, shop, notice.native_id, mapped.lines, native.modified_at)
        registry.unpark(platform, shop, notice.native_id)
        return answer("created" if captured.created else "unchanged")

    refs = registry.order_refs(order_id) or {}
    applied_at = refs.get("modified_at")
    if applied_at and native.modified_at < datetime.fromisoformat(str(applied_at)):
        return answer("stale")
    if native.cancelled or (native.refund_requested and not native.shipped):
        outcome = capture.intercept(order_id, notice.reason or f"cancelled on {platform}", actor)
    else:
        outcome = capture.change_address(order_id, native.address, actor)
        if native.paid and existing.payment.status == "unpaid" and existing.payment_received is None:
            paid = capture.pay(
                order_id, native.payment_id or "", native.total, native.paid_at or native.modified_at, actor
            )
            outcome = paid if outcome == "unchanged" else outcome
    if refs:
        registry.set_modified(order_id, native.modified_at)
    return answer(outcome)


def release_parked(platform: str, shop: str) -> list[Received]:
    """After ops mapped SKUs: try every order of the shop held for UNMAPPED_SKU again."""
    connector = connector_for(platform)
    results: list[Received] = []
    for entry in registry.parked(platform, shop):
        raw = str(entry["raw"]).encode("utf-8")
        headers = {str(k): str(v) for k, v in (entry.get("headers") or {}).items()}
        query = {str(k): str(v) for k, v in (entry.get("query") or {}).items()}
        notice = read(platform, shop, connector, connector.parse(Push(headers, query, raw)))
        results.append(
            apply(platform, shop, notice, {"raw": entry["raw"], "headers": headers, "query": query})
        )
    return results


def credentials_of(platform: str, shop: str) -> Credentials:
    found = registry.credentials(platform, shop)
    if found is None:
        raise SignatureError("UNAUTHENTICATED", f"{platform} shop {shop} has no secret")
    return found

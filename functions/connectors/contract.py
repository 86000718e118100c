"""The contract every platform connector keeps (one module per platform, pure: no AWS).

A connector
* names the shop a push comes from (the platform's own header or field),
* verifies the platform's native signature over the raw request (`SignatureError` -> 401),
* parses the native payload into a `Notice` (`NativeError` names the field in the platform's terms -> 422),
* builds the platform's native fulfilment call from our `fulfilment.updated` event (`NativeCall`),
* and, for platforms pulled on a schedule, builds the incremental query and reads its answer.
Unknown extra fields are ignored everywhere: platforms add fields without notice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from functions.core.models.order_in import Address, Buyer


class NativeError(Exception):
    """The native payload is malformed: `fields` name each bad field as the platform's docs spell it."""

    def __init__(self, message: str, fields: Sequence[Mapping[str, str]] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.fields = [dict(f) for f in fields]

    @classmethod
    def of(cls, platform: str, err: ValidationError, prefix: str = "") -> NativeError:
        fields = [
            {
                "field": prefix + ".".join(str(part) for part in e["loc"]),
                "message": e["msg"],
                "type": e["type"],
            }
            for e in err.errors(include_input=False, include_url=False)
        ]
        names = ", ".join(f["field"] for f in fields[:5])
        return cls(f"{platform} payload is malformed: {names}", fields)

    @classmethod
    def field(cls, name: str, message: str) -> NativeError:
        return cls(f"{name}: {message}", [{"field": name, "message": message, "type": "value_error"}])


class SignatureError(Exception):
    """The push is not signed by the shop's secret, or the signature is stale."""

    def __init__(self, code: Literal["BAD_SIGNATURE", "STALE_SIGNATURE", "UNAUTHENTICATED"], message: str):
        super().__init__(message)
        self.code, self.message = code, message


class Native(BaseModel):
    """Base of native payload models: unknown fields ignored, strings stripped."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, populate_by_name=True)


@dataclass(frozen=True)
class NativeLine:
    ref: str  # the platform's id of this line (Shopify line_item.id, Taobao oid): named in ship-back
    item_id: str  # the platform's product id (num_iid, product_id, wareId, goods_id)
    sku_id: str  # the platform's SKU id ("" when the product has no variants)
    merchant_code: str | None  # the merchant's own code, when filled (outer_sku_id, sku, outer_id)
    name: str | None
    quantity: int
    unit_price: Decimal
    virtual: bool = False


@dataclass(frozen=True)
class NativeOrder:
    """A platform order, in our terms but still naming the platform's ids."""

    native_id: str
    buyer: Buyer
    address: Address
    lines: list[NativeLine]
    currency: str
    subtotal: Decimal
    shipping: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    placed_at: datetime
    modified_at: datetime
    paid: bool
    payment_id: str | None = None
    paid_at: datetime | None = None
    remark: str | None = None
    cancelled: bool = False  # the platform closed the order (buyer cancelled, unpaid timeout)
    refund_requested: bool = False  # the buyer asked for a refund on the platform
    shipped: bool = False  # the platform says it shipped already (outside this OMS)


NoticeKind = Literal["order", "cancel", "refund", "fetch", "ignore"]  # fetch: read the order first


@dataclass(frozen=True)
class Notice:
    """What a push (or a pulled record) says: an order's current state, or a cancel/refund of one."""

    kind: NoticeKind
    native_id: str
    order: NativeOrder | None = None
    reason: str = ""
    topic: str = ""


@dataclass(frozen=True)
class LineRef:
    """How one of our order lines names the platform's line (kept per order for ship-back)."""

    sku: str
    ref: str
    quantity: int


@dataclass(frozen=True)
class Fulfilment:
    """Our `fulfilment.updated` event, with what the connector needs to answer the platform natively."""

    shop: str
    native_id: str
    shipment_id: str
    status: str
    carrier: str | None
    tracking_number: str | None
    occurred_at: datetime
    lines: list[LineRef] = field(default_factory=list)


@dataclass(frozen=True)
class NativeCall:
    """An HTTP call in the platform's own API: `path` is joined to the shop's `api_base_url`."""

    method: str
    path: str
    body: bytes
    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    name: str = ""  # the platform's name for the call (taobao.logistics.offline.send)


@dataclass(frozen=True)
class Push:
    """A platform's push as it reached us: its headers, decoded query and raw (signed) body."""

    headers: Mapping[str, str]
    query: Mapping[str, str]
    raw: bytes

    def header(self, name: str) -> str | None:
        return header(self.headers, name)


@dataclass(frozen=True)
class Credentials:
    """A shop's credentials, from Secrets Manager: the signing secret, and an API token if any."""

    secret: str
    access_token: str = ""
    app_key: str = ""


class Connector(Protocol):
    platform: str
    pullable: bool

    def shop_of(self, push: Push) -> str: ...

    def verify(self, push: Push, credentials: Credentials, now: datetime) -> None: ...

    def parse(self, push: Push) -> Notice: ...

    def fulfilment_call(
        self, fulfilment: Fulfilment, credentials: Credentials, now: datetime
    ) -> NativeCall | None: ...


@runtime_checkable
class Pullable(Protocol):
    pull_window: timedelta  # the longest modified-time range the platform answers in one query

    def pull_call(
        self, credentials: Credentials, since: datetime, until: datetime, page: int, now: datetime
    ) -> NativeCall: ...

    def pull_page(self, answer: Any) -> tuple[list[tuple[bytes, dict[str, str]]], bool]: ...


@runtime_checkable
class Fetchable(Protocol):
    """Platforms whose pushes name an order without its content: the connector reads it first."""

    def detail_call(self, credentials: Credentials, native_id: str, now: datetime) -> NativeCall: ...

    def detail_notice(self, answer: Any) -> Notice: ...


def header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None

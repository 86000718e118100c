"""After-sales cases (售后): what a buyer asks for, and what the OMS keeps about it."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from functions.core.models.base import Money, Sku

Kind = Literal["refund_only", "return_refund", "exchange"]
InspectionResult = Literal["resellable", "damaged"]
ReasonCode = Literal[
    "not_received",
    "damaged",
    "wrong_item",
    "not_as_described",
    "size_or_colour",
    "changed_mind",
    "quality",
    "logistics_exception",
    "other",
]

CASE_ID_PATTERN = r"^as-(ord|rpl)-[0-9a-f]{24}-[0-9a-f]{8}$"
REFUND_ID_PATTERN = r"^rf-as-(ord|rpl)-[0-9a-f]{24}-[0-9a-f]{8}$"
_CASE_ID = re.compile(CASE_ID_PATTERN)
Evidence = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Waybill = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Carrier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}$")]


class CaseStatus(StrEnum):
    REQUESTED = "REQUESTED"  # waiting for the rules or a person to decide
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    INTERCEPTING = "INTERCEPTING"  # refund before shipment: the order is being stopped (interception)
    AWAITING_RETURN = "AWAITING_RETURN"  # the buyer ships the goods back (deadline: auto-close)
    RECEIVED = "RECEIVED"  # the warehouse has the return
    INSPECTED = "INSPECTED"  # restocked (resellable) or written off (damaged)
    REFUND_PENDING = "REFUND_PENDING"  # refund requested from the payment provider, callback awaited
    REFUNDED = "REFUNDED"
    REPLACING = "REPLACING"  # exchange: the replacement order runs allocate -> ship
    REPLACEMENT_SHIPPED = "REPLACEMENT_SHIPPED"
    CLOSED = "CLOSED"


class _Strict(BaseModel):
    """What people and platforms send (API bodies): built on first use; the workflow tasks never do."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True, defer_build=True)


class CaseLineIn(_Strict):
    sku: Sku
    quantity: int = Field(ge=0, le=10_000)  # 0: a refund of money only (price adjustment), refund_only
    # refund_only: refund this much instead of the line's share (at most what is left refundable)
    amount: Money | None = None
    exchange_sku: Sku | None = None  # exchange: the other size or colour (default: the same SKU)


class CaseIn(_Strict):
    """Body of POST /orders/{id}/aftersales."""

    kind: Kind
    reason: ReasonCode
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None
    evidence: list[Evidence] = Field(default=[], max_length=10)  # photo/video URLs, carrier references
    lines: list[CaseLineIn] | None = Field(default=None, max_length=100)  # None: the whole order
    # The platform's (or caller's) own id of this case: opening it again returns the same case.
    reference: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")] | None = None

    @field_validator("lines")
    @classmethod
    def _unique(cls, lines: list[CaseLineIn] | None) -> list[CaseLineIn] | None:
        if lines is not None:
            if not lines:
                raise ValueError("name at least one line, or leave lines out for the whole order")
            skus = [line.sku for line in lines]
            if len(skus) != len(set(skus)):
                raise ValueError("each sku may appear once")
        return lines


class CaseOrigin(BaseModel):
    """Units of a case line taken from one of the line's origins (the platform line a bundle or the SKU
    was sold on) and what they are worth there (docs/aftersales.md: refunds by bundle origin)."""

    model_config = ConfigDict(frozen=True)

    line: int
    quantity: int
    amount: Decimal
    exact: bool = False  # the origin's last units: only if its counter is still as read


class CaseLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    quantity: int
    amount: Decimal  # money this case refunds for the line (0 for an exchange)
    exact: bool = False  # the line's last units: takes what is left (see logic.line_share)
    exchange_sku: str | None = None
    origins: list[CaseOrigin] = []  # a line with bundle origins: the units' origins (amount = their sum)
    # (warehouse, quantity) the returned units go back to: the warehouses they shipped from
    warehouses: list[tuple[str, int]] = []


class CaseEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    status: CaseStatus
    actor: str
    note: str | None = None


class Case(BaseModel):
    """A case as stored (ORDER#<order id> / CASE#<case id>)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    case_id: str
    order_id: str
    platform: str
    buyer_id: str
    kind: Kind
    status: CaseStatus
    version: int = 1
    reason: str
    description: str | None = None
    evidence: list[str] = []
    reference: str | None = None
    lines: list[CaseLine]
    whole_order: bool
    amount: Decimal  # refund due (sum of the lines)
    goods_value: Decimal  # the lines' share of what was paid (what the rules compare)
    currency: str
    before_shipment: bool
    return_required: bool
    opened_by: str
    opened_at: datetime
    updated_at: datetime
    assessed_at: datetime | None = None  # the rules looked at it (auto-approved, or left to a person)
    assessment: str | None = None  # why the rules decided as they did
    decision: Literal["approved", "rejected"] | None = None
    decided_by: str | None = None
    auto: bool = False  # decided by the rules
    decision_comment: str | None = None
    return_deadline: datetime | None = None
    return_waybill: str | None = None
    return_carrier: str | None = None
    return_shipped_at: datetime | None = None
    received_at: datetime | None = None
    inspection: InspectionResult | None = None
    refund_id: str | None = None
    refunded_at: datetime | None = None
    replacement_order_id: str | None = None
    closed_reason: str | None = None
    closed_at: datetime | None = None
    execution_arn: str | None = None
    timeline: list[CaseEvent] = []

    @property
    def refunds(self) -> bool:
        return self.amount > 0 and self.kind != "exchange"


class Decision(_Strict):
    comment: Annotated[str, StringConstraints(max_length=500)] = ""


class ReturnShipped(_Strict):
    waybill: Waybill
    carrier: Carrier


class Received(_Strict):
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class Inspection(_Strict):
    result: InspectionResult
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class RefundCallback(_Strict):
    """The payment provider (or the platform) confirms a refund: POST /refunds/{refund_id}/callback."""

    status: Literal["succeeded"]
    amount: Money
    provider_reference: Annotated[str, StringConstraints(max_length=128)] | None = None


def case_id_for(order_id: str, reference: str | None) -> str:
    """`as-<order id>-<8 hex>`: names the order (BOLA checks and lookups need no index), deterministic
    for a given reference so a resent request finds its case, random otherwise."""
    if reference is not None:
        suffix = hashlib.sha256(f"{order_id}\x1f{reference}".encode()).hexdigest()[:8]
    else:
        suffix = uuid.uuid4().hex[:8]
    return f"as-{order_id}-{suffix}"


def order_id_of_case(case_id: str) -> str | None:
    if not _CASE_ID.match(case_id):
        return None
    return case_id[3:31]


def refund_id_for(case_id: str) -> str:
    """One refund per case, its id derived from the case: issuing it twice hits the same item."""
    return f"rf-{case_id}"


def case_id_of_refund(refund_id: str) -> str | None:
    if not refund_id.startswith("rf-"):
        return None
    case_id = refund_id[3:]
    return case_id if _CASE_ID.match(case_id) else None

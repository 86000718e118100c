"""After-sales records the data layer reads back: a line's counters and a refund (docs/aftersales.md)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import ConfigDict

from functions.core.models.base import Record

ZERO = Decimal("0.00")


class LineCounter(Record):
    """What after-sales cases claimed, refunded and got back of one order line (ORDER#<id> / LINE#<sku>).

    Cases commit money and units against it in the same transaction as their own change, so two cases
    can never claim more than was paid or sold."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sku: str
    paid: Decimal
    quantity: int
    committed: Decimal = ZERO  # money claimed by open or refunded cases
    committed_qty: int = 0  # units claimed
    refunded: Decimal = ZERO  # money that went back to the buyer
    returned: int = 0  # units that came back to a warehouse
    # A line with bundle origins: money and units claimed per origin (its platform line's index)
    origin_committed: dict[int, Decimal] = {}
    origin_committed_qty: dict[int, int] = {}


class RefundLine(Record):
    model_config = ConfigDict(frozen=True)

    sku: str
    amount: Decimal


class Refund(Record):
    """A refund asked of the payment provider for a case (ORDER#<id> / ASREFUND#<refund id>)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    refund_id: str
    case_id: str
    order_id: str
    amount: Decimal
    currency: str
    lines: list[RefundLine] = []
    status: Literal["requested", "succeeded"]
    requested_at: datetime
    settled_at: datetime | None = None
    provider_reference: str | None = None
    by: str | None = None  # who reported the provider's confirmation

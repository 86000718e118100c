"""The application facade: the few things one stage asks another stage to do, synchronously.

Stages sit side by side and never import each other's services. Most cross-stage work goes through
the state machine (the next task) or the bus (integration events); what must happen inside a request
or a task (an after-sales refund stopping the order's fulfilment, a resolved logistics exception
opening refund cases, a carrier event opening an exception case in its own transaction) goes through
this module, the one place in core that reaches up into stages. Each entry imports its stage lazily,
so importing core never loads a stage.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from functions.aftersales.models import Case, CaseIn
    from functions.core.models.order_in import OrderIn
    from functions.core.models.orders import Order
    from functions.core.models.shipping import ExceptionCase, ShipmentTracking
    from functions.core.repository import Write
    from functions.ingest.service import IngestResult
    from functions.intercept.logic import InterceptIn
    from functions.intercept.service import InterceptRequestResult
    from functions.logistics.logic import Kind
    from functions.payment.models import PaymentCallback


# ---------------------------------------------------------------- orders: capture, interception, stock


def ingest_order(order_in: OrderIn, channel: Literal["api", "connector"] = "api") -> IngestResult:
    """Capture an order and start its workflow, idempotent on (platform, platform order id)."""
    from functions.ingest import service

    return service.ingest_order(order_in, channel)


def request_interception(order_id: str, request: InterceptIn, actor: str) -> InterceptRequestResult:
    """Ask for the order's fulfilment to be stopped (the intercept stage; RefusedError when it cannot)."""
    from functions.intercept import service

    return service.request_interception(order_id, request, actor)


def wake_backorders(sku: str) -> int:
    """Stock of `sku` came back: resume the orders waiting for it (the allocate stage)."""
    from functions.allocate import inventory

    return inventory.wake_backorders(sku)


# ---------------------------------------------------------------- payment: the pay deadline at ingest


def pay_deadline_for(order_in: OrderIn, received_at: datetime) -> datetime | None:
    """When an order arriving now must be paid by (None: it arrives paid)."""
    from functions.payment import service

    return service.deadline_for(order_in, received_at)


def pay_order(order_id: str, callback: PaymentCallback, actor: str) -> bool:
    """Apply a payment to an order waiting for one (idempotent by payment id); False when the order
    cannot take it (the amount is not its total, or it is past paying and is flagged for a refund)."""
    from functions.payment import service

    try:
        service.pay_order(order_id, callback, actor)
    except (service.AmountMismatchError, service.PaymentRefusedError):
        return False
    return True


def schedule_payment_timeout(order: Order) -> None:
    """The pay deadline as a one-time timer (best effort: the sweep is the backstop)."""
    from functions.payment import service

    service.schedule_timeout(order)


# ---------------------------------------------------------------- after-sales and logistics exceptions


def open_aftersales_case(order_id: str, request: CaseIn, actor: str) -> Case:
    """Open an after-sales case (idempotent on its reference) and start its execution."""
    from functions.aftersales import service

    return service.open_case(order_id, request, actor)


def logistics_case_for(
    tracking: ShipmentTracking, kind: Kind, opened_by: str, occurrence: str, detail: dict[str, Any]
) -> ExceptionCase:
    """The logistics exception case a parcel's problem opens (its id is deterministic)."""
    from functions.logistics import service

    return service.case_for(tracking, kind, opened_by, occurrence, detail)


def open_logistics_case_writes(
    case: ExceptionCase, tracking: ShipmentTracking, orders: list[Order], actor: str
) -> list[Write]:
    """The writes opening `case` on its parcel and orders, for the caller's own unit of work."""
    from functions.logistics import service

    return service.open_case_items(case, tracking, orders, actor)

"""Logistics exception cases: opened by carrier events (damaged, lost) and by the delay check, resolved
by ops (reship, refund, dismiss). Every step is one transaction with the orders' history events, so a
case and its record on the orders happen together, once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from functions.core import application, clock, repository
from functions.core.errors import RefusedError
from functions.core.models.orders import Order
from functions.core.models.shipping import ExceptionCase, ExceptionResolution, ShipmentTracking
from functions.core.models.stock import Reservation
from functions.core.observability import MetricName, count, logger
from functions.core.repository import ReadAgain, TransactionRejected, Write
from functions.logistics.logic import Action, Kind, exception_id_for, writeoff_lines, writes_off

SWEEP_ACTOR = "timer:delay-check"
MAX_ROUNDS = 5


def case_for(
    tracking: ShipmentTracking, kind: Kind, opened_by: str, occurrence: str, detail: dict[str, Any]
) -> ExceptionCase:
    return ExceptionCase(
        exception_id=exception_id_for(tracking.shipment_id, kind, occurrence),
        kind=kind,
        shipment_id=tracking.shipment_id,
        carrier=tracking.carrier,
        tracking_number=tracking.tracking_number,
        warehouse=tracking.warehouse,
        order_ids=tracking.order_ids,
        platforms=tracking.platforms,
        opened_at=clock.now(),
        opened_by=opened_by,
        detail=detail,
    )


def opened_detail(case: ExceptionCase) -> dict[str, Any]:
    return {"exception_id": case.exception_id, "kind": case.kind, "shipment_id": case.shipment_id}


def open_case_items(
    case: ExceptionCase,
    tracking: ShipmentTracking,
    orders: list[Order],
    actor: str,
    events_before: list[tuple[str, dict[str, Any]]] | None = None,
) -> list[Write]:
    """The case, the parcel no longer watched for progress (its case is), and on every order of the
    parcel `events_before` then exception.opened. The case (EXCEPTION_TAG) fails if already opened."""
    after = tracking.model_copy(
        update={"exception_ids": [*tracking.exception_ids, case.exception_id], "progress_due": None}
    )
    items: list[Write] = [
        repository.exception_item(case),
        repository.tracking_update_item(tracking, after),
    ]
    for order in orders:
        events = [*(events_before or []), ("exception.opened", opened_detail(case))]
        change, _ = repository.order_events_change(order, order.status, events, actor=actor)
        items += change
    return items


# ---------------------------------------------------------------- the delay check


class DelaySweepResult(BaseModel):
    due: int
    flagged: list[str]
    skipped: int
    errors: int


def flag_delay(shipment_id: str, now: datetime) -> str | None:
    """Flag one parcel stuck past its SLA: shipment.delayed + a `delayed` case, once per stall.

    Conditional on the record still being the one read (same version, so the same deadline): a second
    firing of the check, or progress that arrived meanwhile, changes nothing. Returns the case id.
    """

    def attempt() -> str | None:
        tracking = repository.get_tracking(shipment_id)
        if tracking is None or tracking.progress_due is None or tracking.progress_due > now:
            return None  # progressed, delivered, already flagged, or in an exception case meanwhile
        due = tracking.progress_due.isoformat()
        stall = {
            "status": tracking.status,
            "last_progress_at": tracking.last_progress_at.isoformat(),
            "due": due,
        }
        case = case_for(tracking, "delayed", SWEEP_ACTOR, due, stall)
        orders = [repository.get_order(order_id) for order_id in tracking.order_ids]
        delayed = {
            **tracking.model_dump(include={"shipment_id", "carrier", "tracking_number"}),
            **stall,
            "exception_id": case.exception_id,
        }
        items = open_case_items(case, tracking, orders, SWEEP_ACTOR, [("shipment.delayed", delayed)])
        try:
            repository.commit(items)
        except TransactionRejected as rejected:
            if rejected.failed(repository.EXCEPTION_TAG):
                return None  # this stall was flagged already (the check fired twice)
            raise ReadAgain from None  # the parcel or an order moved: read again
        for order in orders:
            count(MetricName.SHIPMENTS_DELAYED, order.platform)
            count(MetricName.LOGISTICS_EXCEPTIONS_OPENED, order.platform, reason="delayed")
        logger.info("shipment delayed", extra={"shipment_id": shipment_id, "exception_id": case.exception_id})
        return case.exception_id

    return repository.retrying(
        attempt, rounds=MAX_ROUNDS, gave_up=f"shipment {shipment_id} kept changing while flagging its delay"
    )


def sweep_delays(limit: int = 500) -> DelaySweepResult:
    """rate(5 minutes): every parcel whose SLA deadline passed (QueueIndex, no scan)."""
    now = clock.now()
    due = repository.due_shipments(now, limit)
    flagged: list[str] = []
    skipped = errors = 0
    for tracking in due:
        try:
            case_id = flag_delay(tracking.shipment_id, now)
        except Exception:  # one bad parcel must not stop the check; it stays due for the next run
            logger.exception("delay check failed for a shipment", extra={"shipment_id": tracking.shipment_id})
            errors += 1
            continue
        if case_id is None:
            skipped += 1
        else:
            flagged.append(case_id)
    return DelaySweepResult(due=len(due), flagged=flagged, skipped=skipped, errors=errors)


# ---------------------------------------------------------------- listing and resolving


def get_case(exception_id: str) -> ExceptionCase:
    case = repository.get_exception(exception_id)
    if case is None:
        raise RefusedError("NOT_FOUND", f"exception {exception_id} not found", status=404)
    return case


def list_cases(status: str, limit: int) -> list[ExceptionCase]:
    return repository.list_exceptions(status, limit)


class ResolveResult(BaseModel):
    case: ExceptionCase
    repeated: bool


def _parcel_lines(case: ExceptionCase) -> dict[str, list[Reservation]]:
    """What the parcel carried, per order (its own lines of the parcel; 合单 parcels carry several)."""
    lines: dict[str, list[Reservation]] = {}
    for order_id in case.order_ids:
        for shipment in repository.load_aggregate(order_id).shipments:
            if shipment.shipment_id == case.shipment_id:
                lines[order_id] = list(shipment.lines)
    return lines


def _reship(case: ExceptionCase, lines: dict[str, list[Reservation]]) -> dict[str, str]:
    """One replacement order per order of the parcel, with that order's lines of it (idempotent on the
    case id: a repeated resolution gets the same replacement orders). Their stock moves through their
    own Allocate and Ship."""
    from functions.core.replacement import ReplacementLine, create_replacement_order  # ops' path only

    replacements: dict[str, str] = {}
    for order_id, order_lines in sorted(lines.items()):
        original = repository.get_order(order_id)
        wanted = [ReplacementLine(sku=r.sku, quantity=r.quantity) for r in order_lines]
        replacement = create_replacement_order(original, wanted, cause="reship", cause_id=case.exception_id)
        replacements[order_id] = replacement.order_id
    return replacements


def _refund(case: ExceptionCase, lines: dict[str, list[Reservation]], actor: str) -> dict[str, str]:
    """One after-sales refund-only case per order of the parcel, for that order's lines of it, referenced
    by the exception id (a repeated resolution finds the same cases). After-sales computes what each
    line paid, refunds it exactly once and records `order.refunded`."""
    from functions.aftersales.logic import DECIDED_BY_OPS  # ops' path only: not the delay check's
    from functions.aftersales.models import CaseIn, CaseLineIn

    cases: dict[str, str] = {}
    for order_id, order_lines in sorted(lines.items()):
        request = CaseIn(
            kind="refund_only",
            reason="logistics_exception",
            description=f"{case.kind} parcel {case.shipment_id} ({case.carrier} {case.tracking_number})",
            evidence=[f"{case.carrier}:{case.tracking_number}"],
            lines=[CaseLineIn(sku=r.sku, quantity=r.quantity) for r in order_lines],  # a sku once per parcel
            reference=case.exception_id,
        )
        opened = application.open_aftersales_case(
            order_id, request, actor=f"{DECIDED_BY_OPS}{case.exception_id}:{actor}"
        )
        cases[order_id] = opened.case_id
    return cases


def resolve(exception_id: str, action: Action, comment: str, actor: str) -> ResolveResult:
    """Close an open case: reship (replacement orders), refund (after-sales refund cases), or dismiss.
    Damaged or lost goods reshipped or refunded are written off in the stock ledger. A repeat of the
    same resolution answers the stored one; another one is a conflict."""

    def attempt() -> ResolveResult:
        case = get_case(exception_id)
        if case.status == "resolved":
            assert case.resolution is not None
            if case.resolution.action != action:
                raise RefusedError(
                    "ALREADY_RESOLVED",
                    f"exception {exception_id} was already resolved with {case.resolution.action}",
                )
            return ResolveResult(case=case, repeated=True)
        lines = _parcel_lines(case)
        # Replacements and refund cases first (idempotent on the exception id): a crash before the
        # resolution commits is healed by the retry, which finds them.
        replacements = _reship(case, lines) if action == "reship" else {}
        refund_cases = _refund(case, lines, actor) if action == "refund" else {}
        written_off = (
            writeoff_lines(r for order_lines in lines.values() for r in order_lines)
            if writes_off(case, action)
            else []
        )
        resolution = ExceptionResolution(
            action=action,
            comment=comment,
            actor=actor,
            at=clock.now(),
            replacement_order_ids=replacements,
            refund_case_ids=refund_cases,
            written_off=written_off,
        )
        items: list[Write] = [repository.exception_resolve_item(case, resolution)]
        items += [repository.writeoff_item(r.sku, r.warehouse, r.quantity, exception_id) for r in written_off]
        orders = [repository.get_order(order_id) for order_id in case.order_ids]
        for order in orders:
            detail = {
                **opened_detail(case),
                "resolution": action,
                "comment": comment,
                **(
                    {"replacement_order_id": replacements[order.order_id]}
                    if order.order_id in replacements
                    else {}
                ),
                **(
                    {"refund_case_id": refund_cases[order.order_id]} if order.order_id in refund_cases else {}
                ),
                **(
                    {"written_off": [r.model_dump() for r in lines.get(order.order_id, [])]}
                    if written_off
                    else {}
                ),
            }
            change, _ = repository.order_events_change(
                order, order.status, [("exception.resolved", detail)], actor=actor
            )
            items += change
        try:
            repository.commit(items)
        except TransactionRejected:
            raise ReadAgain from None  # resolved meanwhile, or an order moved: read again
        for order in orders:
            count(MetricName.LOGISTICS_EXCEPTIONS_RESOLVED, order.platform, action=action)
        resolved = case.model_copy(update={"status": "resolved", "resolution": resolution})
        return ResolveResult(case=resolved, repeated=False)

    return repository.retrying(
        attempt, rounds=MAX_ROUNDS, gave_up=f"exception {exception_id} kept changing while resolving it"
    )

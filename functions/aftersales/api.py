"""After-sales routes (docs/aftersales.md): open and read cases, decide, the return's way back, the
refund callback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.aftersales import service
from functions.aftersales.models import (
    CASE_ID_PATTERN,
    REFUND_ID_PATTERN,
    Case,
    CaseIn,
    Decision,
    Inspection,
    Received,
    RefundCallback,
    ReturnShipped,
    order_id_of_case,
)
from functions.aftersales.settings import case_workflow_settings
from functions.core.actor import current_actor
from functions.core.api_errors import error_body
from functions.core.api_params import OrderIdPath
from functions.core.observability import bind_order

case_workflow_settings()  # opening a case starts its execution: fail the cold start if unconfigured
router = APIGatewayRouter()

CaseIdPath = Annotated[str, Path(pattern=CASE_ID_PATTERN, description="after-sales case id")]
RefundIdPath = Annotated[str, Path(pattern=REFUND_ID_PATTERN, description="refund id (rf-<case id>)")]
T = TypeVar("T")


def _json(status: int, body: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def view(case: Case) -> dict[str, Any]:
    return {**case.model_dump(mode="json"), "execution_arn": service.execution_arn_of(case.case_id)}


def _case_call(case_id: str, call: Callable[[], Case]) -> Response[dict[str, Any]]:
    bind_order(order_id_of_case(case_id) or "", case_id=case_id)
    try:
        case = call()
    except service.CaseNotFoundError:
        return _json(404, error_body("NOT_FOUND", f"case {case_id} not found"))
    return _json(200, view(case))


@router.post("/orders/<order_id>/aftersales", summary="Open an after-sales case", tags=["aftersales"])
def post_case(order_id: OrderIdPath, body: CaseIn) -> Response[dict[str, Any]]:
    """refund_only (before shipment: the whole order, its fulfilment intercepted), return_refund or
    exchange; whole order (no lines) or some lines. 201 created, 200 the same `reference` again; 409 when
    the order or what is left of its lines cannot take it (OVER_CLAIMED, OVER_REFUND, NOT_PAID, ...)."""
    bind_order(order_id)
    case, created = service.open_case_request(order_id, body, current_actor(router.current_event.headers))
    return _json(201 if created else 200, view(case))


@router.get("/orders/<order_id>/aftersales", summary="An order's after-sales cases", tags=["aftersales"])
def get_order_cases(order_id: OrderIdPath) -> dict[str, Any]:
    bind_order(order_id)
    return {"order_id": order_id, "cases": [view(case) for case in service.list_cases(order_id)]}


@router.get("/aftersales/<case_id>", summary="One after-sales case", tags=["aftersales"])
def get_case(case_id: CaseIdPath) -> Response[dict[str, Any]]:
    return _case_call(case_id, lambda: service.get_case(case_id))


def _decide(case_id: str, decision: Literal["approve", "reject"], body: Decision) -> Response[dict[str, Any]]:
    actor = current_actor(router.current_event.headers)
    return _case_call(case_id, lambda: service.decide(case_id, decision, body.comment, actor))


@router.post("/aftersales/<case_id>/approve", summary="Approve a case", tags=["aftersales"])
def post_approve(case_id: CaseIdPath, body: Decision) -> Response[dict[str, Any]]:
    return _decide(case_id, "approve", body)


@router.post("/aftersales/<case_id>/reject", summary="Reject a case", tags=["aftersales"])
def post_reject(case_id: CaseIdPath, body: Decision) -> Response[dict[str, Any]]:
    return _decide(case_id, "reject", body)


@router.post(
    "/aftersales/<case_id>/return-shipped", summary="The buyer's return waybill", tags=["aftersales"]
)
def post_return_shipped(case_id: CaseIdPath, body: ReturnShipped) -> Response[dict[str, Any]]:
    """Stops the return-shipping deadline (the case no longer closes by itself)."""
    actor = current_actor(router.current_event.headers)
    return _case_call(case_id, lambda: service.return_shipped(case_id, body, actor))


@router.post(
    "/aftersales/<case_id>/received", summary="The warehouse received the return", tags=["aftersales"]
)
def post_received(case_id: CaseIdPath, body: Received) -> Response[dict[str, Any]]:
    actor = current_actor(router.current_event.headers)
    return _case_call(case_id, lambda: service.receive(case_id, body, actor))


@router.post("/aftersales/<case_id>/inspect", summary="Inspection of the return", tags=["aftersales"])
def post_inspect(case_id: CaseIdPath, body: Inspection) -> Response[dict[str, Any]]:
    """resellable: restocked in the warehouse it shipped from; damaged: written off."""
    actor = current_actor(router.current_event.headers)
    return _case_call(case_id, lambda: service.inspect(case_id, body, actor))


@router.post(
    "/refunds/<refund_id>/callback", summary="Refund confirmation (payment provider)", tags=["aftersales"]
)
def post_refund_callback(refund_id: RefundIdPath, body: RefundCallback) -> Response[dict[str, Any]]:
    """Idempotent by refund id: the first confirmation applies the refund, repeats answer applied=false."""
    case_id = refund_id[3:]
    bind_order(order_id_of_case(case_id) or "", case_id=case_id)
    actor = current_actor(router.current_event.headers)
    try:
        outcome = service.settle_refund(refund_id, body, actor)
    except service.CaseNotFoundError:
        return _json(404, error_body("NOT_FOUND", f"refund {refund_id} not found"))
    return _json(200, {"refund_id": refund_id, "applied": outcome.applied, "case": view(outcome.case)})

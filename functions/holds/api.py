"""Routes for people working the held-order queue: decide on a hold, list the queue."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.core.actor import current_actor
from functions.core.answers import bulk_answer, order_answer
from functions.core.api_params import OrderIdPath
from functions.core.observability import bind_order
from functions.holds import service
from functions.holds.logic import BulkDecisionIn, ReviewDecisionIn, summary

router = APIGatewayRouter()

ReasonQuery = Annotated[
    str | None, Query(pattern=r"^[A-Z][A-Z0-9_]{1,63}$", description="only orders held for this reason code")
]
LimitQuery = Annotated[int, Query(ge=1, le=500, description="at most this many entries")]


@router.post("/orders/<order_id>/review", summary="Approve or reject a held order", tags=["holds"])
def post_review(order_id: OrderIdPath, body: ReviewDecisionIn) -> dict[str, Any]:
    bind_order(order_id)
    actor = current_actor(router.current_event.headers)
    result = service.decide(order_id, body.decision, body.comment, actor)
    return order_answer(
        result.order, "manual_review", execution_resumed=result.resumed, repeated=result.repeated
    )


@router.post(
    "/holds/decisions",
    summary="Approve or reject up to 500 held orders at once (a result per order)",
    tags=["holds"],
)
def post_decisions(body: BulkDecisionIn) -> dict[str, Any]:
    """Each order is decided on its own, as POST /orders/{id}/review would: its history records who and
    the bulk request id. Orders no longer on hold, or changed since `version`, come back `stale`."""
    actor = current_actor(router.current_event.headers)
    via = f"bulk:{router.current_event.request_context.request_id}"
    results = service.decide_many(body, actor, via)
    return bulk_answer(results, request_id=via.removeprefix("bulk:"), decision=body.decision, actor=actor)


@router.get("/holds", summary="The held-order queue, oldest first", tags=["holds"])
def get_holds(reason: ReasonQuery = None, limit: LimitQuery = 100) -> dict[str, Any]:
    entries = service.held_orders(reason, limit)
    return {
        "reason": reason,
        "count": len(entries),
        "by_reason": summary(entries),
        "holds": [entry.model_dump(mode="json") for entry in entries],
    }

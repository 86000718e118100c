"""Routes for platforms posting orders and for reading an order and its timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.core import repository, workflow
from functions.core.api_params import OrderIdPath
from functions.core.models.order_in import OrderIn
from functions.core.observability import bind_order
from functions.ingest.logic import bundle_view
from functions.ingest.service import ingest_order

router = APIGatewayRouter()


@router.post("/orders", summary="Receive an order from a platform", tags=["orders"])
def post_order(order: OrderIn) -> Response[dict[str, Any]]:
    result = ingest_order(order)
    bind_order(result.order.order_id)
    body = {
        "order_id": result.order.order_id,
        "status": result.order.status,
        "execution_arn": result.order.execution_arn,
        "created": result.created,
    }
    return Response(
        status_code=201 if result.created else 200,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers={"Location": f"/orders/{result.order.order_id}"},
    )


@router.get("/orders/<order_id>", summary="Read an order", tags=["orders"])
def get_order(order_id: OrderIdPath) -> dict[str, Any]:
    bind_order(order_id)
    aggregate = repository.load_aggregate(order_id)
    return {
        **aggregate.order.model_dump(mode="json", exclude={"request_hash"}),
        "reservations": [r.model_dump(mode="json") for r in aggregate.reservations],
        "shipments": [s.model_dump(mode="json") for s in aggregate.shipments],
        "bundles": bundle_view(aggregate.order.lines),  # 组合装 as sold; `lines` holds their components
    }


@router.get("/orders/<order_id>/history", summary="An order's timeline with its execution", tags=["orders"])
def get_history(order_id: OrderIdPath) -> dict[str, Any]:
    bind_order(order_id)
    aggregate = repository.load_aggregate(order_id)
    timeline: list[dict[str, Any]] = [
        {"source": "order", **event.model_dump(mode="json")} for event in aggregate.events
    ]
    executions: list[dict[str, Any]] = []
    if aggregate.order.execution_arn:
        # The fast path's events (Express log records) then the waiting workflow's (Standard history).
        executions, path = workflow.order_path(
            order_id, aggregate.order.execution_arn, since=aggregate.order.created_at
        )
        timeline += [{"source": "workflow", **event} for event in path]
    timeline.sort(key=lambda entry: (datetime.fromisoformat(entry["at"]), entry["source"] == "order"))
    return {
        "order_id": order_id,
        "status": aggregate.order.status,
        "execution": executions[-1] if executions else None,  # where the order is now
        "executions": executions,
        "timeline": timeline,
    }

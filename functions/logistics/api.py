"""Logistics exception routes: the ops queue of open cases, and resolving one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.core.actor import current_actor
from functions.logistics import service
from functions.logistics.logic import EXCEPTION_ID_PATTERN, ResolveIn

router = APIGatewayRouter()

ExceptionIdPath = Annotated[str, Path(pattern=EXCEPTION_ID_PATTERN, description="exception case id")]
StatusQuery = Annotated[Literal["open", "resolved"], Query(description="open (default) or resolved cases")]
LimitQuery = Annotated[int, Query(ge=1, le=500, description="at most this many cases")]


@router.get(
    "/exceptions",
    summary="Logistics exception cases (damaged, lost, delayed), oldest first",
    tags=["logistics"],
)
def get_exceptions(status: StatusQuery = "open", limit: LimitQuery = 100) -> dict[str, Any]:
    cases = service.list_cases(status, limit)
    by_kind: dict[str, int] = {}
    for case in cases:
        by_kind[case.kind] = by_kind.get(case.kind, 0) + 1
    return {
        "status": status,
        "count": len(cases),
        "by_kind": dict(sorted(by_kind.items())),
        "exceptions": [case.model_dump(mode="json") for case in cases],
    }


@router.post(
    "/exceptions/<exception_id>/resolve",
    summary="Resolve a logistics exception: reship, refund or dismiss",
    tags=["logistics"],
)
def post_resolve(exception_id: ExceptionIdPath, body: ResolveIn) -> dict[str, Any]:
    actor = current_actor(router.current_event.headers)
    result = service.resolve(exception_id, body.action, body.comment, actor)
    return {**result.case.model_dump(mode="json"), "repeated": result.repeated}

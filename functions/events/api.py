"""GET /events (what was published on the bus, per order or per type) and GET /events/schemas."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field

from functions.core import repository
from functions.core.observability import bind_order
from functions.events import service
from functions.events.catalogue import SOURCE
from functions.events.schemas import catalogue

router = APIGatewayRouter()

TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"


@router.get("/events", summary="Integration events published on the bus", tags=["events"])
def get_events(
    order_id: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,128}$", description="one order's events, in seq order")
    ] = None,
    event_type: Annotated[
        str | None, Query(alias="type", pattern=TYPE_PATTERN, description="only this detail-type")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many (newest first by type)")] = 100,
) -> dict[str, Any]:
    if order_id is not None:
        found = service.published(order_id)
        if event_type is not None:
            found = [e for e in found if e["detail_type"] == event_type]
        found = found[:limit]
    elif event_type is not None:
        found = repository.published_events_of_type(event_type, limit)
    else:
        raise BadRequestError("query: give order_id or type")
    return {"source": SOURCE, "count": len(found), "events": found}


class ReplayIn(BaseModel):
    """Body of POST /events/replay."""

    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,128}$")
    from_seq: int = Field(default=1, ge=1, description="republish history events from this seq on")


@router.post("/events/replay", summary="Publish an order's history events again", tags=["events"])
def post_replay(body: ReplayIn) -> dict[str, Any]:
    bind_order(body.order_id)
    published = service.replay(body.order_id, body.from_seq)
    return {"order_id": body.order_id, "from_seq": body.from_seq, "republished": published}


@router.get("/events/schemas", summary="JSON Schemas of the published events", tags=["events"])
def get_event_schemas() -> dict[str, Any]:
    return {"source": SOURCE, "schemas": catalogue()}

"""Parameters every stage's router shares (validated by Powertools before a route runs), and the rule
that a route takes no query parameter it does not declare."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Route
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.params import Path

from functions.core.api_errors import error_response
from functions.core.models.order_in import ORDER_ID_PATTERN

OrderIdPath = Annotated[str, Path(pattern=ORDER_ID_PATTERN, description="OMS order id")]


# Routes that read their raw query themselves (a platform's native push signs its own query string).
RAW_QUERY_ROUTES = frozenset({("POST", "/channels/<platform>/webhooks")})


def refuse_unknown_query(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """A query parameter the route does not declare is refused (422 naming it), never silently ignored:
    `GET /orders?format=csv` answering JSON, or a misspelt filter answering everything, misleads."""
    route: Route | None = app.context.get("_route")
    event = app.current_event
    if route is None or (route.method, route.path) in RAW_QUERY_ROUTES:
        return next_middleware(app)
    declared = {param.alias for param in route.dependant.query_params}
    unknown = sorted(set(event.multi_value_query_string_parameters or {}) - declared)
    if not unknown:
        return next_middleware(app)
    fields = [
        {
            "loc": ["query", name],
            "field": f"query.{name}",
            "type": "unknown_parameter",
            "message": "not a parameter of this route",
        }
        for name in unknown
    ]
    allowed = ", ".join(sorted(declared)) or "none"
    return error_response(
        422,
        "UNKNOWN_PARAMETER",
        f"unknown query parameter(s): {', '.join(unknown)} (allowed: {allowed})",
        fields,
    )

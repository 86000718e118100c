"""The REST API behind API Gateway: one Powertools resolver, one router per stage that has routes."""

from __future__ import annotations

import importlib
import json
import threading
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api import openapi
from functions.core import api_errors as errors
from functions.core import errors as oms_errors
from functions.core import security
from functions.core.api_params import refuse_unknown_query
from functions.core.errors import ConflictError, IllegalTransitionError, OrderNotFoundError, TransientError
from functions.core.observability import instrumented, logger, tracer
from functions.core.settings import get_api_settings, get_auth_settings

# Route groups, loaded when a request first needs one (a cold start pays for its own group, not for all
# of them and their models): module -> the paths it serves, as segment prefixes ("*" = any one segment).
# A path no group claims loads every group, so an unknown route still gets the resolver's own 404.
ROUTE_GROUPS: dict[str, tuple[str, ...]] = {
    "functions.ingest.api": ("orders",),
    "functions.search.api": ("orders", "audit"),
    "functions.allocate.api": ("inventory",),
    "functions.payment.api": ("orders/*/payment",),
    "functions.holds.api": ("holds", "orders/*/review"),
    "functions.intercept.api": ("orders/*/intercept", "orders/interceptions"),
    "functions.rules.api": ("rules",),
    "functions.reports.api": ("reports",),
    "functions.ship.api": ("shipments",),
    "functions.logistics.api": ("exceptions",),
    "functions.aftersales.api": ("aftersales", "refunds", "orders/*/aftersales"),
    "functions.events.api": ("events",),
    "functions.webhooks.api": ("webhooks",),
    "functions.connectors.api": ("channels",),
    "functions.products.api": ("products",),
    "functions.changes.api": ("orders/*/changes",),
}

settings = get_api_settings()  # fail the cold start, not a request, on missing configuration
get_auth_settings()
app = APIGatewayRestResolver(enable_validation=True)
errors.install(app)  # one error body for every 4xx/5xx, validation errors included
openapi.install(app)  # GET /openapi.json
app.use([refuse_unknown_query])  # after Powertools' validation: the route is known
_included: set[str] = set()
_including = threading.Lock()


def _claims(pattern: str, segments: list[str]) -> bool:
    parts = pattern.split("/")
    return len(parts) <= len(segments) and all(p in ("*", s) for p, s in zip(parts, segments, strict=False))


def groups_for(path: str) -> list[str]:
    """The route groups that may serve `path` (every group when none claims it, /openapi.json too)."""
    segments = [s for s in path.split("/") if s]
    wanted = [m for m, patterns in ROUTE_GROUPS.items() if any(_claims(p, segments) for p in patterns)]
    return wanted or list(ROUTE_GROUPS)


def include_routes(path: str) -> None:
    """Import and include the groups `path` needs, once per container."""
    missing = [m for m in groups_for(path) if m not in _included]
    if not missing:
        return
    with _including:
        for module in missing:
            if module not in _included:
                app.include_router(importlib.import_module(module).router)
                _included.add(module)


def _error(status: int, code: str, message: str) -> Response[dict[str, Any]]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=errors.error_body(code, message),
    )


@app.exception_handler(OrderNotFoundError)
def _not_found(err: OrderNotFoundError) -> Response[dict[str, Any]]:
    return _error(404, "NOT_FOUND", f"order {err} not found")


@app.exception_handler(ConflictError)
def _conflict(err: ConflictError) -> Response[dict[str, Any]]:
    return _error(409, "CONFLICT", str(err))


@app.exception_handler(RecursionError)
def _too_deep(err: RecursionError) -> Response[dict[str, Any]]:
    # A body nested deeper than the JSON parser recurses (e.g. 100,000 "[") is refused, not a 502.
    return _error(422, "JSON_TOO_DEEP", "request body is nested too deeply to be an order")


@app.exception_handler(TransientError)
def _transient(err: TransientError) -> Response[dict[str, Any]]:
    response = _error(503, "RETRY", f"temporarily unavailable, retry: {err}")
    response.headers["Retry-After"] = "1"
    return response


@app.exception_handler(oms_errors.RefusedError)
def _refused(err: oms_errors.RefusedError) -> Response[dict[str, Any]]:
    return errors.error_response(err.status, err.code, err.message, err.fields)


@app.exception_handler(IllegalTransitionError)
def _illegal(err: IllegalTransitionError) -> Response[dict[str, Any]]:
    return _error(409, "ILLEGAL_TRANSITION", str(err))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@instrumented("api")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _secured(_respond(event, context))


# On every answer, errors included (API Gateway's own answers get them from its gateway responses).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",  # JSON is never sniffed into HTML or script
    "Cache-Control": "no-store",  # orders carry personal data: no shared or browser cache keeps them
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _secured(response: dict[str, Any]) -> dict[str, Any]:
    if "multiValueHeaders" in response:  # Powertools' REST responses: one list per header name
        multi = dict(response.get("multiValueHeaders") or {})
        multi.update({name: [value] for name, value in SECURITY_HEADERS.items()})
        return {**response, "multiValueHeaders": multi}
    return {**response, "headers": {**(response.get("headers") or {}), **SECURITY_HEADERS}}


def _respond(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    body = event.get("body") or ""
    if len(body.encode()) > settings.max_body_bytes:
        message = f"body exceeds {settings.max_body_bytes} bytes"
        return {
            "statusCode": 413,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(errors.error_body("PAYLOAD_TOO_LARGE", message)),
        }
    try:
        principal = security.admit(event)  # who calls, may they, and is it their order (BOLA)
    except security.Refused as refused:
        return _refusal(refused.status, refused.code, refused.message)
    except TransientError as err:
        return _refusal(503, "RETRY", f"temporarily unavailable, retry: {err}")
    bound = security.bind(principal)
    try:
        include_routes(str(event.get("path") or "/"))
        response = app.resolve(event, context)
    finally:
        security.unbind(bound)
    return security.present(principal, response)  # the viewer role sees personal data masked


def _refusal(status: int, code: str, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(errors.error_body(code, message)),
    }

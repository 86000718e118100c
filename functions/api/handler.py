"""The REST API behind API Gateway: one Powertools resolver, one router per stage that has routes."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.aftersales.api import router as aftersales_router
from functions.allocate.api import router as inventory_router
from functions.api import openapi
from functions.changes.api import router as changes_router
from functions.connectors.api import router as channels_router
from functions.core import api_errors as errors
from functions.core import errors as oms_errors
from functions.core import security
from functions.core.api_params import refuse_unknown_query
from functions.core.errors import ConflictError, IllegalTransitionError, OrderNotFoundError, TransientError
from functions.core.observability import instrumented, logger, tracer
from functions.core.settings import get_api_settings, get_auth_settings
from functions.events.api import router as events_router
from functions.holds.api import router as holds_router
from functions.ingest.api import router as orders_router
from functions.intercept.api import router as intercept_router
from functions.logistics.api import router as logistics_router
from functions.payment.api import router as payment_router
from functions.products.api import router as products_router
from functions.reports.api import router as reports_router
from functions.rules.api import router as rules_router
from functions.search.api import router as search_router
from functions.ship.api import router as shipping_router
from functions.webhooks.api import router as webhooks_router

settings = get_api_settings()  # fail the cold start, not a request, on missing configuration
get_auth_settings()
app = APIGatewayRestResolver(enable_validation=True)
app.include_router(orders_router)
app.include_router(inventory_router)
app.include_router(payment_router)
app.include_router(holds_router)
app.include_router(intercept_router)
app.include_router(rules_router)
app.include_router(search_router)
app.include_router(reports_router)
app.include_router(shipping_router)
app.include_router(logistics_router)
app.include_router(aftersales_router)
app.include_router(events_router)
app.include_router(webhooks_router)
app.include_router(channels_router)
app.include_router(products_router)
app.include_router(changes_router)
errors.install(app)  # one error body for every 4xx/5xx, validation errors included
openapi.install(app)  # GET /openapi.json
app.use([refuse_unknown_query])  # after Powertools' validation: the route is known


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
    return _error(err.status, err.code, err.message)


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

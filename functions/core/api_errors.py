"""One error body for every 4xx/5xx the API writes: {"error": {"code", "message", "fields": [...]}}.

`fields` names each offending input (location, dotted path, pydantic type, message) for validation
errors and is empty otherwise. The input values themselves are never echoed: they may be personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from functions.core.observability import logger

_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL",
    502: "BAD_GATEWAY",
    503: "RETRY",
}


def error_body(code: str, message: str, fields: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": list(fields)}}


def error_response(
    status: int, code: str | None, message: str, fields: Sequence[dict[str, Any]] = ()
) -> Response[dict[str, Any]]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=error_body(code or _CODES.get(status, HTTPStatus(status).phrase.upper()), message, fields),
    )


def validation_fields(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """pydantic's error list -> [{"loc", "field", "type", "message"}], without the rejected input."""
    fields = []
    for error in errors:
        loc = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
        fields.append(
            {
                "loc": loc,
                "field": ".".join(str(part) for part in loc),
                "type": str(error.get("type", "invalid")),
                "message": str(error.get("msg", "invalid value")),
            }
        )
    return fields


def install(app: APIGatewayRestResolver) -> None:
    """Register the handlers that turn Powertools' own errors into the OMS error body."""

    @app.exception_handler(RequestValidationError)
    def _invalid(err: RequestValidationError) -> Response[dict[str, Any]]:
        fields = validation_fields(err.errors())
        named = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return error_response(422, "VALIDATION_ERROR", f"request is invalid: {named}", fields)

    @app.not_found
    def _no_route(err: NotFoundError) -> Response[dict[str, Any]]:
        event = app.current_event
        return error_response(404, "NOT_FOUND", f"no route {event.http_method} {event.path}")

    @app.exception_handler(ServiceError)
    def _service(err: ServiceError) -> Response[dict[str, Any]]:
        return error_response(err.status_code, None, str(err.msg))

    @app.exception_handler(Exception)
    def _unexpected(err: Exception) -> Response[dict[str, Any]]:
        logger.exception("unhandled error", extra={"error_type": type(err).__name__})
        return error_response(500, "INTERNAL", "internal error; the request id is in the logs")

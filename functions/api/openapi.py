"""GET /openapi.json: the document Powertools generates from the routes and their pydantic models.

Generated once per container, then post-processed so the document says what the API really does:
every operation's errors use the one error body (functions/core/api_errors.py), including 422.
"""

from __future__ import annotations

import json
from copy import deepcopy
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

TITLE = "Serverless OMS API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Platforms sign each request (HMAC-SHA256, see docs/integrators.md); carriers sign their tracking "
    "webhooks the same way with X-OMS-Carrier (docs/shipping.md); staff send a bearer token. "
    'Every error is {"error": {"code", "message", "fields"}}.'
)

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "examples": ["VALIDATION_ERROR"]},
                "message": {"type": "string"},
                "fields": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "loc": {
                                "type": "array",
                                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                            },
                            "field": {"type": "string", "examples": ["body.lines.0.sku"]},
                            "type": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}

_ERROR_RESPONSE = {
    "description": "Error (the one error body of the OMS)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}

_cache: dict[int, dict[str, Any]] = {}


def document(app: APIGatewayRestResolver) -> dict[str, Any]:
    key = id(app)
    if key not in _cache:
        # Powertools' OpenAPI models take ~0.1 s to import: only the request for the document pays it.
        from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

        raw = app.get_openapi_json_schema(
            title=TITLE,
            version=VERSION,
            description=DESCRIPTION,
            security_schemes={
                "staffToken": HTTPBearer(bearerFormat="OMS staff token (oms token --role ...)"),
                "platformSignature": APIKey(
                    name="X-OMS-Signature",
                    **{"in": APIKeyIn.header},
                    description="hex HMAC-SHA256 of '<X-OMS-Timestamp>.<raw body>' with the platform's "
                    "secret; also send X-OMS-Platform and X-OMS-Timestamp (Unix milliseconds)",
                ),
            },
            security=[{"staffToken": []}, {"platformSignature": []}],
        )
        _cache[key] = _with_error_bodies(json.loads(raw))
    return deepcopy(_cache[key])


def _with_error_bodies(doc: dict[str, Any]) -> dict[str, Any]:
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path_item in doc.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if "422" in responses:
                responses["422"] = {**_ERROR_RESPONSE, "description": "Validation error naming each field"}
            responses.setdefault("default", _ERROR_RESPONSE)
    return doc


def install(app: APIGatewayRestResolver) -> None:
    @app.get("/openapi.json", include_in_schema=False)
    def _openapi() -> dict[str, Any]:
        return document(app)

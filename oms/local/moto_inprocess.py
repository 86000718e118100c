"""DynamoDB item requests handed to moto's DynamoDB handler in-process, without the HTTP round trip.

With moto, a boto3 DynamoDB call still builds and signs an HTTP request, which moto's stubber turns
into a WSGI request, re-parses against the service model and answers with an HTTP response that botocore
parses again: about a third of the local stack's CPU went to that round trip. For the item operations
(GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan, and their batch and transaction forms) a
`before-call` handler passes the JSON body botocore has already validated and serialised straight to
moto's DynamoHandler (the same `call_action`, so the same lock, counters, test hooks and results) and
hands botocore the answer as if it came over HTTP: plain JSON parsed once, and errors (or anything with
a binary value) through botocore's own parser, so clients see the same documents and exceptions
(tests/unit/test_moto_contract.py compares both paths). Anything else, any request while no moto
mock is active, and every request while a test injects DynamoDB faults takes the normal path: botocore's
retries live there, and the local DynamoDB fails only when a test makes it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from oms.local.runtime import RUNTIME

ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
_REGION_IN_URL = re.compile(r"^https?://dynamodb\.([a-z0-9-]+)\.amazonaws\.com/?$")
_BINARY = (b'"B":', b'"BS":')
_CONTENT_TYPE = "application/x-amz-json-1.0"
ANSWERED: Counter[str] = (
    Counter()
)  # requests answered in-process, by operation (tests check the path is used)


def install_in_process_dynamodb() -> Callable[..., Any]:
    """Register the handler for every botocore client created from now on (as moto registers its own)."""
    from botocore.handlers import BUILTIN_HANDLERS

    handler = _in_process_handler()
    BUILTIN_HANDLERS.append(("before-call.dynamodb", handler))
    return handler


def _in_process_handler() -> Callable[..., Any]:
    from botocore.awsrequest import AWSResponse
    from botocore.parsers import create_parser
    from moto.core.botocore_stubber import MockRawResponse
    from moto.core.models import botocore_stubber
    from moto.dynamodb.responses import DynamoHandler

    parser = create_parser("json")

    def answer(model: Any, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        name = model.name
        if not (RUNTIME.in_process_dynamodb and botocore_stubber.enabled and name in ITEM_OPERATIONS):
            return None
        if RUNTIME.before_dynamodb is not None or RUNTIME.after_dynamodb is not None:
            return None  # injected faults go the HTTP way, where the SDK's retries meet them as on AWS
        body = params.get("body")
        found = _REGION_IN_URL.match(str(params.get("url", "")))
        if not isinstance(body, bytes) or found is None or any(marker in body for marker in _BINARY):
            return None  # moto's own path: binary values, an unusual endpoint or body
        text = body.decode("utf-8")
        headers = {
            "X-Amz-Target": f"DynamoDB_20120810.{name}",
            "Content-Type": _CONTENT_TYPE,
            "host": f"dynamodb.{found.group(1)}.amazonaws.com",
        }
        request = _moto_request(DynamoHandler, name, text, headers, found.group(1), str(params["url"]))
        status, response_headers, payload = request.call_action()
        ANSWERED[name] += 1
        raw = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload or b"")
        http = AWSResponse(str(params["url"]), status, response_headers, MockRawResponse(raw))
        lowered = {str(k).lower(): str(v) for k, v in response_headers.items()}
        if status < 300 and not any(marker in raw for marker in _BINARY):
            parsed: dict[str, Any] = json.loads(raw) if raw else {}
            parsed["ResponseMetadata"] = {
                "RequestId": lowered.get("x-amzn-requestid", ""),
                "HTTPStatusCode": status,
                "HTTPHeaders": lowered,
                "RetryAttempts": 0,
            }
            return http, parsed
        response = {"status_code": status, "headers": lowered, "body": raw, "context": {}}
        parsed = parser.parse(response, model.output_shape)
        if status >= 300:  # what botocore's endpoint adds for a modeled error (reasons, the item)
            code = parsed.get("Error", {}).get("Code")
            shape = model.service_model.shape_for_error_code(code) if code else None
            if shape is not None:
                parsed.update(parser.parse(response, shape))
        parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0
        return http, parsed

    return answer


def _moto_request(
    handler_class: Any, action: str, text: str, headers: dict[str, str], region: str, url: str
) -> Any:
    """A DynamoHandler set up as moto's setup_class would for this request (JSON body already parsed)."""
    request = handler_class()
    request.normalized_request = SimpleNamespace(content_type=_CONTENT_TYPE, headers=headers)
    request.headers = headers
    request.body = text
    request.raw_body = text.encode("utf-8")
    request.params = json.loads(text)
    request.querystring = {}
    request.data = {}
    request.uri = url
    request.path = "/"
    request.raw_path = "/"
    request.method = "POST"
    request.uri_match = {}
    request.region = region
    request.partition = "aws"
    request.response_headers = {"server": "amazon.com"}
    request.access_key = request.get_access_key()
    request.current_account = request.get_current_account()
    request._get_action = lambda: action  # what moto's service router would match for this target
    return request

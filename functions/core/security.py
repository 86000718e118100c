"""The API function's half of authentication and authorisation (the authorizer did the other half).

Before any route runs:
* the principal comes from the authorizer's context, and the permissions table is consulted again
  (defence in depth: an API without the authorizer still refuses);
* a platform's signature is checked over the canonical request, raw body included (the authorizer never
  sees the body), and the request's hash recorded, so the same request is accepted once (conditional
  put, see repository.remember_signature);
* a platform reaches only its own orders (object level, BOLA): every route with {order_id} loads the
  order and answers 404 for another platform's, exactly as for an order that does not exist; its list
  is pinned to its own platform; it can post orders only in its own name.
After the route: responses to the viewer role have buyer names, phones and addresses masked.
"""

from __future__ import annotations

import base64
import json
import re
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from functions.core import clock
from functions.core.auth.permissions import authorize, path_parameter
from functions.core.auth.principals import ANONYMOUS, AuthError, Principal, Role
from functions.core.auth.signing import REPLAY_WINDOW, signed_request, verify_request
from functions.core.models.order_in import ORDER_ID_PATTERN
from functions.core.privacy import mask_pii
from functions.core.secrets import auth_keys

_ORDER_ID = re.compile(ORDER_ID_PATTERN)
_CASE_ORDER = re.compile(r"^as-((?:ord|rpl)-[0-9a-f]{24})-[0-9a-f]{8}$")
_current: ContextVar[Principal] = ContextVar("oms_principal", default=ANONYMOUS)


def current_principal() -> Principal:
    """Who is calling the route that runs now (staff:alice, platform:tmall)."""
    return _current.get()


@dataclass
class Refused(Exception):
    status: int
    code: str
    message: str


def admit(event: dict[str, Any]) -> Principal:
    """The caller, once every check that precedes the route has passed; Refused otherwise."""
    context = (event.get("requestContext") or {}).get("authorizer")
    principal = Principal.from_context(context)
    method, path = str(event.get("httpMethod", "")).upper(), str(event.get("path", ""))
    try:
        route = authorize(method, path, principal)
        if principal.kind == "platform":
            _verify_signature(event, principal)
            _scope_to_platform(event, method, path, route, principal)
        if principal.kind == "carrier":  # a carrier's tracking webhook (its shipments only: the route)
            _verify_signature(event, principal)
    except AuthError as refused:
        raise Refused(refused.status, refused.code, refused.message) from refused
    return principal


def _raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return str(body).encode("utf-8")


def _query_pairs(event: dict[str, Any]) -> list[tuple[str, str]]:
    """The decoded query parameters as API Gateway passes them (every value of a repeated name)."""
    multi = event.get("multiValueQueryStringParameters") or {}
    single = event.get("queryStringParameters") or {}
    return [(name, value) for name in multi or single for value in (multi.get(name) or [single[name]])]


def _verify_signature(event: dict[str, Any], principal: Principal) -> None:
    signed = signed_request(event.get("headers"), clock.now())
    if signed is None or signed.platform != principal.id or signed.kind != principal.kind:
        raise AuthError(401, "UNAUTHENTICATED", f"{principal.kind} signature headers are missing")
    keys = auth_keys()
    secret = (
        keys.carrier_secret(signed.platform)
        if signed.kind == "carrier"
        else keys.platform_secret(signed.platform)
    )
    method, path = str(event.get("httpMethod", "")), str(event.get("path", ""))
    replay_key = verify_request(signed, secret, method, path, _query_pairs(event), _raw_body(event))
    from functions.core import repository  # signed requests only: a staff call never loads the data layer

    expires = clock.now() + 2 * REPLAY_WINDOW
    signer = f"carrier:{signed.platform}" if signed.kind == "carrier" else signed.platform
    if not repository.remember_signature(signer, replay_key, expires):
        raise AuthError(401, "REPLAYED", "this request was already accepted; sign every request afresh")


def _scope_to_platform(
    event: dict[str, Any], method: str, path: str, route: str, principal: Principal
) -> None:
    from functions.core import repository

    order_id = path_parameter(route, path, "order_id")
    if order_id is not None and _ORDER_ID.match(order_id):
        order = repository.find_order(order_id)
        if order is None or order.platform != principal.id:
            raise Refused(404, "NOT_FOUND", f"order {order_id} not found")
    # After-sales: a case id (and a refund id, rf-<case id>) names its order (functions/aftersales).
    refund_id = path_parameter(route, path, "refund_id") or ""
    case_id = path_parameter(route, path, "case_id") or refund_id[3:]
    case_order = _CASE_ORDER.match(case_id)
    if case_order is not None:
        order = repository.find_order(case_order.group(1))
        if order is None or order.platform != principal.id:
            raise Refused(404, "NOT_FOUND", f"case {case_id} not found")
    if (method, route) == ("GET", "/orders"):
        asked = (event.get("queryStringParameters") or {}).get("platform")
        if asked not in (None, principal.id):
            raise AuthError(403, "FORBIDDEN", f"platform {principal.id} may list only its own orders")
        event["queryStringParameters"] = {
            **(event.get("queryStringParameters") or {}),
            "platform": principal.id,
        }
        event["multiValueQueryStringParameters"] = {
            **(event.get("multiValueQueryStringParameters") or {}),
            "platform": [principal.id],
        }
    if (method, route) == ("POST", "/orders"):
        try:
            document = json.loads(_raw_body(event) or b"null")
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser recurses
            return  # not JSON: the route's validation answers 422
        named = document.get("platform") if isinstance(document, dict) else None
        if isinstance(named, str) and named != principal.id:
            raise AuthError(403, "FORBIDDEN", f"platform {principal.id} may not post orders of {named}")


def bind(principal: Principal) -> Token[Principal]:
    return _current.set(principal)


def unbind(token: Token[Principal]) -> None:
    _current.reset(token)


# Roles whose work needs no buyer's name, phone or address.
MASKED_ROLES = frozenset({Role.VIEWER, Role.MERCHANDISER})


def present(principal: Principal, response: dict[str, Any]) -> dict[str, Any]:
    """What leaves the API for this principal: viewers and merchandisers see personal data masked."""
    if principal.role not in MASKED_ROLES or not response.get("body"):
        return response
    try:
        document = json.loads(response["body"])
    except ValueError:
        return response
    return {**response, "body": json.dumps(mask_pii(document), separators=(",", ":"))}

"""The API's Lambda authorizer (REQUEST type): who is calling, and may they call this route?

API Gateway gives a REQUEST authorizer the headers, method and path but never the body, so it checks
everything that does not need the body: a staff token completely; a platform's signature headers for
shape and freshness. The API function then checks the platform signature over the raw body and refuses
a replayed one (functions/core/security.py). Both decide with functions/core/auth/.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.core import clock
from functions.core.auth.permissions import authorize
from functions.core.auth.principals import ANONYMOUS, AuthError, Principal
from functions.core.auth.tokens import authenticate
from functions.core.observability import logger
from functions.core.secrets import auth_keys


class Unauthorized(Exception):
    def __init__(self) -> None:
        super().__init__("Unauthorized")


def policy(principal: Principal, effect: str, method_arn: str, context: Mapping[str, str]) -> dict[str, Any]:
    return {
        "principalId": principal.name,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}],
        },
        "context": dict(context),
    }


def decide(method: str, path: str, headers: Mapping[str, str] | None, method_arn: str) -> dict[str, Any]:
    """An Allow policy for this one method and path with the principal as context, or a Deny with why.

    Raises Unauthorized (401) when the credentials are missing or invalid.
    """
    principal = ANONYMOUS
    try:
        principal, _ = authenticate(headers, clock.now(), auth_keys().staff_keys)
        route = authorize(method, path, principal)
    except AuthError as refused:
        logger.info(
            "request refused",
            extra={"method": method, "path": path, "code": refused.code, "reason": refused.message},
        )
        if refused.status == 401:
            raise Unauthorized() from refused
        context = {"code": refused.code, "reason": refused.message, **principal.to_context()}
        return policy(principal, "Deny", method_arn, context)
    return policy(principal, "Allow", method_arn, {**principal.to_context(), "route": route})

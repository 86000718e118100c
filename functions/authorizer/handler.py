"""Lambda authorizer of the REST API (REQUEST type, no result caching: the decision is per route)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from functions.authorizer.service import decide
from functions.core.observability import instrumented, logger, tracer
from functions.core.settings import get_auth_settings

get_auth_settings()


class AuthorizerRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    methodArn: str
    httpMethod: str
    path: str
    headers: dict[str, str] | None = None


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("authorizer")
@event_parser(model=AuthorizerRequest)
def lambda_handler(event: AuthorizerRequest, context: LambdaContext) -> dict[str, Any]:
    return decide(event.httpMethod, event.path, event.headers, event.methodArn)

"""SecretRotationFunction: Secrets Manager calls it to rotate the auth secret's staff-token key."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from functions.core.observability import logger, tracer
from functions.rotation.service import Step, rotate


class RotationEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    SecretId: str = Field(min_length=1)
    ClientRequestToken: str = Field(min_length=1)
    Step: Step


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=RotationEvent)
def lambda_handler(event: RotationEvent, context: LambdaContext) -> dict[str, Any]:
    rotate(event.SecretId, event.ClientRequestToken, event.Step)
    return {"step": event.Step}

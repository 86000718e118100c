"""Path parameters every stage's router shares (validated by Powertools before a route runs)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from functions.core.models import ORDER_ID_PATTERN

OrderIdPath = Annotated[str, Path(pattern=ORDER_ID_PATTERN, description="OMS order id")]

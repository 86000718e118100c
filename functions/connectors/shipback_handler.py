"""ChannelShipBackFunction: fulfilment.updated from the bus -> the platform's own fulfilment API.

Its own module, so the function loads the connectors and the outbound call, not the capture path.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.connectors.settings import get_channel_settings
from functions.connectors.shipback import ship_back
from functions.core.observability import instrumented, logger, tracer

get_channel_settings()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("channel_shipback")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return {"outcome": ship_back(event["detail"])}

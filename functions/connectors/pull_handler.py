"""ChannelPullFunction (scheduled): read every registered shop's new and changed orders."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.connectors.pull import pull_all
from functions.connectors.settings import get_channel_settings
from functions.core.observability import instrumented, logger, tracer

get_channel_settings()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("channel_pull")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    results = pull_all()
    return {
        "shops": len(results),
        "found": sum(r.found for r in results),
        "failed": [f"{r.platform}/{r.shop}" for r in results if r.error],
    }

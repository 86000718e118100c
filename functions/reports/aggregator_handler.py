"""SalesAggregatorFunction: the table's stream (filtered to sales records) -> daily sales counters."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.observability import instrumented, logger, tracer
from functions.core.settings import get_settings
from functions.reports.aggregator import fold_records
from functions.reports.stream import StreamBatch

get_settings()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("sales_aggregator")
@event_parser(model=StreamBatch)
def lambda_handler(event: StreamBatch, context: LambdaContext) -> dict[str, Any]:
    result = fold_records(event.Records)
    logger.info("sales folded", extra=result.model_dump())
    return result.model_dump()

"""EventsPublisherFunction: the table stream's history events (FilterCriteria: EVT# inserts) -> the bus.

Answers with batchItemFailures (ReportBatchItemFailures), so a failure retries from the first record
not published, never skipping an order's earlier event.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from functions.core.observability import instrumented, logger, tracer
from functions.core.settings import get_events_settings
from functions.events.service import StreamItem, publish

get_events_settings()


class _StreamData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    SequenceNumber: str
    NewImage: dict[str, Any] = Field(min_length=1)


class _StreamRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    dynamodb: _StreamData


class StreamBatch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Records: list[_StreamRecord]


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("events_publisher")
@event_parser(model=StreamBatch)
def lambda_handler(event: StreamBatch, context: LambdaContext) -> dict[str, Any]:
    items = [StreamItem(r.dynamodb.SequenceNumber, r.dynamodb.NewImage) for r in event.Records]
    failed = publish(items)
    return {"batchItemFailures": [{"itemIdentifier": number} for number in failed]}

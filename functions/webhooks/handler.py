"""WebhookDeliveryFunction: messages of the webhook queue (bus events for platforms) -> signed POSTs.

Answers with batchItemFailures (ReportBatchItemFailures): only the messages not delivered come back.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from functions.core.errors import OmsError
from functions.core.observability import instrumented, logger, tracer
from functions.core.settings import get_webhook_settings
from functions.webhooks.service import Message, deliver

get_webhook_settings()


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")

    messageId: str
    receiptHandle: str
    body: str
    attributes: dict[str, Any] = {}


class QueueBatch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Records: list[_Record]


processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class NotDeliveredError(OmsError):
    """The platform did not take the message yet: it comes back from the queue (or goes to the DLQ)."""


def deliver_record(record: SQSRecord) -> None:
    attributes = record.raw_event.get("attributes") or {}
    message = Message(
        record.message_id,
        record.receipt_handle,
        record.body,
        int(attributes.get("ApproximateReceiveCount", 1)),
    )
    try:
        result = deliver(message)
    except Exception:
        logger.exception("webhook delivery error")
        raise
    if not result.done:
        raise NotDeliveredError(record.message_id)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("webhook_delivery")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    QueueBatch.model_validate(event)  # a malformed batch fails whole, before any delivery
    response = process_partial_response(
        event=event, record_handler=deliver_record, processor=processor, context=context
    )
    return dict(response)

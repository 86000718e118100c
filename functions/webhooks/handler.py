"""WebhookDeliveryFunction: messages of the webhook queue (bus events for platforms) -> signed POSTs.

Answers with batchItemFailures (ReportBatchItemFailures): only the messages not delivered come back.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

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


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@instrumented("webhook_delivery")
@event_parser(model=QueueBatch)
def lambda_handler(event: QueueBatch, context: LambdaContext) -> dict[str, Any]:
    failed: list[dict[str, str]] = []
    for record in event.Records:
        message = Message(
            record.messageId,
            record.receiptHandle,
            record.body,
            int(record.attributes.get("ApproximateReceiveCount", 1)),
        )
        try:
            result = deliver(message)
        except Exception:
            logger.exception("webhook delivery error")
            failed.append({"itemIdentifier": record.messageId})
            continue
        if not result.done:
            failed.append({"itemIdentifier": record.messageId})
    return {"batchItemFailures": failed}

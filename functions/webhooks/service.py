"""Deliver order status and fulfilment events to the platform's webhook endpoint, signed.

One SQS message = one EventBridge event (the WebhookRule's target). Delivered once to a 2xx answer
(recorded, so a redelivered message is not POSTed again); on failure the message is given back with a
growing visibility timeout (logic.backoff_seconds) and, after MAX_ATTEMPTS receives, SQS moves it to the
dead-letter queue. Every attempt is recorded for GET /webhooks/deliveries.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from functions.core import aws, clock, repository
from functions.core.observability import bind_order, logger
from functions.core.settings import get_webhook_settings
from functions.webhooks.keys import webhook_secret
from functions.webhooks.logic import (
    MAX_ATTEMPTS,
    Outcome,
    backoff_seconds,
    body_of,
    is_loopback_url,
    signed_headers,
    succeeded,
)


@dataclass(frozen=True)
class Message:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    status: int | None = None

    @property
    def done(self) -> bool:
        return self.outcome not in ("retrying", "failed")


def deliver(message: Message) -> Result:
    event = json.loads(message.body)
    detail: dict[str, Any] = event["detail"]
    event_type = str(event.get("detail-type") or detail.get("type"))
    platform, order_id, event_id = detail["platform"], detail["order_id"], detail["event_id"]
    bind_order(order_id, event_id=event_id)
    endpoint = repository.webhook_endpoint(platform)
    if endpoint is None:
        return Result("no_endpoint")
    if not endpoint.get("enabled", True):
        return Result("disabled")
    previous = repository.webhook_delivery(order_id, event_id, platform)
    if previous is not None and previous.get("status") == "delivered":
        logger.info("webhook already delivered", extra={"event_id": event_id})
        return Result("duplicate")

    now = clock.now()
    if get_webhook_settings().webhook_loopback_only and not is_loopback_url(str(endpoint["url"])):
        # the local stack: nothing leaves the machine (docs/events.md)
        document = {"status": "blocked", "url": endpoint["url"], "event_type": event_type, "attempts": 0}
        repository.record_webhook_delivery(order_id, event_id, platform, document)
        return Result("blocked")
    body = body_of(detail)
    secret = webhook_secret(platform)
    headers = signed_headers(platform, secret, event_type, event_id, body, now)
    status, error = _post(str(endpoint["url"]), body, headers)
    attempt = message.receive_count
    record: dict[str, Any] = {
        "event_type": event_type,
        "url": endpoint["url"],
        "attempts": attempt,
        "response_status": status,
        "last_attempt_at": now.isoformat(),
    }
    if status is not None and succeeded(status):
        repository.record_webhook_delivery(
            order_id, event_id, platform, {**record, "status": "delivered", "delivered_at": now.isoformat()}
        )
        logger.info("webhook delivered", extra={"event_id": event_id, "status": status, "attempt": attempt})
        return Result("delivered", status)

    wait = backoff_seconds(attempt)
    final = attempt >= MAX_ATTEMPTS
    repository.record_webhook_delivery(
        order_id,
        event_id,
        platform,
        {
            **record,
            "status": "failed" if final else "retrying",
            "last_error": error,
            **({} if final else {"next_attempt_at": (now + timedelta(seconds=wait)).isoformat()}),
        },
    )
    logger.warning(
        "webhook not delivered",
        extra={"event_id": event_id, "status": status, "attempt": attempt, "error": error},
    )
    if not final:
        aws.sqs().change_message_visibility(
            QueueUrl=get_webhook_settings().webhook_queue_url,
            ReceiptHandle=message.receipt_handle,
            VisibilityTimeout=wait,
        )
    return Result("failed" if final else "retrying", status)


def _post(url: str, body: str, headers: dict[str, str]) -> tuple[int | None, str | None]:
    """POST; (HTTP status or None when no answer came, the error). The URL's scheme was checked on entry
    (logic.WebhookEndpointIn: https, or http to a loopback address), never file: or custom schemes."""
    timeout = get_webhook_settings().webhook_timeout_seconds
    request = urllib.request.Request(url, data=body.encode("utf-8"), headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return int(answer.status), None
    except urllib.error.HTTPError as err:
        return int(err.code), f"HTTP {err.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        return None, f"{type(err).__name__}: {err}"[:300]

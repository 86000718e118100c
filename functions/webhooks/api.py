"""Outbound webhook endpoints per platform (admin) and the delivery log of an order (ops)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.core import clock, repository
from functions.core.actor import current_actor
from functions.webhooks.keys import webhook_secret
from functions.webhooks.logic import WebhookEndpointIn

router = APIGatewayRouter()

PlatformPath = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{1,31}$", description="platform name")]


@router.put("/webhooks/<platform>", summary="Set a platform's webhook endpoint", tags=["webhooks"])
def put_webhook(platform: PlatformPath, body: WebhookEndpointIn) -> dict[str, Any]:
    document = {
        **body.model_dump(),
        "updated_at": clock.now().isoformat(),
        "updated_by": current_actor(router.current_event.headers),
    }
    repository.put_webhook_endpoint(platform, document)
    # The key the platform verifies deliveries with (derived, so the same on every call; admin only).
    return {"platform": platform, **document, "signing_secret": webhook_secret(platform)}


@router.get("/webhooks", summary="Every platform's webhook endpoint", tags=["webhooks"])
def get_webhooks() -> dict[str, Any]:
    return {"endpoints": repository.webhook_endpoints()}


@router.get("/webhooks/deliveries", summary="Webhook deliveries of one order's events", tags=["webhooks"])
def get_deliveries(
    order_id: Annotated[str, Query(pattern=r"^[A-Za-z0-9_-]{1,128}$", description="the order")],
) -> dict[str, Any]:
    return {"order_id": order_id, "deliveries": repository.webhook_deliveries(order_id)}

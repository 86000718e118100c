"""Routes: shops (admin), SKU maps (ops), held orders, and the platforms' native pushes.

PUT  /channels/{platform}/shops/{shop}          register or update a shop; its secret goes to Secrets
                                                Manager and is never returned
GET  /channels                                  connectors and shops
PUT  /channels/{platform}/shops/{shop}/sku-map  JSON or CSV (item_id,sku_id,sku); releases held orders
GET  /channels/{platform}/shops/{shop}/held     orders held for UNMAPPED_SKU
POST /channels/{platform}/webhooks              a platform's push, signed its own way (no OMS token)
"""

from __future__ import annotations

import base64
import csv
import io
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from functions.connectors import registry, service
from functions.connectors.connectors import CONNECTORS, connector_for
from functions.connectors.contract import Credentials, NativeError, SignatureError
from functions.core import clock
from functions.core.actor import current_actor

router = APIGatewayRouter()

PlatformPath = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{1,31}$", description="connector name")]
ShopPath = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]{0,39}$", description="our key of the shop")
]


class ShopIn(BaseModel):
    """Body of PUT /channels/{platform}/shops/{shop}."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    secret: str = Field(
        min_length=16, max_length=512, description="the platform's signing secret (write-only)"
    )
    access_token: str = Field(
        default="", max_length=2048, description="API token/session for ship-back and pull"
    )
    app_key: str = Field(
        default="", max_length=128, description="TOP/JOS/PDD app key, where the platform has one"
    )
    native_shop_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="the platform's own id of the shop (seller_nick...)",
    )
    api_base_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$", max_length=512)
    pull: bool = Field(default=False, description="pull orders on a schedule (platforms that support it)")


class SkuMapEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    item_id: str = Field(min_length=1, max_length=64)
    sku_id: str = Field(default="", max_length=64)
    sku: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class SkuMapIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mappings: list[SkuMapEntry] = Field(min_length=1, max_length=5000)


@router.put("/channels/<platform>/shops/<shop>", summary="Register a platform shop", tags=["channels"])
def put_shop(platform: PlatformPath, shop: ShopPath, body: ShopIn) -> Response[dict[str, Any]]:
    connector = connector_for(platform)
    if body.pull and not connector.pullable:
        return _error(422, "VALIDATION_ERROR", f"{platform} orders are pushed, not pulled", "body.pull")
    owner = registry.shop_by_native_id(platform, body.native_shop_id) if body.native_shop_id else None
    if owner not in (None, shop):
        message = f"{platform} shop id {body.native_shop_id} is registered as shop {owner}"
        return _error(409, "CONFLICT", message, "body.native_shop_id")
    secret_name = registry.put_credentials(
        platform, shop, Credentials(body.secret, body.access_token, body.app_key)
    )
    document = {
        "platform": platform,
        "shop": shop,
        "native_shop_id": body.native_shop_id,
        "api_base_url": body.api_base_url,
        "pull": body.pull,
        "secret_name": secret_name,
        "updated_at": clock.now().isoformat(),
        "updated_by": current_actor(router.current_event.headers),
    }
    try:
        registry.put_shop(platform, shop, document)
    except registry.NativeShopTaken as taken:  # registered at the same moment by another request
        return _error(409, "CONFLICT", str(taken), "body.native_shop_id")
    shown = {k: v for k, v in document.items() if v is not None}
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=shown)


@router.get("/channels", summary="Connectors and their shops", tags=["channels"])
def get_channels() -> dict[str, Any]:
    return {"platforms": sorted(CONNECTORS), "shops": registry.shops()}


@router.put(
    "/channels/<platform>/shops/<shop>/sku-map",
    summary="Map a shop's platform SKUs to ours",
    tags=["channels"],
)
def put_sku_map(platform: PlatformPath, shop: ShopPath) -> Response[dict[str, Any]]:
    connector_for(platform)
    if registry.get_shop(platform, shop) is None:
        return _error(404, "NOT_FOUND", f"{platform} shop {shop} is not registered")
    event = router.current_event
    text = _raw(event.body, event.is_base64_encoded).decode("utf-8", errors="replace")
    try:
        if "csv" in (event.headers.get("Content-Type") or event.headers.get("content-type") or ""):
            rows = list(csv.DictReader(io.StringIO(text)))
            mapping = SkuMapIn(
                mappings=[SkuMapEntry(**{k: (v or "") for k, v in row.items() if k}) for row in rows]
            )
        else:
            mapping = SkuMapIn.model_validate_json(text or "null")
    except (ValidationError, ValueError, TypeError) as err:
        fields = (
            err.errors(include_input=False, include_url=False) if isinstance(err, ValidationError) else []
        )
        return _error(
            422,
            "VALIDATION_ERROR",
            f"sku map is malformed: {str(err)[:200]}",
            *[".".join(str(p) for p in f["loc"]) for f in fields],
        )
    written = registry.put_sku_map(platform, shop, [e.model_dump() for e in mapping.mappings], clock.now())
    released = service.release_parked(platform, shop)
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body={
            "platform": platform,
            "shop": shop,
            "written": written,
            "released": [r.body() for r in released if r.outcome != "held"],
            "still_held": [r.body() for r in released if r.outcome == "held"],
        },
    )


@router.get(
    "/channels/<platform>/shops/<shop>/held", summary="Orders held for UNMAPPED_SKU", tags=["channels"]
)
def get_held(platform: PlatformPath, shop: ShopPath) -> dict[str, Any]:
    connector_for(platform)
    held = [
        {k: v for k, v in entry.items() if k not in ("raw", "headers", "query")}
        for entry in registry.parked(platform, shop)
    ]
    return {"platform": platform, "shop": shop, "held": held}


@router.post("/channels/<platform>/webhooks", summary="A platform's native push", tags=["channels"])
def post_webhook(platform: PlatformPath) -> Response[dict[str, Any]]:
    event = router.current_event
    raw = _raw(event.body, event.is_base64_encoded)
    query = dict(event.query_string_parameters or {})
    try:
        received = service.receive_push(platform, dict(event.headers or {}), query, raw)
    except SignatureError as refused:
        return _error(401, refused.code, refused.message)
    except NativeError as malformed:
        return _error(422, "NATIVE_VALIDATION_ERROR", malformed.message, fields=malformed.fields)
    acknowledge = getattr(connector_for(platform), "acknowledge", {})  # 抖店 wants {"code": 0, ...}
    return Response(
        status_code=received.http_status,
        content_type=content_types.APPLICATION_JSON,
        body={**acknowledge, **received.body()},
    )


def _raw(body: str | None, is_base64: bool | None) -> bytes:
    if body is None:
        return b""
    return base64.b64decode(body) if is_base64 else body.encode("utf-8")


def _error(
    status: int, code: str, message: str, *names: str, fields: list[dict[str, str]] | None = None
) -> Response[dict[str, Any]]:
    listed = fields if fields is not None else [{"field": n, "message": message} for n in names]
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"code": code, "message": message, "fields": listed}},
    )

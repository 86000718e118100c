"""Product master routes (商品资料): admins and merchandisers write, every staff role reads."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.core.actor import current_actor
from functions.core.models.base import SKU_PATTERN
from functions.core.pagination import InvalidTokenError
from functions.core.products import ProductKind
from functions.products import service
from functions.products.logic import ProductUpdate

router = APIGatewayRouter()

SkuPath = Annotated[str, Path(pattern=SKU_PATTERN, description="the SKU")]
MAX_CSV_BYTES = 2_000_000


@router.put("/products/<sku>", summary="Store a new version of a product's record", tags=["products"])
def put_product(sku: SkuPath, body: ProductUpdate) -> dict[str, Any]:
    """The whole record; `version` = the version you edited (0 creates). 422 names a bad field;
    409 STALE_PRODUCT when someone stored another version first."""
    return service.put_product(sku, body, current_actor())


@router.get("/products/<sku>", summary="A product's record in force", tags=["products"])
def get_product(sku: SkuPath) -> dict[str, Any]:
    return service.get_product(sku)


@router.get(
    "/products/<sku>/versions", summary="A product's stored versions, newest first", tags=["products"]
)
def get_versions(
    sku: SkuPath, limit: Annotated[int, Query(ge=1, le=500, description="at most this many")] = 50
) -> dict[str, Any]:
    return service.versions(sku, limit)


@router.get("/products", summary="Search the product master (SKU order, paginated)", tags=["products"])
def list_products(
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="in the SKU or name")] = None,
    kind: Annotated[ProductKind | None, Query(description="physical or virtual")] = None,
    active: Annotated[bool | None, Query(description="only active (true) or inactive (false)")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="products per page")] = 20,
    next_token: Annotated[
        str | None, Query(max_length=8000, description="the next_token of the previous page")
    ] = None,
) -> dict[str, Any]:
    try:
        return service.list_products(q, kind, active, limit, next_token)
    except InvalidTokenError as err:
        raise BadRequestError(str(err)) from err


@router.post("/products/import", summary="Import products from CSV, with a per-row report", tags=["products"])
def import_products() -> dict[str, Any]:
    """Body: text/csv with a header (sku, name, kind, virtual_kind, weight_kg, length_cm, width_cm,
    height_cm, components as `SKU:QTY;SKU:QTY`, gift_eligible, active). Bad rows are reported, not stored."""
    try:
        raw = router.current_event.decoded_body or ""
    except (UnicodeDecodeError, ValueError) as err:
        raise BadRequestError("the CSV must be UTF-8 text") from err
    if len(raw.encode()) > MAX_CSV_BYTES:
        raise BadRequestError(f"the CSV is over {MAX_CSV_BYTES} bytes")
    try:
        return service.import_csv(raw, current_actor())
    except ValueError as err:
        raise BadRequestError(str(err)) from err

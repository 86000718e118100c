"""Inventory routes: stock syncs from a WMS/ERP, available to promise, and the audited ledger."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.allocate.inventory import StockSync, inventory_of, ledger_view, sync_stock
from functions.allocate.stock_import import ImportRefused, import_stock
from functions.core.actor import current_actor
from functions.core.api_errors import error_response

router = APIGatewayRouter()

SkuPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="SKU")]
WarehouseQuery = Annotated[
    str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="only this warehouse")
]


@router.put("/inventory/<sku>", summary="Sync counted stock of one warehouse (WMS/ERP)", tags=["inventory"])
def put_inventory(sku: SkuPath, sync: StockSync) -> Response[dict[str, Any]]:
    outcome = sync_stock(sku, sync)
    return Response(
        status_code=200 if outcome.duplicate else 201,
        content_type=content_types.APPLICATION_JSON,
        body={**outcome.model_dump(mode="json"), "inventory": inventory_of(sku).model_dump(mode="json")},
    )


@router.get("/inventory/<sku>", summary="Available to promise per warehouse", tags=["inventory"])
def get_inventory(sku: SkuPath) -> dict[str, Any]:
    return inventory_of(sku).model_dump(mode="json")


@router.get(
    "/inventory/<sku>/ledger", summary="Stock movements, checked against the counters", tags=["inventory"]
)
def get_ledger(sku: SkuPath, warehouse: WarehouseQuery = None) -> dict[str, Any]:
    return ledger_view(sku, warehouse)


ImportIdQuery = Annotated[
    str,
    Query(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="the caller's id of this import: sent again, no row is applied twice",
    ),
]


@router.post(
    "/inventory/import",
    summary="Counted stock of many SKUs from a CSV (sku,warehouse,on_hand[,reason]); a result per row",
    tags=["inventory"],
)
def post_import(import_id: ImportIdQuery) -> Response[dict[str, Any]]:
    event = router.current_event
    text = event.decoded_body if event.is_base64_encoded else (event.body or "")
    try:
        report = import_stock(text or "", import_id, current_actor(event.headers))
    except ImportRefused as refused:
        field = {"loc": ["body"], "field": "body", "type": "csv", "message": str(refused)}
        return error_response(422, "INVALID_CSV", str(refused), [field])
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=report.model_dump(mode="json"),
    )

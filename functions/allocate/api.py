"""Inventory routes: stock syncs from a WMS/ERP, available to promise, and the audited ledger."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.allocate.inventory import StockSync, inventory_of, ledger_view, sync_stock

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

"""The product master: PRODUCTS / SKU#<sku> (the version in force, one partition so it lists in SKU
order) and PRODUCT#<sku> / V#<n> (every saved version, never overwritten)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from functions.core.errors import OmsError
from functions.core.products import Product
from functions.core.repository._dynamo import av, batch_get, get, item, key, query_all, query_page
from functions.core.repository.unit_of_work import TransactionRejected, commit, put

PRODUCTS_PK = "PRODUCTS"
PRODUCT_TAG = "PRODUCT"
_KEYS = {"pk", "sk"}


def _current_key(sku: str) -> dict[str, Any]:
    return key(PRODUCTS_PK, f"SKU#{sku}")


def _version_key(sku: str, version: int) -> dict[str, Any]:
    return key(f"PRODUCT#{sku}", f"V#{version:08d}")


def _product(raw: dict[str, Any]) -> Product:
    return Product.model_validate({k: v for k, v in raw.items() if k not in _KEYS})


class StaleProductError(OmsError):
    """The product changed since the version the caller based its change on."""


def get_product(sku: str) -> Product | None:
    found = get(_current_key(sku))
    return _product(found) if found is not None else None


def get_products(skus: Iterable[str]) -> dict[str, Product]:
    """The products in force for `skus` (absent SKUs are missing from the answer)."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    products = (_product(raw) for raw in batch_get([_current_key(sku) for sku in wanted], rounds=8))
    return {product.sku: product for product in products}


def get_product_version(sku: str, version: int) -> Product | None:
    found = get(_version_key(sku, version))
    return _product(found) if found is not None else None


def list_product_versions(sku: str, limit: int = 50) -> list[Product]:
    """A SKU's stored versions, newest first."""
    items = query_all(
        max_items=limit,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
        ExpressionAttributeValues={":pk": av(f"PRODUCT#{sku}"), ":v": av("V#")},
        ScanIndexForward=False,
        Limit=limit,
    )
    return [_product(raw) for raw in items[:limit]]


def product_page(after_sku: str | None, page_size: int) -> tuple[list[Product], bool]:
    """Up to `page_size` products in SKU order after `after_sku`: (products, whether more remain)."""
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :s)",
        "ExpressionAttributeValues": {":pk": av(PRODUCTS_PK), ":s": av("SKU#")},
        "Limit": page_size,
    }
    if after_sku is not None:
        kwargs["ExclusiveStartKey"] = _current_key(after_sku)
    items, more = query_page(**kwargs)
    return [_product(raw) for raw in items], more


def save_product(product: Product, replaces: int) -> None:
    """Store `product` as its V#<n> and make it the version in force, only if the one in force is still
    `replaces` (0: the SKU is new). One transaction; a concurrent editor loses with StaleProductError."""
    values = product.model_dump(mode="json", exclude_none=True)
    sku, number = product.sku, product.version
    version = put(
        item({"pk": f"PRODUCT#{sku}", "sk": f"V#{number:08d}", **values}),
        "attribute_not_exists(pk)",
        tag=PRODUCT_TAG,
    )
    current_values = item({"pk": PRODUCTS_PK, "sk": f"SKU#{sku}", **values})
    current = (
        put(current_values, "attribute_not_exists(pk)", tag=PRODUCT_TAG)
        if replaces == 0
        else put(
            current_values,
            "#version = :replaces",
            names={"#version": "version"},
            values={":replaces": av(replaces)},
            tag=PRODUCT_TAG,
        )
    )
    try:
        commit([version, current])
    except TransactionRejected as rejected:
        raise StaleProductError(f"product {product.sku} changed since version {replaces}") from rejected

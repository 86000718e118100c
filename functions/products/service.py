"""Product master: store a SKU's record as a new version, read, list and import many from CSV.

A change names the version it edits; a concurrent editor loses with 409 STALE_PRODUCT and nothing is
written. Every version stays readable (PRODUCT#<sku> / V#<n>), as the rules' versions do.
"""

from __future__ import annotations

from typing import Any

from functions.core import clock, pagination, repository
from functions.core.errors import RefusedError
from functions.core.products import Product, ProductKind, ProductSpec
from functions.products.logic import ImportRowReport, ProductUpdate, bundle_problem, matches, parse_csv

_PAGE_READ = 200  # products read per DynamoDB page while filtering


def _view(product: Product) -> dict[str, Any]:
    return product.model_dump(mode="json")


def _spec_of(product: Product) -> ProductSpec:
    return ProductSpec.model_validate(product.model_dump(include=set(ProductSpec.model_fields)))


def _not_found(sku: str) -> RefusedError:
    return RefusedError("PRODUCT_NOT_FOUND", f"no product {sku} in the product master", status=404)


def _store(sku: str, spec: ProductSpec, replaces: int, actor: str) -> Product:
    """Validate `spec`'s components, then store it as version `replaces + 1`."""
    known = repository.get_products(c.sku for c in spec.components)
    problem = bundle_problem(sku, spec, known)
    if problem is not None:
        raise RefusedError("INVALID_BUNDLE", problem, status=422)
    product = Product(
        **spec.model_dump(),
        sku=sku,
        version=replaces + 1,
        saved_at=clock.now().isoformat(),
        saved_by=actor,
    )
    try:
        repository.save_product(product, replaces=replaces)
    except repository.StaleProductError as err:
        raise RefusedError("STALE_PRODUCT", str(err)) from err
    return product


def put_product(sku: str, body: ProductUpdate, actor: str) -> dict[str, Any]:
    current = repository.get_product(sku)
    in_force = current.version if current is not None else 0
    if body.version != in_force:
        raise RefusedError(
            "STALE_PRODUCT", f"product {sku} is at version {in_force}; you edited version {body.version}"
        )
    spec = ProductSpec.model_validate(body.model_dump(exclude={"version"}))
    return _view(_store(sku, spec, in_force, actor))


def get_product(sku: str) -> dict[str, Any]:
    found = repository.get_product(sku)
    if found is None:
        raise _not_found(sku)
    return _view(found)


def versions(sku: str, limit: int) -> dict[str, Any]:
    found = repository.list_product_versions(sku, limit)
    if not found:
        raise _not_found(sku)
    return {"sku": sku, "versions": [_view(p) for p in found]}


def list_products(
    text: str | None, kind: ProductKind | None, active: bool | None, limit: int, next_token: str | None
) -> dict[str, Any]:
    """Products in SKU order matching every filter, `limit` a page. Raises InvalidTokenError."""
    digest = pagination.query_digest({"q": text, "kind": kind, "active": active})
    after = pagination.decode_token(next_token, digest).get("PRODUCTS") if next_token else None
    found: list[Product] = []
    more = True
    while more and len(found) < limit:
        page, more = repository.product_page(after, _PAGE_READ)
        for product in page:
            after = product.sku
            if matches(product, text, kind, active):
                found.append(product)
                if len(found) == limit:
                    more = more or product is not page[-1]
                    break
        if not page:
            more = False
    token = pagination.encode_token(digest, {"PRODUCTS": after}) if more and found else None
    return {"products": [_view(p) for p in found], "next_token": token}


def import_csv(text: str, actor: str) -> dict[str, Any]:
    """Store every valid row (new SKUs as version 1, changed ones as the next version); report per row.

    A bad row is reported and skipped; the others are stored. A row equal to the version in force is
    `unchanged` (no new version). Raises ValueError when the file itself is unusable.
    """
    rows = parse_csv(text)
    reports: list[ImportRowReport] = []
    seen: set[str] = set()
    for parsed in rows:
        if parsed.spec is None or parsed.sku is None:
            reports.append(
                ImportRowReport(row=parsed.row, sku=parsed.sku, outcome="error", error=parsed.error)
            )
            continue
        if parsed.sku in seen:
            reports.append(
                ImportRowReport(
                    row=parsed.row, sku=parsed.sku, outcome="error", error="sku: repeated in this file"
                )
            )
            continue
        seen.add(parsed.sku)
        current = repository.get_product(parsed.sku)
        if current is not None and _spec_of(current) == parsed.spec:
            reports.append(
                ImportRowReport(row=parsed.row, sku=parsed.sku, outcome="unchanged", version=current.version)
            )
            continue
        try:
            stored = _store(parsed.sku, parsed.spec, current.version if current else 0, actor)
        except RefusedError as err:
            reports.append(
                ImportRowReport(row=parsed.row, sku=parsed.sku, outcome="error", error=err.message)
            )
            continue
        outcome = "created" if current is None else "updated"
        reports.append(
            ImportRowReport(row=parsed.row, sku=parsed.sku, outcome=outcome, version=stored.version)
        )
    counts = {o: sum(r.outcome == o for r in reports) for o in ("created", "updated", "unchanged", "error")}
    return {"rows": [r.model_dump(mode="json") for r in reports], "counts": counts}

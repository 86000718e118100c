"""Product master decisions with no I/O: a CSV import's rows, and whether a list entry matches."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from functions.core.models.base import Sku
from functions.core.products import Product, ProductKind, ProductSpec

MAX_IMPORT_ROWS = 5_000
CSV_COLUMNS = (
    "sku",
    "name",
    "kind",
    "virtual_kind",
    "weight_kg",
    "length_cm",
    "width_cm",
    "height_cm",
    "components",
    "gift_eligible",
    "active",
)


class ProductUpdate(ProductSpec):
    """PUT /products/{sku}: the whole record and `version`, the version you edited (0 for a new SKU)."""

    version: int = Field(ge=0)


class ImportRowReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    row: int  # 1 = the first line after the header
    sku: str | None
    outcome: str  # created, updated, unchanged, error
    version: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class ParsedRow:
    row: int
    sku: str | None
    spec: ProductSpec | None
    error: str | None


class _SkuCheck(BaseModel):
    sku: Sku


def _flag(value: str, default: bool) -> bool | str:
    text = value.strip().lower()
    if not text:
        return default
    if text in {"true", "yes", "1", "y"}:
        return True
    if text in {"false", "no", "0", "n"}:
        return False
    return value  # pydantic names the field and refuses it


def _components(text: str) -> list[dict[str, Any]] | str:
    """ "A:2;B:1" -> [{"sku": "A", "quantity": 2}, ...]; "A:2:30.00" also gives A's value in the bundle."""
    parts = [part.strip() for part in text.split(";") if part.strip()]
    found: list[dict[str, Any]] = []
    for part in parts:
        sku, _, rest = part.partition(":")
        quantity, _, value = rest.partition(":")
        if not quantity.strip().isdigit():
            return f"component {part!r} is not SKU:QUANTITY or SKU:QUANTITY:VALUE"
        component: dict[str, Any] = {"sku": sku.strip(), "quantity": int(quantity)}
        if value.strip():
            component["value"] = value.strip()  # pydantic checks it is money
        found.append(component)
    return found


def _errors(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in err.errors(include_url=False)
    )


def parse_row(row: int, raw: dict[str, str]) -> ParsedRow:
    sku = (raw.get("sku") or "").strip() or None
    try:
        _SkuCheck(sku=sku or "")
    except ValidationError:
        return ParsedRow(row, sku, None, "sku: missing or not a valid SKU")
    components = _components(raw.get("components") or "")
    if isinstance(components, str):
        return ParsedRow(row, sku, None, f"components: {components}")
    size = {f: (raw.get(f) or "").strip() for f in ("length_cm", "width_cm", "height_cm")}
    document: dict[str, Any] = {
        "name": (raw.get("name") or "").strip(),
        "kind": (raw.get("kind") or "").strip() or ProductKind.PHYSICAL,
        "virtual_kind": (raw.get("virtual_kind") or "").strip() or None,
        "weight_kg": (raw.get("weight_kg") or "").strip() or None,
        "size": size if any(size.values()) else None,
        "components": components,
        "gift_eligible": _flag(raw.get("gift_eligible") or "", False),
        "active": _flag(raw.get("active") or "", True),
    }
    try:
        return ParsedRow(row, sku, ProductSpec.model_validate(document), None)
    except ValidationError as err:
        return ParsedRow(row, sku, None, _errors(err))


def parse_csv(text: str) -> list[ParsedRow]:
    """Every data row of a product CSV (header: CSV_COLUMNS, any order; sku required), parsed.

    Raises ValueError when the file itself is unusable (no sku column, unknown columns, too many rows).
    """
    try:
        return _parse_rows(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    except csv.Error as err:  # a NUL byte, an unclosed quote over the field limit: the file is unusable
        raise ValueError(f"not a readable CSV: {err}") from err


def _parse_rows(reader: csv.DictReader[str]) -> list[ParsedRow]:
    header = [name.strip() for name in (reader.fieldnames or [])]
    if "sku" not in header:
        raise ValueError("the header must name a 'sku' column")
    unknown = sorted(set(header) - set(CSV_COLUMNS))
    if unknown:
        raise ValueError(f"unknown columns: {', '.join(unknown)} (known: {', '.join(CSV_COLUMNS)})")
    reader.fieldnames = header
    rows = []
    for index, raw in enumerate(reader, start=1):
        if index > MAX_IMPORT_ROWS:
            raise ValueError(f"at most {MAX_IMPORT_ROWS} rows per import")
        rows.append(parse_row(index, {k: v or "" for k, v in raw.items() if k is not None}))
    return rows


def bundle_problem(sku: str, spec: ProductSpec, known: dict[str, Product]) -> str | None:
    """Why `spec`'s components cannot be stored, or None: each must be a known, non-bundle SKU."""
    for component in spec.components:
        if component.sku == sku:
            return f"components: {sku} cannot contain itself"
        found = known.get(component.sku)
        if found is None:
            return f"components: {component.sku} is not in the product master"
        if found.is_bundle:
            return f"components: {component.sku} is itself a bundle"
    if spec.components and spec.kind is not ProductKind.PHYSICAL:
        return "components: a bundle is physical; its components say what ships"
    return None


def matches(product: Product, text: str | None, kind: ProductKind | None, active: bool | None) -> bool:
    if kind is not None and product.kind is not kind:
        return False
    if active is not None and product.active is not active:
        return False
    if text:
        needle = text.casefold()
        return needle in product.sku.casefold() or needle in product.name.casefold()
    return True

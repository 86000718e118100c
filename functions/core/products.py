"""The product master (商品资料): what a SKU is, owned by the OMS and never taken from an order (pure).

Capture reads it to refuse unknown or inactive SKUs and to decide physical or virtual; shipping reads
weights from it. A platform's order names SKUs and prices; everything else about a SKU comes from here.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from functions.core.models.base import Money, Sku

Kilograms = Annotated[Decimal, Field(ge=0, le=100_000, max_digits=12, decimal_places=3)]
Centimetres = Annotated[Decimal, Field(gt=0, le=100_000, max_digits=10, decimal_places=1)]


class ProductKind(StrEnum):
    PHYSICAL = "physical"  # kept in a warehouse, reserved and shipped by carrier
    VIRTUAL = "virtual"  # no stock: fulfilled by a virtual shipment (虚拟出库)


class VirtualKind(StrEnum):
    CARD_CODE = "card_code"
    SERVICE = "service"
    E_TICKET = "e_ticket"


class Size(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    length_cm: Centimetres
    width_cm: Centimetres
    height_cm: Centimetres


class Component(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    sku: Sku
    quantity: int = Field(ge=1, le=10_000, strict=True)
    # What one unit of it is worth inside the bundle: a bundle line's money is spread over its components
    # in proportion to value x quantity (exact to the cent). Left out on every component: by units.
    value: Money | None = None


class ProductSpec(BaseModel):
    """What a person states about a SKU: every field a PUT /products/{sku} carries besides `version`."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    name: str = Field(default="", max_length=200)
    kind: ProductKind = ProductKind.PHYSICAL
    virtual_kind: VirtualKind | None = None
    weight_kg: Kilograms | None = None
    size: Size | None = None
    components: tuple[Component, ...] = Field(default=(), max_length=50)  # a bundle (组合装) when any
    gift_eligible: bool = False
    active: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind is ProductKind.VIRTUAL and self.virtual_kind is None:
            raise ValueError("virtual_kind is required for a virtual product (card_code, service, e_ticket)")
        if self.kind is ProductKind.PHYSICAL and self.virtual_kind is not None:
            raise ValueError("virtual_kind is only for virtual products")
        skus = [c.sku for c in self.components]
        if len(skus) != len(set(skus)):
            raise ValueError("components: each sku may appear once; merge quantities")
        valued = [c.value is not None for c in self.components]
        if any(valued) and not all(valued):
            raise ValueError("components: give every component a value, or none (then split by units)")
        return self


class Product(ProductSpec):
    """One SKU's stored master record at `version` (1 on creation, +1 per change)."""

    sku: Sku
    version: int = Field(ge=1)
    saved_at: str | None = None
    saved_by: str | None = None

    @property
    def virtual(self) -> bool:
        return self.kind is ProductKind.VIRTUAL

    @property
    def is_bundle(self) -> bool:
        return bool(self.components)


def line_weight_kg(product: Product | None, default_kg: Decimal) -> Decimal:
    """A unit's weight for carrier rules: the master's, else the rules' default."""
    if product is None or product.weight_kg is None:
        return default_kg
    return product.weight_kg

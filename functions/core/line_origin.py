"""Where a stored order line's units came from (组合装: docs/products.md), pure data.

Capture explodes a bundle line into its components' lines; a component ordered through two bundles
(or also on its own) is one line, reserved once for the sum, and keeps one origin per platform line so
returns and refunds can say which bundle a unit belonged to.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Cents = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class LineOrigin(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    line: int = Field(ge=0)  # the platform line's index in the order as posted
    sku: str  # that line's SKU: the bundle's, or this line's own when it was ordered on its own
    units_per_bundle: int | None = Field(default=None, ge=1)  # None: not from a bundle
    quantity: int = Field(ge=1)  # units of this line that came from there
    amount: Cents  # their share of that platform line's money, exact to the cent

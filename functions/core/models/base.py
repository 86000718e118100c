"""The field types every model shares, and the strict base of what callers send."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

# Quantized on the way in, so "10", "10.0" and "10.00" are the same amount everywhere after.
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2),
    AfterValidator(lambda amount: amount.quantize(Decimal("0.01"))),
    # What the OpenAPI document tells integrators (and fuzzers): a decimal string, or a whole number.
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$", "examples": ["168.00"]},
                {"type": "integer", "minimum": 0, "maximum": 999_999_999_999},
            ]
        },
        mode="validation",
    ),
]
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN)]
PlatformName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{1,31}$")]
PlatformOrderId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
PaymentId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")]


class Record(BaseModel):
    """The base of every core model: its validator is built on first use, not at import (a handler
    imports many models and validates few of them; docs/adr/0004-cold-import-budget.md)."""

    model_config = ConfigDict(defer_build=True)


class StrictModel(Record):
    """What callers send: unknown fields refused, text stripped, immutable once parsed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

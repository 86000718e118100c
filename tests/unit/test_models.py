"""The platform order model: what it accepts, what it refuses (naming the field), and the derived id."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from functions.core.models.order_in import OrderIn, OrderLine, order_id_for
from functions.core.stage import StageInput
from tests.factories import mutated, new_sku, order_body

EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def locs(err: ValidationError) -> list[tuple]:
    return [tuple(e["loc"]) for e in err.errors()]


def test_valid_body_parses():
    sku = new_sku()
    order = OrderIn.model_validate(order_body([(sku, 3, "9.90")], shipping="5.00"))
    assert order.lines[0].sku == sku
    assert order.lines[0].amount == Decimal("29.70")
    assert order.amounts.total == Decimal("34.70")
    assert order.placed_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("path", "value", "loc"),
    [
        (("lines", 0, "quantity"), -1, ("lines", 0, "quantity")),
        (("lines", 0, "quantity"), 0, ("lines", 0, "quantity")),
        (("lines", 0, "quantity"), 10_001, ("lines", 0, "quantity")),
        (("lines", 0, "quantity"), "5", ("lines", 0, "quantity")),  # strict: never coerced
        (("lines", 0, "quantity"), True, ("lines", 0, "quantity")),
        (("lines", 0, "quantity"), 5.0, ("lines", 0, "quantity")),
        (("lines", 0, "unit_price"), "-1.00", ("lines", 0, "unit_price")),
        (("lines", 0, "unit_price"), "1.005", ("lines", 0, "unit_price")),
        (("lines", 0, "sku"), "bad sku!", ("lines", 0, "sku")),
        (("lines",), [], ("lines",)),
        (("shipping_address", "country"), "china", ("shipping_address", "country")),
        (("shipping_address", "phone"), "call me", ("shipping_address", "phone")),
        (("shipping_address", "city"), "   ", ("shipping_address", "city")),
        (("amounts", "currency"), "cny", ("amounts", "currency")),
        (("amounts", "total"), "-5.00", ("amounts", "total")),
        (("platform",), "Tmall Global", ("platform",)),
        (("platform_order_id",), "has space", ("platform_order_id",)),
        (("placed_at",), "2026-11-25T10:00:00", ("placed_at",)),
        (("buyer", "email"), "not-an-email", ("buyer", "email")),
        (("surprise",), 1, ("surprise",)),
    ],
    ids=lambda v: str(v) if not isinstance(v, tuple) else ".".join(map(str, v)),
)
def test_invalid_field_is_named(path, value, loc):
    with pytest.raises(ValidationError) as caught:
        OrderIn.model_validate(mutated(order_body(), path, value))
    assert locs(caught.value) == [loc]


@pytest.mark.parametrize(
    "path", [("buyer",), ("shipping_address",), ("amounts",), ("placed_at",), ("lines", 0, "sku")]
)
def test_missing_field_is_named(path):
    with pytest.raises(ValidationError) as caught:
        OrderIn.model_validate(mutated(order_body(), path, delete=True))
    assert caught.value.errors()[0]["type"] == "missing"
    assert locs(caught.value) == [path]


def test_too_many_lines_refused():
    with pytest.raises(ValidationError) as caught:
        OrderIn.model_validate(order_body([(f"S{i}", 1) for i in range(101)]))
    assert locs(caught.value) == [("lines",)]


def test_duplicate_skus_refused():
    sku = new_sku()
    with pytest.raises(ValidationError, match=r"lines\n.*each sku may appear once"):
        OrderIn.model_validate(order_body([(sku, 1), (sku, 2)]))


def test_same_sku_different_case_is_a_different_sku():
    OrderIn.model_validate(order_body([("abc-1", 1), ("ABC-1", 1)]))


def test_models_are_frozen():
    order = OrderIn.model_validate(order_body())
    with pytest.raises(ValidationError):
        order.platform = "jd"  # type: ignore[misc]


def test_line_amount():
    assert OrderLine(sku="A", quantity=3, unit_price="0.35").amount == Decimal("1.05")


# ---------------------------------------------------------------- fingerprint


def test_fingerprint_depends_on_content_only():
    body = order_body()
    reordered = dict(reversed(list(body.items())))
    assert OrderIn.model_validate(body).fingerprint() == OrderIn.model_validate(reordered).fingerprint()
    changed = mutated(body, ("lines", 0, "quantity"), 2)
    assert OrderIn.model_validate(body).fingerprint() != OrderIn.model_validate(changed).fingerprint()


@pytest.mark.parametrize(
    ("path", "same_value"),
    [
        (("lines", 0, "unit_price"), 10),
        (("lines", 0, "unit_price"), "10.0"),
        (("amounts", "total"), "20"),
        (("placed_at",), "2026-11-25T02:00:00Z"),  # the factory's 10:00+08:00
    ],
    ids=["price-as-number", "price-one-decimal", "total-no-decimals", "placed-at-in-utc"],
)
def test_fingerprint_ignores_how_equal_values_are_written(path, same_value):
    body = order_body([(new_sku(), 2, "10.00")])
    assert body["amounts"]["total"] == "20.00"
    resend = mutated(body, path, same_value)
    assert OrderIn.model_validate(resend) == OrderIn.model_validate(body)  # equal values ...
    assert OrderIn.model_validate(resend).fingerprint() == OrderIn.model_validate(body).fingerprint()


# ---------------------------------------------------------------- order id


def test_order_id_is_deterministic():
    assert order_id_for("tmall", "T1001") == order_id_for("tmall", "T1001")


def test_order_id_depends_on_platform_and_platform_order_id():
    ids = {order_id_for("tmall", "T1"), order_id_for("jd", "T1"), order_id_for("tmall", "T2")}
    assert len(ids) == 3


def test_order_id_key_parts_cannot_be_confused():
    assert order_id_for("ab", "c") != order_id_for("a", "bc")


def test_order_id_is_what_the_stages_accept():
    StageInput(order_id=order_id_for("tmall", "T1001"))


@given(platform=st.text(min_size=1, max_size=40), platform_order_id=st.text(min_size=1, max_size=80))
def test_order_id_is_a_valid_execution_name(platform, platform_order_id):
    order_id = order_id_for(platform, platform_order_id)
    assert EXECUTION_NAME.fullmatch(order_id)
    assert len(order_id) <= 80

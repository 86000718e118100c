"""Replacement orders (补发 reship, 换货 exchange) run the normal pipeline: reviewed once already,
allocated from stock, shipped; idempotent on their cause."""

from __future__ import annotations

import pytest

from functions.core import repository
from functions.core.errors import ConflictError
from functions.core.replacement import ReplacementLine, create_replacement_order
from tests.e2e.stock_support import assert_conserved
from tests.factories import line, new_sku, order_body

pytestmark = pytest.mark.e2e


def test_a_reship_is_allocated_and_shipped_from_stock_without_a_second_review(oms):
    kept, damaged = new_sku(), new_sku()
    oms.set_stock(kept, 5)
    oms.set_stock(damaged, 5)
    original, _ = oms.run(order_body([line(kept, 1, "20.00"), line(damaged, 2, "80.00")]))
    assert original["status"] == "SHIPPED"

    stored = repository.get_order(original["order_id"])
    replacement = create_replacement_order(
        stored, [ReplacementLine(sku=damaged, quantity=1)], cause="reship", cause_id="exc-1"
    )
    execution = oms.wait(replacement.execution_arn)
    shipped = oms.order(replacement.order_id)

    assert execution["status"] == "SUCCEEDED"
    assert shipped["status"] == "SHIPPED"
    assert shipped["replaces"] == {"order_id": original["order_id"], "cause": "reship", "cause_id": "exc-1"}
    assert shipped["review"]["reasons"][0]["code"] == "REPLACEMENT"
    assert shipped["amounts"]["total"] == "0.00"
    assert [(x["sku"], x["quantity"], x["unit_price"]) for x in shipped["lines"]] == [(damaged, 1, "0.00")]
    assert shipped["platform"] == original["platform"]
    assert oms.stock(damaged) == {"on_hand": 2, "reserved": 0, "available": 2}  # 5 - 2 - 1
    assert oms.stock(kept) == {"on_hand": 4, "reserved": 0, "available": 4}
    assert_conserved(damaged)


def test_asking_twice_for_the_same_replacement_gives_one_order_and_other_lines_conflict(oms):
    sku = new_sku()
    oms.set_stock(sku, 5)
    original, _ = oms.run(order_body([(sku, 2)]))
    stored = repository.get_order(original["order_id"])
    lines = [ReplacementLine(sku=sku, quantity=2)]

    first = create_replacement_order(stored, lines, cause="exchange", cause_id="case-9")
    again = create_replacement_order(stored, lines, cause="exchange", cause_id="case-9")
    oms.wait(first.execution_arn)

    assert again.order_id == first.order_id
    assert again.execution_arn == first.execution_arn
    assert len(oms.executions_named(first.order_id)) == 1
    assert oms.stock(sku) == {"on_hand": 1, "reserved": 0, "available": 1}  # 5 - 2 - 2, once
    with pytest.raises(ConflictError):
        create_replacement_order(
            stored, [ReplacementLine(sku=sku, quantity=1)], cause="exchange", cause_id="case-9"
        )
    other = create_replacement_order(stored, lines, cause="reship", cause_id="case-9")
    assert other.order_id != first.order_id
    oms.wait(other.execution_arn)

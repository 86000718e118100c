"""The product master's pure logic (CSV rows, bundles, search) and its service on the fake unit of work."""

from __future__ import annotations

from decimal import Decimal

import pytest

from functions.core import repository
from functions.core.errors import RefusedError
from functions.core.products import Component, Product, ProductKind, ProductSpec, line_weight_kg
from functions.core.repository.fake import Ledger
from functions.products import service
from functions.products.logic import ProductUpdate, bundle_problem, matches, parse_csv

# ---------------------------------------------------------------- pure logic


def test_a_csv_row_becomes_a_spec_and_a_bad_row_names_its_field():
    rows = parse_csv(
        "\ufeffsku,name,kind,virtual_kind,weight_kg,length_cm,width_cm,height_cm,components,gift_eligible,active\n"
        "RICE-5,Rice,,,5.1,40,30,10,,yes,\n"
        "CARD,Card,virtual,card_code,,,,,,,no\n"
        "SET,Set,,,,,,,RICE-5:2;MUG:1,,\n"
        "HEAVY,Heavy,,,-3,,,,,,\n"
        "SET2,Set,,,,,,,RICE-5x2,,\n"
        "FLAG,Flag,,,,,,,,maybe,\n"
    )
    rice, card, bundle, heavy, broken, flag = rows
    assert rice.spec is not None
    assert rice.spec.weight_kg == Decimal("5.1")
    assert rice.spec.gift_eligible
    assert rice.spec.size is not None
    assert rice.spec.size.length_cm == Decimal("40")
    assert card.spec is not None
    assert card.spec.kind is ProductKind.VIRTUAL
    assert card.spec.active is False
    assert bundle.spec is not None
    assert bundle.spec.components == (Component(sku="RICE-5", quantity=2), Component(sku="MUG", quantity=1))
    assert heavy.spec is None
    assert heavy.error is not None
    assert heavy.error.startswith("weight_kg")
    assert broken.error == "components: component 'RICE-5x2' is not SKU:QUANTITY or SKU:QUANTITY:VALUE"
    assert flag.error is not None
    assert "gift_eligible" in flag.error
    assert [r.row for r in rows] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name\nx\n", "the header must name a 'sku' column"),
        ("sku,colour\nA,red\n", "unknown columns: colour"),
    ],
)
def test_an_unusable_file_is_refused_whole(text, message):
    with pytest.raises(ValueError, match=message):
        parse_csv(text)


def _product(sku: str, **fields: object) -> Product:
    return Product.model_validate({"sku": sku, "version": 1, **fields})


def test_a_bundle_holds_known_plain_physical_products_only():
    part = _product("PART")
    inner = _product("INNER", components=[{"sku": "PART", "quantity": 1}])
    spec = ProductSpec(components=(Component(sku="PART", quantity=2),))
    assert bundle_problem("SET", spec, {"PART": part}) is None
    assert bundle_problem("SET", spec, {}) == "components: PART is not in the product master"
    assert bundle_problem("PART", spec, {"PART": part}) == "components: PART cannot contain itself"
    nested = ProductSpec(components=(Component(sku="INNER", quantity=1),))
    assert bundle_problem("SET", nested, {"INNER": inner}) == "components: INNER is itself a bundle"
    virtual_set = ProductSpec(kind=ProductKind.VIRTUAL, virtual_kind="service", components=spec.components)
    assert bundle_problem("SET", virtual_set, {"PART": part}) is not None


def test_search_matches_sku_or_name_case_blind_and_every_filter():
    mug = _product("MUG-1", name="Ceramic Mug")
    assert matches(mug, "ceramic", None, None)
    assert matches(mug, "mug-1", ProductKind.PHYSICAL, True)
    assert not matches(mug, "tea", None, None)
    assert not matches(mug, None, ProductKind.VIRTUAL, None)
    assert not matches(mug, None, None, False)


def test_a_unit_weighs_the_masters_weight_else_the_default():
    assert line_weight_kg(_product("A", weight_kg="2.5"), Decimal("0.5")) == Decimal("2.5")
    assert line_weight_kg(_product("B"), Decimal("0.5")) == Decimal("0.5")
    assert line_weight_kg(None, Decimal("0.4")) == Decimal("0.4")


# ---------------------------------------------------------------- service on the fake unit of work


@pytest.fixture
def master(monkeypatch: pytest.MonkeyPatch) -> dict[str, Product]:
    """The products in force, answered from this dict (the writes go to the fake unit of work)."""
    stored: dict[str, Product] = {}
    monkeypatch.setattr(repository, "get_product", stored.get)
    monkeypatch.setattr(repository, "get_products", lambda skus: {s: stored[s] for s in skus if s in stored})
    return stored


def test_a_new_product_is_version_one_and_a_change_the_next(uow: Ledger, master: dict[str, Product]):
    created = service.put_product("MUG", ProductUpdate(name="Mug", version=0), "user:m")
    assert created["version"] == 1
    assert created["saved_by"] == "user:m"
    keys = [w.request("t")["Put"]["Item"]["sk"]["S"] for w in uow.writes("PRODUCT")]
    assert keys == ["V#00000001", "SKU#MUG"]
    master["MUG"] = Product.model_validate(created)
    changed = service.put_product("MUG", ProductUpdate(name="Mug 2", version=1), "user:m")
    assert changed["version"] == 2
    assert len(uow.committed) == 2


def test_an_edit_of_an_old_version_is_stale_and_writes_nothing(uow: Ledger, master: dict[str, Product]):
    master["MUG"] = _product("MUG", version=3)
    with pytest.raises(RefusedError) as refused:
        service.put_product("MUG", ProductUpdate(version=2), "user:m")
    assert refused.value.code == "STALE_PRODUCT"
    assert uow.committed == []


def test_a_concurrent_editor_loses_with_stale_product(uow: Ledger, master: dict[str, Product]):
    uow.refuse_next("PRODUCT")
    with pytest.raises(RefusedError) as refused:
        service.put_product("NEW", ProductUpdate(version=0), "user:m")
    assert refused.value.code == "STALE_PRODUCT"
    assert uow.committed == []


def test_an_import_reports_each_row_and_stores_only_the_good_ones(uow: Ledger, master: dict[str, Product]):
    master["SAME"] = _product("SAME", name="Same")
    report = service.import_csv("sku,name\nSAME,Same\nNEW,New\nbad!,x\nNEW,again\n", "user:m")
    assert [(r["sku"], r["outcome"]) for r in report["rows"]] == [
        ("SAME", "unchanged"),
        ("NEW", "created"),
        ("bad!", "error"),
        ("NEW", "error"),
    ]
    assert report["counts"] == {"created": 1, "updated": 0, "unchanged": 1, "error": 2}
    assert len(uow.committed) == 1


def test_a_file_csv_cannot_read_is_refused_whole_not_a_crash():
    with pytest.raises(ValueError, match="not a readable CSV"):
        parse_csv('sku\n"' + "x" * 200_000 + '"\n')  # a field over csv's limit

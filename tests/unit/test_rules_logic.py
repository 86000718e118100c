"""The strategy center's documents as pure logic: validation on write, versions, diffs, dry-run reports."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from functions.core.models.orders import ReviewOutcome, RuleHit
from functions.core.rules import ReviewRules, RuleSet
from functions.rules.logic import RulesProposal, RulesUpdate, changes, compare, document, report
from tests.factories import new_sku, order_body, stored_order

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _doc(**review) -> dict:
    base = document(RuleSet())
    return {**base, "review": {**base["review"], **review}}


def test_defaults_are_a_valid_version_zero():
    rules = RuleSet()
    assert rules.version == 0
    assert rules.review.velocity_max_orders is None  # off until configured
    assert rules.review.blacklisted_buyers == []


@pytest.mark.parametrize(
    ("review", "loc"),
    [
        ({"hold_above_total": "-1"}, ("review", "hold_above_total")),
        ({"hold_above_quantity": 0}, ("review", "hold_above_quantity")),
        ({"velocity_max_orders": 0}, ("review", "velocity_max_orders")),
        ({"velocity_window_minutes": 8 * 24 * 60}, ("review", "velocity_window_minutes")),
        ({"hold_escalation_minutes": 0}, ("review", "hold_escalation_minutes")),
        ({"blacklisted_addresses": ["abc"]}, ("review", "blacklisted_addresses", 0)),
        ({"presale_action": "ignore"}, ("review", "presale_action")),
        ({"typo_setting": True}, ("review", "typo_setting")),
    ],
)
def test_bad_documents_are_refused_naming_the_field(review, loc):
    with pytest.raises(ValidationError) as err:
        RulesUpdate.model_validate(_doc(**review))
    assert loc in [e["loc"] for e in err.value.errors()]


def test_reject_limit_below_hold_threshold_is_refused():
    with pytest.raises(ValidationError) as err:
        ReviewRules(hold_above_total=Decimal("500"), reject_above_total=Decimal("100"))
    assert "reject_above_total" in str(err.value)
    assert ReviewRules(hold_above_total=Decimal("500"), reject_above_total=Decimal("500"))


def test_blacklists_are_normalised_on_write():
    rules = ReviewRules(
        blacklisted_buyers=[" Tmall:Bad ", "tmall:bad", "x"],
        blacklisted_phones=["+86 138-0000 0000", "8613800000000"],
        blacklisted_addresses=["88  Fraud   RD"],
        remark_keywords=["Address"],
    )
    assert rules.blacklisted_buyers == ["tmall:bad", "x"]
    assert rules.blacklisted_phones == ["8613800000000"]
    assert rules.blacklisted_addresses == ["88 fraud rd"]
    assert rules.remark_keywords == ["address"]


def test_update_requires_the_version_it_replaces_and_becomes_the_next_one():
    with pytest.raises(ValidationError) as err:
        RulesUpdate.model_validate({k: v for k, v in _doc().items() if k != "version"})
    assert err.value.errors()[0]["loc"] == ("version",)
    update = RulesUpdate.model_validate({**_doc(hold_above_total="100"), "version": 4, "comment": "sale"})
    new = update.as_version(5)
    assert isinstance(new, RuleSet)
    assert new.version == 5
    assert new.review.hold_above_total == Decimal("100")


def test_a_served_document_round_trips_into_an_update():
    served = {**document(RuleSet()), "saved_at": T0.isoformat(), "saved_by": "user:a", "comment": None}
    assert RulesUpdate.model_validate(served).as_version(1) == RuleSet(version=1)


def test_proposal_needs_no_version():
    proposal = RulesProposal.model_validate({k: v for k, v in _doc().items() if k != "version"})
    assert proposal.as_version(9).version == 9


def test_document_keeps_decimals_exact_and_json_typed():
    doc = document(RuleSet(review=ReviewRules(hold_above_total=Decimal("1234.50"))))
    assert doc["review"]["hold_above_total"] == "1234.50"
    assert RuleSet.model_validate(doc).review.hold_above_total == Decimal("1234.50")


def test_changes_lists_dotted_paths_except_the_version():
    before = document(RuleSet(version=3))
    after = {**_doc(hold_above_total="10"), "version": 4}
    after["carriers"] = {**after["carriers"], "default_carrier": "YTO"}
    assert changes(before, after) == ["carriers.default_carrier", "review.hold_above_total"]
    assert changes(before, before) == []


def _outcome(decision: str, *codes: str) -> ReviewOutcome:
    return ReviewOutcome(decision=decision, reasons=[RuleHit(code=c, message="") for c in codes])


def test_compare_and_report_count_only_changed_decisions():
    order, _ = stored_order(order_body([(new_sku(), 1)]), T0)
    order = order.model_copy(update={"review": _outcome("approve"), "rules_version": 2})
    assert compare(order, _outcome("approve"), _outcome("approve")) is None
    assert compare(order, _outcome("hold", "A"), _outcome("hold", "B")) is None  # same decision
    change = compare(order, _outcome("approve"), _outcome("hold", "HIGH_VALUE"))
    assert (change.recorded, change.decided_under, change.proposed.decision) == ("approve", 2, "hold")
    summary = report(7, 3, [change, change.model_copy(update={"order_id": "x"})])
    assert summary.examined == 3
    assert summary.current_version == 7
    assert summary.transitions == {"approve->hold": 2}


def test_stored_rules_items_are_read_versioned_or_flat():
    from functions.core.repository import _stored_rules

    doc = document(RuleSet(version=3))
    versioned = _stored_rules(
        {"pk": "RULES", "sk": "CURRENT", "version": 3, "document": doc, "saved_by": "u"}
    )
    assert (versioned.version, versioned.document, versioned.saved_by) == (3, doc, "u")
    flat = _stored_rules({"pk": "RULES", "sk": "CURRENT", **doc})  # written before versioning existed
    assert (flat.version, flat.document) == (3, doc)
    assert RuleSet.model_validate(flat.document) == RuleSet(version=3)

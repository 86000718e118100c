"""The strategy center's rule set: RULES / V#<n> (every saved version) and RULES / CURRENT (in force)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.core.errors import OmsError
from functions.core.repository._dynamo import av, get, item, key, query_all
from functions.core.repository.unit_of_work import TransactionRejected, commit, put
from functions.core.rules import RuleSet

RULES_PK = "RULES"
RULES_CURRENT_SK = "CURRENT"


def _rules_version_sk(version: int) -> str:
    return f"V#{version:08d}"


@dataclass(frozen=True)
class StoredRules:
    """One stored version of the rule set: the document (a RuleSet dump) and who saved it, when, why."""

    version: int
    document: dict[str, Any]
    saved_at: str | None = None
    saved_by: str | None = None
    comment: str | None = None


_RULES_META = {"pk", "sk", "saved_at", "saved_by", "comment"}


def _stored_rules(raw: dict[str, Any]) -> StoredRules:
    # Items written before versioning held the document itself, flat: read those as their document.
    document = (
        raw["document"] if "document" in raw else {k: v for k, v in raw.items() if k not in _RULES_META}
    )
    carriers = document.get("carriers")
    if isinstance(carriers, dict) and "sku_weights_kg" in carriers:
        # Stored before weights moved to the product master: read without the old per-SKU map.
        document = {**document, "carriers": {k: v for k, v in carriers.items() if k != "sku_weights_kg"}}
    return StoredRules(
        version=int(raw.get("version", document.get("version", 0))),
        document=document,
        saved_at=raw.get("saved_at"),
        saved_by=raw.get("saved_by"),
        comment=raw.get("comment"),
    )


def get_current_rules() -> dict[str, Any] | None:
    """The rule document in force (RULES / CURRENT), or None when none was ever stored.

    Read on every call (no cache), so a new version takes effect on the next order without a restart.
    """
    stored = get_current_rules_record()
    return stored.document if stored is not None else None


def get_current_rules_record() -> StoredRules | None:
    found = get(key(RULES_PK, RULES_CURRENT_SK))
    return _stored_rules(found) if found is not None else None


def get_rules_version(version: int) -> StoredRules | None:
    found = get(key(RULES_PK, _rules_version_sk(version)))
    return _stored_rules(found) if found is not None else None


def list_rules_versions(limit: int = 50) -> list[StoredRules]:
    """Stored versions, newest first (metadata and document)."""
    items = query_all(
        max_items=limit,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
        ExpressionAttributeValues={":pk": av(RULES_PK), ":v": av("V#")},
        ScanIndexForward=False,
        Limit=limit,
    )
    return [_stored_rules(raw) for raw in items[:limit]]


class StaleRulesError(OmsError):
    """The rule set in force is no longer the version the caller based its change on."""


def save_rules(stored: StoredRules, replaces: int) -> None:
    """Store `stored` as RULES/V#<n> and make it CURRENT, only if CURRENT is still version `replaces`.

    One transaction: the version item is new (never overwritten) and CURRENT moves from exactly the
    version the editor read (version 0 = the defaults, no CURRENT item yet). A concurrent editor loses
    with StaleRulesError and nothing is written.
    """
    values = {
        "version": stored.version,
        "document": stored.document,
        "saved_at": stored.saved_at,
        "saved_by": stored.saved_by,
        "comment": stored.comment,
    }
    version = put(
        item({"pk": RULES_PK, "sk": _rules_version_sk(stored.version), **values}), "attribute_not_exists(pk)"
    )
    current_item = item({"pk": RULES_PK, "sk": RULES_CURRENT_SK, **values})
    current = (
        put(current_item, "attribute_not_exists(pk)")
        if replaces == 0
        else put(
            current_item,
            "#version = :replaces",
            names={"#version": "version"},
            values={":replaces": av(replaces)},
        )
    )
    try:
        commit([version, current])
    except TransactionRejected as rejected:
        raise StaleRulesError(f"rules changed since version {replaces}") from rejected


def active_rules() -> RuleSet:
    """The rule set in force now: the stored current version, or the defaults."""
    stored = get_current_rules()
    return RuleSet.model_validate(stored) if stored is not None else RuleSet()

"""After-sales records (functions/aftersales).

    ORDER#<id> / CASE#<case id>          an after-sales case (its execution's task token beside it)
    ORDER#<id> / LINE#<sku>              money and units of one order line claimed by after-sales:
                                         paid, quantity, committed (refunds due or done, exchanges),
                                         committed_qty, refunded, returned (units back in a warehouse);
                                         a line with bundle origins also oc_<n>, oq_<n> per origin
    ORDER#<id> / ASREFUND#<refund id>    a refund issued for a case: put once, settled once

Every line counter moves by conditional update (committed never above paid, committed_qty never above
the line's quantity, refunded never above paid), in the transaction that opens, settles or closes the
case, so concurrent cases cannot claim the same money or units twice. Writes are tagged CASE_TAG,
LINE_TAG and REFUND_TAG, so a rejected transaction says which kind of record refused it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from functions.core.models.aftersales import LineCounter, Refund
from functions.core.repository._dynamo import (
    av,
    get_record,
    item,
    key,
    query_all,
    set_remove,
    without_keys,
    write,
)
from functions.core.repository.orders import WAIT_TOKEN, order_pk
from functions.core.repository.unit_of_work import Write, put, update

CASE_PREFIX = "CASE#"
LINE_PREFIX = "LINE#"
CASE_TAG = "case"
LINE_TAG = "line"
REFUND_TAG = "refund"


def case_key(order_id: str, case_id: str) -> dict[str, Any]:
    return key(order_pk(order_id), f"{CASE_PREFIX}{case_id}")


def case_put_item(doc: dict[str, Any]) -> Write:
    """A new case (its id must be new: a resent request with the same reference finds it instead)."""
    return put(
        item({"pk": order_pk(doc["order_id"]), "sk": f"{CASE_PREFIX}{doc['case_id']}", **doc}),
        "attribute_not_exists(pk)",
        tag=CASE_TAG,
    )


def case_update_item(
    order_id: str, case_id: str, version: int, fields: dict[str, Any], remove: Sequence[str] = ()
) -> Write:
    """Change a case read at `version` (moves it to version + 1); refused if anyone changed it since."""
    expression, names, values = set_remove({**fields, "version": version + 1}, remove)
    return update(
        case_key(order_id, case_id),
        expression,
        "#version = :expected_version",
        names={**names, "#version": "version"},
        values={**values, ":expected_version": av(version)},
        tag=CASE_TAG,
    )


def get_case(order_id: str, case_id: str) -> dict[str, Any] | None:
    return get_record(case_key(order_id, case_id), WAIT_TOKEN)


def list_cases(order_id: str) -> list[dict[str, Any]]:
    items = query_all(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": av(order_pk(order_id)), ":prefix": av(CASE_PREFIX)},
        ConsistentRead=True,
    )
    return [without_keys(raw, WAIT_TOKEN) for raw in items]


def set_case_wait_token(order_id: str, case_id: str, status: str, token: str) -> bool:
    """Store the token the case's execution waits on, only while the case is still in `status`."""
    written = write(
        "update_item",
        Key=case_key(order_id, case_id),
        UpdateExpression="SET #t = :token",
        ConditionExpression="#status = :status",
        ExpressionAttributeNames={"#t": WAIT_TOKEN, "#status": "status"},
        ExpressionAttributeValues={":token": av(token), ":status": av(status)},
    )
    return written is not None


def take_case_wait_token(order_id: str, case_id: str) -> str | None:
    """The token the case's execution waits on, removed (the caller resumes it; None: nobody waits)."""
    old = write(
        "update_item",
        Key=case_key(order_id, case_id),
        UpdateExpression="REMOVE #t",
        ConditionExpression="attribute_exists(#t)",
        ExpressionAttributeNames={"#t": WAIT_TOKEN},
        ReturnValues="ALL_OLD",
    )
    token = (old or {}).get(WAIT_TOKEN)
    return str(token) if token else None


# ---------------------------------------------------------------- line counters


def line_counters(order_id: str) -> dict[str, LineCounter]:
    """The after-sales counters of the order's lines, by SKU (absent: nothing claimed yet)."""
    items = query_all(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": av(order_pk(order_id)), ":prefix": av(LINE_PREFIX)},
        ConsistentRead=True,
    )
    return {str(raw["sku"]): LineCounter.model_validate(_with_origins(raw)) for raw in items}


# Per-origin counters of a line with bundle origins are top-level attributes oc_<n> (money) and oq_<n>
# (units), n the origin's platform line: a nested map could not be created by the first claim's update.
def _with_origins(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        **raw,
        "origin_committed": {int(k[3:]): v for k, v in raw.items() if k.startswith("oc_")},
        "origin_committed_qty": {int(k[3:]): v for k, v in raw.items() if k.startswith("oq_")},
    }


def _origin_terms(
    origins: Sequence[OriginClaim], sign: str
) -> tuple[list[str], list[str], dict[str, str], dict[str, Any]]:
    """SET terms, conditions, names and values moving the per-origin counters by `sign` (+ or -)."""
    sets: list[str] = []
    conditions: list[str] = []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    for i, claim in enumerate(origins):
        money, units = f"#oc{i}", f"#oq{i}"
        names[money], names[units] = f"oc_{claim.line}", f"oq_{claim.line}"
        values[f":oa{i}"], values[f":ou{i}"] = av(claim.amount), av(claim.units)
        if sign == "+":
            sets += [
                f"{money} = if_not_exists({money}, :zero) + :oa{i}",
                f"{units} = if_not_exists({units}, :zero) + :ou{i}",
            ]
            if claim.exact_from is not None:
                values[f":ob{i}"], values[f":oq{i}"] = av(claim.exact_from[0]), av(claim.exact_from[1])
                exact = f"({money} = :ob{i} AND {units} = :oq{i})"
                fresh = claim.exact_from[0] == 0 and claim.exact_from[1] == 0
                conditions.append(f"(attribute_not_exists({money}) OR {exact})" if fresh else exact)
            else:
                values[f":ol{i}"] = av(claim.paid - claim.amount)
                values[f":om{i}"] = av(claim.quantity - claim.units)
                conditions.append(
                    f"(attribute_not_exists({money}) OR ({money} <= :ol{i} AND {units} <= :om{i}))"
                )
        else:
            sets += [f"{money} = {money} - :oa{i}", f"{units} = {units} - :ou{i}"]
            conditions.append(f"{money} >= :oa{i} AND {units} >= :ou{i}")
    return sets, conditions, names, values


@dataclass(frozen=True)
class OriginClaim:
    """Money and units of one origin of a line a case claims (or gives back): `paid` and `quantity` are
    the origin's; `exact_from` as for the line (its last units, only if its counter is still so)."""

    line: int
    amount: Decimal
    units: int
    paid: Decimal = Decimal("0.00")
    quantity: int = 0
    exact_from: tuple[Decimal, int] | None = None


def _line_key(order_id: str, sku: str) -> dict[str, Any]:
    return key(order_pk(order_id), f"{LINE_PREFIX}{sku}")


def line_commit_item(
    order_id: str,
    sku: str,
    *,
    paid: Decimal,
    quantity: int,
    amount: Decimal,
    units: int,
    exact_from: tuple[Decimal, int] | None = None,
    origins: Sequence[OriginClaim] = (),
) -> Write:
    """Claim `amount` of the line's money and `units` of its quantity for a case.

    Refused unless committed + amount <= paid and committed_qty + units <= quantity; with `exact_from`
    (the line's last units take what is left) only if the counter is still exactly (committed, units).
    `origins`: the same bounds (or exactness) per origin of a line with bundle origins.
    """
    values: dict[str, Any] = {
        ":paid": av(paid),
        ":quantity": av(quantity),
        ":zero": av(0),
        ":amount": av(amount),
        ":units": av(units),
        ":sku": av(sku),
    }
    if exact_from is not None:
        before_amount, before_units = exact_from
        values[":before_amount"], values[":before_units"] = av(before_amount), av(before_units)
        condition = "committed = :before_amount AND committed_qty = :before_units"
        if before_amount == 0 and before_units == 0:
            condition = f"attribute_not_exists(pk) OR ({condition})"
    else:
        values[":limit"], values[":qlimit"] = av(paid - amount), av(quantity - units)
        condition = "attribute_not_exists(pk) OR (committed <= :limit AND committed_qty <= :qlimit)"
    sets, conditions, names, origin_values = _origin_terms(origins, "+")
    return update(
        _line_key(order_id, sku),
        "SET sku = :sku, paid = :paid, quantity = :quantity,"
        " committed = if_not_exists(committed, :zero) + :amount,"
        " committed_qty = if_not_exists(committed_qty, :zero) + :units,"
        " refunded = if_not_exists(refunded, :zero), returned = if_not_exists(returned, :zero)"
        + "".join(f", {term}" for term in sets),
        " AND ".join([f"({condition})", *conditions]) if conditions else condition,
        names=names or None,
        values={**values, **origin_values},
        tag=LINE_TAG,
    )


def line_release_item(
    order_id: str, sku: str, amount: Decimal, units: int, origins: Sequence[OriginClaim] = ()
) -> Write:
    """Give back what a case claimed and did not use (rejected, closed without the return)."""
    sets, conditions, names, values = _origin_terms(origins, "-")
    return update(
        _line_key(order_id, sku),
        "SET committed = committed - :amount, committed_qty = committed_qty - :units"
        + "".join(f", {term}" for term in sets),
        " AND ".join(["committed >= :amount AND committed_qty >= :units", *conditions]),
        names=names or None,
        values={":amount": av(amount), ":units": av(units), **values},
        tag=LINE_TAG,
    )


def line_refund_item(order_id: str, sku: str, amount: Decimal, paid: Decimal) -> Write:
    """Money of the line went back to the buyer: refused if that would take refunded above paid."""
    return update(
        _line_key(order_id, sku),
        "SET refunded = refunded + :amount",
        "refunded <= :limit",
        values={":amount": av(amount), ":limit": av(paid - amount)},
        tag=LINE_TAG,
    )


def line_return_item(order_id: str, sku: str, units: int, returned_before: int) -> Write:
    """Units of the line came back to a warehouse (only if `returned_before` is still the count, and
    never more than after-sales cases claimed)."""
    return update(
        _line_key(order_id, sku),
        "SET returned = returned + :units",
        "returned = :before AND committed_qty >= :after",
        values={":units": av(units), ":before": av(returned_before), ":after": av(returned_before + units)},
        tag=LINE_TAG,
    )


# ---------------------------------------------------------------- refunds


def _refund_key(order_id: str, refund_id: str) -> dict[str, Any]:
    return key(order_pk(order_id), f"ASREFUND#{refund_id}")


def refund_put_item(order_id: str, refund_id: str, doc: dict[str, Any]) -> Write:
    """Issue a refund: the item is created once (its id comes from the case), whoever asks again."""
    return put(
        item({"pk": order_pk(order_id), "sk": f"ASREFUND#{refund_id}", **doc}),
        "attribute_not_exists(pk)",
        tag=REFUND_TAG,
    )


def refund_settle_item(order_id: str, refund_id: str, fields: dict[str, Any]) -> Write:
    """The provider confirmed the refund: requested -> succeeded, once."""
    expression, names, values = set_remove({**fields, "status": "succeeded"})
    return update(
        _refund_key(order_id, refund_id),
        expression,
        "#status = :requested",
        names={**names, "#status": "status"},
        values={**values, ":requested": av("requested")},
        tag=REFUND_TAG,
    )


def get_refund(order_id: str, refund_id: str) -> Refund | None:
    found = get_record(_refund_key(order_id, refund_id))
    return Refund.model_validate(found) if found is not None else None

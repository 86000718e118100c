"""Refunds owed by order changes (`ORDER#<id> / CHGREFUND#<reference>`, functions/changes): read one,
and settle it once the payment provider confirms it (requested -> refunded, once)."""

from __future__ import annotations

from typing import Any

from functions.core.models.orders import ChangeRefund
from functions.core.repository._dynamo import av, get_record, key, set_remove
from functions.core.repository.orders import order_pk
from functions.core.repository.unit_of_work import Write, update

CHANGE_REFUND_TAG = "change_refund"


def _change_refund_key(order_id: str, reference: str) -> dict[str, Any]:
    return key(order_pk(order_id), f"CHGREFUND#{reference}")


def get_change_refund(order_id: str, reference: str) -> ChangeRefund | None:
    found = get_record(_change_refund_key(order_id, reference))
    return ChangeRefund.model_validate(found) if found is not None else None


def change_refund_settle_item(order_id: str, reference: str, fields: dict[str, Any]) -> Write:
    """The provider confirmed the change's refund: requested -> refunded, only from requested."""
    expression, names, values = set_remove({**fields, "status": "refunded"})
    return update(
        _change_refund_key(order_id, reference),
        expression,
        "#status = :requested",
        names={**names, "#status": "status"},
        values={**values, ":requested": av("requested")},
        tag=CHANGE_REFUND_TAG,
    )

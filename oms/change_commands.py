"""`oms change ORDER_ID`: change an order's lines before shipment from a terminal (docs/api.md).

    oms change ord-… --line SKU=2 --line OTHER=0 --add NEW=1@25.50 --reason "buyer asked"

Prints what a person needs next: the refund owed, the units back in stock or reserved, a hold it caused.
"""

from __future__ import annotations

import argparse
import json
import re
import uuid
from typing import Any

from oms.client import ApiError

_LINE = re.compile(r"^(?P<sku>[A-Za-z0-9][A-Za-z0-9._-]{0,63})=(?P<quantity>[0-9]{1,5})$")
_ADD = re.compile(
    r"^(?P<sku>[A-Za-z0-9][A-Za-z0-9._-]{0,63})=(?P<quantity>[0-9]{1,5})@(?P<price>[0-9]{1,12}(\.[0-9]{1,2})?)$"
)


def _lines(args: argparse.Namespace) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for text in args.line or []:
        found = _LINE.match(text)
        if found is None:
            raise ValueError(f"--line {text!r}: write SKU=QUANTITY (0 removes the line)")
        lines.append({"sku": found["sku"], "quantity": int(found["quantity"])})
    for text in args.add or []:
        found = _ADD.match(text)
        if found is None:
            raise ValueError(f"--add {text!r}: write SKU=QUANTITY@UNIT_PRICE")
        lines.append({"sku": found["sku"], "quantity": int(found["quantity"]), "unit_price": found["price"]})
    if not lines:
        raise ValueError("say what changes: --line SKU=QUANTITY or --add SKU=QUANTITY@PRICE")
    return lines


def _units(rows: list[dict[str, Any]] | None) -> int:
    return sum(int(r["quantity"]) for r in rows or [])


def summary(answer: dict[str, Any]) -> str:
    """The answer in words, as the console says it."""
    parts = [
        f"order {answer['order_id']} cancelled"
        if answer["cancelled"]
        else f"lines of {answer['order_id']} changed"
    ]
    if answer["refund"] is not None:
        parts.append(f"refund {answer['refund']} {answer['currency']}")
    elif not answer["cancelled"]:
        parts.append(f"total now {answer['total']} {answer['currency']}")
    if _units(answer.get("released")):
        parts.append(f"{_units(answer['released'])} unit(s) back in stock")
    if _units(answer.get("reserved")):
        parts.append(f"{_units(answer['reserved'])} more unit(s) reserved")
    if answer.get("held"):
        parts.append("sent to the review queue")
    if answer.get("repeated"):
        parts.append("(already applied: nothing changed now)")
    return "; ".join(parts)


def run_change(args: argparse.Namespace) -> int:
    from oms.commands import _client, _fail

    try:
        body = {
            "lines": _lines(args),
            "reason": args.reason,
            "reference": args.reference or f"cli-{uuid.uuid4().hex[:16]}",
        }
        answer = _client(args).call("POST", f"/orders/{args.order_id}/changes/lines", body)
    except (ApiError, ValueError) as err:
        return _fail("change", err)
    print(json.dumps(answer) if args.json else summary(answer))
    return 0


def register_change(commands: Any) -> None:
    from oms.commands import _connection

    change = commands.add_parser(
        "change", help="change an order's lines before shipment (quantity, remove, add)"
    )
    change.add_argument("order_id", metavar="ORDER_ID")
    change.add_argument(
        "--line", action="append", metavar="SKU=QUANTITY", help="a line's new quantity (0 removes it)"
    )
    change.add_argument(
        "--add", action="append", metavar="SKU=QUANTITY@PRICE", help="a new line (unpaid orders)"
    )
    change.add_argument("--reason", required=True, help="why (kept on the order's timeline)")
    change.add_argument("--reference", help="your id of this change; sent again, nothing changes twice")
    _connection(change, "ops")
    change.set_defaults(run=run_change)

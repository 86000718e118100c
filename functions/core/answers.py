"""The answer shapes the stages' order routes share: one order acted on, or many (one result each)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import BaseModel

from functions.core.models.orders import Order


def order_answer(order: Order, part: str, **outcome: Any) -> dict[str, Any]:
    """The order's id and status, the part of it the route changed (`part`, as JSON), and `outcome`."""
    value = getattr(order, part)
    dumped = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    return {"order_id": order.order_id, "status": order.status, part: dumped, **outcome}


class BulkResult(Protocol):
    @property
    def outcome(self) -> str: ...

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


def bulk_answer(results: Sequence[BulkResult], **request: Any) -> dict[str, Any]:
    """`request` (what was asked, who asked), how many orders ended each way, and every result."""
    return {
        **request,
        "counts": dict(Counter(result.outcome for result in results)),
        "results": [result.model_dump(mode="json") for result in results],
    }

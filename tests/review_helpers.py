"""Driving holds, interceptions and the rule set through the API (every call via `oms.call`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from oms.local.clock import VirtualClock
from oms.local.stack import WAIT_BOUND_SECONDS


def review(oms: Any, order_id: str, decision: str, comment: str = "checked", actor: str = "ops.li") -> Any:
    """As ops user `actor` (authenticated: the token's subject is the recorded actor)."""
    return oms.as_role("ops", actor).call(
        "POST", f"/orders/{order_id}/review", {"decision": decision, "comment": comment}
    )


def intercept(
    oms: Any, order_id: str, action: str, reason: str = "buyer asked", actor: str = "ops.li"
) -> Any:
    return oms.as_role("ops", actor).call(
        "POST", f"/orders/{order_id}/intercept", {"reason": reason, "action": action}
    )


def holds(oms: Any, reason: str | None = None) -> dict[str, Any]:
    response = oms.call("GET", "/holds" + (f"?reason={reason}" if reason else "?limit=500"))
    assert response.status == 200, response.body
    return response.json()  # type: ignore[no-any-return]


def wait_for(
    stack: Any, condition: Callable[[], bool], timeout: float = WAIT_BOUND_SECONDS, what: str = "condition"
) -> None:
    """Poll `condition`; on the virtual clock, move to the next timer (a retry back-off) when idle."""
    deadline = time.monotonic() + timeout
    polls = 0
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        polls += 1
        if isinstance(stack.clock, VirtualClock) and polls % 3 == 0:
            # The stack's next timer, schedules included (the sweeps run every few minutes): a retry
            # back-off, never a parked task's timeout weeks ahead (AwaitReview gives up after 30 days).
            upcoming = stack.next_timer()
            if upcoming is not None:
                stack.clock.advance_to(upcoming)
        time.sleep(0.01)


def wait_until_waiting(stack: Any, order_id: str) -> None:
    """Until the order's execution waits for a person (its AwaitReview task stored the token)."""
    from functions.core import repository

    wait_for(stack, lambda: repository.get_wait_token(order_id) is not None, what=f"{order_id} waiting")
    # The task stores its token first, then arranges the hold's escalation timer: let it return.
    stack.settle()


def post_and_hold(oms: Any, stack: Any, body: dict[str, Any]) -> dict[str, Any]:
    """POST an order review will hold; return the posted answer once its execution waits for a person."""
    posted = oms.post(body)
    assert posted.status == 201, posted.body
    answer: dict[str, Any] = posted.json()
    wait_until_waiting(stack, answer["order_id"])
    return answer


def rules(oms: Any) -> dict[str, Any]:
    response = oms.call("GET", "/rules")
    assert response.status == 200, response.body
    return response.json()  # type: ignore[no-any-return]


def put_rules(oms: Any, document: dict[str, Any], actor: str = "admin.wang") -> Any:
    return oms.as_role("admin", actor).call("PUT", "/rules", document)


def with_review(document: dict[str, Any], **review_settings: Any) -> dict[str, Any]:
    return {**document, "review": {**document["review"], **review_settings}}


@contextmanager
def review_rules(oms: Any, **settings: Any) -> Iterator[dict[str, Any]]:
    """Store a rules version with these review settings; put the previous settings back afterwards.

    The e2e tests share one table, so a rules change must not outlive the test that made it.
    """
    before = rules(oms)
    changed = put_rules(oms, with_review(before, **settings))
    assert changed.status == 200, changed.body
    try:
        yield changed.json()
    finally:
        latest = rules(oms)
        restored = put_rules(oms, {**before, "version": latest["version"], "comment": "test restore"})
        assert restored.status == 200, restored.body

"""Fault injection for the reliability suite, through the local runtime's hooks only (no code edited).

`stack.runtime.before_invoke(function, event)` runs before each handler; `before_dynamodb(action, body)`
and `after_dynamodb(action, body, status)` run around each DynamoDB request (oms/local/moto_patches.py).
A hook raises to inject the fault; DynamoDB faults reach the caller as the ClientError AWS would send.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from oms.local.moto_patches import dynamodb_fault, transaction_conflict


class DynamoFault:
    """A before/after_dynamodb hook: the `times` first requests matching `action` whose body mentions
    every string in `mentions` get `make_error()` instead of (or, after the write, on top of) an answer."""

    def __init__(
        self,
        action: str,
        mentions: tuple[str, ...],
        make_error: Callable[[dict[str, Any]], Exception],
        times: int | None = None,
    ) -> None:
        self.action, self.mentions, self.make_error, self.times = action, mentions, make_error, times
        self.hits = 0
        self._lock = threading.Lock()

    def _fire(self, action: str, body: dict[str, Any]) -> None:
        if action != self.action:
            return
        text = json.dumps(body)
        if not all(m in text for m in self.mentions):
            return
        with self._lock:
            self.hits += 1
            fire = self.times is None or self.hits <= self.times
        if fire:
            raise self.make_error(body)

    def before(self, action: str, body: dict[str, Any]) -> None:
        self._fire(action, body)

    def after(self, action: str, body: dict[str, Any], status: int) -> None:
        if status < 400:
            self._fire(action, body)


def throttled(body: dict[str, Any] | None = None) -> Exception:
    return dynamodb_fault("ProvisionedThroughputExceededException", "injected throttling")  # type: ignore[no-any-return]


def conflict(body: dict[str, Any] | None = None) -> Exception:
    return transaction_conflict(body)  # type: ignore[no-any-return]


def lost_response(body: dict[str, Any] | None = None) -> Exception:
    return dynamodb_fault("InternalServerError", "injected: the write happened, the answer was lost")  # type: ignore[no-any-return]

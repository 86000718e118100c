"""The reliability suite: every DynamoDB fault hook a test installs is removed after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _no_dynamodb_faults(stack) -> Iterator[None]:
    stack.runtime.before_dynamodb = None
    stack.runtime.after_dynamodb = None
    yield
    stack.runtime.before_dynamodb = None
    stack.runtime.after_dynamodb = None

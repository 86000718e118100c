"""Fixtures of the service unit tests: settings without a stack, and the fake unit of work."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from functions.core import aws
from functions.core.repository.fake import Ledger, fake_unit_of_work
from functions.core.settings import get_settings


@pytest.fixture
def table_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The table's settings, for code that names the table (nothing reaches AWS)."""
    monkeypatch.setenv("TABLE_NAME", "unit-test-table")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _no_dynamodb() -> None:
    raise AssertionError("a service unit test reached DynamoDB: answer that read in the test")


@pytest.fixture
def uow(table_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    """Every unit of work the code under test opens commits to this ledger instead of DynamoDB; any
    other DynamoDB call fails the test."""
    monkeypatch.setattr(aws, "dynamodb", _no_dynamodb)
    with fake_unit_of_work() as ledger:
        yield ledger

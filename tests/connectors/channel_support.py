"""Fixtures' helpers for the connector tests: documented-shape payloads with fresh ids, shops, signing."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oms.local.fake_platform import FakePlatform

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "connectors"


def fixture(name: str, **replace: str) -> Any:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    for key, value in replace.items():
        text = text.replace(f"__{key}__", value)
    return json.loads(text)


def fresh_id(digits: int = 13) -> int:
    return random.randrange(10 ** (digits - 1), 10**digits)


def raw(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def new_secret() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex


@pytest.fixture
def fake() -> Iterator[FakePlatform]:
    platform = FakePlatform().start()
    yield platform
    platform.stop()

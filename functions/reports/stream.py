"""The DynamoDB stream batch the sales aggregator receives (only the fields it reads)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StreamChange(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Keys: dict[str, Any] = {}
    NewImage: dict[str, Any] | None = None  # DynamoDB JSON ({"S": ...}); the repository decodes it
    SequenceNumber: str = ""


class StreamRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    eventID: str = Field(min_length=1)
    eventName: str  # INSERT | MODIFY | REMOVE
    dynamodb: StreamChange


class StreamBatch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Records: list[StreamRecord] = []


class FoldResult(BaseModel):
    """What one batch did: records read, contributions counted, already-counted ones skipped, writes."""

    records: int = 0
    contributions: int = 0
    units: int = 0
    duplicates: int = 0  # units whose marker existed: a redelivered record, counted once before
    transactions: int = 0
    counter_writes: int = 0  # counter items updated (one per key per transaction)
    marker_writes: int = 0
    retries: int = 0  # transactions re-run after a conflict or after dropping counted units

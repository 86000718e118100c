"""A unit of work that commits nothing to DynamoDB, for service tests: it records each transaction and
can be told to refuse writes of given tags, the way DynamoDB cancels a transaction whose condition
failed (so the real cancellation mapping of UnitOfWork.commit runs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from functions.core.repository.unit_of_work import UnitOfWork, Write, merge_updates, using


@dataclass
class Ledger:
    """What the fake units of work saw: committed transactions, and tags to refuse next."""

    committed: list[list[Write]] = field(default_factory=list)
    refuse: dict[str, int] = field(default_factory=dict)  # tag (or family) -> how many more times

    def writes(self, tag: str | None = None) -> list[Write]:
        every = [w for transaction in self.committed for w in transaction]
        return every if tag is None else [w for w in every if w.tag == tag or w.tag.startswith(f"{tag}#")]

    def refuse_next(self, tag: str, times: int = 1) -> None:
        self.refuse[tag] = self.refuse.get(tag, 0) + times

    def _refused(self, write: Write) -> bool:
        return any(self.refuse.get(tag, 0) > 0 for tag in (write.tag, write.tag.split("#", 1)[0]))


class FakeUnitOfWork(UnitOfWork):
    def __init__(self, ledger: Ledger) -> None:
        super().__init__()
        self.ledger = ledger

    def _execute(self, requests: list[dict[str, Any]]) -> None:
        refused = [self.ledger._refused(w) for w in self.writes]
        if any(refused):
            for w, was in zip(self.writes, refused, strict=True):
                if was:
                    tag = w.tag if self.ledger.refuse.get(w.tag, 0) > 0 else w.tag.split("#", 1)[0]
                    self.ledger.refuse[tag] -= 1
            # one reason per write as sent (Updates of one item are sent merged, as UnitOfWork does)
            refused_tags = {w.tag for w, was in zip(self.writes, refused, strict=True) if was}
            sent = merge_updates(self.writes)
            reasons = [
                {"Code": "ConditionalCheckFailed" if refused_tags.intersection(tags) else "None"}
                for _, tags in sent
            ]
            raise ClientError(
                {"Error": {"Code": "TransactionCanceledException"}, "CancellationReasons": reasons},  # type: ignore[typeddict-item]
                "TransactWriteItems",
            )
        self.ledger.committed.append(list(self.writes))


@contextmanager
def fake_unit_of_work() -> Iterator[Ledger]:
    """Every unit of work made inside the block is a FakeUnitOfWork writing to the returned ledger."""
    ledger = Ledger()
    factory: Callable[[], UnitOfWork] = lambda: FakeUnitOfWork(ledger)  # noqa: E731
    with using(factory):
        yield ledger

"""The one way to write several items at once: a unit of work collects the writes of one change and
commits them as one DynamoDB transaction, all or nothing.

Services say what changes (the repository's write builders return `Write`s); the unit of work owns the
TransactWriteItems request, the table name, and what a cancellation means: each write carries a `tag`
(case, line, order, ...), and a write whose condition failed is named by its tag, never by its index.
`retrying` is the read-decide-write loop every service runs when what it read moved meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from botocore.exceptions import ClientError

from functions.core import aws
from functions.core.errors import OmsError, TransientError
from functions.core.repository._dynamo import cancellation_codes, table_name, translate

T = TypeVar("T")
Action = Literal["Put", "Update", "Delete", "ConditionCheck"]
CONDITION_FAILED = "ConditionalCheckFailed"


@dataclass(frozen=True)
class Write:
    """One write of a transaction, as DynamoDB takes it minus the table name, and the tag that names it
    when its condition fails."""

    action: Action
    body: Mapping[str, Any]
    tag: str = ""

    def tagged(self, tag: str) -> Write:
        return Write(self.action, self.body, tag)

    def request(self, table: str) -> dict[str, Any]:
        return {self.action: {"TableName": table, **self.body}}


def _body(
    condition: str | None, names: Mapping[str, str] | None, values: Mapping[str, Any] | None, **fields: Any
) -> dict[str, Any]:
    body = dict(fields)
    if condition:
        body["ConditionExpression"] = condition
    if names:
        body["ExpressionAttributeNames"] = dict(names)
    if values:
        body["ExpressionAttributeValues"] = dict(values)
    return body


def put(
    raw_item: Mapping[str, Any],
    condition: str | None = None,
    *,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    tag: str = "",
) -> Write:
    """Put an item (DynamoDB JSON), if `condition` holds."""
    return Write("Put", _body(condition, names, values, Item=dict(raw_item)), tag)


def update(
    key: Mapping[str, Any],
    expression: str,
    condition: str | None = None,
    *,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    tag: str = "",
) -> Write:
    return Write("Update", _body(condition, names, values, Key=dict(key), UpdateExpression=expression), tag)


def delete(
    key: Mapping[str, Any],
    condition: str | None = None,
    *,
    values: Mapping[str, Any] | None = None,
    tag: str = "",
) -> Write:
    return Write("Delete", _body(condition, None, values, Key=dict(key)), tag)


class TransactionRejected(OmsError):
    """A transaction was cancelled because writes failed their conditions: `tags` names them (and
    `failed_indexes` counts into the unit of work's writes, for logs); nothing was written."""

    def __init__(self, failed_indexes: Sequence[int], codes: Sequence[str], tags: Sequence[str] = ()) -> None:
        super().__init__(f"transaction rejected: {sorted(set(tags)) or list(failed_indexes)}")
        self.failed_indexes = list(failed_indexes)
        self.codes = list(codes)
        self.tags = frozenset(tags)

    def failed(self, tag: str) -> bool:
        return tag in self.tags


class ReadAgain(TransientError):
    """What a service read moved before its write landed: read again and decide again (`retrying`)."""


# What a failed write means, by tag: a tag "family#id" (order#O-1) is looked up as itself, then as its
# family; the factory gets the full tag.
Conflicts = Mapping[str, Callable[[str], Exception]]


class UnitOfWork:
    """The writes of one change, committed together."""

    def __init__(self) -> None:
        self.writes: list[Write] = []

    def add(self, *writes: Write) -> UnitOfWork:
        self.writes.extend(writes)
        return self

    def commit(self, conflicts: Conflicts | None = None) -> None:
        """All writes or none. A cancelled transaction becomes a domain error: the first failed write
        whose tag is in `conflicts` raises what its factory makes; other failed conditions raise
        TransactionRejected naming their tags; throttling and conflicts raise TransientError."""
        if not self.writes:
            return
        try:
            self._execute([w.request(table_name()) for w in self.writes])
        except ClientError as err:
            codes = cancellation_codes(err)
            failed = [i for i, code in enumerate(codes) if code == CONDITION_FAILED]
            if not failed:
                raise translate(err) from err
            for i in failed:
                tag = self.writes[i].tag
                factory = (conflicts or {}).get(tag) or (conflicts or {}).get(tag.split("#", 1)[0])
                if factory is not None:
                    raise factory(tag) from err
            raise TransactionRejected(failed, codes, [self.writes[i].tag for i in failed]) from err

    def _execute(self, requests: list[dict[str, Any]]) -> None:
        aws.dynamodb().transact_write_items(TransactItems=requests)  # type: ignore[arg-type]


_factory: Callable[[], UnitOfWork] = UnitOfWork


def unit_of_work() -> UnitOfWork:
    """A new unit of work (a fake one while `using` has installed it)."""
    return _factory()


@contextmanager
def using(factory: Callable[[], UnitOfWork]) -> Iterator[None]:
    """Make `unit_of_work()` build units from `factory` (tests: a FakeUnitOfWork)."""
    global _factory
    before, _factory = _factory, factory
    try:
        yield
    finally:
        _factory = before


def commit(writes: Sequence[Write], conflicts: Conflicts | None = None) -> None:
    """Commit `writes` as one unit of work."""
    unit_of_work().add(*writes).commit(conflicts)


def retrying(attempt: Callable[[], T], *, rounds: int, gave_up: str) -> T:
    """Run `attempt` (read, decide, write) until it stops raising ReadAgain, at most `rounds` times;
    then TransientError(`gave_up`), which the state machine or the caller retries with back-off."""
    for _ in range(rounds):
        try:
            return attempt()
        except ReadAgain:
            continue
    raise TransientError(gave_up)

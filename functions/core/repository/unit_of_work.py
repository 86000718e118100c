"""The one way to write several items at once: a unit of work collects the writes of one change and
commits them as one DynamoDB transaction, all or nothing.

Services say what changes (the repository's write builders return `Write`s); the unit of work owns the
TransactWriteItems request, the table name, and what a cancellation means: each write carries a `tag`
(case, line, order, ...), and a write whose condition failed is named by its tag, never by its index.
`retrying` is the read-decide-write loop every service runs when what it read moved meanwhile.

Several Updates of one item in a unit (an order's change and the reservations it holds, docs/adr/0006)
are sent as one Update: a transaction may touch an item once, and one write of the item costs what one
of them would. Its condition is all of theirs; when it fails, every one of their tags is named. A unit
left with a single write is sent as that plain conditional write (a transaction bills twice).
"""

from __future__ import annotations

import json
import re
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
        merged = merge_updates(self.writes)
        try:
            self._execute([w.request(table_name()) for w, _ in merged])
        except ClientError as err:
            codes = cancellation_codes(err) or _single_write_codes(err)
            failed = [i for i, code in enumerate(codes) if code == CONDITION_FAILED]
            if not failed:
                raise translate(err) from err
            tags = [tag for i in failed for tag in merged[i][1]]
            for tag in tags:
                factory = (conflicts or {}).get(tag) or (conflicts or {}).get(tag.split("#", 1)[0])
                if factory is not None:
                    raise factory(tag) from err
            raise TransactionRejected(failed, codes, tags) from err

    def _execute(self, requests: list[dict[str, Any]]) -> None:
        if len(requests) == 1:
            ((action, body),) = requests[0].items()
            client = aws.dynamodb()
            if action == "Put":
                client.put_item(**body)
                return
            if action == "Update":
                client.update_item(**body)
                return
            if action == "Delete":
                client.delete_item(**body)
                return
        aws.dynamodb().transact_write_items(TransactItems=requests)  # type: ignore[arg-type]


def _single_write_codes(err: ClientError) -> list[str]:
    """A single write's failed condition, read as the one cancellation reason of a transaction."""
    failed = err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
    return [CONDITION_FAILED] if failed else []


_PLACEHOLDER = re.compile(r"([#:])([A-Za-z0-9_]+)")
_CLAUSE = re.compile(r"\b(SET|REMOVE|ADD|DELETE)\b")


def _renamed(text: str, prefix: str) -> str:
    return _PLACEHOLDER.sub(lambda m: f"{m[1]}{prefix}{m[2]}", text)


def _merged_update(writes: Sequence[Write]) -> Write:
    """One Update doing what `writes` (Updates of one key) do; each write's placeholders renamed apart."""
    clauses: dict[str, list[str]] = {}
    conditions: list[str] = []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    for n, write in enumerate(writes):
        prefix = f"u{n}_"
        parts = _CLAUSE.split(_renamed(str(write.body["UpdateExpression"]), prefix))
        for keyword, actions in zip(parts[1::2], parts[2::2], strict=True):
            clauses.setdefault(keyword, []).append(actions.strip().rstrip(","))
        if write.body.get("ConditionExpression"):
            conditions.append(f"({_renamed(str(write.body['ConditionExpression']), prefix)})")
        names.update(
            {f"#{prefix}{k[1:]}": v for k, v in write.body.get("ExpressionAttributeNames", {}).items()}
        )
        values.update(
            {f":{prefix}{k[1:]}": v for k, v in write.body.get("ExpressionAttributeValues", {}).items()}
        )
    expression = " ".join(f"{keyword} {', '.join(actions)}" for keyword, actions in clauses.items())
    condition = " AND ".join(conditions) or None
    return update(writes[0].body["Key"], expression, condition, names=names, values=values, tag=writes[0].tag)


def merge_updates(writes: Sequence[Write]) -> list[tuple[Write, list[str]]]:
    """The writes as sent, each with the tags of the writes it stands for: Updates of the same item are
    merged into one, in the place of the first."""
    by_key: dict[str, list[int]] = {}
    for i, write in enumerate(writes):
        if write.action == "Update":
            by_key.setdefault(json.dumps(write.body["Key"], sort_keys=True), []).append(i)
    sent: list[tuple[Write, list[str]]] = []
    merged: set[int] = set()
    for i, write in enumerate(writes):
        if i in merged:
            continue
        same = (
            by_key.get(json.dumps(write.body["Key"], sort_keys=True), []) if write.action == "Update" else []
        )
        if len(same) < 2:
            sent.append((write, [write.tag]))
            continue
        merged.update(same)
        sent.append((_merged_update([writes[j] for j in same]), [writes[j].tag for j in same]))
    return sent


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

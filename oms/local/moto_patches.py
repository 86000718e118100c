"""The few places where moto is bent so the real state machine runs the real handlers on one machine.

Measured patch points (docs/local-runtime.md says why each exists). Every patch goes through `patch_moto`,
which fails loudly when moto no longer has what it replaces (a rename upstream must not silently turn
into 300 s timeouts), and records it in PATCHES, which a test checks is in force:
- every Lambda invocation passes `LambdaFunction._invoke_lambda`: routed to the in-process handler;
- Wait states and Retry back-offs sleep on the injectable clock instead of wall time, and execution
  history events are stamped by it;
- DynamoDB is made to serialise requests as the real service serialises writes to an item, and each
  request is counted (DynamoDB requests per order is a benchmark figure);
- the engine's per-task boto3 client is cached (building one per task is slow and not thread-safe);
- TransactWriteItems checks every condition first and snapshots only the items it touches (moto
  deep-copies whole tables per transaction, which made the local stack quadratically slower);
- functions that keep per-request state in module globals (the API's Powertools resolver) run one
  invocation at a time, as one Lambda container does.
- a `.waitForTaskToken` task with an explicit timeout times out on the injectable clock too (a
  backordered order's restock wait: tests and `oms simulate` jump to it instead of sleeping);
- a DynamoDB Query on the table's own key reads only that partition (moto sorts and scans the whole
  table for every Query, so each test and simulated order got slower than the last).
- event sources (oms/local/event_sources.py): each DynamoDB stream record is stamped on the clock and
  announced; every event put on an EventBridge bus is handed over (moto keeps rules but delivers to
  Lambda targets not at all); SQS visibility timeouts and delays run on the clock; a transaction
  undone after a failed apply takes its stream records back (moto's would stay in the stream).
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from oms.local.clock import Clock, SystemClock

Handler = Callable[[dict[str, Any], Any], Any]


class MotoContractError(RuntimeError):
    """moto no longer has an attribute the local runtime patches: the tested moto range has changed."""


@dataclass(frozen=True)
class Patch:
    owner: Any
    name: str
    replacement: Any

    def in_force(self) -> bool:
        return inspect.getattr_static(self.owner, self.name, None) is self.replacement


PATCHES: list[Patch] = []


def patch_moto(owner: Any, name: str, replacement: Any) -> None:
    """Replace `owner.name` (a moto class or module attribute), refusing when moto has no such name."""
    if not hasattr(owner, name):
        where = getattr(owner, "__qualname__", None) or getattr(owner, "__name__", repr(owner))
        raise MotoContractError(
            f"moto has no {where}.{name} to patch: oms/local/moto_patches.py is written for moto "
            "5.2.x (pyproject.toml pins it); see docs/local-runtime.md"
        )
    setattr(owner, name, replacement)
    PATCHES.append(Patch(owner, name, replacement))


class LambdaContext:
    """What Powertools reads from the Lambda context object."""

    def __init__(self, function_name: str, arn: str, memory_mb: int, timeout_s: int, request_id: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = arn
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._timeout_ms = timeout_s * 1000

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


class Runtime:
    """Process-wide state the patches consult. One local stack at a time owns it."""

    def __init__(self) -> None:
        self.handlers: dict[str, tuple[Handler, LambdaContext]] = {}
        self.clock: Clock = SystemClock()
        self.dynamodb_lock = threading.RLock()
        self.dynamodb_requests: Counter[str] = Counter()
        self.lambda_invocations: Counter[str] = Counter()
        self.serialised: dict[str, threading.Lock] = {}  # function name -> its one "container"
        self._counter_lock = threading.Lock()
        # A test hook: called before each handler invocation; may raise to inject a fault.
        self.before_invoke: Callable[[str, dict[str, Any]], None] | None = None
        # A test hook: called before each DynamoDB request with (action, request body); may raise a
        # moto JsonRESTError (see `dynamodb_fault`, `transaction_conflict`), which the client receives as
        # the botocore ClientError the real service would answer with.
        self.before_dynamodb: Callable[[str, dict[str, Any]], None] | None = None
        # A test hook: called after DynamoDB applied a request, with (action, body, HTTP status); may
        # raise the same way, so the caller sees an error for a write that did happen (a lost response).
        self.after_dynamodb: Callable[[str, dict[str, Any], int], None] | None = None
        # Benchmarks: when a list, every DynamoDB request is appended as a DynamoRecord (capacity units
        # computed from the items it read or wrote, by DynamoDB's size rules).
        self.dynamodb_log: list[DynamoRecord] | None = None
        self.lambda_seconds: dict[str, float] = {}  # wall time inside each function's handler
        self.plain_dynamodb_responses = True  # see _install_plain_dynamodb_responses
        self._request_ids = iter(range(1, 1 << 62))
        self._ids_lock = threading.Lock()
        # Handlers running right now, and when the state machine engine last recorded an event: the
        # stack only moves a virtual clock when nothing runs.
        self.in_flight = 0
        self.last_engine_activity = 0.0
        # Event sources (oms/local/event_sources.py): told of each new stream record, and handed every
        # event put on a bus as (bus name, the event as targets receive it).
        self.stream_listener: Callable[[], None] | None = None
        self.bus_listener: Callable[[str, dict[str, Any]], None] | None = None

    def next_request_id(self) -> str:
        with self._ids_lock:
            return f"local-{next(self._request_ids):012d}"

    def invoke(self, function_name: str, event: dict[str, Any]) -> Any:
        handler, template_context = self.handlers[function_name]
        with self._counter_lock:
            self.lambda_invocations[function_name] += 1
            self.in_flight += 1
        try:
            if self.before_invoke is not None:
                self.before_invoke(function_name, event)
            context = copy.copy(template_context)
            context.aws_request_id = self.next_request_id()
            container = self.serialised.get(function_name)
            if container is None:
                return self._timed(function_name, handler, event, context)
            with container:  # time spent queueing for the one container is not handler time
                return self._timed(function_name, handler, event, context)
        finally:
            with self._counter_lock:
                self.in_flight -= 1

    def _timed(self, function_name: str, handler: Handler, event: dict[str, Any], context: Any) -> Any:
        started = time.perf_counter()
        try:
            return handler(event, context)
        finally:
            elapsed = time.perf_counter() - started
            with self._counter_lock:
                self.lambda_seconds[function_name] = self.lambda_seconds.get(function_name, 0.0) + elapsed


RUNTIME = Runtime()


def _route_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
    name = self.function_name
    if isinstance(event, str):
        event = json.loads(event or "{}")
    try:
        result = RUNTIME.invoke(name, event or {})
    except Exception as exc:  # the Lambda service reports handler errors this way
        error = {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(exc)[-5:],
        }
        return json.dumps(error), True, ""
    return json.dumps(result, default=str), False, ""


@cache
def install() -> None:
    """Apply the patches once per process (they consult RUNTIME, so stacks can come and go)."""
    from moto.awslambda.models import LambdaFunction
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.asl.utils import boto_client
    from werkzeug.exceptions import HTTPException

    patch_moto(LambdaFunction, "_invoke_lambda", _route_lambda)

    def wait_on_clock(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            RUNTIME.clock.sleep(wait_seconds, keep_waiting=env.is_running)

    patch_moto(WaitFunction, "_wait_interval", wait_on_clock)

    # Execution history on the same clock as the order's own events, so the merged timeline is in order.
    # Each stamp is also engine activity: the local stack moves a virtual clock only when it has been
    # quiet a moment (an execution between two states has no handler in flight, yet is not idle).
    def stamp() -> Any:
        RUNTIME.last_engine_activity = time.monotonic()
        return RUNTIME.clock.now()

    patch_moto(EventManager, "_get_current_timestamp", staticmethod(stamp))

    class _ClockTime:
        @staticmethod
        def sleep(seconds: float) -> None:
            RUNTIME.clock.sleep(seconds)

    patch_moto(retrier_decl, "time", _ClockTime)

    original_call_action = DynamoHandler.call_action

    def serialised_call_action(self: Any) -> Any:
        with RUNTIME.dynamodb_lock:
            action = self._get_action()
            RUNTIME.dynamodb_requests[action] += 1
            hook, after_hook, log = RUNTIME.before_dynamodb, RUNTIME.after_dynamodb, RUNTIME.dynamodb_log
            if hook is None and after_hook is None and log is None:
                return original_call_action(self)
            body = json.loads(self.body or "{}")
            try:
                if hook is not None:
                    hook(action, body)
                before = _write_images(self.dynamodb_backend, action, body) if log is not None else []
                result = original_call_action(self)
                if log is not None:
                    after = _write_images(self.dynamodb_backend, action, body)
                    log.append(_record(action, body, result, before, after))
                if after_hook is not None:
                    after_hook(action, body, int(result[0]) if isinstance(result, tuple) else 200)
            except HTTPException as fault:
                response = fault.description, {"status": fault.code}
                status, headers, payload = self._transform_response(self.response_headers, response)
                headers, payload = self._enrich_response(headers, payload)
                return status, headers, payload
            return result

    patch_moto(DynamoHandler, "call_action", serialised_call_action)

    patch_moto(DynamoDBBackend, "transact_write_items", _transact_write_items)

    # moto's SendTaskFailure drops the cause; AWS records it in the TaskFailed event and the Catch.
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self: Any) -> Any:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    patch_moto(StepFunctionResponse, "send_task_failure", send_task_failure)

    client_lock = threading.Lock()
    original_client_for = boto_client.boto_client_for

    @cache
    def cached_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        with client_lock:
            return original_client_for(region=region, service=service, state_credentials=None)

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        return cached_client_for(region, service)

    patch_moto(lambda_eval_utils, "boto_client_for", client_for)
    _install_callback_timeout_on_clock()
    _install_partition_query()
    _install_event_source_hooks()
    _install_plain_dynamodb_responses()
    _install_parse_caches()


def _install_parse_caches() -> None:
    """Parse each state machine definition and each JSONPath once, not once per execution and state.

    moto's engine parsed the whole ASL (ANTLR) at the start of every execution, and every JSONPath at
    every evaluation: a tenth of the local stack's CPU. The parsed program is a tree of declarations
    that keeps nothing of an execution (each execution's state lives in its Environment), so one tree
    serves every execution of a definition.
    """
    from functools import lru_cache

    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import json_path

    parse_definition = lru_cache(maxsize=64)(AmazonStateLanguageParser.parse)
    patch_moto(AmazonStateLanguageParser, "parse", staticmethod(parse_definition))
    parse_path = getattr(json_path, "parse", None)  # patch_moto refuses it if moto no longer has it
    patch_moto(json_path, "parse", lru_cache(maxsize=4096)(parse_path) if parse_path else None)


def _install_plain_dynamodb_responses() -> None:
    """DynamoDB item results (GetItem, Query, TransactWriteItems, ...) written as plain JSON.

    moto 5.2 serialises every response by walking botocore's output shape value by value; for DynamoDB
    results, already plain dicts of attribute values, that walk was a quarter of the local stack's CPU.
    The JSON is the same document (tests/unit/test_moto_contract.py compares both for every kind of
    attribute value); anything json cannot write as it is (binary values) takes moto's own path.
    """
    from moto.dynamodb.responses import DynamoResult

    original = DynamoResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        if RUNTIME.plain_dynamodb_responses and isinstance(self.result, dict):
            try:
                body = json.dumps(self.result)
            except TypeError:
                pass
            else:
                return 200, {"Content-Type": "application/x-amz-json-1.0"}, body
        return original(self, context)

    patch_moto(DynamoResult, "execute_result", execute_result)


def _install_event_source_hooks() -> None:
    """Stream records on the clock and announced; bus events handed over; SQS timers on the clock."""
    from moto.dynamodb.models.table import StreamShard
    from moto.events.models import EventsBackend
    from moto.sqs import models as sqs_models

    original_add = StreamShard.add

    def add(self: Any, old: Any, new: Any) -> None:
        original_add(self, old, new)
        if self.items:
            record = self.items[-1].record["dynamodb"]
            record["ApproximateCreationDateTime"] = int(RUNTIME.clock.now().timestamp())
        listener = RUNTIME.stream_listener
        if listener is not None:
            listener()

    patch_moto(StreamShard, "add", add)

    original_put_events = EventsBackend.put_events

    def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = original_put_events(self, events)
        listener = RUNTIME.bus_listener
        if listener is None:
            return entries
        for event, entry in zip(events, entries, strict=False):
            if "EventId" not in entry:
                continue
            bus = str(event.get("EventBusName") or "default").rsplit("/", 1)[-1]
            at = RUNTIME.clock.now()
            listener(
                bus,
                {
                    "version": "0",
                    "id": entry["EventId"],
                    "detail-type": event["DetailType"],
                    "source": event["Source"],
                    "account": self.account_id,
                    "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "region": self.region_name,
                    "resources": list(event.get("Resources", [])),
                    "detail": json.loads(event["Detail"]),
                },
            )
        return entries

    patch_moto(EventsBackend, "put_events", put_events)

    # Visibility timeouts, delays and receive counts on the stack's clock: a message a consumer gave
    # back with a back-off comes back when the (virtual) clock gets there. (Long polling, WaitTimeSeconds
    # > 0, would wait on a clock that stands still: the local consumers poll with 0.)
    patch_moto(sqs_models, "unix_time", lambda: RUNTIME.clock.now().timestamp())
    patch_moto(sqs_models, "unix_time_millis", lambda: RUNTIME.clock.now().timestamp() * 1000)


def _install_callback_timeout_on_clock() -> None:
    """`.waitForTaskToken` with TimeoutSeconds(Path): wait on RUNTIME.clock, not wall time.

    moto waits on a threading.Event for the callback. With an explicit timeout, sleep on the clock
    instead, ending early when the callback (or an interruption) arrives; the clock sees a sleeper with
    a deadline, so a virtual clock can jump to it when everything else is idle. Tasks without a timeout
    (moto's default of 99999999 s) keep moto's behaviour: nobody should jump years ahead for them.
    """
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as callback_module,
    )

    task_class = callback_module.StateTaskServiceCallback
    original = task_class._wait_for_task_token_timeout

    def wait_on_clock(self: Any, timeout_seconds: int, callback_endpoint: Any) -> Any:
        if timeout_seconds >= TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS:
            return original(self, timeout_seconds, callback_endpoint)
        notified = callback_endpoint._notify_event
        clock = RUNTIME.clock
        wake = getattr(clock, "wake", None)
        if wake is not None:
            # The callback sets an Event; wake the clock's sleepers at once, so nobody sees this task
            # idle in between and jumps the virtual clock to its timeout.
            def relay() -> None:
                notified.wait()
                wake()

            threading.Thread(target=relay, name="callback-relay", daemon=True).start()
        clock.sleep(timeout_seconds, keep_waiting=lambda: not notified.is_set())
        return callback_endpoint.get_outcome()

    patch_moto(task_class, "_wait_for_task_token_timeout", wait_on_clock)


def _install_partition_query() -> None:
    """Query reads only the items that can match instead of sorting and scanning the whole table.

    moto's Table.query (5.2.x) takes `self.all_items()`, which sorts every item of the table, on each
    call, then filters. For a query on the table's own hash key, hand it just that partition's items;
    for an index query, hand it (unsorted: moto sorts the results by the index's keys itself) only the
    items whose index hash key attributes equal the query's. The rest of moto's query (range
    conditions, order, paging, filters, projection) runs unchanged on them.
    """
    from moto.dynamodb.models.table import Table

    hint = threading.local()
    original_query = Table.query
    original_all_items = Table.all_items

    signature = inspect.signature(original_query)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(self, hash_key, *args, **kwargs).arguments
        index_name = arguments.get("index_name")
        if index_name is None and hash_key is not None and self.range_key_attr:
            hint.only = (self, lambda: _sorted_partition(self, hash_key))
        elif index_name is not None and arguments.get("hash_key_conditions"):
            conditions = list(arguments["hash_key_conditions"])
            hint.only = (self, lambda: _items_matching(self, conditions))
        else:
            return original_query(self, hash_key, *args, **kwargs)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            hint.only = None

    def all_items(self: Any) -> Any:
        only = getattr(hint, "only", None)
        if only is not None and only[0] is self:
            return only[1]()
        return original_all_items(self)

    patch_moto(Table, "query", query)
    patch_moto(Table, "all_items", all_items)


def _sorted_partition(table: Any, hash_key: Any) -> list[Any]:
    found = table.items.get(hash_key, {})
    return sorted(found.values(), key=lambda item: item.range_key)


def _items_matching(table: Any, conditions: list[tuple[str, Any]]) -> list[Any]:
    """Items whose attributes equal every (name, DynamoType) condition; compared by type and value,
    which is what DynamoType equality means for the scalar types a key can have."""
    wanted = [(name, value.type, value.value) for name, value in conditions]
    matching: list[Any] = []
    for partition in table.items.values():
        for item in partition.values() if table.range_key_attr else (partition,):
            attrs = item.attrs
            for name, kind, value in wanted:
                present = attrs.get(name)
                if present is None or present.type != kind or present.value != value:
                    break
            else:
                matching.append(item)
    return matching


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems with AWS's semantics, without copying whole tables.

    Runs under RUNTIME.dynamodb_lock (every DynamoDB request does), so checking all conditions first
    and then applying is atomic; only the touched items are snapshotted, to undo a failed apply.
    """
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen: set[tuple[str, str]] = set()
    plan: list[tuple[str, dict[str, Any], dict[str, Any], Any]] = []
    errors: list[tuple[Any, Any, Any]] = []
    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(entry.items()))
        table_name = op["TableName"]
        table = self.get_table(table_name)
        if op_type == "Put":
            key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = op["Item"][table.range_key_attr]
        else:
            key = op["Key"]
        identity = (str(table_name), str(dict(sorted(key.items()))))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        current = self.get_item(table_name, key)
        condition = op.get("ConditionExpression")
        passed = condition is None or get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        ).expr(current)
        if passed:
            errors.append((None, None, None))
        else:
            old = (
                current.to_json()["Attributes"]
                if current and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
                else None
            )
            errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
        plan.append((op_type, op, key, current))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)

    applied: list[tuple[str, dict[str, Any], Any]] = []
    streams = {
        id(shard): (shard, len(shard.items))
        for _, op, _, _ in plan
        if (shard := self.get_table(op["TableName"]).stream_shard) is not None
    }
    try:
        for op_type, op, key, current in plan:
            table_name = op["TableName"]
            snapshot = copy.deepcopy(current.to_json()["Attributes"]) if current else None
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(table_name, op["Item"])
            elif op_type == "Delete":
                self.delete_item(table_name, key)
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            applied.append((table_name, key, snapshot))
    except Exception:
        for table_name, key, snapshot in reversed(applied):
            if snapshot is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, snapshot)
        for shard, mark in streams.values():  # the undone writes (and their undoing) never happened
            del shard.items[mark:]
        raise


# ---------------------------------------------------------------- fault injection helpers


def dynamodb_fault(code: str = "ProvisionedThroughputExceededException", message: str = "injected") -> Any:
    """A DynamoDB error for a `before_dynamodb` hook to raise (the client sees ClientError `code`)."""
    from moto.dynamodb.exceptions import DynamodbException

    return DynamodbException(f"com.amazonaws.dynamodb.v20120810#{code}", message)


def transaction_conflict(body: dict[str, Any] | None = None, at: int = 0) -> Any:
    """TransactionCanceledException as DynamoDB answers a write racing another transaction: one
    cancellation reason per item of the request `body`, TransactionConflict at item `at`, None elsewhere."""
    from moto.dynamodb.exceptions import TransactionCanceledException

    count = max(1, len((body or {}).get("TransactItems", [])))
    reasons = [
        ("TransactionConflict", "Transaction is ongoing for the item", None)
        if i == at
        else (None, None, None)
        for i in range(count)
    ]
    return TransactionCanceledException(reasons)


# ---------------------------------------------------------------- capacity units (benchmarks)

WRITE_ACTIONS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
READ_ACTIONS = {"GetItem", "Query", "Scan", "TransactGetItems", "BatchGetItem"}


@dataclass
class DynamoRecord:
    """One DynamoDB request the local stack served, with the capacity units DynamoDB would bill."""

    action: str
    body: dict[str, Any]
    status: int
    write_units: int  # WCU/WRU: per item ceil(size / 1 KB), doubled inside a transaction
    read_units: float  # RCU/RRU: ceil(bytes / 4 KB), halved if eventually consistent, doubled in transactions
    item_bytes: list[int]  # the billed size of each item written or read
    index_write_units: int = 0  # WCU/WRU of the global secondary index updates the write caused


def _value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value by DynamoDB's rules (docs: 'Item sizes and formats')."""
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        digits = Decimal(str(raw)).normalize().as_tuple().digits
        return (len(digits) + 1) // 2 + 1 + (1 if str(raw).startswith("-") else 0)  # 1 byte per 2 digits + 1
    if kind == "B":
        return len(raw) * 3 // 4  # base64 on the wire
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: v}) for v in raw)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in raw.items())
    return len(json.dumps(raw))


def item_size(item: dict[str, Any] | None) -> int:
    """An item's size: UTF-8 attribute names plus their values."""
    if not item:
        return 0
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def _read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


def _key_of(backend: Any, table_name: str, item: dict[str, Any]) -> dict[str, Any]:
    table = backend.get_table(table_name)
    key = {table.hash_key_attr: item[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = item[table.range_key_attr]
    return key


def _stored(backend: Any, table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
    try:
        found = backend.get_item(table_name, key)
    except Exception:
        return None
    return found.to_json()["Attributes"] if found else None


def _write_targets(backend: Any, action: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(table, key) of every item a write request touches."""
    targets: list[tuple[str, dict[str, Any]]] = []
    if action == "PutItem":
        targets.append((body["TableName"], _key_of(backend, body["TableName"], body["Item"])))
    elif action in ("UpdateItem", "DeleteItem"):
        targets.append((body["TableName"], body["Key"]))
    elif action == "TransactWriteItems":
        for entry in body.get("TransactItems", []):
            kind, op = next(iter(entry.items()))
            key = _key_of(backend, op["TableName"], op["Item"]) if kind == "Put" else op["Key"]
            targets.append((op["TableName"], key))
    elif action == "BatchWriteItem":
        for table_name, requests in body.get("RequestItems", {}).items():
            for request in requests:
                if "PutRequest" in request:
                    targets.append((table_name, _key_of(backend, table_name, request["PutRequest"]["Item"])))
                else:
                    targets.append((table_name, request["DeleteRequest"]["Key"]))
    return targets


Image = tuple[list[str], dict[str, Any] | None]  # (key attributes of each GSI of the table, the item)


def _write_images(backend: Any, action: str, body: dict[str, Any]) -> list[Image]:
    if action not in WRITE_ACTIONS:
        return []
    try:
        images: list[Image] = []
        for table_name, key in _write_targets(backend, action, body):
            table = backend.get_table(table_name)
            table_keys = [k for k in (table.hash_key_attr, table.range_key_attr) if k]
            indexes = [
                "|".join(
                    (
                        ",".join(ix.schema_key_attrs),
                        str((ix.projection or {}).get("ProjectionType", "ALL")),
                        ",".join(table_keys),
                    )
                )
                for ix in getattr(table, "global_indexes", [])
            ]
            images.append((indexes, _stored(backend, table_name, key)))
        return images
    except (KeyError, StopIteration):
        return []


def _index_write_units(
    indexes: list[str], before: dict[str, Any] | None, after: dict[str, Any] | None
) -> int:
    """GSI writes a base-table write causes: a put where the item enters an index, a delete where it
    leaves, both where its index key changes, and (projection ALL/INCLUDE only) one update where only
    other attributes change. A KEYS_ONLY entry holds just the index and table keys.

    Each entry of `indexes` is "index keys|projection type|table keys" (comma-separated names)."""
    units = 0
    for index in indexes:
        index_keys, projection, table_keys = ([*index.split("|"), "ALL", ""])[:3]
        keys = index_keys.split(",")
        projected = [*keys, *filter(None, table_keys.split(","))]

        def entry(
            item: dict[str, Any], projected: list[str] = projected, projection: str = projection
        ) -> int:
            if projection == "KEYS_ONLY":
                return item_size({k: v for k, v in item.items() if k in projected})
            return item_size(item)

        was = before is not None and all(k in before for k in keys)
        now = after is not None and all(k in after for k in keys)
        if was and now and before is not None and after is not None:
            if any(before[k] != after[k] for k in keys):
                units += _write_units(entry(before)) + _write_units(entry(after))
            elif projection != "KEYS_ONLY" and before != after:
                units += _write_units(max(entry(before), entry(after)))
        elif now and after is not None:
            units += _write_units(entry(after))
        elif was and before is not None:
            units += _write_units(entry(before))
    return units


def _record(
    action: str, body: dict[str, Any], result: Any, before: list[Image], after: list[Image]
) -> DynamoRecord:
    status = int(result[0]) if isinstance(result, tuple) else 200
    if action in WRITE_ACTIONS:
        # A write is billed on the larger of the item before and after it (a failed condition still bills).
        sizes = [max(item_size(b[1]), item_size(a[1])) for b, a in zip(before, after, strict=False)]
        if action == "PutItem" and sizes:
            sizes[0] = max(sizes[0], item_size(body.get("Item")))
        factor = 2 if action == "TransactWriteItems" else 1
        index_units = sum(_index_write_units(b[0], b[1], a[1]) for b, a in zip(before, after, strict=False))
        return DynamoRecord(
            action, body, status, factor * sum(_write_units(s) for s in sizes), 0.0, sizes, index_units
        )
    if action not in READ_ACTIONS or not isinstance(result, tuple):
        return DynamoRecord(action, body, status, 0, 0.0, [])
    try:
        answer = json.loads(result[2] or "{}")
    except (TypeError, ValueError):
        answer = {}
    consistent = bool(body.get("ConsistentRead"))
    if action == "GetItem":
        sizes = [item_size(answer.get("Item"))]
        units = _read_units(sizes[0], consistent)
    elif action in ("Query", "Scan"):
        sizes = [item_size(i) for i in answer.get("Items", [])]
        units = _read_units(sum(sizes), consistent)
    elif action == "TransactGetItems":
        sizes = [item_size(r.get("Item")) for r in answer.get("Responses", [])]
        units = sum(2 * _read_units(s, True) for s in sizes)
    else:  # BatchGetItem
        sizes = [item_size(i) for items in answer.get("Responses", {}).values() for i in items]
        units = sum(_read_units(s, consistent) for s in sizes)
    return DynamoRecord(action, body, status, 0, units, sizes)

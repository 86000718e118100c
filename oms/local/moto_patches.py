"""The few places where moto is bent so the real state machine runs the real handlers on one machine.

Measured patch points (shared/docs/local-aws.md):
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
"""

from __future__ import annotations

import copy
import json
import threading
import traceback
from collections import Counter
from collections.abc import Callable
from functools import cache
from typing import Any

from oms.local.clock import Clock, SystemClock

Handler = Callable[[dict[str, Any], Any], Any]


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
        self._request_ids = iter(range(1, 1 << 62))
        self._ids_lock = threading.Lock()
        # Handlers running right now: the stack only moves a virtual clock when nothing runs.
        self.in_flight = 0

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
                return handler(event, context)
            with container:
                return handler(event, context)
        finally:
            with self._counter_lock:
                self.in_flight -= 1


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

    setattr(LambdaFunction, "_invoke_lambda", _route_lambda)

    def wait_on_clock(self: Any, env: Any, wait_seconds: int) -> None:
        if wait_seconds > 0:
            RUNTIME.clock.sleep(wait_seconds, keep_waiting=env.is_running)

    setattr(WaitFunction, "_wait_interval", wait_on_clock)
    # Execution history on the same clock as the order's own events, so the merged timeline is in order.
    setattr(EventManager, "_get_current_timestamp", staticmethod(lambda: RUNTIME.clock.now()))

    class _ClockTime:
        @staticmethod
        def sleep(seconds: float) -> None:
            RUNTIME.clock.sleep(seconds)

    setattr(retrier_decl, "time", _ClockTime)

    original_call_action = DynamoHandler.call_action

    def serialised_call_action(self: Any) -> Any:
        with RUNTIME.dynamodb_lock:
            RUNTIME.dynamodb_requests[self._get_action()] += 1
            return original_call_action(self)

    setattr(DynamoHandler, "call_action", serialised_call_action)

    setattr(DynamoDBBackend, "transact_write_items", _transact_write_items)

    # moto's SendTaskFailure drops the cause; AWS records it in the TaskFailed event and the Catch.
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self: Any) -> Any:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    setattr(StepFunctionResponse, "send_task_failure", send_task_failure)

    client_lock = threading.Lock()
    original_client_for = boto_client.boto_client_for

    @cache
    def cached_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        with client_lock:
            return original_client_for(region=region, service=service, state_credentials=None)

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        return cached_client_for(region, service)

    setattr(lambda_eval_utils, "boto_client_for", client_for)


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
        raise

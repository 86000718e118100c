"""The few places where moto is bent so the real state machine runs the real handlers on one machine.

Measured patch points (shared/docs/local-aws.md):
- every Lambda invocation passes `LambdaFunction._invoke_lambda`: routed to the in-process handler;
- Wait states and Retry back-offs sleep on the injectable clock instead of wall time, and execution
  history events are stamped by it;
- DynamoDB is made to serialise requests as the real service serialises writes to an item, and each
  request is counted (DynamoDB requests per order is a benchmark figure);
- the engine's per-task boto3 client is cached (building one per task is slow and not thread-safe).
"""

from __future__ import annotations

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
        handler, context = self.handlers[function_name]
        self.lambda_invocations[function_name] += 1
        with self._ids_lock:
            self.in_flight += 1
        try:
            if self.before_invoke is not None:
                self.before_invoke(function_name, event)
            context.aws_request_id = self.next_request_id()
            return handler(event, context)
        finally:
            with self._ids_lock:
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

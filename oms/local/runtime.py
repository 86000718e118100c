"""Process-wide state the moto patches consult: handlers, the clock, counters and test hooks.

One local stack at a time owns RUNTIME (oms/local/stack.py fills it when it starts).
"""

from __future__ import annotations

import copy
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from oms.local.capacity import DynamoRecord
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
        self.plain_dynamodb_responses = True  # see moto_dynamodb._install_plain_dynamodb_responses
        self.in_process_dynamodb = True  # item requests skip the HTTP round trip (moto_inprocess.py)
        self.indexed_queries = True  # index queries read a hash map (moto_query.py); False: moto's scan
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

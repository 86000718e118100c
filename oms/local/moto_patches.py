"""The few places where moto is bent so the real state machine runs the real handlers on one machine.

Measured patch points (docs/local-runtime.md says why each exists). Every patch goes through `patch_moto`
(oms/local/moto_contract.py), which fails loudly when moto no longer has what it replaces (a rename
upstream must not silently turn into 300 s timeouts), and records it in PATCHES, which a test checks is
in force. The DynamoDB patches are in oms/local/moto_dynamodb.py, the state they consult in
oms/local/runtime.py:
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

import json
import threading
import time
import traceback
from functools import cache
from types import SimpleNamespace
from typing import Any

from oms.local.capacity import DynamoRecord, item_size
from oms.local.clock import VirtualClock, WakeSignal
from oms.local.moto_contract import PATCHES, MotoContractError, Patch, patch_moto
from oms.local.moto_dynamodb import dynamodb_fault, install_dynamodb_patches, transaction_conflict
from oms.local.moto_inprocess import install_in_process_dynamodb
from oms.local.runtime import RUNTIME, Handler, LambdaContext, Runtime

__all__ = [
    "PATCHES",
    "RUNTIME",
    "DynamoRecord",
    "Handler",
    "LambdaContext",
    "MotoContractError",
    "Patch",
    "Runtime",
    "dynamodb_fault",
    "install",
    "item_size",
    "patch_moto",
    "transaction_conflict",
]


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
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.asl.utils import boto_client

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
    _install_task_timeout_on_clock()
    _install_event_source_hooks()
    _install_parse_caches()
    install_dynamodb_patches()
    install_in_process_dynamodb()

    # moto listed a response class's methods (inspect.getmembers) on every request to find the action's;
    # a class's methods do not change while it serves requests, so list each class once.
    from moto.core import responses as core_responses

    listed = cache(core_responses.method_names_from_class)  # type: ignore[attr-defined]
    patch_moto(core_responses, "method_names_from_class", listed)


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


class _TaskTimeoutEvent(WakeSignal):
    """The event a task state waits on for its TimeoutSeconds, with the deadline on RUNTIME.clock.

    On a virtual clock the wait is a sleeper that is not a jump target, woken when the task ends (this
    event is set) or when the clock passes the deadline; on the real clock it is moto's wall-time wait."""

    def wait(self, timeout: float | None = None) -> bool:
        clock = RUNTIME.clock
        if timeout is None or not isinstance(clock, VirtualClock):
            return super().wait(timeout)
        task = getattr(_task_threads, "latest", None)  # started by this thread just before the wait
        while not self.is_set():
            clock.sleep(timeout, jump_target=False, wake_on=self)
            if self.is_set() or task is None or not task.is_alive() or clock.is_sleeping(task.ident):
                # done, or the clock passed the deadline while the task was parked on it: timed out
                return self.is_set()
            # The clock passed the deadline while the task's thread was working (a handler, the engine
            # between calls, a lock). Running code takes no virtual time, so that jump does not count:
            # wait (wall time) until the thread ends or parks on the clock, then give it its whole
            # timeout again from there. A task timed out only by a jump that finds it parked.
            while not self.is_set() and task.is_alive() and not clock.is_sleeping(task.ident):
                super().wait(0.01)
        return True


_task_threads = threading.local()


class _TaskThread(threading.Thread):
    """The thread a task state runs in, noted for the thread that waits for it (see above)."""

    def start(self) -> None:
        _task_threads.latest = self
        super().start()


def _install_task_timeout_on_clock() -> None:
    """A task state's TimeoutSeconds counts on the stack's clock, not wall time.

    moto runs each task in a thread and waits for it `TimeoutSeconds` of wall time. On a virtual clock
    a handler takes no time at all, yet with a thousand executions in flight on a loaded 2-core machine
    a task's thread can wait a minute of wall time for the CPU and the DynamoDB lock: the task then
    failed with States.Timeout and the order was compensated (seen in a 1000-order simulation at load
    40-60). The deadline is not a timer the virtual clock jumps to; a task times out when the clock
    passes it for another reason while the task is parked on the clock (a jump while its thread works
    does not count: running code takes no virtual time). On the real clock (`oms serve`) it is moto's
    wall-time timeout.
    """
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state

    patch_moto(execute_state, "threading", SimpleNamespace(Event=_TaskTimeoutEvent))
    patch_moto(execute_state, "Thread", _TaskThread)


def _install_callback_timeout_on_clock() -> None:
    """`.waitForTaskToken` with TimeoutSeconds(Path): wait on RUNTIME.clock, not wall time.

    moto waits on a threading.Event for the callback. With an explicit timeout, sleep on the clock
    instead, woken when the callback (or an interruption) sets that event; the clock sees a sleeper
    with a deadline, so a virtual clock can jump to it when everything else is idle. Tasks without a timeout
    (moto's default of 99999999 s) keep moto's behaviour: nobody should jump years ahead for them.
    """
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as callback_module,
    )
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

    # The callback's event wakes the task's clock sleeper when it is set (SendTaskSuccess/Failure, an
    # interruption), in the caller's thread: from that moment the sleeper is neither a timer an idle
    # jump may go to nor idle, so no jump lands on the timeout of a task whose answer has come.
    original_init = CallbackEndpoint.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._notify_event = WakeSignal()

    patch_moto(CallbackEndpoint, "__init__", init)

    task_class = callback_module.StateTaskServiceCallback
    original = task_class._wait_for_task_token_timeout

    def wait_on_clock(self: Any, timeout_seconds: int, callback_endpoint: Any) -> Any:
        if timeout_seconds >= TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS:
            return original(self, timeout_seconds, callback_endpoint)
        RUNTIME.clock.sleep(timeout_seconds, wake_on=callback_endpoint._notify_event)
        return callback_endpoint.get_outcome()

    patch_moto(task_class, "_wait_for_task_token_timeout", wait_on_clock)

"""Express workflows on the local runtime: what moto's engine lacks (measured in docs/local-runtime.md).

moto runs an `EXPRESS` state machine through the same engine as a Standard one, and then:
- its `states:startExecution` task passes the ASL's parameter names (`StateMachineArn`) to boto3, which
  wants `stateMachineArn`: the task fails with States.Runtime. Here the names are translated both ways.
- it delivers no execution log records to CloudWatch Logs. Here every event of an Express execution is
  written to the machine's log group in the AWS record format (`id`, `type`, `details`,
  `previous_event_id`, `event_timestamp` in epoch ms, `execution_arn`, `redrive_count`), without the
  execution data (`IncludeExecutionData: false`), so the OMS reads an order's fast path one way on AWS
  and here (functions/core/workflow.py).
- it answers GetExecutionHistory and DescribeExecution for Express executions; AWS refuses both, and
  so does this runtime (nothing may come to depend on them).
- it has no 5-minute limit. Here an Express execution still running 300 s after its start on the
  stack's clock is stopped and ends TIMED_OUT (an `ExecutionTimedOut` record): a `call_at` timer on
  the clock, no thread per execution.
- Express executions are counted (requests) with their start and end on the stack's clock, for the bench.

The local Express execution ARN keeps moto's `...:execution:<machine>:<name>` form (AWS appends a
generated id to `...:express:<machine>:<name>`); the OMS tells the two kinds apart by the machine.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from oms.local.moto_patches import RUNTIME, patch_moto

if TYPE_CHECKING:
    from oms.local.stack import LocalStack

EXPRESS_LIMIT_SECONDS = 300  # AWS: an Express execution runs at most five minutes
_LIMIT_CAUSE = "An Express execution ends after 5 minutes"
# Left out of every record whatever the level: the states' data (AWS: IncludeExecutionData false).
_EXECUTION_DATA = ("input", "inputDetails", "output", "outputDetails", "parameters")
_BOTO_NAMES = {"StateMachineArn": "stateMachineArn", "Name": "name", "Input": "input"}
_ASL_NAMES = {"executionArn": "ExecutionArn", "startDate": "StartDate"}


@dataclass
class ExpressRun:
    """One Express execution as billed: a request, and its duration on the stack's clock."""

    arn: str
    machine: str
    started: datetime
    ended: datetime | None = None
    tasks: list[str] = field(default_factory=list)  # Lambda functions its task states invoked
    handed_over: bool = False  # its states:startExecution task ran (the order waits on Standard)
    log_bytes: int = 0  # its execution log records, as CloudWatch Logs ingests them
    log_streams: list[tuple[str, str]] = field(default_factory=list)  # (group, stream) it wrote to


@dataclass
class ExpressUsage:
    runs: dict[str, ExpressRun] = field(default_factory=dict)
    timed_out: dict[str, datetime] = field(default_factory=dict)  # execution -> the limit's moment
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.runs.clear()
            self.timed_out.clear()


USAGE = ExpressUsage()
_installed = False


def install() -> None:
    """Apply the Express patches once per process (they read RUNTIME.clock, so stacks come and go)."""
    global _installed
    if _installed:
        return
    _installed = True
    _install_start_execution_task()
    _install_execution_logs()
    _install_time_limit_status()
    _install_refusals()
    _install_one_start_at_a_time()


def _install_one_start_at_a_time() -> None:
    """StartExecution checks the name, then registers the execution: moto does both without a lock, so
    two starts of one name at once could both pass the check (AWS answers the second with the first)
    or read an execution registered but not started yet. One start at a time, as AWS behaves."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution
    lock = threading.Lock()

    def start_execution(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    patch_moto(StepFunctionsParserBackend, "start_execution", start_execution)


# ---------------------------------------------------------------- states:startExecution task


def _install_start_execution_task() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_sfn as sfn_task,
    )

    service = sfn_task.StateTaskServiceSfn
    original_parameters = service._normalise_parameters
    original_response = service._normalise_response

    def normalise_parameters(self: Any, parameters: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original_parameters(self, parameters, *args, **kwargs)
        if self._get_boto_service_action() == "start_execution":
            for asl_name, boto_name in _BOTO_NAMES.items():
                if asl_name in parameters:
                    parameters[boto_name] = parameters.pop(asl_name)

    def normalise_response(self: Any, response: Any, *args: Any, **kwargs: Any) -> None:
        original_response(self, response, *args, **kwargs)
        if isinstance(response, dict) and self._get_boto_service_action() == "start_execution":
            for boto_name, asl_name in _ASL_NAMES.items():
                if boto_name in response:
                    value = response.pop(boto_name)
                    response[asl_name] = value.isoformat() if isinstance(value, datetime) else value

    patch_moto(service, "_normalise_parameters", normalise_parameters)
    patch_moto(service, "_normalise_response", normalise_response)
    # One client for every hand-over, built under a lock (boto3's default session is not thread-safe).
    lock = threading.Lock()

    @cache
    def cached_client_for(region: str, service: str) -> Any:
        with lock:
            return original_client_for(region=region, service=service, state_credentials=None)

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        return cached_client_for(region, service)

    original_client_for = vars(sfn_task)["boto_client_for"]
    patch_moto(sfn_task, "boto_client_for", client_for)


# ---------------------------------------------------------------- execution log records


def _install_execution_logs() -> None:
    from moto.stepfunctions.parser.asl.eval.event.logging import (
        CloudWatchLoggingConfiguration,
        CloudWatchLoggingSession,
    )
    from moto.stepfunctions.parser.backend.execution import Execution

    class ExpressLogSession(CloudWatchLoggingSession):
        """Writes each record as AWS does (moto's own session hands CloudWatch Logs a malformed event)."""

        def publish_history_log(self, history_log: Any) -> None:
            _publish(self, dict(history_log))

    original_init = Execution.__init__
    original_start = Execution.start

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if not _is_express_machine(self):
            return
        logging = getattr(self.state_machine, "loggingConfiguration", None) or {}
        configuration = CloudWatchLoggingConfiguration.from_logging_configuration(
            state_machine_arn=self.state_machine.arn, logging_configuration=cast(Any, logging)
        )
        if configuration is not None:
            self._cloud_watch_logging_session = ExpressLogSession(self.exec_arn, configuration)
        with USAGE.lock:
            USAGE.runs[self.exec_arn] = ExpressRun(self.exec_arn, self.state_machine.arn, RUNTIME.clock.now())

    def start(self: Any) -> None:
        original_start(self)
        if _is_express_machine(self):
            # The limit counts from the recorded start: a timer on the clock, holding no thread, never
            # one the idle jump lands on; a limit already passed stops the execution at once.
            run = USAGE.runs.get(self.exec_arn)
            started = run.started if run else RUNTIME.clock.now()
            deadline = started + timedelta(seconds=EXPRESS_LIMIT_SECONDS)
            RUNTIME.clock.call_at(deadline, lambda: _time_limit(self, deadline))

    patch_moto(Execution, "__init__", init)
    patch_moto(Execution, "start", start)


def _is_express_machine(execution: Any) -> bool:
    # moto keeps the created type on the machine's `type` (its `sm_type` always says STANDARD)
    return str(getattr(execution.state_machine, "type", "STANDARD")) == "EXPRESS"


_log_lock = threading.Lock()


def _publish(session: Any, record: dict[str, Any]) -> None:
    arn = session.execution_arn
    kind = str(getattr(record["type"], "value", record["type"]))
    moment = _parse_time(record["event_timestamp"])
    raw = record.get("details") or {}
    if kind == "ExecutionAborted" and arn in USAGE.timed_out:  # the limit stopped it, not a person
        kind, raw = "ExecutionTimedOut", {"error": "States.Timeout", "cause": _LIMIT_CAUSE}
        moment = USAGE.timed_out[arn]  # the limit's moment, however far the clock moved since
    details = {k: v for k, v in raw.items() if k not in _EXECUTION_DATA}
    line = {
        "id": str(record["id"]),
        "type": kind,
        "details": details,
        "previous_event_id": str(record["previous_event_id"]),
        "event_timestamp": str(int(moment.timestamp() * 1000)),
        "execution_arn": arn,
        "redrive_count": "0",
    }
    message = json.dumps(line, default=str)
    _note_usage(arn, kind, raw, moment, len(message.encode()))
    _write(session.configuration, arn, message, moment)


def _write(configuration: Any, arn: str, message: str, moment: datetime) -> None:
    from moto.logs.models import logs_backends

    backend = logs_backends[configuration.log_account_id][configuration.log_region]
    machine, name = arn.split(":")[6], arn.split(":")[7]
    stream = f"states/{machine}/{moment:%Y-%m-%d}/{name}"
    event = {"timestamp": int(moment.timestamp() * 1000), "message": message}
    with _log_lock:
        group = backend.groups.get(configuration.log_group_name)
        if group is None:
            return  # AWS drops records for a missing group as well
        run = USAGE.runs.get(arn)
        if run is not None and (group.name, stream) not in run.log_streams:
            run.log_streams.append((group.name, stream))
        if stream not in group.streams:
            group.create_log_stream(stream)
        # Straight to the stream: PutLogEvents refuses stamps 14 days behind the wall clock, and the
        # stack's clock is virtual (AWS stamps a record when the event happens, as here).
        group.streams[stream].put_log_events([event])


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _note_usage(arn: str, kind: str, details: dict[str, Any], moment: datetime, size: int) -> None:
    with USAGE.lock:
        run = USAGE.runs.get(arn)
        if run is None:
            return
        run.log_bytes += size
        if kind == "TaskScheduled" and details.get("resourceType") == "lambda":
            run.tasks.append(_function_of(details))
        if kind == "TaskScheduled" and details.get("resourceType") == "states":
            run.handed_over = True
        if kind in {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}:
            run.ended = moment


def _function_of(details: dict[str, Any]) -> str:
    """The function a Lambda task invoked, from the task's parameters (execution data: counted here,
    never logged). The local stack names each function by its logical id."""
    try:
        parameters = json.loads(details.get("parameters") or "{}")
    except ValueError:
        return "unknown"
    return str(parameters.get("FunctionName", "unknown")).rsplit(":", 1)[-1]


def _time_limit(execution: Any, deadline: datetime) -> None:
    """Stop an Express execution still running EXPRESS_LIMIT_SECONDS after its start (stack clock)."""
    from moto.stepfunctions.parser.api import ExecutionStatus

    # Still running, and still this stack's (a new stack clears USAGE: an old timer does nothing).
    if execution.exec_status not in (None, ExecutionStatus.RUNNING) or execution.exec_arn not in USAGE.runs:
        return
    with USAGE.lock:
        USAGE.timed_out[execution.exec_arn] = deadline
    execution.stop(stop_date=deadline, error="States.Timeout", cause=_LIMIT_CAUSE)


def _install_time_limit_status() -> None:
    """An execution the limit stopped ends TIMED_OUT (moto would call every stop ABORTED)."""
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    original: Any = BaseExecutionWorkerCommunication._reflect_execution_status

    def reflect(self: Any) -> None:
        if self.execution.exec_arn not in USAGE.timed_out:
            original(self)
            return
        self.execution.stop_date = USAGE.timed_out[self.execution.exec_arn]
        self.execution.error, self.execution.cause = "States.Timeout", _LIMIT_CAUSE
        self.execution.exec_status = ExecutionStatus.TIMED_OUT

    patch_moto(BaseExecutionWorkerCommunication, "_reflect_execution_status", reflect)


# ---------------------------------------------------------------- what AWS refuses for Express


def _install_refusals() -> None:
    from moto.stepfunctions.exceptions import InvalidArn
    from moto.stepfunctions.responses import StepFunctionResponse

    for action in ("get_execution_history", "describe_execution"):
        original = getattr(StepFunctionResponse, action)

        def refusing(self: Any, _original: Any = original, _action: str = action) -> Any:
            arn = self._get_param("executionArn")
            if arn in USAGE.runs:
                raise InvalidArn(
                    f"{_action}: Express executions are not supported ({arn}): read the state "
                    "machine's log group"
                )
            return _original(self)

        patch_moto(StepFunctionResponse, action, refusing)


# ---------------------------------------------------------------- the local stack's helpers


def is_express(execution_arn: str) -> bool:
    return execution_arn in USAGE.runs


def create_state_machine(stack: LocalStack, logical_id: str, definition: str, role: str) -> str:
    """Create one of template.yaml's state machines with its type and, for Express, its logging."""
    props = stack.template.raw["Resources"][logical_id]["Properties"]
    kind = str(props.get("Type", "STANDARD"))
    kwargs: dict[str, Any] = {"name": logical_id, "definition": definition, "roleArn": role, "type": kind}
    logging = props.get("Logging") or {}
    if kind == "EXPRESS" and logging:
        (destination,) = logging["Destinations"]
        group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
        group_name = _create_log_group(stack, group_id)
        arn = f"arn:aws:logs:{stack.session.region_name}:{_account(stack)}:log-group:{group_name}:*"
        kwargs["loggingConfiguration"] = {
            "level": logging["Level"],
            "includeExecutionData": bool(logging["IncludeExecutionData"]),
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": arn}}],
        }
    return str(stack.sfn.create_state_machine(**kwargs)["stateMachineArn"])


def creation_order(machines: dict[str, Any]) -> list[str]:
    """Machines another one names (the waiting workflow the fast path starts) are created first."""
    named = {ref for _, (_, subs) in machines.items() for ref in _refs(subs)}
    return sorted(machines, key=lambda logical_id: logical_id not in named)


def _refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return {str(value["Ref"])}
        return {r for v in value.values() for r in _refs(v)}
    return set()


def _account(stack: LocalStack) -> str:
    return next(iter(stack.state_machine_arns.values()), "::::123456789012").split(":")[4]


def _create_log_group(stack: LocalStack, logical_id: str) -> str:
    props = stack.template.raw["Resources"][logical_id]["Properties"]
    name = str(stack._resolver().resolve(props["LogGroupName"]))
    logs = stack.session.client("logs")
    logs.create_log_group(logGroupName=name)
    logs.put_retention_policy(logGroupName=name, retentionInDays=90)
    stack.log_group_names[logical_id] = name
    return name


def waiting_execution(stack: LocalStack, execution_arn: str) -> str | None:
    """The Standard execution this Express one handed its order to, if it did (same name)."""
    if not is_express(execution_arn):
        return None
    from moto.stepfunctions.exceptions import ExecutionDoesNotExist
    from moto.stepfunctions.responses import get_backend

    resource = stack.template.raw["Resources"].get(execution_arn.split(":")[6]) or {}
    waiting_ref = (
        resource.get("Properties", {}).get("DefinitionSubstitutions", {}).get("WaitingOrderStateMachineArn")
    )
    if not waiting_ref:
        return None  # not the order fast path: nothing to hand over to
    waiting_sm = stack.state_machine_arns[waiting_ref["Ref"]]
    candidate = waiting_sm.replace(":stateMachine:", ":execution:") + ":" + execution_arn.split(":")[7]
    account, region = candidate.split(":")[4], candidate.split(":")[3]
    try:
        get_backend(account, region).describe_execution(candidate)
    except ExecutionDoesNotExist:
        return None
    return candidate


def current_execution(stack: LocalStack, execution_arn: str) -> str:
    """Where the order is now: its waiting execution once handed over, else the one given."""
    return waiting_execution(stack, execution_arn) or execution_arn


def describe(stack: LocalStack, execution_arn: str) -> dict[str, Any]:
    """DescribeExecution's answer for the order's current execution (read from the engine for an
    Express one, which the API refuses)."""
    current = current_execution(stack, execution_arn)
    if not is_express(current):
        return stack.sfn.describe_execution(executionArn=current)  # type: ignore[return-value]
    from moto.stepfunctions.responses import get_backend

    execution: Any = get_backend(current.split(":")[4], current.split(":")[3]).describe_execution(current)
    with USAGE.lock:
        run = USAGE.runs[current]
        started, ended = run.started, run.ended
    answer: dict[str, Any] = {
        "executionArn": current,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": str(getattr(execution.exec_status, "value", execution.exec_status) or "RUNNING"),
        "startDate": started,
    }
    if ended is not None:
        answer["stopDate"] = ended
    for key, value in (("error", execution.error), ("cause", execution.cause)):
        if value:
            answer[key] = value
    return answer


def history(stack: LocalStack, execution_arn: str) -> list[dict[str, Any]]:
    """The order's path as GetExecutionHistory events: the Express part from its log records, then
    the waiting execution's history."""
    if not is_express(execution_arn):
        return stack._standard_history(execution_arn)
    events = [_as_history_event(record) for record in express_records(stack, execution_arn)]
    waiting = waiting_execution(stack, execution_arn)
    return events + (stack._standard_history(waiting) if waiting else [])


def express_records(stack: LocalStack, execution_arn: str) -> list[dict[str, Any]]:
    """The execution's log records, read with GetLogEvents from the streams it wrote (a filter over
    the whole log group read every execution's records for each one: quadratic in a simulation)."""
    logs = stack.session.client("logs")
    run = USAGE.runs.get(execution_arn)
    with _log_lock:
        streams = list(run.log_streams) if run is not None else []
    records: list[dict[str, Any]] = []
    for group, stream in streams:
        kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        while True:
            page = logs.get_log_events(**kwargs)
            records += [json.loads(e["message"]) for e in page["events"]]
            if not page["events"] or page.get("nextForwardToken") == kwargs.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextForwardToken"]
    mine = [r for r in records if r.get("execution_arn") == execution_arn]
    return sorted(mine, key=lambda r: int(r["id"]))


def _as_history_event(record: dict[str, Any]) -> dict[str, Any]:
    kind = str(record["type"])
    if kind.endswith("StateEntered"):
        key = "stateEnteredEventDetails"
    elif kind.endswith("StateExited"):
        key = "stateExitedEventDetails"
    else:
        key = kind[0].lower() + kind[1:] + "EventDetails"
    event: dict[str, Any] = {
        "timestamp": datetime.fromtimestamp(int(record["event_timestamp"]) / 1000, tz=UTC),
        "type": kind,
        "id": int(record["id"]),
        "previousEventId": int(record["previous_event_id"]),
    }
    if record.get("details"):
        event[key] = record["details"]
    return event

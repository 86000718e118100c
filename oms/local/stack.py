"""The whole OMS on one machine: moto's AWS, the real state machine, the real handlers, one clock.

Everything is created from template.yaml (tables, functions with their environment, the state machine
with its substitutions), so what runs here is what `sam deploy` deploys.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from oms.local import express
from oms.local.clock import Clock, SystemClock, VirtualClock
from oms.local.event_sources import LocalEventSources
from oms.local.gateway import Gateway
from oms.local.scheduler import LocalScheduler
from oms.local.template import Resolver, Template, scheduled_rules, schedules

REGION = "us-east-1"
ACCOUNT = "123456789012"
LOCAL_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",  # moto accepts any credentials
    "AWS_SESSION_TOKEN": "local",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon on a laptop
    "POWERTOOLS_DEV": "false",
    "WEBHOOK_LOOPBACK_ONLY": "true",  # outbound webhooks never leave the machine (docs/events.md)
}
RUNNING = {"RUNNING", "PENDING_REDRIVE"}
# How long (wall time) a wait for the stack may take before it is called stuck. A bound, not a speed
# expectation: every wait ends as soon as its condition holds, so it only matters when something is
# broken, and it is generous because a loaded 2-core machine can run a step many times slower.
WAIT_BOUND_SECONDS = float(os.environ.get("OMS_WAIT_BOUND_SECONDS", "180"))
# The local value of every generated secret (the auth master key): deterministic, so `oms serve` can
# print each platform's secret and mint staff tokens. Never the value of a deployed stack.
LOCAL_SIGNING_KEY = "oms-local-development-signing-key-not-a-secret-0000"


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class LocalStack:
    def __init__(self, clock: Clock | None = None, log_level: str = "WARNING") -> None:
        self.clock: Clock = clock or SystemClock()
        self.log_level = log_level
        self.template = Template.load()
        self.table_names: dict[str, str] = {}
        self.function_names: dict[str, str] = {}
        self.state_machine_arns: dict[str, str] = {}
        self.log_group_names: dict[str, str] = {}  # the Express fast path's (oms/local/express.py)
        self.secret_arns: dict[str, str] = {}
        self.api_function = ""
        self.gateway: Gateway | None = None
        self._mock: Any = None
        # Payment timers and other schedules (oms/local/scheduler.py fires them on self.clock)
        self.schedule_groups: dict[str, str] = {}
        self.role_arns: dict[str, str] = {}
        self.scheduler: LocalScheduler | None = None
        # Streams, queues and event buses (oms/local/event_sources.py delivers their events)
        self.queue_urls: dict[str, str] = {}
        self.queue_arns: dict[str, str] = {}
        self.bus_names: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}
        self.event_sources: LocalEventSources | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> LocalStack:
        os.environ.update(LOCAL_ENVIRONMENT)
        os.environ["POWERTOOLS_LOG_LEVEL"] = self.log_level
        from moto import mock_aws

        from oms.local import moto_patches

        moto_patches.install()
        express.install()
        express.USAGE.clear()
        from oms.local import metrics as local_metrics

        self.metrics = local_metrics.install()  # Powertools' EMF output -> in-memory collector
        self.metrics.clear()
        self.runtime = moto_patches.RUNTIME
        self.runtime.clock = self.clock
        self.runtime.handlers.clear()
        self.runtime.serialised.clear()
        self.runtime.before_invoke = None
        self.runtime.before_dynamodb = None
        self.runtime.after_dynamodb = None
        self.runtime.dynamodb_log = None
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        import boto3

        self.session = boto3.session.Session(region_name=REGION)
        self.dynamodb = self.session.client("dynamodb")
        self.sfn = self.session.client("stepfunctions")
        self._create_tables()
        self._create_secrets()
        self._create_queues_and_buses()
        self._create_roles_and_schedule_groups()
        self._create_functions()
        self._create_state_machines()
        self._configure_functions()
        self.gateway = Gateway(self.template, self.api_function, REGION, ACCOUNT)
        self._create_timers()
        self.scheduler = LocalScheduler(
            self.session,
            self.clock,
            self.runtime.invoke,
            lambda: set(self.runtime.handlers),
            REGION,
            ACCOUNT,
        ).start()
        self.event_sources = LocalEventSources(
            self.session,
            self.template,
            self._resolver(),
            self.clock,
            self.runtime.invoke,
            lambda: set(self.runtime.handlers),
            REGION,
            ACCOUNT,
            quiet=lambda: (
                self.runtime.in_flight == 0 and time.monotonic() - self.runtime.last_engine_activity > 0.03
            ),
        ).start()
        return self

    def stop(self) -> None:
        if self.event_sources is not None:
            self.event_sources.stop()
            self.event_sources = None
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ resources from template.yaml

    def _resolver(self) -> Resolver:
        refs = {
            **self.table_names,
            **self.function_names,
            **self.state_machine_arns,
            **self.secret_arns,
            **self.schedule_groups,
            **{lid: arn.rsplit("/", 1)[-1] for lid, arn in self.role_arns.items()},
            **self.queue_urls,
            **self.bus_names,
            **self.log_group_names,
        }
        arns = {
            **{
                lid: f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
                for lid, name in self.table_names.items()
            },
            **{
                lid: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
                for lid, name in self.function_names.items()
            },
            **self.state_machine_arns,
            **self.role_arns,
            **self.queue_arns,
            **{
                lid: f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"
                for lid, name in self.bus_names.items()
            },
        }
        return Resolver(self.template, refs, arns, REGION, ACCOUNT, self.attributes)

    def _create_tables(self) -> None:
        for logical_id, resource in self.template.resources("AWS::DynamoDB::Table").items():
            props = resource["Properties"]
            name = props.get("TableName", logical_id)
            kwargs: dict[str, Any] = {
                "TableName": name,
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
                "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
            }
            if props.get("GlobalSecondaryIndexes"):
                kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            if props.get("StreamSpecification"):
                kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
            created = self.dynamodb.create_table(**kwargs)["TableDescription"]
            self.table_names[logical_id] = name
            if created.get("LatestStreamArn"):
                self.attributes[(logical_id, "StreamArn")] = created["LatestStreamArn"]

    def _create_queues_and_buses(self) -> None:
        """SQS queues (dead-letter queues first, for the redrive policies) and EventBridge buses."""
        events = self.session.client("events")
        for logical_id, resource in self.template.resources("AWS::Events::EventBus").items():
            name = str(self._resolver().resolve(resource["Properties"]["Name"]))
            events.create_event_bus(Name=name)
            self.bus_names[logical_id] = name
            self.attributes[(logical_id, "Name")] = name
        sqs = self.session.client("sqs")
        queues = self.template.resources("AWS::SQS::Queue")
        pending = dict(queues)
        while pending:
            progressed = False
            for logical_id, resource in list(pending.items()):
                props = dict(resource.get("Properties", {}))
                redrive = props.get("RedrivePolicy")
                target = (redrive or {}).get("deadLetterTargetArn", {})
                needs = target.get("Fn::GetAtt", [None])[0] if isinstance(target, dict) else None
                if needs in pending:
                    continue
                attributes: dict[str, str] = {
                    key: str(props[key])
                    for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
                    if key in props
                }
                if redrive:
                    attributes["RedrivePolicy"] = json.dumps(self._resolver().resolve(redrive))
                name = props.get("QueueName", f"oms-local-{logical_id}")
                url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
                arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
                self.queue_urls[logical_id], self.queue_arns[logical_id] = url, arn
                self.attributes[(logical_id, "QueueName")] = name
                self.attributes[(logical_id, "QueueUrl")] = url
                del pending[logical_id]
                progressed = True
            if not progressed:
                raise RuntimeError(f"template.yaml: queues redrive to each other: {sorted(pending)}")

    def _create_secrets(self) -> None:
        """Secrets Manager secrets with a fixed local value (GenerateStringKey = LOCAL_SIGNING_KEY)."""
        client = self.session.client("secretsmanager")
        for logical_id, resource in self.template.resources("AWS::SecretsManager::Secret").items():
            generate = resource["Properties"].get("GenerateSecretString", {})
            document = json.loads(generate.get("SecretStringTemplate", "{}"))
            if "GenerateStringKey" in generate:
                document[generate["GenerateStringKey"]] = LOCAL_SIGNING_KEY
            created = client.create_secret(Name=f"oms-local/{logical_id}", SecretString=json.dumps(document))
            self.secret_arns[logical_id] = created["ARN"]

    def _create_roles_and_schedule_groups(self) -> None:
        """IAM roles (for their ARNs: Scheduler targets name the role they run as) and schedule groups."""
        iam = self.session.client("iam")
        for logical_id, resource in self.template.resources("AWS::IAM::Role").items():
            document = resource.get("Properties", {}).get("AssumeRolePolicyDocument", {})
            role = iam.create_role(
                RoleName=logical_id, AssumeRolePolicyDocument=json.dumps(_without_intrinsics(document))
            )
            self.role_arns[logical_id] = role["Role"]["Arn"]
        scheduler = self.session.client("scheduler")
        for logical_id, resource in self.template.resources("AWS::Scheduler::ScheduleGroup").items():
            name = resource.get("Properties", {}).get("Name", logical_id)
            scheduler.create_schedule_group(Name=name)
            self.schedule_groups[logical_id] = name

    def _create_timers(self) -> None:
        """Schedules and scheduled rules declared in template.yaml (SAM Schedule/ScheduleV2 events too)."""
        resolver = self._resolver()
        events = self.session.client("events")
        for rule in scheduled_rules(self.template):
            events.put_rule(
                Name=rule.name,
                ScheduleExpression=rule.expression,
                State="ENABLED" if rule.enabled else "DISABLED",
            )
            targets: list[Any] = []
            for target in rule.targets:
                resolved = {"Id": target["Id"], "Arn": resolver.resolve(target["Arn"])}
                if target.get("Input") is not None:
                    resolved["Input"] = resolver.resolve(target["Input"])
                targets.append(resolved)
            if targets:
                events.put_targets(Rule=rule.name, Targets=targets)
        scheduler = self.session.client("scheduler")
        for spec in schedules(self.template):
            props = resolver.resolve(spec.properties)
            schedule_target: Any = {
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/oms-local-scheduler",
                **props.pop("Target"),
            }
            scheduler.create_schedule(
                Name=spec.name,
                FlexibleTimeWindow=props.pop("FlexibleTimeWindow", {"Mode": "OFF"}),
                Target=schedule_target,
                **props,
            )

    def _create_functions(self) -> None:
        iam = self.session.client("iam")
        role = iam.create_role(RoleName="oms-local-lambda", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lambda_client = self.session.client("lambda")
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("README.txt", "handlers run in-process; see oms/local/moto_patches.py")
        for spec in self.template.functions():
            lambda_client.create_function(
                FunctionName=spec.logical_id,
                Runtime="python3.12",
                Role=role,
                Handler=spec.handler,
                Code={"ZipFile": code.getvalue()},
                MemorySize=spec.memory_mb,
                Timeout=spec.timeout_s,
            )
            self.function_names[spec.logical_id] = spec.logical_id

    def _create_state_machines(self) -> None:
        role = f"arn:aws:iam::{ACCOUNT}:role/oms-local-states"
        machines = self.template.state_machines()
        for logical_id in express.creation_order(machines):
            definition, substitutions = machines[logical_id]
            text = json.dumps(definition)
            for key, value in substitutions.items():
                text = text.replace(f"${{{key}}}", self._resolver().resolve(value))
            self.state_machine_arns[logical_id] = express.create_state_machine(self, logical_id, text, role)

    def _configure_functions(self) -> None:
        """One process hosts every function, so their environments are merged once, at start-up."""
        resolver = self._resolver()
        merged: dict[str, str] = {}
        specs = self.template.functions()
        for spec in specs:
            for key, value in spec.environment.items():
                resolved = str(resolver.resolve(value))
                if merged.get(key, resolved) != resolved:
                    raise RuntimeError(f"functions disagree on {key}; the local stack shares one environment")
                merged[key] = resolved
        merged["POWERTOOLS_LOG_LEVEL"] = self.log_level
        os.environ.update(merged)

        from functions.core import aws, clock, settings

        settings.clear_settings_cache()
        aws.reset_clients()
        clock.use_clock(self.clock.now)
        from oms.local.moto_patches import LambdaContext

        for spec in specs:
            module_name, attribute = spec.handler.rsplit(".", 1)
            handler = getattr(importlib.import_module(module_name), attribute)
            context = LambdaContext(
                spec.logical_id,
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{spec.logical_id}",
                spec.memory_mb,
                spec.timeout_s,
                "",
            )
            self.runtime.handlers[spec.logical_id] = (handler, context)
            if any(e.get("Type") == "Api" for e in self._events(spec.logical_id)):
                self.api_function = spec.logical_id
                # The Powertools resolver keeps the current request on the app object.
                self.runtime.serialised[spec.logical_id] = threading.Lock()

    def _events(self, logical_id: str) -> list[dict[str, Any]]:
        props = self.template.raw["Resources"][logical_id]["Properties"]
        return list(props.get("Events", {}).values())

    @property
    def order_state_machine_arn(self) -> str:
        """The machine every order starts on: the Express fast path (ADR 0001)."""
        return self.state_machine_arns["ExpressOrderStateMachine"]

    # ------------------------------------------------------------ API Gateway, without Docker

    def request(
        self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> HttpResponse:
        """Turn an HTTP request into an API Gateway (REST, proxy) event and run the API function."""
        parts = urlsplit(url)
        raw_body = body if isinstance(body, str) or body is None else json.dumps(body)
        query: dict[str, list[str]] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):  # decoded, as API Gateway does
            query.setdefault(key, []).append(value)
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        request_id = self.runtime.next_request_id()
        event: dict[str, Any] = {
            "resource": parts.path,
            "path": parts.path,
            "httpMethod": method.upper(),
            "headers": all_headers,
            "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "requestId": request_id,
                "stage": "v1",
                "httpMethod": method.upper(),
                "path": f"/v1{parts.path}",
                "resourcePath": parts.path,
                "identity": {"sourceIp": "127.0.0.1"},
                "accountId": ACCOUNT,
                "apiId": "local",
            },
            "body": raw_body,
            "isBase64Encoded": False,
        }
        if self.gateway is not None:  # API Gateway runs the Lambda authorizer first
            decision = self.gateway.authorize(self.runtime.invoke, event)
            if decision.context is None and decision.status != 200:
                headers = {"Content-Type": "application/json", **decision.headers}
                return HttpResponse(decision.status, headers, decision.body)
            if decision.context is not None:
                event["requestContext"]["authorizer"] = decision.context
        response = self.runtime.invoke(self.api_function, event)
        headers = {k: str(v) for k, v in (response.get("headers") or {}).items()}
        for key, values in (response.get("multiValueHeaders") or {}).items():
            if values:  # API Gateway merges both header maps into the HTTP response
                headers[key] = ", ".join(str(v) for v in values)
        return HttpResponse(
            status=int(response["statusCode"]), headers=headers, body=response.get("body") or ""
        )

    # ------------------------------------------------------------ executions

    def describe_execution(self, execution_arn: str) -> dict[str, Any]:
        """The order's current execution: its waiting one once the fast path handed it over."""
        return express.describe(self, execution_arn)

    def wait_for_execution(self, execution_arn: str, timeout: float = WAIT_BOUND_SECONDS) -> dict[str, Any]:
        """Poll until the execution ends; on a virtual clock, jump to the next timer when all is idle.

        Timers include the local scheduler's next due schedule or rule, so an execution waiting for a
        pay deadline (or any other schedule) gets there in virtual time.
        """
        try:
            self.run_until(lambda: self.execution_status(execution_arn) not in RUNNING, timeout=timeout)
            waiting = express.waiting_execution(self, execution_arn)  # the order waits on: follow it
            if waiting is not None:
                execution_arn = waiting
                self.run_until(lambda: self.execution_status(waiting) not in RUNNING, timeout=timeout)
        except TimeoutError:
            status = self.execution_status(execution_arn)
            raise TimeoutError(f"{execution_arn} still {status} after {timeout}s") from None
        return self.describe_execution(execution_arn)

    def execution_status(self, execution_arn: str) -> str:
        """The execution's status read from the engine itself: polling it through the API (a boto3
        request, moto's response serialisation) cost a tenth of the local stack's CPU."""
        from moto.stepfunctions.responses import get_backend

        return str(get_backend(ACCOUNT, REGION).describe_execution(execution_arn).status)

    def run_until(
        self, predicate: Callable[[], bool], timeout: float = WAIT_BOUND_SECONDS, *, advance: bool = True
    ) -> None:
        """Poll `predicate` until true. On a virtual clock with `advance`, whenever nothing is running
        (no handler in flight, no schedule due) jump to the next timer: a sleeping Wait or Retry, or
        the next due schedule/rule, which the scheduler then fires."""
        deadline = time.monotonic() + timeout
        idle_polls = 0
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not reached after {timeout}s")
            idle_polls = idle_polls + 1 if self.is_idle() else 0
            if advance and isinstance(self.clock, VirtualClock) and idle_polls >= 3:
                upcoming = self.next_timer()
                if upcoming is not None:
                    self.clock.advance_to(upcoming)
                idle_polls = 0
            # Idle must last ~30 ms before time jumps: the engine moving between states runs no
            # handler, and on a loaded machine that gap alone can outlast a few 1 ms polls.
            time.sleep(0.01 if idle_polls else 0.005)

    def next_timer(self) -> datetime | None:
        """The earliest of: a sleeping Wait/Retry, the next due schedule or rule (whether or not the
        scheduler thread has gone back to sleep on it yet)."""
        candidates = [self.clock.next_timer() if isinstance(self.clock, VirtualClock) else None]
        if self.scheduler is not None:
            candidates.append(self.scheduler.next_due())
        if self.event_sources is not None:
            candidates.append(self.event_sources.next_due())
        found = [c for c in candidates if c is not None]
        return min(found) if found else None

    def is_idle(self, quiet_seconds: float = 0.01) -> bool:
        """No Lambda handler running, no execution event for `quiet_seconds`, no sleeper woken and not
        yet resumed (a Wait that just ended, a task whose callback came), no schedule due unfired."""
        return (
            self.runtime.in_flight == 0
            and time.monotonic() - self.runtime.last_engine_activity > quiet_seconds
            and not (isinstance(self.clock, VirtualClock) and self.clock.waking())
            and (self.scheduler is None or self.scheduler.is_idle())
            and (self.event_sources is None or self.event_sources.is_idle())
        )

    def advance(self, seconds: float, timeout: float = WAIT_BOUND_SECONDS) -> None:
        """Move a virtual clock forward by `seconds`, stopping at every timer on the way (due schedules
        fire at their own time, in order) and letting what they start settle."""
        if not isinstance(self.clock, VirtualClock):
            raise TypeError("advance() needs the stack to run on a VirtualClock")
        target = self.clock.now() + timedelta(seconds=seconds)
        deadline = time.monotonic() + timeout
        while True:
            self.settle(timeout=max(0.1, deadline - time.monotonic()))
            upcoming = self.next_timer()
            if upcoming is None or upcoming > target:
                break
            self.clock.advance_to(upcoming)
            if time.monotonic() > deadline:
                raise TimeoutError(f"advance({seconds}) did not finish in {timeout}s")
        self.clock.advance_to(target)
        self.settle(timeout=max(0.1, deadline - time.monotonic()))

    def settle(self, timeout: float = WAIT_BOUND_SECONDS) -> None:
        """Wait (wall time) until nothing runs: handlers finished, due schedules fired."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 3:
            quiet = quiet + 1 if self.is_idle() else 0
            if time.monotonic() > deadline:
                raise TimeoutError(f"the local stack did not settle in {timeout}s")
            time.sleep(0.001 if quiet else 0.005)

    def execution_history(self, execution_arn: str) -> list[dict[str, Any]]:
        """The order's path: the fast path's events (its log records), then the waiting execution's."""
        return express.history(self, execution_arn)

    def _standard_history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = self.sfn.get_execution_history(**kwargs)
            events += [dict(e) for e in page["events"]]
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    # ------------------------------------------------------------ counters

    def drain(self, timeout: float = WAIT_BOUND_SECONDS) -> None:
        """Wait until no handler runs (timers fired by the scheduler finish their invocation), including
        a timer due at this very moment that the scheduler has not started yet (see `settle`)."""
        self.settle(timeout)

    def counters(self) -> dict[str, Counter[str]]:
        return {
            "dynamodb": Counter(self.runtime.dynamodb_requests),
            "lambda": Counter(self.runtime.lambda_invocations),
        }


@contextmanager
def local_stack(clock: Clock | None = None, log_level: str = "WARNING") -> Iterator[LocalStack]:
    stack = LocalStack(clock=clock, log_level=log_level).start()
    try:
        yield stack
    finally:
        stack.stop()


def _without_intrinsics(value: Any) -> Any:
    """A policy document with CloudFormation intrinsics replaced by "*" (moto only stores it)."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in {"Ref"} | {k for k in value if k.startswith("Fn::")}:
            return "*"
        return {k: _without_intrinsics(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_intrinsics(v) for v in value]
    return value

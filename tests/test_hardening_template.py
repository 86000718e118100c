"""template.yaml and the state machines, read as an architect would before deploying to a real account.

Every log group expires, every function ends before whoever waits on it gives up, every queue has a
dead-letter queue and both have alarms, every wait and loop of a state machine is bounded, and the
security properties docs/security.md promises hold in the template itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from oms.local.template import Template

ROOT = Path(__file__).resolve().parents[1]
API_GATEWAY_TIMEOUT_SECONDS = 29
HISTORY_LIMIT = 25_000  # events in one Standard execution's history


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load()


def _props(resource: dict[str, Any]) -> dict[str, Any]:
    return dict(resource.get("Properties") or {})


def _function_props(template: Template, logical_id: str) -> dict[str, Any]:
    defaults = template.raw.get("Globals", {}).get("Function", {})
    return {**defaults, **_props(template.raw["Resources"][logical_id])}


def _refs(value: Any) -> set[str]:
    """Logical ids a value names through !Ref, !GetAtt or ${...} of !Sub."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value:
            found.add(str(value["Ref"]))
        if "Fn::GetAtt" in value:
            found.add(str(value["Fn::GetAtt"][0]))
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
        for item in value.values():
            found |= _refs(item)
    elif isinstance(value, list):
        for item in value:
            found |= _refs(item)
    return found


def _alarms(template: Template) -> list[dict[str, Any]]:
    return [_props(a) for a in template.resources("AWS::CloudWatch::Alarm").values()]


# ---------------------------------------------------------------- logs


def test_every_log_group_has_retention(template):
    groups = template.resources("AWS::Logs::LogGroup")
    assert groups
    for name, group in groups.items():
        assert _props(group).get("RetentionInDays"), f"{name} never expires"


def test_every_function_logs_to_a_group_of_the_template(template):
    """Otherwise Lambda creates /aws/lambda/<name> itself, without retention."""
    groups = template.resources("AWS::Logs::LogGroup")
    for name in template.resources("AWS::Serverless::Function"):
        target = (_function_props(template, name).get("LoggingConfig") or {}).get("LogGroup")
        assert isinstance(target, dict), f"{name} has no log group"
        assert target.get("Ref") in groups, f"{name} logs to {target}"


def test_state_machine_logs_use_the_vendedlogs_prefix(template):
    groups = template.resources("AWS::Logs::LogGroup")
    for name, machine in template.resources("AWS::Serverless::StateMachine").items():
        for destination in _props(machine)["Logging"]["Destinations"]:
            (group,) = _refs(destination)
            log_group_name = _props(groups[group])["LogGroupName"]["Fn::Sub"]
            assert log_group_name.startswith("/aws/vendedlogs/"), name


# ---------------------------------------------------------------- timeouts


def _api_functions(template: Template) -> list[str]:
    return [
        name
        for name, fn in template.resources("AWS::Serverless::Function").items()
        if any(e.get("Type") == "Api" for e in (_props(fn).get("Events") or {}).values())
    ]


def test_api_functions_end_before_api_gateway_gives_up(template):
    api = _api_functions(template)
    assert api == ["ApiFunction"]
    for name in [*api, "AuthorizerFunction"]:
        assert int(_function_props(template, name)["Timeout"]) < API_GATEWAY_TIMEOUT_SECONDS, name


def _tasks(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for name, state in states.items():
        if state["Type"] == "Task":
            found[name] = state
        for branch in state.get("Branches", []):
            found |= _tasks(branch["States"])
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            found |= _tasks(processor["States"])
    return found


def _machines(template: Template) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    return template.state_machines()


def test_every_task_is_bounded_and_outlives_its_function(template):
    """A task without a timeout can wait a year; one shorter than its function cuts a running stage."""
    for machine, (definition, substitutions) in _machines(template).items():
        for name, task in _tasks(definition["States"]).items():
            bound = task.get("TimeoutSeconds")
            assert bound or task.get("TimeoutSecondsPath"), f"{machine}.{name} may wait forever"
            placeholder = re.fullmatch(r"\$\{(\w+)\}", str(task.get("Parameters", {}).get("FunctionName")))
            if placeholder is None or bound is None:
                continue
            (function,) = _refs(substitutions[placeholder.group(1)])
            timeout = int(_function_props(template, function)["Timeout"])
            assert timeout < int(bound), f"{machine}.{name}: {function} runs {timeout} s, task waits {bound}"


def test_queue_consumers_end_before_their_messages_reappear(template):
    queues = template.resources("AWS::SQS::Queue")
    for name, fn in template.resources("AWS::Serverless::Function").items():
        for event in (_props(fn).get("Events") or {}).values():
            if event.get("Type") != "SQS":
                continue
            (queue,) = _refs(event["Properties"]["Queue"])
            visibility = int(_props(queues[queue]).get("VisibilityTimeout", 30))
            assert int(_function_props(template, name)["Timeout"]) < visibility, name


# ---------------------------------------------------------------- queues


def _dead_letter_targets(template: Template) -> set[str]:
    """Queues something gives up to: redrive policies, failure destinations, rule DLQs."""
    targets: set[str] = set()
    for queue in template.resources("AWS::SQS::Queue").values():
        targets |= _refs(_props(queue).get("RedrivePolicy") or {})
    for fn in template.resources("AWS::Serverless::Function").values():
        props = _props(fn)
        targets |= _refs(props.get("EventInvokeConfig") or {})
        targets |= _refs(props.get("DeadLetterQueue") or {})  # an async invocation's DLQ
        for event in (props.get("Events") or {}).values():
            event_props = event.get("Properties") or {}
            targets |= _refs(event_props.get("DestinationConfig") or {})
            targets |= _refs(event_props.get("DeadLetterConfig") or {})
    return targets & set(template.resources("AWS::SQS::Queue"))


def _alarmed_queues(template: Template, metric: str) -> set[str]:
    return {
        ref
        for alarm in _alarms(template)
        if alarm.get("Namespace") == "AWS/SQS" and alarm.get("MetricName") == metric
        for ref in _refs(alarm["Dimensions"])
    }


def test_every_queue_has_a_dead_letter_queue_and_every_one_an_alarm(template):
    dead_letters = _dead_letter_targets(template)
    on_depth = _alarmed_queues(template, "ApproximateNumberOfMessagesVisible")
    on_age = _alarmed_queues(template, "ApproximateAgeOfOldestMessage")
    for name, queue in template.resources("AWS::SQS::Queue").items():
        if name in dead_letters:
            assert name in on_depth, f"dead-letter queue {name} has no alarm"
            continue
        assert _props(queue).get("RedrivePolicy"), f"{name} has no dead-letter queue"
        assert name in on_age, f"{name}: nothing alarms when its messages wait"


def test_the_function_that_compensates_stopped_orders_has_a_failure_destination(template):
    props = _props(template.raw["Resources"]["ExecutionStoppedFunction"])
    destination = props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert _refs(destination) == {"ExecutionStoppedDLQ"}
    assert "ExecutionStoppedDLQ" in _alarmed_queues(template, "ApproximateNumberOfMessagesVisible")


# ---------------------------------------------------------------- alarms


def test_api_errors_latency_and_stream_lag_are_alarmed(template):
    watched = {(a.get("Namespace"), a.get("MetricName")) for a in _alarms(template)}
    for metric in ("4XXError", "5XXError", "Latency"):
        assert ("AWS/ApiGateway", metric) in watched, metric
    lagging = {
        ref
        for a in _alarms(template)
        if a.get("MetricName") == "IteratorAge"
        for ref in _refs(a["Dimensions"])
    }
    stream_consumers = {
        name
        for name, fn in template.resources("AWS::Serverless::Function").items()
        if any(e.get("Type") == "DynamoDB" for e in (_props(fn).get("Events") or {}).values())
    }
    assert stream_consumers
    assert stream_consumers <= lagging


# ---------------------------------------------------------------- security properties


def test_the_api_function_keeps_responses_out_of_xray(template):
    env = _function_props(template, "ApiFunction")["Environment"]["Variables"]
    merged = {**template.raw["Globals"]["Function"]["Environment"]["Variables"], **env}
    assert merged["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert merged["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"


def _statements(template: Template, logical_id: str) -> list[dict[str, Any]]:
    found = []
    for policy in _props(template.raw["Resources"][logical_id]).get("Policies") or []:
        if isinstance(policy, dict):
            found.extend(policy.get("Statement") or [])
    return found


def test_task_token_grants_name_the_state_machines(template):
    granted = 0
    for name in template.resources("AWS::Serverless::Function"):
        for statement in _statements(template, name):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("states:SendTask") for a in actions):
                granted += 1
                resources = statement["Resource"]
                resources = resources if isinstance(resources, list) else [resources]
                assert "*" not in resources, name
                for resource in resources:
                    text = json.dumps(resource)
                    assert ":stateMachine:" in text or "StateMachine" in text, (name, resource)
    assert granted >= 5


def test_the_webhook_function_cannot_read_the_master_key(template):
    props = _function_props(template, "WebhookDeliveryFunction")
    assert "AUTH_SECRET_ARN" not in props["Environment"]["Variables"]
    assert "AuthSecret" not in _refs(props["Policies"])
    assert "WebhookSigningSecret" in _refs(props["Policies"])


def test_queues_of_order_events_use_the_customer_key(template):
    for name in ("WebhookQueue", "WebhookDLQ"):
        assert _refs(_props(template.raw["Resources"][name])["KmsMasterKeyId"]) == {"DataKey"}, name


def test_names_shared_across_an_account_carry_stack_environment_and_region(template):
    name = _props(template.raw["Resources"]["OmsDashboard"])["DashboardName"]["Fn::Sub"]
    assert {"AWS::StackName", "Environment", "AWS::Region"} <= set(re.findall(r"\$\{([^}]+)\}", name))
    assert template.raw["Parameters"]["Environment"]["AllowedValues"] == ["dev", "prod"]


def test_workflow_functions_reserve_concurrency_and_the_api_is_capped(template):
    functions = set(template.resources("AWS::Serverless::Function"))
    invoked = {  # the fast path also names the waiting workflow it starts: functions only
        ref
        for _, substitutions in _machines(template).values()
        for ref in _refs(list(substitutions.values()))
        if ref in functions
    }
    assert invoked
    for name in invoked | {"ApiFunction", "ExecutionStoppedFunction"}:
        assert "ReservedConcurrentExecutions" in _function_props(template, name), name


def test_the_waf_limits_each_platform_and_can_be_attached_by_parameter(template):
    acl = _props(template.raw["Resources"]["OmsWebAcl"])
    keys = [
        rule["Statement"]["RateBasedStatement"].get("CustomKeys")
        for rule in acl["Rules"]
        if "RateBasedStatement" in rule["Statement"]
    ]
    headers = [k["Header"]["Name"] for key in keys if key for k in key if "Header" in k]
    assert headers == ["x-oms-platform"]
    association = template.raw["Resources"]["OmsWebAclAssociation"]
    assert association["Condition"] == "AttachWebAcl"
    assert "WebAcl" in _refs(_props(association)["WebACLArn"])


# ---------------------------------------------------------------- loops


def _graph(states: dict[str, Any]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for name, state in states.items():
        targets = {state.get("Next"), state.get("Default")}
        targets |= {c.get("Next") for c in state.get("Choices", [])}
        targets |= {c.get("Next") for c in state.get("Catch", [])}
        edges[name] = {t for t in targets if t}
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every simple cycle (the graphs are small), each once, starting at its smallest name."""
    found: list[list[str]] = []

    def walk(start: str, node: str, path: list[str]) -> None:
        for target in sorted(edges.get(node, ())):
            if target == start:
                found.append(list(path))
            elif target > start and target not in path:
                walk(start, target, [*path, target])

    for start in sorted(edges):
        walk(start, start, [start])
    return found


def _events(state: dict[str, Any]) -> int:
    """History events one pass through a state adds (a Task: entered, scheduled, started, ended, exited)."""
    return 5 if state["Type"] == "Task" else 2


def test_every_polling_loop_stops_before_the_history_limit(template):
    """A loop through a Wait with no task token in it repeats by itself: it must count and stop."""
    checked = 0
    for machine, (definition, _) in _machines(template).items():
        states = definition["States"]
        for cycle in _cycles(_graph(states)):
            kinds = [states[s] for s in cycle]
            if not any(s["Type"] == "Wait" for s in kinds):
                continue
            if any("waitForTaskToken" in str(s.get("Resource", "")) for s in kinds):
                continue  # a person or a timer resumes it, within the task's timeout
            budgets = [
                choice["NumericGreaterThan"]
                for s in kinds
                if s["Type"] == "Choice"
                for choice in s.get("Choices", [])
                if "NumericGreaterThan" in choice and states[choice["Next"]]["Type"] == "Fail"
            ]
            counted = any("States.MathAdd" in json.dumps(s.get("Parameters", {})) for s in kinds)
            assert budgets, f"{machine}: {' -> '.join(cycle)} loops without a bound"
            assert counted, f"{machine}: {' -> '.join(cycle)} never counts its loops"
            per_loop = sum(_events(s) for s in kinds)
            assert min(budgets) * per_loop < HISTORY_LIMIT, f"{machine}: {min(budgets)} x {per_loop} events"
            checked += 1
    assert checked >= 1  # the after-sales Poll loop

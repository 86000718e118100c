"""Read template.yaml, the one source of truth for what exists, and resolve it for the local stack."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, !GetAtt ...) turned into their long form."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


@lru_cache(maxsize=4)
def _parsed(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    return loaded


@dataclass
class FunctionSpec:
    logical_id: str
    handler: str
    environment: dict[str, Any]
    memory_mb: int
    timeout_s: int


@dataclass
class Template:
    raw: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = TEMPLATE) -> Template:
        # Parsed once per version of the file (pure-Python YAML took about half of each stack's
        # start-up, and tests start one per module); each Template gets its own copy to change.
        stat = path.stat()
        raw = copy.deepcopy(_parsed(path, stat.st_mtime_ns, stat.st_size))
        params = {name: str(p.get("Default", "")) for name, p in raw.get("Parameters", {}).items()}
        return cls(raw=raw, parameters=params)

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.raw["Resources"].items() if v["Type"] == kind}

    def functions(self) -> list[FunctionSpec]:
        defaults = self.raw.get("Globals", {}).get("Function", {})
        specs = []
        for logical_id, resource in self.resources("AWS::Serverless::Function").items():
            props = {**defaults, **resource["Properties"]}
            env = {
                **defaults.get("Environment", {}).get("Variables", {}),
                **resource["Properties"].get("Environment", {}).get("Variables", {}),
            }
            specs.append(
                FunctionSpec(
                    logical_id=logical_id,
                    handler=props["Handler"],
                    environment=env,
                    memory_mb=int(props.get("MemorySize", 128)),
                    timeout_s=int(props.get("Timeout", 3)),
                )
            )
        return specs

    def state_machines(self) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        """logical id -> (ASL definition with ${...} still in it, DefinitionSubstitutions)."""
        machines = {}
        for logical_id, resource in self.resources("AWS::Serverless::StateMachine").items():
            props = resource["Properties"]
            definition = json.loads((ROOT / props["DefinitionUri"]).read_text())
            machines[logical_id] = (definition, props.get("DefinitionSubstitutions", {}))
        return machines


class Resolver:
    """Evaluates the intrinsics the template uses against the local stack's physical names."""

    def __init__(
        self,
        template: Template,
        refs: dict[str, str],
        arns: dict[str, str],
        region: str,
        account: str,
        attributes: dict[tuple[str, str], str] | None = None,
    ):
        self.template, self.refs, self.arns = template, refs, arns
        self.attributes = attributes or {}  # other !GetAtt values: (logical id, attribute) -> value
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "oms-local",
        }

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            return self._ref(value["Ref"])
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return self._get_att(logical_id, attribute)
        if "Fn::Sub" in value:
            return self._sub(value["Fn::Sub"])
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> str:
        for table in (self.pseudo, self.template.parameters, self.refs):
            if name in table:
                return table[name]
        raise KeyError(f"template.yaml: !Ref {name} names nothing the local stack knows")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        if (logical_id, attribute) in self.attributes:
            return self.attributes[(logical_id, attribute)]
        if attribute == "Arn" and logical_id in self.arns:
            return self.arns[logical_id]
        if attribute == "Name":
            return self._ref(logical_id).rsplit(":", 1)[-1]
        raise KeyError(f"template.yaml: !GetAtt {logical_id}.{attribute} is not available locally")

    def _sub(self, template: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self._get_att(logical_id, attribute)
            return self._ref(name)

        return re.sub(r"\$\{([^}!]+)\}", replace, template)


@dataclass
class RuleSpec:
    """An EventBridge rule on a schedule: AWS::Events::Rule, or a SAM `Schedule` event of a function."""

    name: str
    expression: str
    enabled: bool
    targets: list[dict[str, Any]]  # Id, Arn (unresolved intrinsic), Input


@dataclass
class ScheduleSpec:
    """An EventBridge Scheduler schedule: AWS::Scheduler::Schedule, or a SAM `ScheduleV2` event."""

    name: str
    properties: dict[str, Any]  # as CreateSchedule takes them, intrinsics unresolved


def scheduled_rules(template: Template) -> list[RuleSpec]:
    rules: list[RuleSpec] = []
    for logical_id, resource in template.resources("AWS::Events::Rule").items():
        props = resource["Properties"]
        if "ScheduleExpression" not in props:
            continue  # event-pattern rules are not timers
        rules.append(
            RuleSpec(
                name=props.get("Name", logical_id),
                expression=props["ScheduleExpression"],
                enabled=props.get("State", "ENABLED") == "ENABLED",
                targets=[
                    {"Id": t["Id"], "Arn": t["Arn"], "Input": t.get("Input")}
                    for t in props.get("Targets", [])
                ],
            )
        )
    for function_id, event_id, props in _function_events(template, "Schedule"):
        state = props.get("State", "ENABLED" if props.get("Enabled", True) else "DISABLED")
        rules.append(
            RuleSpec(
                name=props.get("Name", f"{function_id}{event_id}"),
                expression=props["Schedule"],
                enabled=state == "ENABLED",
                targets=[
                    {
                        "Id": f"{function_id}{event_id}LambdaTarget",
                        "Arn": {"Fn::GetAtt": [function_id, "Arn"]},
                    }
                    | ({"Input": props["Input"]} if "Input" in props else {})
                ],
            )
        )
    return rules


def schedules(template: Template) -> list[ScheduleSpec]:
    specs: list[ScheduleSpec] = []
    for logical_id, resource in template.resources("AWS::Scheduler::Schedule").items():
        props = dict(resource["Properties"])
        specs.append(ScheduleSpec(name=props.pop("Name", logical_id), properties=props))
    for function_id, event_id, props in _function_events(template, "ScheduleV2"):
        target: dict[str, Any] = {"Arn": {"Fn::GetAtt": [function_id, "Arn"]}}
        if "Input" in props:
            target["Input"] = props["Input"]
        properties: dict[str, Any] = {
            key: props[key]
            for key in (
                "ScheduleExpression",
                "ScheduleExpressionTimezone",
                "GroupName",
                "State",
                "StartDate",
                "EndDate",
                "FlexibleTimeWindow",
            )
            if key in props
        }
        properties["Target"] = target
        specs.append(ScheduleSpec(name=props.get("Name", f"{function_id}{event_id}"), properties=properties))
    return specs


def _function_events(template: Template, kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for function_id, resource in template.resources("AWS::Serverless::Function").items():
        for event_id, event in resource["Properties"].get("Events", {}).items():
            if event.get("Type") == kind:
                found.append((function_id, event_id, dict(event.get("Properties", {}))))
    return found


# ---------------------------------------------------------------- event sources (oms/local/event_sources.py)


@dataclass
class StreamSourceSpec:
    """A function's `Type: DynamoDB` event: an event source mapping on a table's stream."""

    function: str
    name: str
    stream: Any  # the unresolved !GetAtt <Table>.StreamArn
    batch_size: int
    filters: list[str]  # FilterCriteria patterns (JSON text); a record passes if any matches
    maximum_retry_attempts: int
    bisect_on_error: bool
    report_item_failures: bool
    on_failure: Any  # the unresolved destination ARN (SQS), or None
    enabled: bool


@dataclass
class SqsSourceSpec:
    """A function's `Type: SQS` event: an event source mapping on a queue."""

    function: str
    name: str
    queue: Any  # the unresolved queue ARN
    batch_size: int
    report_item_failures: bool
    enabled: bool


@dataclass
class PatternRuleSpec:
    """An EventBridge rule with an event pattern: AWS::Events::Rule, or a SAM `EventBridgeRule` event."""

    name: str
    bus: Any  # unresolved bus name or ARN; None for the default bus
    pattern: dict[str, Any]  # intrinsics unresolved
    enabled: bool
    targets: list[dict[str, Any]]  # Id, Arn (unresolved), Input


def stream_sources(template: Template) -> list[StreamSourceSpec]:
    specs: list[StreamSourceSpec] = []
    for function_id, event_id, props in _function_events(template, "DynamoDB"):
        filters = [f["Pattern"] for f in (props.get("FilterCriteria") or {}).get("Filters", [])]
        destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        specs.append(
            StreamSourceSpec(
                function=function_id,
                name=f"{function_id}{event_id}",
                stream=props["Stream"],
                batch_size=int(props.get("BatchSize", 100)),
                filters=[p if isinstance(p, str) else json.dumps(p) for p in filters],
                maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
                report_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                on_failure=destination,
                enabled=bool(props.get("Enabled", True)),
            )
        )
    return specs


def sqs_sources(template: Template) -> list[SqsSourceSpec]:
    return [
        SqsSourceSpec(
            function=function_id,
            name=f"{function_id}{event_id}",
            queue=props["Queue"],
            batch_size=int(props.get("BatchSize", 10)),
            report_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            enabled=bool(props.get("Enabled", True)),
        )
        for function_id, event_id, props in _function_events(template, "SQS")
    ]


def pattern_rules(template: Template) -> list[PatternRuleSpec]:
    rules: list[PatternRuleSpec] = []
    for logical_id, resource in template.resources("AWS::Events::Rule").items():
        props = resource["Properties"]
        if "EventPattern" not in props:
            continue  # timers: scheduled_rules
        pattern = props["EventPattern"]
        rules.append(
            PatternRuleSpec(
                name=props.get("Name", logical_id),
                bus=props.get("EventBusName"),
                pattern=json.loads(pattern) if isinstance(pattern, str) else pattern,
                enabled=props.get("State", "ENABLED") == "ENABLED",
                targets=[
                    {"Id": t["Id"], "Arn": t["Arn"], "Input": t.get("Input")}
                    for t in props.get("Targets", [])
                ],
            )
        )
    for function_id, event_id, props in _function_events(template, "EventBridgeRule"):
        rules.append(
            PatternRuleSpec(
                name=props.get("RuleName", f"{function_id}{event_id}"),
                bus=props.get("EventBusName"),
                pattern=props["Pattern"],
                enabled=props.get("State", "ENABLED") == "ENABLED",
                targets=[
                    {"Id": f"{function_id}{event_id}Target", "Arn": {"Fn::GetAtt": [function_id, "Arn"]}}
                    | ({"Input": props["Input"]} if "Input" in props else {})
                ],
            )
        )
    return rules

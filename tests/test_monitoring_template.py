"""template.yaml ships what on-call needs: alarms, their topic, tracing and the order dashboard."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.core.observability import NAMESPACE, MetricName
from oms.local.template import Template


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load()


def _alarms(template: Template) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template.resources("AWS::CloudWatch::Alarm").items()}


def _metric_stats(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """Every metric an alarm watches: its own, or those of its metric-math query."""
    if "MetricName" in alarm:
        return [
            {
                "Namespace": alarm["Namespace"],
                "MetricName": alarm["MetricName"],
                "Dimensions": alarm["Dimensions"],
            }
        ]
    return [q["MetricStat"]["Metric"] for q in alarm["Metrics"] if "MetricStat" in q]


def _watching(template: Template, namespace: str, metric: str) -> list[str]:
    return [
        name
        for name, alarm in _alarms(template).items()
        if any(m["Namespace"] == namespace and m["MetricName"] == metric for m in _metric_stats(alarm))
    ]


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"])
def test_every_state_machine_has_execution_alarms(template, metric):
    names = _watching(template, "AWS/States", metric)
    watched = [_alarms(template)[n]["Dimensions"][0]["Value"]["Ref"] for n in names]
    machines = set(template.resources("AWS::Serverless::StateMachine"))
    assert sorted(watched) == sorted(machines)
    assert sorted(machines) == ["AfterSalesStateMachine", "ExpressOrderStateMachine", "OrderStateMachine"]
    for name in names:
        alarm = _alarms(template)[name]
        assert alarm["Dimensions"][0]["Name"] == "StateMachineArn"
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["Threshold"] == 0


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_an_errors_and_a_throttles_alarm(template, metric):
    names = _watching(template, "AWS/Lambda", metric)
    watched = [_alarms(template)[n]["Dimensions"][0]["Value"]["Ref"] for n in names]
    functions = set(template.resources("AWS::Serverless::Function"))
    assert sorted(watched) == sorted(functions), f"add a {metric} alarm for {functions - set(watched)}"
    for name in names:
        alarm = _alarms(template)[name]
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["Threshold"] == 0


def test_dynamodb_throttle_alarm_watches_the_table_and_its_index(template):
    names = set(_watching(template, "AWS/DynamoDB", "ReadThrottleEvents"))
    names &= set(_watching(template, "AWS/DynamoDB", "WriteThrottleEvents"))
    (name,) = names
    dimensions = [m["Dimensions"] for m in _metric_stats(_alarms(template)[name])]
    assert all({"Name": "TableName", "Value": {"Ref": "OrdersTable"}} in d for d in dimensions)
    assert any({"Name": "GlobalSecondaryIndexName", "Value": "GSI1"} in d for d in dimensions)


def _scheduled_every_minutes(function: dict[str, Any]) -> list[int]:
    """The rate(...) schedules of a function, in minutes."""
    rates = []
    for event in function["Properties"].get("Events", {}).values():
        if event["Type"] == "Schedule":
            amount, unit = event["Properties"]["Schedule"].removeprefix("rate(").rstrip(")").split()
            rates.append(int(amount) * (60 if unit.startswith("hour") else 1))
    return rates


def test_every_sweep_has_a_silence_alarm(template):
    sweeps = {
        name: min(rates)
        for name, function in template.resources("AWS::Serverless::Function").items()
        if (rates := _scheduled_every_minutes(function))
    }
    assert len(sweeps) >= 4  # payment timeouts, hold escalation, delay check, return deadlines
    names = _watching(template, "AWS/Lambda", "Invocations")
    watched = {_alarms(template)[n]["Dimensions"][0]["Value"]["Ref"]: _alarms(template)[n] for n in names}
    assert set(watched) == set(sweeps), f"add a silence alarm for {set(sweeps) - set(watched)}"
    for function, every in sweeps.items():
        alarm = watched[function]
        assert alarm["ComparisonOperator"] == "LessThanThreshold"
        assert alarm["Threshold"] == 1
        # a window of a few runs: one late run is not a page, several missing ones are
        assert every * 60 <= alarm["Period"] <= every * 60 * 5
        assert alarm["EvaluationPeriods"] == 1
        assert alarm["TreatMissingData"] == "breaching"  # a sweep that never runs publishes nothing
        assert alarm["Dimensions"][0]["Name"] == "FunctionName"


def test_held_orders_over_sla_alarm_watches_the_catalogued_metric(template):
    (name,) = _watching(template, NAMESPACE, MetricName.HELD_ORDERS_OVER_SLA.value)
    alarm = _alarms(template)[name]
    service = template.raw["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    # Powertools adds the service dimension to every EMF metric; the alarm must name the same set.
    assert alarm["Dimensions"] == [{"Name": "service", "Value": service}]
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_every_alarm_notifies_the_encrypted_topic(template):
    alarms = _alarms(template)
    assert {
        "ExecutionsFailedAlarm",
        "ExecutionsTimedOutAlarm",
        "ExecutionsAbortedAlarm",
        "ReviewFunctionErrorsAlarm",
        "ReviewFunctionThrottlesAlarm",
        "DynamoDbThrottlesAlarm",
        "SweepNotRunningAlarm",
        "HeldOrdersOverSlaAlarm",
    } <= set(alarms)
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    topic = template.raw["Resources"]["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmsKey"}
    key_policy = template.raw["Resources"]["AlarmsKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(s["Principal"].get("Service") == "cloudwatch.amazonaws.com" for s in key_policy)
    subscription = template.raw["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


def test_tracing_is_on_for_functions_state_machine_and_api(template):
    assert template.raw["Globals"]["Function"]["Tracing"] == "Active"
    assert template.raw["Resources"]["OrderStateMachine"]["Properties"]["Tracing"] == {"Enabled": True}
    assert template.raw["Resources"]["OmsApi"]["Properties"]["TracingEnabled"] is True


def test_dashboard_shows_the_funnel_and_stage_latency(template):
    body = template.raw["Resources"]["OmsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    dashboard = json.loads(body)
    expressions = json.dumps(dashboard)
    funnel = dashboard["widgets"][0]["properties"]["metrics"]
    labels = [row[0]["label"] for row in funnel]
    assert labels[:4] == ["received", "approved", "allocated", "shipped"]
    assert {"held", "rejected", "cancelled"} <= set(labels)
    for metric in MetricName:
        if metric not in (
            MetricName.SHIPMENTS_DELAYED,
            MetricName.AFTERSALES_CASES_OPENED,
            MetricName.REFUNDS_ISSUED,
            MetricName.RESERVATIONS_REFUSED,
        ):
            assert metric.value in expressions, metric
    assert "'p50'" in expressions
    assert "'p95'" in expressions

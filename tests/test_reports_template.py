"""template.yaml declares the sales aggregator as docs/reports.md describes it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from oms.local.template import Template


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load()


def _function(template: Template) -> dict[str, Any]:
    return template.resources("AWS::Serverless::Function")["SalesAggregatorFunction"]["Properties"]


def test_the_table_streams_new_images(template):
    table = template.resources("AWS::DynamoDB::Table")["OrdersTable"]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}


def test_the_stream_consumer_retries_bisects_and_gives_up_to_a_queue(template):
    source = _function(template)["Events"]["SalesRecords"]
    assert source["Type"] == "DynamoDB"
    props = source["Properties"]
    assert props["Stream"] == {"Fn::GetAtt": ["OrdersTable", "StreamArn"]}
    assert props["BisectBatchOnFunctionError"] is True
    assert 0 < props["MaximumRetryAttempts"] <= 10
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["SalesAggregatorDLQ", "Arn"]
    }
    patterns = [json.loads(f["Pattern"]) for f in props["FilterCriteria"]["Filters"]]
    assert all(p["eventName"] == ["INSERT"] for p in patterns)
    images = [p["dynamodb"]["NewImage"] for p in patterns]
    assert {"sk": {"S": ["ORDER"]}}.items() <= images[0].items()
    assert images[1]["to_status"] == {"S": ["REJECTED", "CANCELLED", "FAILED"]}
    assert images[2]["type"] == {"S": ["order.refunded", "order.lines_changed"]}


def test_the_aggregator_writes_only_sales_items(template):
    statements = [s for p in _function(template)["Policies"] for s in p["Statement"]]
    writes = [s for s in statements if {"dynamodb:PutItem", "dynamodb:UpdateItem"} & set(s["Action"])]
    assert len(writes) == 1
    assert writes[0]["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["SALES#*", "SALESMARK#*"]}
    }
    assert not [s for s in statements if "dynamodb:DeleteItem" in s["Action"] or s["Action"] == "dynamodb:*"]


def test_iterator_age_and_dead_letter_alarms(template):
    alarms = {k: v["Properties"] for k, v in template.resources("AWS::CloudWatch::Alarm").items()}
    age = alarms["SalesAggregatorIteratorAgeAlarm"]
    assert (age["Namespace"], age["MetricName"], age["Statistic"]) == ("AWS/Lambda", "IteratorAge", "Maximum")
    assert age["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "SalesAggregatorFunction"}}]
    dlq = alarms["SalesAggregatorDLQAlarm"]
    assert dlq["MetricName"] == "ApproximateNumberOfMessagesVisible"

"""Stream records are matched against filter patterns on just the fields the patterns name."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.events.models import EventPattern

from oms.local.event_sources import _project, _shape_of
from oms.local.template import Template, stream_sources


def _record(event_name: str, image: dict[str, Any]) -> dict[str, Any]:
    keys = {k: image[k] for k in ("pk", "sk") if k in image}
    return {"eventName": event_name, "dynamodb": {"Keys": keys, "NewImage": image}, "awsRegion": "x"}


RECORDS = [
    _record("INSERT", {"pk": {"S": "ORDER#1"}, "sk": {"S": "EVT#0001"}, "type": {"S": "order.refunded"}}),
    _record(
        "INSERT",
        {
            "pk": {"S": "ORDER#1"},
            "sk": {"S": "EVT#0002"},
            "to_status": {"S": "CANCELLED"},
            "from_status": {"S": "ALLOCATED"},
            "detail": {"M": {"lines": {"L": [{"S": "x"}]}}},
        },
    ),
    _record("INSERT", {"pk": {"S": "ORDER#1"}, "sk": {"S": "EVT#0003"}, "to_status": {"S": "CANCELLED"}}),
    _record("INSERT", {"pk": {"S": "ORDER#2"}, "sk": {"S": "ORDER"}, "status": {"S": "NEW"}}),
    _record("MODIFY", {"pk": {"S": "ORDER#2"}, "sk": {"S": "ORDER"}}),
    _record("INSERT", {"pk": {"S": "SKU#A"}, "sk": {"S": "WH#1"}}),
    {"eventName": "INSERT", "dynamodb": {}},
]


def _template_patterns() -> list[list[dict[str, Any]]]:
    return [[json.loads(p) for p in spec.filters] for spec in stream_sources(Template.load()) if spec.filters]


@pytest.mark.parametrize("patterns", _template_patterns())
def test_matching_on_the_projection_is_matching_on_the_record(patterns):
    shape = _shape_of(patterns)
    assert shape is not None
    matchers = [EventPattern.load(json.dumps(p)) for p in patterns]
    outcomes = []
    for record in RECORDS:
        whole = any(m.matches_event(record) for m in matchers)
        assert any(m.matches_event(_project(record, shape)) for m in matchers) == whole
        outcomes.append(whole)
    assert True in outcomes  # the records exercise both answers for some patterns
    assert "NewImage" not in json.dumps(_shape_of([{"eventName": ["INSERT"]}]))


def test_projection_keeps_only_named_fields_and_whole_values_where_a_pattern_names_a_value():
    shape = _shape_of([{"a": {"b": ["x"]}}, {"a": {"c": {"d": ["y"]}}}, {"e": ["z"]}])
    assert shape == {"a": {"b": True, "c": {"d": True}}, "e": True}
    record = {"a": {"b": {"deep": 1}, "c": {"d": "y", "other": 2}, "f": 3}, "e": [1], "g": 4}
    assert _project(record, shape) == {"a": {"b": {"deep": 1}, "c": {"d": "y"}}, "e": [1]}


def test_a_pattern_with_or_is_matched_on_the_whole_record():
    assert _shape_of([{"$or": [{"a": ["x"]}, {"b": ["y"]}]}]) is None
    assert _project({"a": 1}, None) == {"a": 1}

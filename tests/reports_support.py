"""Deliver the table's stream records to SalesAggregatorFunction in tests.

Until the local runtime delivers DynamoDB stream records itself (the `events` work), the e2e tests of
the sales pre-aggregates read moto's stream and invoke the aggregator with each batch, as the Lambda
event source mapping does in AWS (same event shape, batch size from template.yaml). Records are read
from where the previous delivery stopped; the template's FilterCriteria are not applied here, which
the aggregator tolerates (it classifies every record again).
"""

from __future__ import annotations

from typing import Any

from oms.local.stack import LocalStack

FUNCTION = "SalesAggregatorFunction"
_positions: dict[int, str] = {}  # id(stack) -> last sequence number delivered


def _table(stack: LocalStack) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    from oms.local.stack import ACCOUNT, REGION

    table = dynamodb_backends[ACCOUNT][REGION].get_table(stack.table_names["OrdersTable"])
    if table.stream_shard is None:
        table.set_stream_specification({"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    return table


def _stream_arn(stack: LocalStack) -> str:
    table = _table(stack)
    return f"{table.table_arn}/stream/{table.latest_stream_label}"


def start_stream(stack: LocalStack) -> None:
    """Make sure the table has a stream, and deliver nothing written before now."""
    records = _read(stack)
    if records:
        _positions[id(stack)] = records[-1]["dynamodb"]["SequenceNumber"]


def _read(stack: LocalStack) -> list[dict[str, Any]]:
    """moto's stream records after the last one delivered (moto serves no DescribeStream here)."""
    with stack.runtime.dynamodb_lock:
        items = list(_table(stack).stream_shard.items)
    after = int(_positions.get(id(stack), "0"))
    return [r.to_json() for r in items if int(r.to_json()["dynamodb"]["SequenceNumber"]) > after]


def _event_record(record: dict[str, Any], arn: str) -> dict[str, Any]:
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if created is not None and not isinstance(created, int | float):
        change["ApproximateCreationDateTime"] = created.timestamp()
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": arn,
        "dynamodb": change,
    }


def batches(stack: LocalStack) -> list[list[dict[str, Any]]]:
    """The records written since the last delivery, as Lambda event records, in template-sized batches."""
    arn = _stream_arn(stack)
    records = [_event_record(r, arn) for r in _read(stack)]
    if records:
        _positions[id(stack)] = records[-1]["dynamodb"]["SequenceNumber"]
    props = stack.template.resources("AWS::Serverless::Function")[FUNCTION]["Properties"]
    size = int(props["Events"]["SalesRecords"]["Properties"]["BatchSize"])
    return [records[i : i + size] for i in range(0, len(records), size)]


def deliver(stack: LocalStack) -> list[dict[str, Any]]:
    """Invoke the aggregator with every batch written since the last delivery; its results."""
    stack.settle()
    return [stack.runtime.invoke(FUNCTION, {"Records": batch}) for batch in batches(stack)]

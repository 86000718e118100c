"""The local runtime's Express support (oms/local/express.py): what AWS does and moto alone does not."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from oms.local import express
from tests.factories import new_sku, order_body

pytestmark = pytest.mark.e2e


def _express_machine(stack, name: str, definition: dict) -> str:
    template_machine = stack.sfn.describe_state_machine(stateMachineArn=stack.order_state_machine_arn)
    return stack.sfn.create_state_machine(
        name=name,
        definition=json.dumps(definition),
        roleArn=template_machine["roleArn"],
        type="EXPRESS",
        loggingConfiguration=template_machine["loggingConfiguration"],
    )["stateMachineArn"]


def test_an_express_execution_ends_timed_out_after_five_minutes_on_the_stack_clock(stack):
    arn = _express_machine(
        stack,
        "SlowExpress",
        {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 400, "End": True}}},
    )
    started = stack.clock.now()
    execution = stack.sfn.start_execution(stateMachineArn=arn, name="slow-1", input="{}")["executionArn"]

    ended = stack.wait_for_execution(execution)

    assert ended["status"] == "TIMED_OUT"
    assert (ended["stopDate"] - started).total_seconds() == express.EXPRESS_LIMIT_SECONDS
    records = express.express_records(stack, execution)
    assert records[0]["type"] == "ExecutionStarted"
    assert records[-1]["type"] == "ExecutionTimedOut"
    assert "ExecutionAborted" not in [r["type"] for r in records]


def test_express_executions_have_no_history_or_description_but_log_records_without_data(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 2)
    body = order_body([(sku, 1)])
    order, _ = oms.run(body)
    arn = order["execution_arn"]

    for call in (stack.sfn.get_execution_history, stack.sfn.describe_execution):
        with pytest.raises(ClientError) as refused:
            call(executionArn=arn)
        assert refused.value.response["Error"]["Code"] == "InvalidArn"

    records = express.express_records(stack, arn)
    assert {r["execution_arn"] for r in records} == {arn}
    assert [int(r["id"]) for r in records] == list(range(1, len(records) + 1))
    assert all(r["event_timestamp"].isdigit() and r["redrive_count"] == "0" for r in records)
    text = json.dumps(records)
    assert order["order_id"] not in text.replace(arn, "")  # no input, output or task parameters
    for field in ('"input"', '"output"', '"parameters"'):
        assert field not in text

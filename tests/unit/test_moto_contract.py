"""The local runtime's contract with moto: every patch it needs applies, and a missing target is loud."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import pytest

from oms.local import express, moto_patches, scheduler


def test_every_patch_is_in_force_after_install():
    moto_patches.install()
    express.install()
    scheduler.install_change_hooks()
    patched = {(getattr(p.owner, "__name__", repr(p.owner)), p.name) for p in moto_patches.PATCHES}
    assert len(moto_patches.PATCHES) >= 17
    # the ones whose silent loss showed up as 300 s timeouts or wrong clocks
    for must in [
        ("LambdaFunction", "_invoke_lambda"),
        ("WaitFunction", "_wait_interval"),
        ("EventManager", "_get_current_timestamp"),
        ("DynamoHandler", "call_action"),
        ("Table", "query"),
        ("Table", "all_items"),
        ("StepFunctionsParserBackend", "start_execution"),
    ]:
        assert must in patched
    assert [p for p in moto_patches.PATCHES if not p.in_force()] == []


def test_a_patch_whose_target_moto_lacks_fails_loudly():
    class Renamed:
        def _invoke_lambda_v2(self) -> None: ...

    before = len(moto_patches.PATCHES)
    with pytest.raises(moto_patches.MotoContractError, match=r"Renamed\._invoke_lambda .*5\.2\.x"):
        moto_patches.patch_moto(Renamed, "_invoke_lambda", lambda self: None)
    assert len(moto_patches.PATCHES) == before
    assert not hasattr(Renamed, "_invoke_lambda")


def test_installed_moto_is_the_tested_minor_version():
    major, minor = (int(part) for part in version("moto").split(".")[:2])
    assert (major, minor) == (5, 2), "moto_patches.py is written for moto 5.2.x; re-test before widening"


def test_plain_dynamodb_responses_are_the_documents_moto_would_write():
    """The fast JSON path for DynamoDB results answers what moto's shape-walking serialiser answers."""
    import boto3
    from moto import mock_aws

    moto_patches.install()
    item = {
        "pk": {"S": "ORDER#1"},
        "sk": {"S": "ORDER"},
        "gsi1pk": {"S": "STATUS#NEW"},
        "n": {"N": "12.50"},
        "flag": {"BOOL": True},
        "nothing": {"NULL": True},
        "tags": {"SS": ["a", "b"]},
        "counts": {"NS": ["1", "2"]},
        "lines": {"L": [{"M": {"sku": {"S": "X"}, "qty": {"N": "2"}}}, {"S": "中文"}]},
        "blob": {"B": b"\x00\x01"},
    }

    def exercise() -> list[object]:
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "gsi1pk")],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "ByStatus",
                    "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        client.put_item(TableName="t", Item=item)
        client.put_item(TableName="t", Item={**item, "sk": {"S": "EVT#1"}, "blob": {"S": "text"}})
        answers: list[object] = []
        for call in (
            lambda: client.get_item(TableName="t", Key={"pk": item["pk"], "sk": item["sk"]}),
            lambda: client.query(
                TableName="t",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": item["pk"]},
                ReturnConsumedCapacity="TOTAL",
            ),
            lambda: client.query(
                TableName="t",
                IndexName="ByStatus",
                KeyConditionExpression="gsi1pk = :s",
                ExpressionAttributeValues={":s": item["gsi1pk"]},
                Limit=1,
            ),
            lambda: client.update_item(
                TableName="t",
                Key={"pk": item["pk"], "sk": {"S": "EVT#1"}},
                UpdateExpression="SET n = n + :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="ALL_NEW",
            ),
            lambda: client.transact_get_items(
                TransactItems=[{"Get": {"TableName": "t", "Key": {"pk": item["pk"], "sk": {"S": "EVT#1"}}}}]
            ),
            lambda: client.batch_get_item(
                RequestItems={"t": {"Keys": [{"pk": item["pk"], "sk": {"S": "EVT#1"}}]}}
            ),
        ):
            answer = dict(call())
            answer.pop("ResponseMetadata", None)
            answers.append(answer)
        return answers

    def run(plain: bool) -> list[object]:
        moto_patches.RUNTIME.plain_dynamodb_responses = plain
        try:
            with mock_aws():
                return exercise()
        finally:
            moto_patches.RUNTIME.plain_dynamodb_responses = True

    fast, reference = run(True), run(False)
    assert fast == reference
    assert fast[0]["Item"]["blob"] == {"B": b"\x00\x01"}  # binary goes moto's own way, and still arrives


def test_index_queries_find_what_moto_scanning_the_table_finds_after_every_kind_of_write():
    """The per-index hash map (oms/local/moto_query.py) follows puts, updates that move an item between
    index keys, deletes, batch writes, transactions (applied and cancelled) and failed conditions."""
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    moto_patches.install()

    def key(n: int) -> dict[str, dict[str, str]]:
        return {"pk": {"S": f"ORDER#{n}"}, "sk": {"S": "ORDER"}}

    def exercise() -> list[object]:
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "status", "placed")
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "ByStatus",
                    "KeySchema": [
                        {"AttributeName": "status", "KeyType": "HASH"},
                        {"AttributeName": "placed", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )

        def by_status() -> dict[str, list[str]]:
            found = {}
            for status in ("NEW", "PAID", "SHIPPED"):
                items = client.query(
                    TableName="t",
                    IndexName="ByStatus",
                    KeyConditionExpression="#s = :s",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":s": {"S": status}},
                )["Items"]
                found[status] = [i["pk"]["S"] for i in items]
            return found

        seen: list[object] = []
        for n in range(6):
            client.put_item(
                TableName="t", Item={**key(n), "status": {"S": "NEW"}, "placed": {"S": f"2026-11-11T0{n}"}}
            )
        seen.append(by_status())  # the map is built by this first index query; what follows keeps it
        client.update_item(
            TableName="t",
            Key=key(1),
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "PAID"}},
        )
        client.update_item(
            TableName="t", Key=key(2), UpdateExpression="REMOVE #s", ExpressionAttributeNames={"#s": "status"}
        )
        client.delete_item(TableName="t", Key=key(3))
        client.put_item(TableName="t", Item={**key(4), "status": {"S": "SHIPPED"}, "placed": {"S": "x"}})
        client.batch_write_item(
            RequestItems={
                "t": [
                    {"PutRequest": {"Item": {**key(7), "status": {"S": "PAID"}, "placed": {"S": "y"}}}},
                    {"DeleteRequest": {"Key": key(0)}},
                ]
            }
        )
        seen.append(by_status())
        move = {
            "Update": {
                "TableName": "t",
                "Key": key(5),
                "UpdateExpression": "SET #s = :s",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":s": {"S": "SHIPPED"}},
            }
        }
        refused = {
            "ConditionCheck": {"TableName": "t", "Key": key(9), "ConditionExpression": "attribute_exists(pk)"}
        }
        with pytest.raises(ClientError):
            client.transact_write_items(TransactItems=[move, refused])
        seen.append(by_status())
        client.transact_write_items(TransactItems=[move])
        with pytest.raises(ClientError):
            client.update_item(
                TableName="t",
                Key=key(7),
                UpdateExpression="SET #s = :s",
                ConditionExpression="attribute_not_exists(pk)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": {"S": "NEW"}},
            )
        seen.append(by_status())
        return seen

    def run(indexed: bool) -> list[object]:
        moto_patches.RUNTIME.indexed_queries = indexed
        try:
            with mock_aws():
                return exercise()
        finally:
            moto_patches.RUNTIME.indexed_queries = True

    fast, reference = run(True), run(False)
    assert fast == reference
    assert fast[-1] == {"NEW": [], "PAID": ["ORDER#1", "ORDER#7"], "SHIPPED": ["ORDER#5", "ORDER#4"]}


def test_in_process_dynamodb_answers_what_the_http_round_trip_answers():
    """Item requests handed to moto in-process (oms/local/moto_inprocess.py) give clients the same
    documents and the same errors (codes, messages, cancellation reasons, the item) as over HTTP."""
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    moto_patches.install()
    order = {"pk": {"S": "ORDER#1"}, "sk": {"S": "ORDER"}}

    def exercise() -> list[object]:
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk")],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
        answers: list[object] = []

        def record(call: Callable[[], dict[str, Any]]) -> None:
            try:
                answer = dict(call())
                answer.pop("ResponseMetadata", None)
                answers.append(answer)
            except ClientError as error:
                document = dict(error.response)
                document.pop("ResponseMetadata", None)
                answers.append((type(error).__name__, document))

        item = {**order, "qty": {"N": "3"}, "tags": {"SS": ["a"]}, "lines": {"L": [{"M": {"n": {"N": "1"}}}]}}
        record(lambda: client.put_item(TableName="t", Item=item, ReturnConsumedCapacity="TOTAL"))
        record(lambda: client.get_item(TableName="t", Key=order, ConsistentRead=True))
        record(lambda: client.get_item(TableName="t", Key={"pk": {"S": "nobody"}, "sk": {"S": "x"}}))
        record(
            lambda: client.update_item(
                TableName="t",
                Key=order,
                UpdateExpression="SET qty = qty - :one",
                ConditionExpression="qty >= :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="UPDATED_NEW",
            )
        )
        record(  # a failed condition, with the item it failed on
            lambda: client.put_item(
                TableName="t",
                Item=order,
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        )
        record(  # a cancelled transaction and its reasons
            lambda: client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": "t", "Item": {**order, "sk": {"S": "EVT#1"}}}},
                    {
                        "ConditionCheck": {
                            "TableName": "t",
                            "Key": order,
                            "ConditionExpression": "qty > :many",
                            "ExpressionAttributeValues": {":many": {"N": "99"}},
                        }
                    },
                ]
            )
        )
        record(
            lambda: client.query(
                TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": order["pk"]}
            )
        )
        record(lambda: client.get_item(TableName="missing", Key=order))  # ResourceNotFoundException
        record(
            lambda: client.update_item(TableName="t", Key=order, UpdateExpression="SET qty = :v")
        )  # validation
        record(lambda: client.batch_write_item(RequestItems={"t": [{"DeleteRequest": {"Key": order}}]}))
        record(lambda: client.scan(TableName="t"))
        return answers

    def run(in_process: bool) -> list[object]:
        moto_patches.RUNTIME.in_process_dynamodb = in_process
        try:
            with mock_aws():
                return exercise()
        finally:
            moto_patches.RUNTIME.in_process_dynamodb = True

    from oms.local.moto_inprocess import ANSWERED

    before = sum(ANSWERED.values())
    fast = run(True)
    assert sum(ANSWERED.values()) - before == 11  # every item request of the run took the in-process path
    reference = run(False)
    assert fast == reference
    assert fast[4][0] == "ConditionalCheckFailedException"
    assert fast[4][1]["Item"]["qty"] == {"N": "2"}
    assert [r["Code"] for r in fast[5][1]["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]

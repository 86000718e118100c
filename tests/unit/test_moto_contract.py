"""The local runtime's contract with moto: every patch it needs applies, and a missing target is loud."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from oms.local import moto_patches, scheduler


def test_every_patch_is_in_force_after_install():
    moto_patches.install()
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

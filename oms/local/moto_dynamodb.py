"""moto's DynamoDB bent to the local runtime: serialised, counted requests with test hooks; AWS's
transaction semantics; queries that read only what can match; plain JSON results; injectable errors.

Every patch goes through `patch_moto` (oms/local/moto_contract.py); docs/local-runtime.md says why.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from oms.local.capacity import request_record, write_images
from oms.local.moto_contract import patch_moto
from oms.local.moto_query import install_query_patches
from oms.local.runtime import RUNTIME


def install_dynamodb_patches() -> None:
    """Apply the DynamoDB patches (once per process, from moto_patches.install)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler
    from werkzeug.exceptions import HTTPException

    original_call_action = DynamoHandler.call_action

    def serialised_call_action(self: Any) -> Any:
        with RUNTIME.dynamodb_lock:
            action = self._get_action()
            RUNTIME.dynamodb_requests[action] += 1
            hook, after_hook, log = RUNTIME.before_dynamodb, RUNTIME.after_dynamodb, RUNTIME.dynamodb_log
            if hook is None and after_hook is None and log is None:
                return original_call_action(self)
            body = json.loads(self.body or "{}")
            try:
                if hook is not None:
                    hook(action, body)
                before = write_images(self.dynamodb_backend, action, body) if log is not None else []
                result = original_call_action(self)
                if log is not None:
                    after = write_images(self.dynamodb_backend, action, body)
                    log.append(request_record(action, body, result, before, after))
                if after_hook is not None:
                    after_hook(action, body, int(result[0]) if isinstance(result, tuple) else 200)
            except HTTPException as fault:
                response = fault.description, {"status": fault.code}
                status, headers, payload = self._transform_response(self.response_headers, response)
                headers, payload = self._enrich_response(headers, payload)
                return status, headers, payload
            return result

    patch_moto(DynamoHandler, "call_action", serialised_call_action)

    patch_moto(DynamoDBBackend, "transact_write_items", _transact_write_items)
    install_query_patches()
    _install_plain_dynamodb_responses()
    _install_expression_caches()


def _install_plain_dynamodb_responses() -> None:
    """DynamoDB item results (GetItem, Query, TransactWriteItems, ...) written as plain JSON.

    moto 5.2 serialises every response by walking botocore's output shape value by value; for DynamoDB
    results, already plain dicts of attribute values, that walk was a quarter of the local stack's CPU.
    The JSON is the same document (tests/unit/test_moto_contract.py compares both for every kind of
    attribute value); anything json cannot write as it is (binary values) takes moto's own path.
    """
    from moto.dynamodb.responses import DynamoResult

    original = DynamoResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        if RUNTIME.plain_dynamodb_responses and isinstance(self.result, dict):
            try:
                body = json.dumps(self.result)
            except TypeError:
                pass
            else:
                return 200, {"Content-Type": "application/x-amz-json-1.0"}, body
        return original(self, context)

    patch_moto(DynamoResult, "execute_result", execute_result)


def _install_expression_caches() -> None:
    """Parse each update expression text once; clone parsed trees without deepcopy's generic walk.

    moto parsed an UpdateExpression twice per request (the response layer to list the placeholders it
    uses, the backend to apply it) and its validator deep-copies the parsed tree before filling in the
    values: together about a tenth of the local stack's CPU. The parsed tree is only read (the validator
    works on its copy), so one tree per expression text serves every request; the copy clones the
    tree's nodes directly and leaves anything else (values) to deepcopy.
    """
    from functools import lru_cache

    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    parse = lru_cache(maxsize=1024)(UpdateExpressionParser.make)
    patch_moto(UpdateExpressionParser, "make", staticmethod(parse))

    scalars: set[type] = {str, int, float, bool, type(None)}
    is_node: dict[type, bool] = {}

    def clone(value: Any, memo: dict[int, Any] | None = None) -> Any:
        kind = type(value)
        if kind in scalars:
            return value
        memo = {} if memo is None else memo
        if kind is list:
            return [clone(part, memo) for part in value]
        node = is_node.get(kind)
        if node is None:
            node = is_node[kind] = issubclass(kind, Node)
        if not node:
            return copy.deepcopy(value)
        done = memo.get(id(value))
        if done is not None:  # a node's parent, met again from below
            return done
        copied = memo[id(value)] = object.__new__(kind)
        copied.__dict__ = {name: clone(part, memo) for name, part in value.__dict__.items()}
        return copied

    patch_moto(validators, "deepcopy", clone)


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems with AWS's semantics, without copying whole tables.

    Runs under RUNTIME.dynamodb_lock (every DynamoDB request does), so checking all conditions first
    and then applying is atomic; only the touched items are snapshotted, to undo a failed apply.
    """
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen: set[tuple[str, str]] = set()
    plan: list[tuple[str, dict[str, Any], dict[str, Any], Any]] = []
    errors: list[tuple[Any, Any, Any]] = []
    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(entry.items()))
        table_name = op["TableName"]
        table = self.get_table(table_name)
        if op_type == "Put":
            key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = op["Item"][table.range_key_attr]
        else:
            key = op["Key"]
        identity = (str(table_name), str(dict(sorted(key.items()))))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        current = self.get_item(table_name, key)
        condition = op.get("ConditionExpression")
        passed = condition is None or get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        ).expr(current)
        if passed:
            errors.append((None, None, None))
        else:
            old = (
                current.to_json()["Attributes"]
                if current and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
                else None
            )
            errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
        plan.append((op_type, op, key, current))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)

    applied: list[tuple[str, dict[str, Any], Any]] = []
    streams = {
        id(shard): (shard, len(shard.items))
        for _, op, _, _ in plan
        if (shard := self.get_table(op["TableName"]).stream_shard) is not None
    }
    try:
        for op_type, op, key, current in plan:
            table_name = op["TableName"]
            snapshot = copy.deepcopy(current.to_json()["Attributes"]) if current else None
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(table_name, op["Item"])
            elif op_type == "Delete":
                self.delete_item(table_name, key)
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            applied.append((table_name, key, snapshot))
    except Exception:
        for table_name, key, snapshot in reversed(applied):
            if snapshot is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, snapshot)
        for shard, mark in streams.values():  # the undone writes (and their undoing) never happened
            del shard.items[mark:]
        raise


# ---------------------------------------------------------------- fault injection helpers


def dynamodb_fault(code: str = "ProvisionedThroughputExceededException", message: str = "injected") -> Any:
    """A DynamoDB error for a `before_dynamodb` hook to raise (the client sees ClientError `code`)."""
    from moto.dynamodb.exceptions import DynamodbException

    return DynamodbException(f"com.amazonaws.dynamodb.v20120810#{code}", message)


def transaction_conflict(body: dict[str, Any] | None = None, at: int = 0) -> Any:
    """TransactionCanceledException as DynamoDB answers a write racing another transaction: one
    cancellation reason per item of the request `body`, TransactionConflict at item `at`, None elsewhere."""
    from moto.dynamodb.exceptions import TransactionCanceledException

    count = max(1, len((body or {}).get("TransactItems", [])))
    reasons = [
        ("TransactionConflict", "Transaction is ongoing for the item", None)
        if i == at
        else (None, None, None)
        for i in range(count)
    ]
    return TransactionCanceledException(reasons)

"""schemathesis against GET /openapi.json: generated requests for every operation, no 5xx, one error body.

Cases come from the document the API serves (schemathesis's Python API, bounded examples, derandomized
so CI is reproducible) and go through the local stack's API Gateway + authorizer + API function, signed
like a platform's for POST /orders and with an admin token otherwise (the `oms` driver).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core import NotSet

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 15


def _request_of(case: Any) -> tuple[str, str, Any, dict[str, str]]:
    query = {k: v for k, v in (case.query or {}).items() if v is not None}
    path = case.formatted_path + (f"?{urlencode(query, doseq=True)}" if query else "")
    body = None if isinstance(case.body, NotSet) else json.dumps(case.body)
    # The document's security schemes make schemathesis invent credentials; the driver signs instead.
    headers = {
        k: str(v)
        for k, v in (case.headers or {}).items()
        if k.lower() != "authorization" and not k.lower().startswith("x-oms-")
    }
    return case.method.upper(), path, body, headers


def test_no_operation_answers_5xx_and_every_error_has_the_one_shape(oms, stack):
    rules_before = oms.call("GET", "/rules").json()
    try:
        _fuzz(oms, stack)
    finally:  # a generated PUT /rules may have been valid: the rest of the session runs the old rules
        latest = oms.call("GET", "/rules").json()
        if latest["version"] != rules_before["version"]:
            restore = {k: v for k, v in rules_before.items() if k not in ("saved_at", "saved_by")}
            answer = oms.call(
                "PUT", "/rules", {**restore, "version": latest["version"], "comment": "fuzz restore"}
            )
            assert answer.status == 200, answer.body


def _settle(oms, stack, execution_arns: list[str]) -> None:
    """End every workflow the generated orders started; reject the ones parked on a hold."""
    from functions.core import repository
    from tests.review_helpers import wait_for

    for arn in execution_arns:
        order_id = arn.rsplit(":", 1)[1]

        def ended_or_held(order_id: str = order_id, arn: str = arn) -> bool:
            if stack.describe_execution(arn)["status"] not in ("RUNNING", "PENDING_REDRIVE"):
                return True
            return repository.get_wait_token(order_id) is not None

        wait_for(stack, ended_or_held, what=f"{order_id} ended or waiting")
        if stack.describe_execution(arn)["status"] == "RUNNING":
            answer = oms.as_role("ops").call(
                "POST", f"/orders/{order_id}/review", {"decision": "reject", "comment": "fuzz cleanup"}
            )
            assert answer.status == 200, answer.body
        oms.wait(arn)


def _fuzz(oms, stack) -> None:
    document = oms.call("GET", "/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    problems: list[str] = []
    executions: list[str] = []
    calls = 0

    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def probe(case: Any) -> None:
            nonlocal calls
            method, path, body, headers = _request_of(case)
            response = oms.call(method, path, body, headers)
            calls += 1
            where = f"{method} {path[:120]} body={str(body)[:200]}"
            if response.status >= 500:
                problems.append(f"{response.status} for {where}: {response.body[:300]}")
            elif response.status >= 400:
                error = (response.json() or {}).get("error")
                if not isinstance(error, dict) or set(error) != {"code", "message", "fields"}:
                    problems.append(
                        f"{response.status} without the error body for {where}: {response.body[:300]}"
                    )
            elif method == "POST" and response.status == 201:
                executions.append(response.json()["execution_arn"])

        probe()

    _settle(oms, stack, executions)  # leave no workflow running behind
    assert calls >= 4 * EXAMPLES_PER_OPERATION // 2
    assert executions, "no generated order was valid: the document does not describe what the API takes"
    assert problems == []

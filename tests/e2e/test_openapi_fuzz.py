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

EXAMPLES_PER_OPERATION = 30


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


def test_no_operation_answers_5xx_and_every_error_has_the_one_shape(oms):
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

    for arn in executions:  # leave no workflow running behind
        oms.wait(arn)
    assert calls >= 4 * EXAMPLES_PER_OPERATION // 2
    assert executions, "no generated order was valid: the document does not describe what the API takes"
    assert problems == []

"""The API loads route groups on demand: every declared route is claimed by the group that declares it."""

from __future__ import annotations

import importlib
import re
from types import ModuleType

from oms.local.stack import LocalStack


def _handler(stack: LocalStack) -> ModuleType:
    # the handler reads its settings at import: the local stack has put them in the environment
    return importlib.import_module("functions.api.handler")


def _concrete(rule: str) -> str:
    return re.sub(r"<[^>]+>", "X-1", rule)


def test_every_route_of_a_group_loads_that_group(stack: LocalStack) -> None:
    handler = _handler(stack)
    for module in handler.ROUTE_GROUPS:
        rules = {key[0] for key in importlib.import_module(module).router._routes}
        assert rules, f"{module} declares no routes"
        for rule in rules:
            assert module in handler.groups_for(_concrete(rule)), f"{rule} would not load {module}"


def test_a_path_no_group_claims_loads_every_group(stack: LocalStack) -> None:
    handler = _handler(stack)
    assert handler.groups_for("/openapi.json") == list(handler.ROUTE_GROUPS)
    assert handler.groups_for("/no-such-thing") == list(handler.ROUTE_GROUPS)


def test_an_order_action_loads_only_the_groups_that_may_serve_it(stack: LocalStack) -> None:
    wanted = _handler(stack).groups_for("/orders/ORD-1/payment")
    assert "functions.payment.api" in wanted
    assert "functions.aftersales.api" not in wanted
    assert "functions.connectors.api" not in wanted

"""Strategy center routes: read, change, list and try out the rule set (订单策略中心)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.core.actor import current_actor
from functions.rules import service
from functions.rules.logic import RulesProposal, RulesUpdate

router = APIGatewayRouter()

LimitQuery = Annotated[int, Query(ge=1, le=500, description="at most this many")]
VersionPath = Annotated[int, Path(ge=0, description="a stored rules version (0: the defaults)")]


@router.get("/rules", summary="The rule set in force", tags=["rules"])
def get_rules() -> dict[str, Any]:
    return service.current()


@router.put("/rules", summary="Store a new version of the rule set", tags=["rules"])
def put_rules(body: RulesUpdate) -> dict[str, Any]:
    """The whole document; `version` = the version you edited. 422 names a bad field (nothing stored);
    409 STALE_RULES when someone stored another version first."""
    return service.update(body, current_actor(router.current_event.headers))


@router.get("/rules/versions", summary="Stored versions, newest first", tags=["rules"])
def get_rule_versions(limit: LimitQuery = 50) -> dict[str, Any]:
    return {"versions": service.versions(limit)}


@router.get("/rules/versions/<number>", summary="One stored version", tags=["rules"])
def get_rule_version(number: VersionPath) -> dict[str, Any]:
    return service.version(number)


@router.post(
    "/rules/dry-run", summary="Which recent orders a rule change would decide differently", tags=["rules"]
)
def post_dry_run(body: RulesProposal, limit: LimitQuery = 100) -> dict[str, Any]:
    return service.dry_run(body, limit).model_dump(mode="json")

"""Who calls: staff roles, the principal a request acts as, and the refusal every check raises."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

PLATFORM_NAME = re.compile(r"^[a-z][a-z0-9_-]{1,31}$")
CARRIER_NAME = re.compile(r"^[A-Z][A-Z0-9]{1,15}$")  # the carrier codes of CarrierRules


class Role(StrEnum):
    """Staff roles. Admin may do everything staff may do; the others only what the table lists."""

    OPS = "ops"  # review held orders, intercept orders
    CUSTOMER_SERVICE = "customer_service"  # after-sales cases
    ADMIN = "admin"  # rules, inventory, and everything above
    MERCHANDISER = "merchandiser"  # the product master (商品资料)
    VIEWER = "viewer"  # read only, personal data masked


PLATFORM = "platform"  # the role of a signing platform (scoped to its own orders)
CARRIER = "carrier"  # the role of a signing carrier (scoped to its own shipments)
PUBLIC = "public"  # no credentials needed


class AuthError(Exception):
    """Refused: 401 (who are you?) or 403 (you may not)."""

    def __init__(self, status: Literal[401, 403], code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Principal:
    kind: Literal["staff", "platform", "carrier", "anonymous"]
    id: str
    role: str

    @property
    def name(self) -> str:
        """What history events record as the actor: staff:alice, platform:tmall."""
        return f"{self.kind}:{self.id}"

    @property
    def platform(self) -> str | None:
        return self.id if self.kind == "platform" else None

    def to_context(self) -> dict[str, str]:
        """What the authorizer hands the API function (API Gateway passes string values only)."""
        return {"principal": self.name, "kind": self.kind, "id": self.id, "role": self.role}

    @classmethod
    def from_context(cls, context: Mapping[str, Any] | None) -> Principal:
        context = context or {}
        kind, pid, role = context.get("kind"), context.get("id"), context.get("role")
        if kind == "staff" and isinstance(pid, str) and role in set(Role):
            return cls("staff", pid, str(role))
        if kind == "platform" and isinstance(pid, str) and PLATFORM_NAME.match(pid) and role == PLATFORM:
            return cls("platform", pid, PLATFORM)
        if kind == "carrier" and isinstance(pid, str) and CARRIER_NAME.match(pid) and role == CARRIER:
            return cls("carrier", pid, CARRIER)
        return ANONYMOUS


ANONYMOUS = Principal("anonymous", "anonymous", PUBLIC)

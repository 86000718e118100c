"""Who is calling: the one place routes ask, answered by the API's authentication.

The principal comes from the Lambda authorizer's context, checked again by functions/core/security.py
before any route runs: `user:<id>` for staff (their token's subject), `platform:<name>` for a signing
platform. A header can no longer name the actor (X-Actor was the stand-in before authentication).
"""

from __future__ import annotations

from collections.abc import Mapping

from functions.core.errors import RefusedError
from functions.core.security import current_principal

ACTOR_HEADER = "X-Actor"  # no longer read: kept so old callers still import it


def current_actor(headers: Mapping[str, str] | None = None) -> str:
    """`user:<id>` or `platform:<name>` of the authenticated caller; 401 when there is none."""
    principal = current_principal()
    if principal.kind == "staff":
        return f"user:{principal.id}"
    if principal.kind == "platform":
        return f"platform:{principal.id}"
    raise RefusedError("UNAUTHENTICATED", "no authenticated caller", status=401)

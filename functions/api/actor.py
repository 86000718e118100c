"""Who is calling: the one place that answers it, so real authentication can replace it in one edit.

For now the caller names itself in the `X-Actor` header (an ops user id such as `li.lei`). When the
API's authentication lands, this function returns the authenticated principal instead; every route
that records who did something (review decisions, interceptions, rule changes) calls only this.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from functions.core.errors import RefusedError

ACTOR_HEADER = "X-Actor"
_ACTOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def current_actor(headers: Mapping[str, str]) -> str:
    """`user:<id>` from the request's X-Actor header; 400 MISSING_ACTOR when absent or malformed."""
    value = next((v for k, v in headers.items() if k.lower() == ACTOR_HEADER.lower()), None)
    if value is None or not _ACTOR.match(value.strip()):
        raise RefusedError(
            "MISSING_ACTOR",
            f"header {ACTOR_HEADER} must name who acts (letters, digits, . _ @ -; at most 64)",
            status=400,
        )
    return f"user:{value.strip()}"

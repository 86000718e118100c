"""What Step Functions passes to, and gets back from, every stage task.

Built on first use (`defer_build`): each handler's `stage_task` builds the one input model it validates
when it is imported, so no function builds the compensation models it never sees.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from functions.core.models.order_in import ORDER_ID_PATTERN


class StageInput(BaseModel):
    """The state machine sends ids only; each stage reads the order itself (consistent read)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    order_id: str = Field(pattern=ORDER_ID_PATTERN)
    execution_id: str | None = None


class StepError(BaseModel):
    """A caught error, as a Catch with ResultPath "$.error" records it."""

    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    error: str = Field(alias="Error")
    cause: str = Field(default="", alias="Cause")


class CompensateInput(StageInput):
    error: StepError
    stage: str | None = None  # set by the state machine's per-stage Catch

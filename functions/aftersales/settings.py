"""Configuration of the after-sales functions (template.yaml sets these variables)."""

from __future__ import annotations

from functions.core.settings import SchedulingSettings, Settings, arn_field


class CaseWorkflowSettings(Settings):
    """Whoever opens a case starts its execution on the after-sales state machine."""

    aftersales_state_machine_arn: str = arn_field("states", "AFTERSALES_STATE_MACHINE_ARN")


class ReturnTimerSettings(SchedulingSettings):
    """AfterSalesFunction schedules the return-shipping deadline, targeting the after-sales timer."""

    aftersales_timer_function_arn: str = arn_field("lambda", "AFTERSALES_TIMER_FUNCTION_ARN")


def case_workflow_settings() -> CaseWorkflowSettings:
    return CaseWorkflowSettings()  # type: ignore[call-arg]


def return_timer_settings() -> ReturnTimerSettings:
    return ReturnTimerSettings()  # type: ignore[call-arg]

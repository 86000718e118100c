"""Configuration as a validated model: a missing or malformed variable fails the cold start, not an order."""

import os
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EnvironmentModel(BaseModel):
    """A pydantic model filled from the process environment (names matched case-insensitively).

    Plain pydantic rather than pydantic-settings: every field here is a scalar named by its
    validation_alias, and pydantic-settings' sources (dotenv, secrets dirs, CLI) cost every Lambda's
    cold start ~40 ms of imports for features no function uses (docs/adr/0004-cold-import-budget.md).
    """

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    def __init__(self, **values: Any) -> None:
        # Only the variables the model names: an error message must never echo the rest (credentials).
        names = {
            str(f.validation_alias).upper() for f in type(self).model_fields.values() if f.validation_alias
        }
        found = {name.upper(): value for name, value in os.environ.items() if name.upper() in names}
        super().__init__(**{**found, **values})


Model = TypeVar("Model", bound=EnvironmentModel)
_LOADED: list[Callable[[], None]] = []  # cache_clear of every loader, for clear_settings_cache()


def settings_loader(model: type[Model]) -> Callable[[], Model]:
    """The one validated instance of `model` per container, read from the environment on first use."""

    @cache
    def load() -> Model:
        return model()

    _LOADED.append(load.cache_clear)
    return load


def arn_field(service: str, variable: str) -> Any:
    """A required ARN of one AWS service (`lambda`, `states`, `iam`), read from `variable`."""
    sep = "::" if service == "iam" else ":"  # IAM names no region
    return Field(pattern=rf"^arn:aws[a-z-]*:{service}{sep}", validation_alias=variable)


class Settings(EnvironmentModel):
    """Environment every function shares (set in template.yaml Globals)."""

    table_name: str = Field(min_length=3, validation_alias="TABLE_NAME")
    status_index_shards: int = Field(default=8, ge=1, le=64, validation_alias="STATUS_INDEX_SHARDS")
    default_warehouse: str = Field(default="WH-MAIN", min_length=1, validation_alias="DEFAULT_WAREHOUSE")
    payment_timer_shards: int = Field(default=1, ge=1, le=64, validation_alias="PAYMENT_TIMER_SHARDS")
    # Write shards of the parcels' tracking-SLA entries in QueueIndex (docs/shipping.md): one is ~1,000
    # tracking events/s; each shard costs the delay check one Query per run.
    shipment_due_shards: int = Field(default=4, ge=1, le=64, validation_alias="SHIPMENT_DUE_SHARDS")
    # Sales pre-aggregates (functions/reports, docs/reports.md): the zone whose calendar days the figures
    # are kept in, and the write shards of the aggregate partitions (raise only; readers read them all).
    report_timezone: str = Field(default="UTC", min_length=1, validation_alias="REPORT_TIMEZONE")
    sales_aggregate_shards: int = Field(default=4, ge=1, le=64, validation_alias="SALES_AGGREGATE_SHARDS")

    @field_validator("report_timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        ZoneInfo(name)  # an unknown zone fails the cold start
        return name


class ApiSettings(Settings):
    """The API function also starts executions."""

    state_machine_arn: str = arn_field("states", "STATE_MACHINE_ARN")
    max_body_bytes: int = Field(default=256_000, ge=1_024, validation_alias="MAX_BODY_BYTES")


class OrderPathSettings(Settings):
    """Reading an order's path (ADR 0001): the waiting (Standard) machine and the fast path's log group."""

    waiting_state_machine_arn: str = arn_field("states", "WAITING_STATE_MACHINE_ARN")
    express_log_group: str = Field(min_length=1, validation_alias="EXPRESS_LOG_GROUP")


class TimerSettings(Settings):
    """Functions that delete one-time schedules (EventBridge Scheduler, functions/core/timers.py)."""

    schedule_group: str = Field(min_length=1, max_length=64, validation_alias="TIMER_SCHEDULE_GROUP")


class SchedulingSettings(TimerSettings):
    """Functions that also create them: the role Scheduler assumes to invoke the target."""

    scheduler_role_arn: str = arn_field("iam", "TIMER_SCHEDULER_ROLE_ARN")


class PaymentSchedulingSettings(SchedulingSettings):
    """Ingest: an unpaid order's pay deadline targets the payment timeout function."""

    timeout_function_arn: str = arn_field("lambda", "PAYMENT_TIMEOUT_FUNCTION_ARN")


class HoldSchedulingSettings(SchedulingSettings):
    """AwaitReview: a hold's escalation time targets the hold escalation function."""

    escalation_function_arn: str = arn_field("lambda", "HOLD_ESCALATION_FUNCTION_ARN")


class AuthSettings(Settings):
    """The authorizer and the API function read the auth secret (signing key, platform secrets)."""

    auth_secret_arn: str = Field(min_length=1, validation_alias="AUTH_SECRET_ARN")
    auth_cache_seconds: int = Field(default=300, ge=0, le=3600, validation_alias="AUTH_CACHE_SECONDS")


class EventsSettings(Settings):
    """The outbox publisher (functions/events): the bus every integration event goes to."""

    event_bus_name: str = Field(min_length=1, max_length=256, validation_alias="EVENT_BUS_NAME")


class WebhookKeySettings(Settings):
    """The webhook signing secret: its own master key, never the auth secret (functions/webhooks/keys.py)."""

    webhook_secret_arn: str = Field(min_length=1, validation_alias="WEBHOOK_SECRET_ARN")
    auth_cache_seconds: int = Field(default=300, ge=0, le=3600, validation_alias="AUTH_CACHE_SECONDS")


class WebhookSettings(WebhookKeySettings):
    """Outbound webhooks (functions/webhooks): derived webhook keys sign, the queue takes messages back."""

    webhook_queue_url: str = Field(min_length=1, validation_alias="WEBHOOK_QUEUE_URL")
    webhook_timeout_seconds: float = Field(
        default=5.0, gt=0, le=25, validation_alias="WEBHOOK_TIMEOUT_SECONDS"
    )
    # The local stack sets it: on a laptop or in CI, webhooks reach loopback addresses only.
    webhook_loopback_only: bool = Field(default=False, validation_alias="WEBHOOK_LOOPBACK_ONLY")


get_settings = settings_loader(Settings)
get_api_settings = settings_loader(ApiSettings)
get_order_path_settings = settings_loader(OrderPathSettings)
get_timer_settings = settings_loader(TimerSettings)
get_scheduling_settings = settings_loader(SchedulingSettings)
get_payment_scheduling_settings = settings_loader(PaymentSchedulingSettings)
get_hold_scheduling_settings = settings_loader(HoldSchedulingSettings)
get_auth_settings = settings_loader(AuthSettings)
get_events_settings = settings_loader(EventsSettings)
get_webhook_key_settings = settings_loader(WebhookKeySettings)
get_webhook_settings = settings_loader(WebhookSettings)


def clear_settings_cache() -> None:
    """Tests and the local runtime change the environment, then call this: every loader reads it again."""
    for clear in _LOADED:
        clear()

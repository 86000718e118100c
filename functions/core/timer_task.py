"""The one Lambda entry of every timer: a one-time schedule names what it is for, the sweep names nothing.

Each timer of the OMS (core/timers.py) is a one-time EventBridge Scheduler schedule whose input names
one thing ({"order_id": ...}, {"case_id": ...}) plus a rate rule that sweeps for what a lost schedule
would have done; both invoke the same function. `timer_task` gives that function its log context,
trace and latency metric, checks the input (a malformed id fails before any work), and calls `fire`
with the named id, or `sweep` when the event names none (the rule's scheduled event).

    lambda_handler = timer_task("payment_timer", "order_id", ORDER_ID_PATTERN, fire=..., sweep=...)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ConfigDict, Field, create_model

from functions.core.observability import bind_order, instrumented, logger, tracer

Result = dict[str, Any]
Handler = Callable[[dict[str, Any], LambdaContext], Result]


def timer_task(
    name: str,
    subject: str,
    pattern: str,
    *,
    fire: Callable[[str], Result],
    sweep: Callable[[], Result],
    bind: Callable[[str], None] = bind_order,
) -> Handler:
    """The handler of timer `name` (its metric's stage): `subject` is the schedule input's field naming
    what the timer is for, checked against `pattern`; `bind` puts that id on every log line."""
    event_model = create_model(
        f"{name.title().replace('_', '')}Event",
        __config__=ConfigDict(extra="ignore"),
        **{subject: (str | None, Field(default=None, pattern=pattern))},  # type: ignore[call-overload]
    )

    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler
    @instrumented(name)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Result:
        named = getattr(event_model.model_validate(event), subject)
        if named is not None:
            bind(named)
            result = fire(named)
            logger.info("timer fired", extra={"timer": name, **result})
            return result
        result = sweep()
        if any(result.values()):  # a sweep that found nothing runs every minute: no line for it
            logger.info("timer sweep", extra={"timer": name, **result})
        return result

    return lambda_handler  # type: ignore[no-any-return]

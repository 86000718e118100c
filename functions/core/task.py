"""The one decorator every state-machine task's Lambda entry wears.

    @stage_task("review", StageInput)
    def lambda_handler(event: StageInput) -> dict[str, Any]: ...

gives the task the Lambda context in its logs, a trace, its StageLatency metric, its input parsed into
`model` (a malformed input fails the task before any work) and, for order tasks, the order id and
execution bound to every log line. The decorated function takes the parsed input only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from functions.core.observability import bind_order, instrumented, logger, tracer
from functions.core.stage import StageInput

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def stage_task(stage: str, model: type[M]) -> Callable[[Callable[[M], dict[str, Any]]], Handler]:
    model.model_rebuild()  # every invocation validates it: build it at the cold start, not the first call

    def decorate(task: Callable[[M], dict[str, Any]]) -> Handler:
        @logger.inject_lambda_context(clear_state=True)
        @tracer.capture_lambda_handler
        @instrumented(stage)
        @event_parser(model=model)
        @functools.wraps(task)
        def lambda_handler(event: M, context: LambdaContext) -> dict[str, Any]:
            if isinstance(event, StageInput):
                bind_order(event.order_id, event.execution_id)
            return task(event)

        return lambda_handler  # type: ignore[no-any-return]

    return decorate

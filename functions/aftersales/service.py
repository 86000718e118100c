"""After-sales cases: open, decide, return, inspect, refund, exchange, close (docs/aftersales.md).

Each case runs its own execution of the after-sales state machine (statemachine/aftersales.asl.json),
named after the case. The execution loops on one task, `advance`, which does what the case's status
calls for (logic.next_step) and answers which wait comes next: a person's decision, the return, the
inspection, the refund callback (task tokens), or a poll (the order being intercepted, the replacement
order shipping). People and callbacks change the case through the API with a conditional write, then
resume the execution with the token stored beside the case.

Money: opening a case claims the lines' money and units on per-line counters (conditional updates, so
two cases can never claim more than was paid); closing gives back what was not used; the refund is one
item whose id comes from the case, put once and settled once, whoever calls back how often.
Order history: aftersales.requested / approved / rejected / return_received / inspected /
replacement_created / closed and order.refunded are appended to the ORDER's history in the same
transaction as the case change (the events helper publishes them); the order keeps its fulfilment
status and carries a refund summary.

The stage's public surface; the work is split by concern: cases.py (reading, one change of a case,
opening), execution.py (the execution's steps), actions.py (people and callbacks), deadlines.py (the
return-shipping timer).
"""

from functions.aftersales.actions import (
    RefundOutcome,
    decide,
    inspect,
    receive,
    return_shipped,
    settle_refund,
)
from functions.aftersales.cases import (
    WAIT_STATUS,
    CaseNotFoundError,
    execution_arn_of,
    get_case,
    list_cases,
    open_case,
    open_case_request,
)
from functions.aftersales.deadlines import return_deadline_passed, sweep_return_deadlines
from functions.aftersales.execution import Advanced, advance, park

__all__ = [
    "WAIT_STATUS",
    "Advanced",
    "CaseNotFoundError",
    "RefundOutcome",
    "advance",
    "decide",
    "execution_arn_of",
    "get_case",
    "inspect",
    "list_cases",
    "open_case",
    "open_case_request",
    "park",
    "receive",
    "return_deadline_passed",
    "return_shipped",
    "settle_refund",
    "sweep_return_deadlines",
]

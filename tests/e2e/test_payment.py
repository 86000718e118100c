"""Unpaid orders through the real state machine, schedules and sweep, on the virtual clock.

An unpaid order reserves stock and parks at AwaitPayment. The payment callback resumes it; otherwise its
one-time schedule (or the rate(1 minute) sweep) cancels it at the pay deadline and gives the stock back.
Every race ends in one state: the conditional writes decide, the losers read again and agree.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from functions.core import repository
from functions.core.rules import PaymentRules, RuleSet
from tests.factories import new_sku, order_body
from tests.review_helpers import intercept, post_and_hold, review, wait_until_waiting

pytestmark = pytest.mark.e2e

TIMEOUT = timedelta(minutes=30)  # PaymentRules default


def unpaid(sku: str, quantity: int = 1, unit_price: str = "10.00", **kwargs: Any) -> dict[str, Any]:
    return order_body([(sku, quantity, unit_price)], payment={"status": "unpaid"}, **kwargs)


def post_and_park(oms, stack, body: dict[str, Any]) -> tuple[str, str]:
    """POST an unpaid order and wait (without moving the clock) until it waits for its payment."""
    posted = oms.post(body)
    assert posted.status == 201, posted.body
    order_id = posted.json()["order_id"]
    stack.run_until(lambda: repository.get_order(order_id).status == "AWAITING_PAYMENT", 20, advance=False)
    return order_id, posted.json()["execution_arn"]


def schedules_client(stack):
    return stack.session.client("scheduler")


def group(stack) -> str:
    return stack.schedule_groups["TimersGroup"]


def schedule_of(stack, order_id: str) -> dict[str, Any] | None:
    client = schedules_client(stack)
    try:
        return client.get_schedule(GroupName=group(stack), Name=order_id)  # type: ignore[no-any-return]
    except client.exceptions.ResourceNotFoundException:
        return None


def delete_schedule(stack, order_id: str) -> None:
    """The fault: the order's one-time schedule is lost."""
    schedules_client(stack).delete_schedule(GroupName=group(stack), Name=order_id)


def events_of(order_id: str) -> list[Any]:
    return repository.load_aggregate(order_id).events


def task_outcomes(stack, execution_arn: str) -> list[tuple[str, str | None, str | None]]:
    """(type, error, cause) of every TaskSucceeded/TaskFailed of AwaitPayment's callback task."""
    outcomes = []
    for event in stack.execution_history(execution_arn):
        if event["type"] in {"TaskSucceeded", "TaskFailed"}:
            details = event.get("taskFailedEventDetails") or event.get("taskSucceededEventDetails") or {}
            if details.get("resource") == "invoke.waitForTaskToken":
                outcomes.append((event["type"], details.get("error"), details.get("cause")))
    return outcomes


def still_timed(order_id: str, far: timedelta = timedelta(days=30)) -> bool:
    from functions.core import clock

    return order_id in repository.due_payment_timers(clock.now() + far)


def cross_the_deadline_between_sweeps(oms, stack) -> None:
    """Start orders 17 s past a minute, so their deadline is not also a sweep's instant."""
    now = stack.clock.now()
    stack.advance((60 - now.second + 17) % 60 or 60)


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at the same moment; return their results (or exceptions)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def runner(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=runner, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


# ---------------------------------------------------------------- the deadline


def test_unpaid_order_is_cancelled_at_its_deadline_and_its_stock_is_back(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    cancelled_before = stack.metrics.total("OrdersCancelledOnTimeout", platform="kuaishou")
    created_at = stack.clock.now()
    order_id, execution_arn = post_and_park(oms, stack, unpaid(sku, 3, platform="kuaishou"))

    order = oms.order(order_id)
    assert order["status"] == "AWAITING_PAYMENT"
    assert "pay_task_token" not in order  # a capability: never served
    deadline = datetime.fromisoformat(order["pay_deadline"])
    assert deadline == created_at + TIMEOUT
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 3, "available": 7}
    schedule = schedule_of(stack, order_id)
    assert schedule is not None
    assert schedule["ScheduleExpression"] == f"at({deadline.strftime('%Y-%m-%dT%H:%M:%S')})"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["Target"]["Arn"].endswith(":function:PaymentTimeoutFunction")

    execution = oms.wait(execution_arn)

    assert execution["status"] == "SUCCEEDED"
    assert oms.states_entered(execution_arn)[-2:] == ["AwaitPayment", "CancelledUnpaid"]
    ((kind, error, cause),) = task_outcomes(stack, execution_arn)
    assert (kind, error) == ("TaskFailed", "PaymentTimeoutError")
    assert "was not paid by" in (cause or "")
    order = oms.order(order_id)
    assert order["status"] == "CANCELLED"
    assert order["cancellation"]["code"] == "PAYMENT_TIMEOUT"
    assert order["reservations"] == []
    assert oms.stock(sku) == {"on_hand": 10, "reserved": 0, "available": 10}
    timeout = events_of(order_id)[-1]
    assert (timeout.type, timeout.from_status, timeout.to_status) == (
        "payment.timeout",
        "AWAITING_PAYMENT",
        "CANCELLED",
    )
    assert timeout.at == deadline  # on the virtual clock: exactly at the deadline
    assert timeout.actor == "timer:schedule"
    assert timeout.detail["released"] == [{"sku": sku, "warehouse": "WH-MAIN", "quantity": 3}]
    assert schedule_of(stack, order_id) is None  # ActionAfterCompletion DELETE
    assert not still_timed(order_id)
    # counted once, by the timer that won (functions/core/observability.py catalogue)
    assert stack.metrics.total("OrdersCancelledOnTimeout", platform="kuaishou") == cancelled_before + 1


def test_paid_order_is_not_cancelled(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 10)
    order_id, execution_arn = post_and_park(oms, stack, unpaid(sku, 3, "10.00"))

    stack.advance(10 * 60)
    paid = oms.pay(order_id, "PAY-1", "30.00", "2026-01-01T00:05:00+08:00")
    assert paid.status == 200, paid.body
    assert paid.json() == {"order_id": order_id, "status": "PAID", "outcome": "applied"}

    execution = oms.wait(execution_arn)
    assert execution["status"] == "SUCCEEDED"
    assert oms.states_entered(execution_arn)[-3:] == ["AwaitPayment", "Ship", "Fulfilled"]
    assert task_outcomes(stack, execution_arn) == [("TaskSucceeded", None, None)]
    assert schedule_of(stack, order_id) is None  # deleted with the payment
    assert not still_timed(order_id)

    stack.advance(2 * TIMEOUT.total_seconds())  # well past the deadline: the sweep runs every minute
    order = oms.order(order_id)
    assert order["status"] == "SHIPPED"
    assert order["payment_received"]["payment_id"] == "PAY-1"
    assert order["payment_received"]["amount"] == "30.00"
    assert order["refund_required"] is False
    assert oms.stock(sku) == {"on_hand": 7, "reserved": 0, "available": 7}
    statuses = [e.to_status for e in events_of(order_id)]
    assert statuses == ["RECEIVED", "APPROVED", "ALLOCATED", "AWAITING_PAYMENT", "PAID", "SHIPPED"]
    assert "payment.timeout" not in [e.type for e in events_of(order_id)]


def test_orders_arriving_paid_never_wait_and_get_no_timer(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 5)
    body = order_body([(sku, 1)], payment={"status": "paid", "payment_id": "PAY-AT-INGEST"})
    order, execution = oms.run(body)

    assert execution["status"] == "SUCCEEDED"
    assert "AwaitPayment" not in oms.states_entered(order["execution_arn"])
    assert order["status"] == "SHIPPED"
    assert order["pay_deadline"] is None
    assert schedule_of(stack, order["order_id"]) is None
    assert not still_timed(order["order_id"])
    # the platform's own callback for it again is answered as a replay, nothing changes
    again = oms.pay(order["order_id"], "PAY-AT-INGEST", order["amounts"]["total"])
    assert again.status == 200
    assert again.json()["outcome"] == "already_recorded"


def test_the_timeout_is_per_platform(oms, stack, monkeypatch):
    from functions.payment import service

    rules = RuleSet(payment=PaymentRules(timeout_minutes=30, timeout_minutes_by_platform={"jd": 5}))
    monkeypatch.setattr(service, "active_rules", lambda: rules)
    sku = new_sku()
    oms.set_stock(sku, 4)
    created_at = stack.clock.now()
    jd_id, jd_arn = post_and_park(oms, stack, unpaid(sku, 1, platform="jd"))
    tmall_id, _ = post_and_park(oms, stack, unpaid(sku, 1, platform="tmall"))

    assert datetime.fromisoformat(oms.order(jd_id)["pay_deadline"]) == created_at + timedelta(minutes=5)
    assert datetime.fromisoformat(oms.order(tmall_id)["pay_deadline"]) == created_at + TIMEOUT
    oms.wait(jd_arn)
    assert oms.order(jd_id)["status"] == "CANCELLED"
    assert events_of(jd_id)[-1].at == created_at + timedelta(minutes=5)
    assert oms.order(tmall_id)["status"] == "AWAITING_PAYMENT"  # its own deadline is still ahead
    assert oms.pay(tmall_id, "PAY-T", "10.00").status == 200


def test_the_sweep_alone_cancels_when_the_schedule_is_lost(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 6)
    cross_the_deadline_between_sweeps(oms, stack)
    order_id, execution_arn = post_and_park(oms, stack, unpaid(sku, 2))
    deadline = datetime.fromisoformat(oms.order(order_id)["pay_deadline"])
    delete_schedule(stack, order_id)

    execution = oms.wait(execution_arn)

    assert execution["status"] == "SUCCEEDED"
    assert oms.states_entered(execution_arn)[-1] == "CancelledUnpaid"
    timeout = events_of(order_id)[-1]
    assert timeout.type == "payment.timeout"
    assert timeout.actor == "timer:sweep"
    assert deadline < timeout.at <= deadline + timedelta(minutes=1)  # the first sweep after the deadline
    assert oms.stock(sku) == {"on_hand": 6, "reserved": 0, "available": 6}
    assert not still_timed(order_id)


def test_an_order_reaching_the_wait_after_its_deadline_is_cancelled_there(oms, stack):
    """The deadline passes while the order is still on its way (here: just before parking)."""
    sku = new_sku()
    oms.set_stock(sku, 3)
    moved = []

    def late(function_name: str, event: dict[str, Any]) -> None:
        if function_name == "PaymentFunction" and not moved:
            moved.append(event["order_id"])
            stack.clock.advance(TIMEOUT.total_seconds() + 120)  # timers fire now and find it in flight

    stack.runtime.before_invoke = late
    posted = oms.post(unpaid(sku, 2))
    execution = oms.wait(posted.json()["execution_arn"])

    order_id = posted.json()["order_id"]
    assert moved == [order_id]
    assert execution["status"] == "SUCCEEDED"
    assert oms.states_entered(posted.json()["execution_arn"])[-1] == "CancelledUnpaid"
    timeout = events_of(order_id)[-1]
    assert (timeout.type, timeout.from_status, timeout.actor) == (
        "payment.timeout",
        "ALLOCATED",
        "stage:payment",
    )
    assert oms.stock(sku) == {"on_hand": 3, "reserved": 0, "available": 3}
    assert not still_timed(order_id)


# ---------------------------------------------------------------- the payment callback


def test_payment_must_be_the_order_total_and_nothing_is_written_otherwise(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 5)
    order_id, _ = post_and_park(oms, stack, unpaid(sku, 2, "10.00"))
    before = oms.order(order_id)

    wrong = oms.pay(order_id, "PAY-W", "19.99")
    assert wrong.status == 422
    assert wrong.json()["error"]["code"] == "AMOUNT_MISMATCH"
    assert wrong.json()["error"]["field"] == "amount"
    malformed = oms.call("POST", f"/orders/{order_id}/payment", {"payment_id": "P", "amount": "abc"})
    assert malformed.status == 422
    assert oms.order(order_id) == before
    assert oms.pay(order_id, "PAY-R", "20.00").status == 200  # the right amount, written as "20.00"


def test_unpaid_body_cannot_carry_a_payment(oms):
    body = order_body(payment={"status": "unpaid", "payment_id": "X-1"})
    response = oms.post(body)
    assert response.status == 422
    assert "payment" in response.body


def test_payment_is_idempotent_by_payment_id_and_a_second_payment_is_refunded(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 5)
    order_id, execution_arn = post_and_park(oms, stack, unpaid(sku, 1, "12.50"))

    first = oms.pay(order_id, "PAY-A", "12.50")
    again = oms.pay(order_id, "PAY-A", "12.50")
    assert (first.status, first.json()["outcome"]) == (200, "applied")
    assert (again.status, again.json()["outcome"]) == (200, "already_recorded")
    oms.wait(execution_arn)

    other = oms.pay(order_id, "PAY-B", "12.50")
    other_again = oms.pay(order_id, "PAY-B", "12.50")
    assert other.status == other_again.status == 409
    assert other.json()["error"]["code"] == "ALREADY_PAID"
    assert other.json()["error"]["refund_required"] is True
    order = oms.order(order_id)
    assert order["status"] == "SHIPPED"
    assert order["payment_received"]["payment_id"] == "PAY-A"
    assert order["refund_required"] is True
    types = [e.type for e in events_of(order_id)]
    assert types.count("payment.received") == 1
    assert types.count("payment.refund_required") == 1  # the resent PAY-B is not flagged twice
    refund = next(e for e in events_of(order_id) if e.type == "payment.refund_required")
    assert refund.detail["payment_id"] == "PAY-B"
    assert refund.detail["reason"] == "ALREADY_PAID"


@pytest.mark.reliability
def test_payment_after_the_cancel_is_refused_and_flagged_for_refund(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 4)
    order_id, execution_arn = post_and_park(oms, stack, unpaid(sku, 2))
    oms.wait(execution_arn)
    assert oms.order(order_id)["status"] == "CANCELLED"

    late = oms.pay(order_id, "PAY-LATE", "20.00")
    resent = oms.pay(order_id, "PAY-LATE", "20.00")

    assert late.status == resent.status == 409
    assert late.json()["error"]["code"] == "ORDER_CANCELLED"
    assert "refund" in late.json()["error"]["message"]
    order = oms.order(order_id)
    assert order["status"] == "CANCELLED"  # never re-opened
    assert order["payment_received"] is None
    assert order["refund_required"] is True
    flagged = [e for e in events_of(order_id) if e.type == "payment.refund_required"]
    assert len(flagged) == 1
    assert (flagged[0].from_status, flagged[0].to_status) == ("CANCELLED", "CANCELLED")
    assert flagged[0].detail["payment_id"] == "PAY-LATE"
    assert oms.stock(sku) == {"on_hand": 4, "reserved": 0, "available": 4}


def test_payment_before_the_order_parks_is_applied_when_it_gets_there(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 5)
    body = unpaid(sku, 2, "10.00")
    from tests.factories import order_id_of

    order_id = order_id_of(body)
    answers = []

    def pay_first(function_name: str, event: dict[str, Any]) -> None:
        if function_name == "PaymentFunction" and not answers:
            answers.append(oms.pay(order_id, "PAY-EARLY", "20.00"))  # the order is ALLOCATED now

    stack.runtime.before_invoke = pay_first
    order, execution = oms.run(body)

    assert answers[0].status == 200
    assert answers[0].json() == {"order_id": order_id, "status": "ALLOCATED", "outcome": "recorded"}
    assert execution["status"] == "SUCCEEDED"
    assert oms.states_entered(order["execution_arn"])[-3:] == ["AwaitPayment", "Ship", "Fulfilled"]
    assert order["status"] == "SHIPPED"
    events = events_of(order_id)
    assert [(e.type, e.to_status) for e in events[3:]] == [
        ("payment.received", "ALLOCATED"),
        ("payment.applied", "PAID"),
        ("order.shipped", "SHIPPED"),
    ]
    assert schedule_of(stack, order_id) is None
    assert not still_timed(order_id)


def test_held_unpaid_order_records_the_payment_then_approval_ships_it(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 5)
    answer = post_and_hold(oms, stack, unpaid(sku, 2, "3000.00"))  # high value: held for review
    order_id = answer["order_id"]
    assert oms.order(order_id)["status"] == "ON_HOLD"

    paid = oms.pay(order_id, "PAY-H", "6000.00")

    assert paid.status == 200
    assert paid.json()["outcome"] == "recorded"
    after = oms.order(order_id)
    assert after["status"] == "ON_HOLD"  # the hold stays: a person still decides
    assert after["payment_received"]["payment_id"] == "PAY-H"
    assert schedule_of(stack, order_id) is None
    assert not still_timed(order_id)

    assert review(oms, order_id, "approve").status == 200
    execution = oms.wait(answer["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    states = oms.states_entered(answer["execution_arn"])
    assert states[states.index("ReviewResumed") :] == [
        "ReviewResumed",
        "Allocate",
        "AllocationOutcome",
        "PaymentGate",
        "AwaitPayment",  # applies the payment recorded while held, and goes on at once
        "Ship",
        "Fulfilled",
    ]
    assert oms.order(order_id)["status"] == "SHIPPED"
    assert oms.stock(sku) == {"on_hand": 3, "reserved": 0, "available": 3}


def test_intercepting_a_waiting_unpaid_order_cancels_it_and_releases_its_stock(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 5)
    order_id, execution_arn = post_and_park(oms, stack, unpaid(sku, 2))

    intercepted = intercept(oms, order_id, "cancel", "buyer asked to cancel")

    assert intercepted.status in (200, 202), intercepted.body
    execution = oms.wait(execution_arn)
    assert execution["status"] == "SUCCEEDED"
    assert oms.states_entered(execution_arn)[-4:] == [
        "AwaitPayment",
        "Intercepted",
        "InterceptionOutcome",
        "Cancelled",
    ]
    order = oms.order(order_id)
    assert order["status"] == "CANCELLED"
    assert order["cancellation"] is None  # ops cancelled it, not the timeout
    assert oms.stock(sku) == {"on_hand": 5, "reserved": 0, "available": 5}
    stack.advance(TIMEOUT.total_seconds() + 120)  # its timers fire later and change nothing
    assert oms.order(order_id)["version"] == order["version"]
    assert not still_timed(order_id)
    late = oms.pay(order_id, "PAY-AFTER-INTERCEPT", "20.00")
    assert (late.status, late.json()["error"]["code"]) == (409, "ORDER_CANCELLED")


def test_an_unpaid_order_held_by_interception_keeps_its_stock_and_resumes_at_the_payment_gate(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 5)
    order_id, execution_arn = post_and_park(oms, stack, unpaid(sku, 2))

    assert intercept(oms, order_id, "hold", "address check").status in (200, 202)
    wait_until_waiting(stack, order_id)
    held = oms.order(order_id)
    assert held["status"] == "ON_HOLD"
    assert held["hold"]["resume"] == "ship"  # the stock stays reserved
    assert oms.stock(sku) == {"on_hand": 5, "reserved": 2, "available": 3}

    assert review(oms, order_id, "approve").status == 200
    stack.run_until(lambda: oms.order(order_id)["status"] == "AWAITING_PAYMENT", 20, advance=False)
    assert oms.pay(order_id, "PAY-AFTER-HOLD", "20.00").status == 200
    execution = oms.wait(execution_arn)
    assert execution["status"] == "SUCCEEDED"
    assert oms.order(order_id)["status"] == "SHIPPED"
    assert oms.stock(sku) == {"on_hand": 3, "reserved": 0, "available": 3}


# ---------------------------------------------------------------- races


@pytest.mark.reliability
def test_payment_and_timeout_at_the_same_instant_end_in_one_state(oms, stack):
    skus = [new_sku() for _ in range(6)]
    for sku in skus:
        oms.set_stock(sku, 5)
    cross_the_deadline_between_sweeps(oms, stack)
    parked = [post_and_park(oms, stack, unpaid(sku, 2, "10.00")) for sku in skus]
    for order_id, _ in parked:
        delete_schedule(stack, order_id)  # the race below is the timer; no third party
    deadline = datetime.fromisoformat(oms.order(parked[0][0])["pay_deadline"])
    stack.advance((deadline - stack.clock.now()).total_seconds() - 1)
    stack.clock.advance_to(deadline)  # between two sweeps: only the racers below act

    # Every race runs before any waiting: waiting moves the virtual clock on to the next sweep, which
    # would cancel the orders still to race.
    races = [
        run_together(
            lambda oid=order_id: oms.pay(oid, f"PAY-{oid}", "20.00"),
            lambda oid=order_id: stack.runtime.invoke(
                "PaymentTimeoutFunction", {"order_id": oid, "source": "schedule"}
            ),
        )
        for order_id, _ in parked
    ]
    outcomes = set()
    for (order_id, execution_arn), sku, (payment, timer) in zip(parked, skus, races, strict=True):
        execution = oms.wait(execution_arn)
        order = oms.order(order_id)
        types = [e.type for e in events_of(order_id)]
        assert execution["status"] == "SUCCEEDED"
        assert len(task_outcomes(stack, execution_arn)) == 1  # the execution was told once
        if order["status"] == "SHIPPED":  # the payment won
            outcomes.add("paid")
            assert payment.status == 200
            assert timer["action"] in {"resume", "close"}
            assert "payment.timeout" not in types
            assert order["refund_required"] is False
            assert oms.stock(sku) == {"on_hand": 3, "reserved": 0, "available": 3}
        else:  # the timeout won
            outcomes.add("cancelled")
            assert order["status"] == "CANCELLED"
            assert timer["action"] == "cancelled"
            assert payment.status == 409
            assert payment.json()["error"]["code"] == "ORDER_CANCELLED"
            assert order["refund_required"] is True
            assert "payment.received" not in types
            assert oms.stock(sku) == {"on_hand": 5, "reserved": 0, "available": 5}
        assert not still_timed(order_id)
    assert outcomes  # each race ended one way or the other, never both or neither


@pytest.mark.reliability
def test_schedule_fired_twice_with_the_sweep_cancels_once(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 8)
    cross_the_deadline_between_sweeps(oms, stack)
    order_id, execution_arn = post_and_park(oms, stack, unpaid(sku, 3))
    delete_schedule(stack, order_id)  # fired below by hand, twice
    deadline = datetime.fromisoformat(oms.order(order_id)["pay_deadline"])
    stack.advance((deadline - stack.clock.now()).total_seconds() - 1)
    stack.clock.advance_to(deadline)

    fire = {"order_id": order_id, "source": "schedule"}
    sweep_event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    results = run_together(
        lambda: stack.runtime.invoke("PaymentTimeoutFunction", fire),
        lambda: stack.runtime.invoke("PaymentTimeoutFunction", fire),
        lambda: stack.runtime.invoke("PaymentTimeoutFunction", sweep_event),
    )

    assert not [r for r in results if isinstance(r, Exception)], results
    cancels = [r["action"] for r in results[:2]].count("cancelled") + results[2]["actions"].get(
        "cancelled", 0
    )
    assert cancels == 1, results  # exactly one of the three cancelled; the others saw it done
    execution = oms.wait(execution_arn)
    assert execution["status"] == "SUCCEEDED"
    assert task_outcomes(stack, execution_arn) == [
        ("TaskFailed", "PaymentTimeoutError", task_outcomes(stack, execution_arn)[0][2])
    ]
    types = [e.type for e in events_of(order_id)]
    assert types.count("payment.timeout") == 1
    assert oms.stock(sku) == {"on_hand": 8, "reserved": 0, "available": 8}  # released once, not twice
    assert not still_timed(order_id)


@pytest.mark.reliability
def test_a_crash_after_the_payment_commit_is_finished_by_the_sweep(oms, stack, monkeypatch):
    """The payment is committed but the call dies before telling the execution: nothing is lost."""
    from functions.payment import service

    sku = new_sku()
    oms.set_stock(sku, 5)
    order_id, execution_arn = post_and_park(oms, stack, unpaid(sku, 1))
    real_send = service._send
    crashes = []

    def crash_once(order, token):
        if not crashes:
            crashes.append(order.order_id)
            raise ConnectionError("lost the connection to Step Functions")
        real_send(order, token)

    monkeypatch.setattr(service, "_send", crash_once)
    crashed = oms.pay(order_id, "PAY-C", "10.00")
    assert crashed.status == 500  # the platform sees a failure (and would resend)
    assert oms.order(order_id)["status"] == "PAID"  # but the payment was committed
    paid_at = stack.clock.now()

    execution = oms.wait(execution_arn)  # the sweep tells the execution after the grace period

    assert crashes == [order_id]
    assert execution["status"] == "SUCCEEDED"
    assert oms.order(order_id)["status"] == "SHIPPED"
    (resumed,) = [
        e["timestamp"]
        for e in stack.execution_history(execution_arn)
        if e["type"] == "TaskSucceeded"
        and e["taskSucceededEventDetails"]["resource"] == "invoke.waitForTaskToken"
    ]
    # told by the first sweep after the grace period the crashed call had to tell it itself
    grace = service.RESUME_GRACE
    assert paid_at + grace <= resumed <= paid_at + grace + timedelta(minutes=1)
    assert not still_timed(order_id)


def test_history_of_a_waiting_order_shows_the_fast_path_then_the_waiting_workflow(oms, stack):
    sku = new_sku()
    oms.set_stock(sku, 5)
    order_id, execution_arn = post_and_park(oms, stack, unpaid(sku, 2, "10.00"))
    assert oms.pay(order_id, "PAY-HIST-1", "20.00", stack.clock.now().isoformat()).status == 200
    assert oms.wait(execution_arn)["status"] == "SUCCEEDED"

    history = oms.history(order_id).json()
    assert [(e["kind"], e["status"]) for e in history["executions"]] == [
        ("express", "SUCCEEDED"),
        ("standard", "SUCCEEDED"),
    ]
    assert history["execution"]["kind"] == "standard"  # where the order is now
    path = [
        (e["workflow"], e["state"])
        for e in history["timeline"]
        if e["source"] == "workflow" and e["type"].endswith("StateEntered")
    ]
    assert path == [
        ("express", "Review"),
        ("express", "ReviewDecision"),
        ("express", "Allocate"),
        ("express", "AllocationOutcome"),
        ("express", "WaitForPayment"),
        ("express", "HandOver"),
        ("express", "HandedOver"),
        ("standard", "Resume"),
        ("standard", "AwaitPayment"),
        ("standard", "Ship"),
        ("standard", "Fulfilled"),
    ]

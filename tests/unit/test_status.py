"""The status transition table, checked against the lifecycle written out independently here."""

from __future__ import annotations

import itertools

import pytest

from functions.core.status import TERMINAL, TRANSITIONS, OrderStatus, can_transition, sources_of

S = OrderStatus

# The order lifecycle as specified; the module under test must agree with it pair by pair.
EXPECTED: dict[OrderStatus, set[OrderStatus]] = {
    S.RECEIVED: {S.APPROVED, S.ON_HOLD, S.REJECTED, S.CANCELLED, S.FAILED},
    S.ON_HOLD: {
        S.APPROVED,
        S.ALLOCATED,
        S.REJECTED,
        S.CANCELLED,
        S.FAILED,
    },  # ->ALLOCATED: resumed
    S.APPROVED: {S.ALLOCATED, S.BACKORDERED, S.ON_HOLD, S.REJECTED, S.CANCELLED, S.FAILED},
    S.BACKORDERED: {S.ALLOCATED, S.ON_HOLD, S.REJECTED, S.CANCELLED, S.FAILED},
    S.ALLOCATED: {S.SHIPPED, S.ON_HOLD, S.AWAITING_PAYMENT, S.PAID, S.CANCELLED, S.FAILED},
    # unpaid orders: wait, then paid or cancelled on timeout (or intercepted: held)
    S.AWAITING_PAYMENT: {S.PAID, S.ON_HOLD, S.CANCELLED, S.FAILED},
    S.PAID: {S.SHIPPED, S.ON_HOLD, S.CANCELLED, S.FAILED},
    S.SHIPPED: {S.DELIVERED},
    S.DELIVERED: set(),
    S.REJECTED: set(),
    S.CANCELLED: set(),
    S.FAILED: set(),
}
LEGAL = [(src, dst) for src, dsts in EXPECTED.items() for dst in sorted(dsts)]
ILLEGAL = [(src, dst) for src, dst in itertools.product(OrderStatus, repeat=2) if dst not in EXPECTED[src]]


def test_every_status_has_an_entry():
    assert set(TRANSITIONS) == set(OrderStatus)


@pytest.mark.parametrize(("current", "target"), LEGAL, ids=[f"{a}->{b}" for a, b in LEGAL])
def test_legal_transition(current, target):
    assert can_transition(current, target)


@pytest.mark.parametrize(("current", "target"), ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
def test_illegal_transition(current, target):
    assert not can_transition(current, target)


def test_terminal_statuses():
    assert {S.DELIVERED, S.REJECTED, S.CANCELLED, S.FAILED} == TERMINAL


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_terminal_statuses_have_no_exits(status):
    assert TRANSITIONS[status] == frozenset()
    assert not any(can_transition(status, target) for target in OrderStatus)


def test_no_status_transitions_to_itself():
    assert not any(can_transition(s, s) for s in OrderStatus)


def test_every_non_terminal_status_can_still_end():
    for start in set(OrderStatus) - TERMINAL:
        seen, frontier = {start}, [start]
        while frontier:
            for nxt in TRANSITIONS[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert seen & TERMINAL, f"{start} can never reach a terminal status"


def test_shipped_goods_cannot_be_cancelled_or_failed():
    assert not can_transition(S.SHIPPED, S.CANCELLED)
    assert not can_transition(S.SHIPPED, S.FAILED)


def test_sources_of():
    assert sources_of(S.SHIPPED) == {S.ALLOCATED, S.PAID}
    assert sources_of(S.ALLOCATED) == {S.APPROVED, S.BACKORDERED, S.ON_HOLD}
    assert sources_of(S.FAILED) == {
        S.RECEIVED,
        S.ON_HOLD,
        S.APPROVED,
        S.BACKORDERED,
        S.ALLOCATED,
        S.AWAITING_PAYMENT,
        S.PAID,
    }
    assert sources_of(S.PAID) == {S.ALLOCATED, S.AWAITING_PAYMENT}
    assert sources_of(S.RECEIVED) == frozenset()


def test_status_values_are_their_names():
    assert all(status.value == status.name for status in OrderStatus)

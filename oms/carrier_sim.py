"""The simulated carriers of `oms simulate`: after the orders ship, each parcel's carrier posts signed
tracking events to POST /shipments/{id}/tracking in virtual time, as carriers' webhooks would.

Most parcels go picked -> shipped -> in transit -> out for delivery -> delivered; carriers resend some
events and deliver some late (out of order); a share of the parcels stall after pick-up (the delay
check flags them once their SLA passes) and a few are damaged in transit, which the simulated ops
resolve with a reship (a replacement order through the normal pipeline). Everything is seeded.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from oms.local.clock import VirtualClock
from oms.local.stack import LocalStack

SLA_HOURS = 1  # carriers' tracking SLA during the simulation (CarrierRules.progress_sla_hours)
STEP = timedelta(minutes=5)  # the clock moves in steps; every event due in a step is posted at its end
JOURNEY = (  # minutes after the tracking phase starts
    ("picked", 5),
    ("shipped", 10),
    ("in_transit", 20),
    ("out_for_delivery", 35),
    ("delivered", 50),
)
STALL_SHARE = 0.07  # parcels that stop after "shipped": flagged delayed after the SLA
DAMAGE_SHARE = 0.04  # parcels damaged in transit: ops reship them
RESEND_SHARE = 0.1  # events a carrier sends twice
LATE_SHARE = 0.1  # parcels whose "shipped" event arrives after "in_transit" (out of order)
HORIZON = timedelta(minutes=10 + 60 * SLA_HOURS + 15)  # past the stalled parcels' SLA and a check


@dataclass(frozen=True)
class Post:
    due: datetime  # when the carrier sends it
    shipment_id: str
    carrier: str
    body: dict[str, Any]


def plan_events(parcels: list[Any], start: datetime, seed: int) -> tuple[list[Post], Counter[str]]:
    """What every carrier sends, when. `parcels` are tracking records (ShipmentTracking)."""
    posts: list[Post] = []
    fate: Counter[str] = Counter()
    for parcel in parcels:
        rng = random.Random(f"{seed}:{parcel.shipment_id}")  # noqa: S311 - a simulation
        roll = rng.random()
        kind = "normal"
        if roll < STALL_SHARE + DAMAGE_SHARE:
            kind = "stalled" if roll < STALL_SHARE else "damaged"
        fate[kind] += 1
        journey = list(JOURNEY)
        if kind == "stalled":
            journey = journey[:2]
        elif kind == "damaged":
            journey = [*journey[:3], ("damaged", 25)]
        late = rng.random() < LATE_SHARE and kind == "normal"
        for n, (status, minutes) in enumerate(journey):
            occurred = start + timedelta(minutes=minutes + rng.randint(0, 3))
            sent = occurred + (timedelta(minutes=15) if late and status == "shipped" else timedelta(0))
            body = {
                "event_id": f"{parcel.carrier}-{parcel.tracking_number}-{n}",
                "tracking_number": parcel.tracking_number,
                "status": status,
                "occurred_at": occurred.isoformat(),
                "location": "simulated hub",
            }
            copies = 2 if rng.random() < RESEND_SHARE else 1
            posts += [
                Post(sent + timedelta(minutes=i), parcel.shipment_id, parcel.carrier, body)
                for i in range(copies)
            ]
        fate["late_events"] += late
    return sorted(posts, key=lambda p: (p.due, p.shipment_id, p.body["event_id"])), fate


def drive_tracking(
    stack: LocalStack, order_ids: list[str], seed: int, concurrency: int
) -> tuple[dict[str, Any], list[str]]:
    """Post every carrier event in virtual time, resolve damaged parcels with a reship, wait for the
    replacement orders; return what happened (for the simulation report) and the replacements' ids."""
    from functions.core import repository
    from oms.local import credentials

    parcels = {}
    for order_id in order_ids:
        order = repository.find_order(order_id)
        if order is None:
            continue
        for shipment_id in order.shipment_ids:
            tracking = repository.get_tracking(shipment_id)
            if tracking is not None:
                parcels[shipment_id] = tracking
    _shorten_sla(stack)
    start = stack.clock.now()
    posts, fate = plan_events(sorted(parcels.values(), key=lambda t: t.shipment_id), start, seed)
    outcomes: Counter[str] = Counter()

    def send(post: Post) -> str:
        raw = json.dumps(post.body)
        target = f"/shipments/{post.shipment_id}/tracking"
        headers = credentials.carrier_headers(post.carrier, raw, stack.clock.now(), target=target)
        answer = stack.request("POST", target, raw, headers)
        return str(answer.json()["outcome"]) if answer.status == 200 else f"HTTP {answer.status}"

    moment = start
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sim-carrier") as pool:
        while moment < start + HORIZON:
            moment += STEP
            if isinstance(stack.clock, VirtualClock):
                stack.clock.advance_to(moment)
            stack.settle()  # the delay check (and the other rate rules) run at this moment
            due = [p for p in posts if moment - STEP < p.due <= moment]
            outcomes.update(pool.map(send, due))  # answered: the webhook's work is done
    replacements = _reship_damaged(stack)
    # Replacements run the pipeline like any order; one short of stock waits as a backorder would (the
    # report shows where each is), so the run does not wait hours of virtual time for it.
    stack.drain()
    delivery: Counter[str] = Counter()
    for order_id in order_ids:
        order = repository.find_order(order_id)
        if order is not None and order.delivery is not None:
            delivery[order.delivery.state] += 1
    carriers = Counter(t.carrier for t in parcels.values())
    summary = {
        "parcels": len(parcels),
        "carriers": dict(sorted(carriers.items())),
        "plan": dict(sorted(fate.items())),
        "events_posted": len(posts),
        "outcomes": dict(sorted(outcomes.items())),
        "orders_by_delivery": dict(sorted(delivery.items())),
        "exceptions_open": _open_cases(),
        "replacement_orders": len(replacements),
    }
    return summary, sorted(replacements)


def _shorten_sla(stack: LocalStack) -> None:
    """The carriers' SLA becomes SLA_HOURS now (an admin's rules change): parcels are re-armed with it
    at their next event, so those that stall after it are flagged within the run."""
    from oms.local import credentials

    admin = credentials.staff_headers("admin", "simulated-admin", stack.clock.now())
    current = stack.request("GET", "/rules", headers=admin).json()
    document = {
        **current,
        "carriers": {**current["carriers"], "progress_sla_hours": SLA_HOURS},
        "comment": "oms simulate: a short tracking SLA, so stalled parcels are flagged within the run",
    }
    answer = stack.request("PUT", "/rules", document, headers=admin)
    if answer.status != 200:
        raise RuntimeError(f"storing the tracking SLA failed: {answer.status} {answer.body}")


def _open_cases() -> dict[str, int]:
    from functions.core import repository

    return dict(sorted(Counter(case.kind for case in repository.list_exceptions("open", 500)).items()))


def _reship_damaged(stack: LocalStack) -> list[str]:
    """The simulated ops desk: every open damaged case is resolved with a reship, through the API."""
    from functions.core import repository
    from oms.local import credentials

    replacements: list[str] = []
    for case in repository.list_exceptions("open", 500):
        if case.kind != "damaged":
            continue
        answer = stack.request(
            "POST",
            f"/exceptions/{case.exception_id}/resolve",
            {"action": "reship", "comment": "simulated ops: reship damaged goods"},
            headers=credentials.staff_headers("ops", "simulated-ops", stack.clock.now()),
        )
        if answer.status != 200:
            raise RuntimeError(f"resolving {case.exception_id} failed: {answer.status} {answer.body}")
        replacements += answer.json()["resolution"]["replacement_order_ids"].values()
    return replacements

"""`oms simulate --url`: the simulation's orders against a running `oms serve`, over HTTP.

The same seeded plan as the in-process simulation (oms/simulate.py), driven the way the outside world
drives the OMS: stock counts as a WMS sends them (admin), orders signed as their platforms, held orders
decided by a reviewer (ops, a seeded coin per order), late payments as the platform's callback. Nothing
is read behind the API, so the console shows the run as it happens.

The server runs on the wall clock: buyers who never pay are left waiting for their deadline (the
report counts them as awaiting payment), and the run ends when every order settled or stopped moving.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from oms.client import ApiClient, ApiError, ensure_products
from oms.simulate import PAID_LATER, plan_simulation

Progress = Callable[[str, int, int], None]  # (phase, done, total); phases "post" and "wait"
SETTLED = frozenset({"SHIPPED", "DELIVERED", "REJECTED", "CANCELLED", "FAILED"})


@dataclass
class RemoteReport:
    url: str
    orders: int
    seed: int
    run: str  # the suffix of this run's platform order ids (re-runs never collide)
    post_status: dict[str, int]
    final_status: dict[str, int]
    reviewed: dict[str, int]
    payments: dict[str, int]
    unsettled: int  # still moving when the run stopped waiting
    wall_seconds: float
    orders_per_second: float

    @property
    def ok(self) -> bool:
        return all(status.startswith("20") for status in self.post_status)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def _clients(url: str, timeout: float) -> tuple[ApiClient, ApiClient]:
    from oms.local import credentials

    admin = ApiClient(url, credentials.staff_token("admin", "simulated-admin"), timeout)
    ops = ApiClient(url, credentials.staff_token("ops", "simulated-reviewer"), timeout)
    return admin, ops


def _signed(client: ApiClient, path: str, platform: str, body: dict[str, Any]) -> tuple[int, Any]:
    raw = json.dumps(body)
    try:
        return client.post_as_platform(path, platform, raw)
    except ApiError as err:
        return err.status, {"error": {"code": err.code, "message": err.message}}


def run_remote(
    url: str,
    orders: int,
    seed: int,
    concurrency: int = 8,
    progress: Progress | None = None,
    settle_seconds: float = 20.0,
    timeout: float = 30.0,
) -> RemoteReport:
    """Post the plan's orders to `url`, play reviewer and payer, wait until they settle."""
    report = progress or (lambda phase, done, total: None)
    plan = plan_simulation(orders, seed)
    run = uuid.uuid4().hex[:6]
    admin, ops = _clients(url, timeout)
    ordered = [line for body in plan.orders for line in body["lines"]]
    ensure_products(
        admin,
        [sku.sku for sku in plan.skus] + [line["sku"] for line in ordered],
        virtual=[line["sku"] for line in ordered if line.get("virtual") is True],
    )
    for sku in plan.skus:
        for warehouse, on_hand in sku.stock.items():
            count = {
                "sync_id": f"sim-{run}-{sku.sku}-{warehouse}",
                "warehouse": warehouse,
                "on_hand": on_hand,
            }
            admin.call("PUT", f"/inventory/{sku.sku}", count)
    bodies: list[dict[str, Any]] = [
        {**b, "platform_order_id": f"{b['platform_order_id']}-{run}"} for b in plan.orders
    ]
    started = time.perf_counter()
    answers: list[tuple[int, Any]] = []
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sim-remote") as pool:
        for answer in pool.map(lambda b: _signed(admin, "/orders", b["platform"], b), bodies):
            answers.append(answer)
            report("post", len(answers), len(bodies))
    pending = {
        answer["order_id"]: index
        for index, (status, answer) in enumerate(answers)
        if status in (200, 201) and "order_id" in answer
    }
    final: Counter[str] = Counter()
    reviewed: Counter[str] = Counter()
    payments: Counter[str] = Counter()
    last_change = time.monotonic()
    seen: dict[str, str] = {}
    total = len(pending)
    while pending and time.monotonic() - last_change < settle_seconds:
        for order_id, index in list(pending.items()):
            status = admin.call("GET", f"/orders/{order_id}")["status"]
            if seen.get(order_id) != status:
                seen[order_id] = status
                last_change = time.monotonic()
            if status == "ON_HOLD":
                approve = random.Random(f"{seed}:{order_id}").random() < 0.5  # noqa: S311 - a simulation
                decision = "approve" if approve else "reject"
                try:
                    ops.call(
                        "POST", f"/orders/{order_id}/review", {"decision": decision, "comment": "simulated"}
                    )
                    reviewed[decision] += 1
                except ApiError as err:  # not waiting for a person yet: try again next round
                    if err.status != 409:
                        raise
            elif status == "AWAITING_PAYMENT":
                if plan.intent[index] != PAID_LATER:
                    final["AWAITING_PAYMENT (never pays)"] += 1
                    del pending[order_id]
                    continue
                body = bodies[index]
                paid = {
                    "payment_id": f"PAY-{order_id[4:16]}",
                    "amount": body["amounts"]["total"],
                    "paid_at": datetime.now(UTC).isoformat(),
                }
                code, answer = _signed(admin, f"/orders/{order_id}/payment", body["platform"], paid)
                payments[f"{code} {answer.get('outcome') or answer.get('error', {}).get('code')}"] += 1
            elif status in SETTLED:
                final[status] += 1
                del pending[order_id]
            report("wait", total - len(pending), total)
        time.sleep(0.2)
    for order_id in pending:
        final[f"{seen.get(order_id, '?')} (still moving)"] += 1
    wall = time.perf_counter() - started
    return RemoteReport(
        url=url,
        orders=len(bodies),
        seed=seed,
        run=run,
        post_status=dict(sorted(Counter(str(status) for status, _ in answers).items())),
        final_status=dict(sorted(final.items())),
        reviewed=dict(sorted(reviewed.items())),
        payments=dict(sorted(payments.items())),
        unsettled=len(pending),
        wall_seconds=round(wall, 3),
        orders_per_second=round(len(bodies) / wall, 2) if wall > 0 else 0.0,
    )

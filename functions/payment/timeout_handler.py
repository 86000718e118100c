"""The pay-deadline timer: one-time schedules ({"order_id": ...}) and the rate(1 minute) sweep rule.

Both end in the same conditional writes (service.expire_order), so a schedule that fires twice, or
fires while the sweep handles the same order, changes the order once.
"""

from __future__ import annotations

from functions.core.models.order_in import ORDER_ID_PATTERN
from functions.core.settings import get_timer_settings
from functions.core.timer_task import timer_task
from functions.payment.service import expire_order, sweep

get_timer_settings()

lambda_handler = timer_task(
    "payment_timer",
    "order_id",
    ORDER_ID_PATTERN,
    fire=lambda order_id: expire_order(order_id, "timer:schedule").model_dump(mode="json"),
    sweep=lambda: sweep().model_dump(mode="json"),
)

"""Packing into shipments and naming them. Pure and deterministic, so a retried task builds the same plan."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from functions.core.models.order_in import OrderLine
from functions.core.models.orders import Order
from functions.core.models.shipping import Shipment
from functions.core.models.stock import Reservation

if TYPE_CHECKING:
    from functions.core.rules import CarrierRule, CarrierRules

DEFAULT_CARRIER = "SF"


def tracking_number(carrier: str, shipment_id: str) -> str:
    """Carrier prefix + 12 digits derived from the shipment id (a real carrier API returns its own)."""
    digits = int(hashlib.sha256(shipment_id.encode()).hexdigest(), 16) % 10**12
    return f"{carrier}{digits:012d}"


def plan_shipments(
    order_id: str, reservations: Sequence[Reservation], at: datetime, carrier: str = DEFAULT_CARRIER
) -> list[Shipment]:
    """One shipment per warehouse the order was allocated from (and per shipment group split by hand)."""
    return plan_group_shipments(order_id, {order_id: reservations}, at, carrier)[order_id]


VIRTUAL = "VIRTUAL"  # the warehouse and carrier of 虚拟出库 (virtual outbound): nothing leaves a building


def virtual_shipment(order_id: str, lines: Sequence[OrderLine], at: datetime) -> Shipment | None:
    """Virtual lines (gift cards, services, digital goods) are fulfilled at once: one shipment record,
    no warehouse, no stock movement. None when the order has no virtual line."""
    virtual = sorted((line for line in lines if line.virtual), key=lambda line: line.sku)
    if not virtual:
        return None
    shipment_id = f"{order_id}-{VIRTUAL}"
    return Shipment(
        shipment_id=shipment_id,
        order_id=order_id,
        warehouse=VIRTUAL,
        carrier=VIRTUAL,
        tracking_number=tracking_number("V", shipment_id),
        lines=[Reservation(sku=line.sku, warehouse=VIRTUAL, quantity=line.quantity) for line in virtual],
        created_at=at,
        virtual=True,
    )


def plan_group_shipments(
    shipper_id: str,
    reservations_by_order: Mapping[str, Sequence[Reservation]],
    at: datetime,
    carrier: str = DEFAULT_CARRIER,
    carriers: Mapping[str, str] | None = None,
) -> dict[str, list[Shipment]]:
    """合单: one parcel per warehouse (and per shipment group split by hand) for all the orders shipping
    together, seen from each order.

    Every order gets the parcels that carry its lines: same shipment id and tracking number for all,
    its own lines only, and `order_ids` naming every order in the parcel when there is more than one.
    `plan_shipments` is the single order's case. `carriers` (warehouse -> carrier, see
    `choose_carrier`) overrides `carrier` per parcel.
    """
    by_parcel: dict[tuple[str, int], set[str]] = defaultdict(set)
    for order_id, reservations in reservations_by_order.items():
        for r in reservations:
            by_parcel[(r.warehouse, r.group or 1)].add(order_id)
    views: dict[str, list[Shipment]] = {order_id: [] for order_id in reservations_by_order}
    for warehouse, group in sorted(by_parcel):
        # a second shipment group (split by hand) is a parcel of its own from the same warehouse
        shipment_id = f"{shipper_id}-{warehouse}" + (f"-G{group}" if group > 1 else "")
        together = sorted(by_parcel[(warehouse, group)])
        parcel_carrier = (carriers or {}).get(warehouse, carrier)
        for order_id in together:
            views[order_id].append(
                Shipment(
                    shipment_id=shipment_id,
                    order_id=order_id,
                    warehouse=warehouse,
                    carrier=parcel_carrier,
                    tracking_number=tracking_number(parcel_carrier, shipment_id),
                    lines=sorted(
                        (
                            r.model_copy(update={"shards": None, "group": None})  # stock's business
                            for r in reservations_by_order[order_id]
                            if r.warehouse == warehouse and (r.group or 1) == group
                        ),
                        key=lambda r: r.sku,
                    ),
                    created_at=at,
                    order_ids=together if len(together) > 1 else [],
                )
            )
    return views


# ---------------------------------------------------------------- carrier selection


@dataclass(frozen=True)
class Parcel:
    """What carrier selection looks at: where a parcel leaves from, where it goes, its weight and value."""

    warehouse: str
    country: str
    region: str | None
    weight_kg: Decimal
    value: Decimal


@dataclass(frozen=True)
class CarrierChoice:
    carrier: str
    reason: str  # "rule <n>", "country <CC>" or "default"


def parcel_of(
    warehouse: str,
    reservations_by_order: Mapping[str, Sequence[Reservation]],
    orders: Mapping[str, Order],
    rules: CarrierRules,
    weights_kg: Mapping[str, Decimal],
) -> Parcel:
    """The parcel leaving `warehouse` with these orders' lines (合单: several orders, one address).

    `weights_kg`: kilograms per unit from the product master; a SKU without one weighs the rules' default.
    """
    weight = Decimal("0")
    value = Decimal("0")
    country, region = "", None
    for order_id, reservations in reservations_by_order.items():
        order = orders[order_id]
        country, region = order.shipping_address.country, order.shipping_address.region
        prices = {line.sku: line.unit_price for line in order.lines}
        for r in reservations:
            if r.warehouse != warehouse:
                continue
            weight += weights_kg.get(r.sku, rules.default_weight_kg) * r.quantity
            value += prices.get(r.sku, Decimal("0")) * r.quantity
    return Parcel(warehouse=warehouse, country=country, region=region, weight_kg=weight, value=value)


def _matches(rule: CarrierRule, parcel: Parcel) -> bool:
    destinations = {d.upper() for d in rule.destinations}
    place = {parcel.country.upper(), (parcel.region or "").upper()} - {""}
    return (
        (not rule.warehouses or parcel.warehouse in rule.warehouses)
        and (not destinations or bool(destinations & place))
        and (rule.min_weight_kg is None or parcel.weight_kg >= rule.min_weight_kg)
        and (rule.max_weight_kg is None or parcel.weight_kg <= rule.max_weight_kg)
        and (rule.min_value is None or parcel.value >= rule.min_value)
        and (rule.max_value is None or parcel.value <= rule.max_value)
    )


def choose_carrier(rules: CarrierRules, parcel: Parcel) -> CarrierChoice:
    """The first rule every condition of which holds, else the destination country's carrier, else the
    default. (Virtual lines never get here: they ship as 虚拟出库 with no carrier.)"""
    for index, rule in enumerate(rules.rules):
        if _matches(rule, parcel):
            return CarrierChoice(rule.carrier, f"rule {index}")
    if parcel.country in rules.carrier_by_country:
        return CarrierChoice(rules.carrier_by_country[parcel.country], f"country {parcel.country}")
    return CarrierChoice(rules.default_carrier, "default")

"""Shipping decisions without AWS: carrier selection, tracking status ranking, delivery summaries, case
ids and write-offs, and the carrier signature."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from functions.core.auth.keys import carrier_secret, platform_secret
from functions.core.auth.permissions import authorize
from functions.core.auth.principals import ANONYMOUS, CARRIER, AuthError, Principal
from functions.core.auth.signing import sign_request, signed_request, timestamp_ms, verify_request
from functions.core.models.shipping import ExceptionCase, ShipmentTracking
from functions.core.models.stock import Reservation
from functions.core.rules import CarrierRules
from functions.logistics.logic import exception_id_for, watched, writeoff_lines, writes_off
from functions.ship.logic import Parcel, choose_carrier, plan_group_shipments
from functions.ship.tracking import decide, delivery_summary, order_events, progress_due

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def parcel(
    warehouse: str = "WH-MAIN",
    country: str = "CN",
    region: str | None = "SH",
    weight: str = "1",
    value: str = "100",
) -> Parcel:
    return Parcel(warehouse, country, region, Decimal(weight), Decimal(value))


# ---------------------------------------------------------------- carrier selection

RULES = CarrierRules.model_validate(
    {
        "default_carrier": "SF",
        "carrier_by_country": {"US": "UPS"},
        "rules": [
            {"carrier": "JDL", "warehouses": ["WH-NORTH"]},
            {"carrier": "EMS", "destinations": ["XZ", "XJ"]},
            {"carrier": "DBL", "min_weight_kg": "20"},
            {"carrier": "SFX", "min_value": "5000", "destinations": ["CN"]},
            {"carrier": "YTO", "max_value": "30", "max_weight_kg": "1"},
        ],
    }
)


@pytest.mark.parametrize(
    ("given", "carrier", "reason"),
    [
        (parcel(warehouse="WH-NORTH", weight="50"), "JDL", "rule 0"),  # first match wins
        (parcel(region="XJ"), "EMS", "rule 1"),
        (parcel(weight="20"), "DBL", "rule 2"),  # bounds are inclusive
        (parcel(weight="19.99"), "SF", "default"),
        (parcel(value="5000"), "SFX", "rule 3"),  # matched by country when the region is not listed
        (parcel(value="30", weight="1"), "YTO", "rule 4"),
        (parcel(value="30.01", weight="1"), "SF", "default"),
        (parcel(country="US", region="CA", value="6000"), "UPS", "country US"),  # rule 3 is CN only
        (parcel(country="DE", region=None), "SF", "default"),
    ],
)
def test_carrier_rules_first_match_then_country_then_default(given, carrier, reason):
    choice = choose_carrier(RULES, given)
    assert (choice.carrier, choice.reason) == (carrier, reason)


def test_carrier_codes_are_validated():
    with pytest.raises(ValidationError):
        CarrierRules.model_validate({"rules": [{"carrier": "sf express"}]})
    with pytest.raises(ValidationError):
        CarrierRules.model_validate({"carrier_by_country": {"US": "ups"}})
    assert CarrierRules().sla_hours("SF") == 48
    assert CarrierRules(progress_sla_hours_by_carrier={"EMS": 96}).sla_hours("EMS") == 96


def test_each_parcel_of_a_split_order_gets_its_warehouses_carrier():
    reservations = {"ord-a": [Reservation(sku="A", warehouse="WH-1", quantity=1)]}
    reservations["ord-a"].append(Reservation(sku="B", warehouse="WH-2", quantity=1))
    views = plan_group_shipments("ord-a", reservations, AT, carriers={"WH-2": "JDL"})
    assert [(s.warehouse, s.carrier) for s in views["ord-a"]] == [("WH-1", "SF"), ("WH-2", "JDL")]
    assert all(s.tracking_number.startswith(s.carrier) for s in views["ord-a"])


# ---------------------------------------------------------------- status ranking


def test_statuses_only_move_forward():
    assert decide("created", AT, "picked", AT).effect == "advance"
    assert decide("in_transit", AT, "delivered", AT - timedelta(days=1)).effect == "advance"  # rank wins
    assert decide("in_transit", AT, "picked", AT + timedelta(hours=1)).effect == "stale"
    assert decide("in_transit", AT, "in_transit", AT + timedelta(hours=1)).effect == "progress"
    assert decide("in_transit", AT, "in_transit", AT).effect == "stale"  # not newer
    assert decide("delivered", AT, "in_transit", AT + timedelta(days=1)).effect == "stale"
    assert decide("delivered", AT, "delivered", AT + timedelta(days=1)).effect == "stale"


def test_failed_and_out_for_delivery_alternate_by_time():
    assert decide("out_for_delivery", AT, "failed", AT + timedelta(hours=1)).effect == "advance"
    assert decide("failed", AT, "out_for_delivery", AT + timedelta(hours=1)).effect == "advance"
    assert decide("failed", AT, "out_for_delivery", AT - timedelta(hours=1)).effect == "stale"
    assert decide("failed", AT, "delivered", AT - timedelta(hours=1)).effect == "advance"


def test_damage_and_loss_are_exceptions_whatever_the_status():
    for current in ("created", "in_transit", "delivered"):
        assert decide(current, AT, "damaged", AT).effect == "exception"
        assert decide(current, AT, "lost", AT).effect == "exception"


def test_progress_deadline_counts_from_the_event_but_never_from_the_future():
    assert progress_due(48, AT, AT + timedelta(hours=1)) == AT + timedelta(hours=48)
    assert progress_due(48, AT + timedelta(hours=5), AT) == AT + timedelta(hours=48)


# ---------------------------------------------------------------- delivery summary


def test_delivery_summary_states():
    pending = delivery_summary({"a": "created", "b": "in_transit"}, AT)
    assert (pending.state, pending.delivered, pending.total, pending.delivered_at) == ("pending", 0, 2, None)
    partial = delivery_summary({"a": "delivered", "b": "in_transit"}, AT)
    assert (partial.state, partial.delivered) == ("partial", 1)
    done = delivery_summary({"a": "delivered", "b": "delivered"}, AT)
    assert (done.state, done.delivered_at) == ("delivered", AT)
    assert delivery_summary({}, AT).state == "pending"


def test_order_events_for_one_shipment_change():
    none = delivery_summary({"a": "in_transit", "b": "created"})
    one = delivery_summary({"a": "delivered", "b": "created"})
    both = delivery_summary({"a": "delivered", "b": "delivered"})
    assert order_events(none, none, "shipment.in_transit") == [("shipment.in_transit", False)]
    assert order_events(none, one, "shipment.delivered") == [
        ("shipment.delivered", False),
        ("order.partially_delivered", False),
    ]
    assert order_events(one, both, "shipment.delivered") == [
        ("shipment.delivered", False),
        ("order.delivered", True),
    ]


# ---------------------------------------------------------------- exception cases


def case(kind: str) -> ExceptionCase:
    return ExceptionCase.model_validate(
        {
            "exception_id": exception_id_for("s-1", kind),  # type: ignore[arg-type]
            "kind": kind,
            "shipment_id": "s-1",
            "carrier": "SF",
            "tracking_number": "SF1",
            "warehouse": "WH-MAIN",
            "order_ids": ["ord-a"],
            "opened_at": AT,
            "opened_by": "carrier:SF",
        }
    )


def test_case_ids_are_one_per_damage_and_one_per_stall():
    assert exception_id_for("s-1", "damaged") == exception_id_for("s-1", "damaged")
    assert exception_id_for("s-1", "damaged") != exception_id_for("s-1", "lost")
    assert exception_id_for("s-1", "delayed", "t1") != exception_id_for("s-1", "delayed", "t2")
    assert exception_id_for("s-1", "lost").startswith("exc-")


def test_only_damaged_or_lost_goods_reshipped_or_refunded_are_written_off():
    assert writes_off(case("damaged"), "reship")
    assert writes_off(case("lost"), "refund")
    assert not writes_off(case("damaged"), "dismiss")
    assert not writes_off(case("delayed"), "reship")
    merged = writeoff_lines(
        [
            Reservation(sku="A", warehouse="WH-1", quantity=1),
            Reservation(sku="A", warehouse="WH-1", quantity=2),
            Reservation(sku="B", warehouse="WH-1", quantity=1),
        ]
    )
    assert [(r.sku, r.quantity) for r in merged] == [("A", 3), ("B", 1)]


def test_a_damaged_parcel_is_no_longer_watched_a_delayed_one_is():
    tracking = ShipmentTracking(
        shipment_id="s-1",
        carrier="SF",
        tracking_number="SF1",
        warehouse="WH-MAIN",
        order_ids=["ord-a"],
        platforms=["tmall"],
        status_at=AT,
        last_progress_at=AT,
        created_at=AT,
        exception_ids=[exception_id_for("s-1", "delayed", "t1")],
    )
    assert watched(tracking)
    damaged = tracking.model_copy(update={"exception_ids": [exception_id_for("s-1", "damaged")]})
    assert not watched(damaged)


# ---------------------------------------------------------------- carrier signatures


def carrier_headers(secret: str, body: str, carrier: str = "SF", at: datetime = AT) -> dict[str, str]:
    ts = timestamp_ms(at)
    signature = sign_request(secret, "POST", TRACKING_PATH, ts, body)
    return {"X-OMS-Carrier": carrier, "X-OMS-Timestamp": ts, "X-OMS-Signature": signature}


TRACKING_PATH = "/shipments/s-1/tracking"


def test_a_carrier_signs_like_a_platform_with_its_own_secret():
    master = b"m" * 40
    secret = carrier_secret(master, "SF")
    assert secret != carrier_secret(master, "JDL")
    assert secret != platform_secret(master, "sf")
    signed = signed_request(carrier_headers(secret, "{}"), AT)
    assert signed is not None
    assert signed.principal == Principal("carrier", "SF", CARRIER)
    verify_request(signed, secret, "POST", TRACKING_PATH, [], "{}")
    with pytest.raises(AuthError):
        verify_request(signed, platform_secret(master, "sf"), "POST", TRACKING_PATH, [], "{}")
    with pytest.raises(AuthError, match="not both"):
        signed_request({**carrier_headers(secret, "{}"), "X-OMS-Platform": "tmall"}, AT)
    with pytest.raises(AuthError, match="carrier code"):
        signed_request(carrier_headers(secret, "{}", carrier="sf"), AT)
    with pytest.raises(AuthError) as stale:
        signed_request(carrier_headers(secret, "{}", at=AT - timedelta(minutes=6)), AT)
    assert stale.value.code == "STALE_REQUEST"


def test_carriers_may_post_tracking_and_nothing_else():
    sf = Principal("carrier", "SF", CARRIER)
    assert authorize("POST", "/shipments/s-1/tracking", sf) == "/shipments/{shipment_id}/tracking"
    for method, path in [("GET", "/shipments/s-1"), ("GET", "/orders"), ("GET", "/exceptions")]:
        with pytest.raises(AuthError) as refused:
            authorize(method, path, sf)
        assert refused.value.status == 403
    assert Principal.from_context(sf.to_context()) == sf
    assert Principal.from_context({"kind": "carrier", "id": "sf", "role": "carrier"}) == ANONYMOUS


def test_a_parcel_weighs_and_costs_what_its_orders_put_in_it():
    from functions.ship.logic import parcel_of
    from tests.factories import address, order_body, stored_order

    a, _ = stored_order(order_body([("RICE", 2, "59.90"), ("MUG", 1, "39.90")]), AT)
    b, _ = stored_order(order_body([("MUG", 3, "39.90")], shipping_address=address(region="ZJ")), AT)
    rules = CarrierRules(default_weight_kg=Decimal("0.4"))
    together = {
        a.order_id: [
            Reservation(sku="RICE", warehouse="WH-1", quantity=2),
            Reservation(sku="MUG", warehouse="WH-2", quantity=1),
        ],
        b.order_id: [Reservation(sku="MUG", warehouse="WH-1", quantity=3)],
    }
    got = parcel_of("WH-1", together, {a.order_id: a, b.order_id: b}, rules, {"RICE": Decimal("5.1")})
    assert got.weight_kg == Decimal("10.2") + Decimal("1.2")  # 2 x 5.1 + 3 x 0.4 (WH-2's mug not in it)
    assert got.value == Decimal("119.80") + Decimal("119.70")
    assert got.warehouse == "WH-1"
    assert got.country == "CN"

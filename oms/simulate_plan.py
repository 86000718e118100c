"""The synthetic orders and stock of `oms simulate`, from a seed: the same seed gives the same run.

A Double 11 morning's mix: platforms, everyday goods with a long tail, a flash-sale item on sharded stock,
gift cards, repeat buyers (merge candidates), orders whose totals do not add up, high-value orders held
for review, unpaid orders (some paid later, some never), SKUs stocked below demand and restocked half-way.
oms/simulate.py posts them through the pipeline and checks the books.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

MAIN_WAREHOUSE = "WH-MAIN"
SECOND_WAREHOUSE = "WH-SOUTH"
HIGH_VALUE_SKU = "LAPTOP-PRO-16"
FLASH_SKU = "AIRFRYER-5L-FLASH"  # the flash-sale item: most orders want it, stock is a fraction of that
GIFT_CARD_SKU = "GIFT-CARD-100"  # virtual: no warehouse, shipped as a virtual shipment (虚拟出库)
SIM_START = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)  # a Double 11 morning

# Everyday goods; prices stay low enough that 3 lines x 3 units never pass the 5000 review threshold,
# so only the deliberately high-value orders are held.
CATALOG: tuple[tuple[str, str, Decimal], ...] = (
    ("TEA-LONGJING-250G", "West Lake Longjing tea 250g", Decimal("168.00")),
    ("MUG-CERAMIC-350", "Ceramic mug 350ml", Decimal("39.90")),
    ("SOCKS-COTTON-5P", "Cotton socks, 5 pairs", Decimal("29.90")),
    ("PHONE-CASE-X", "Phone case", Decimal("19.90")),
    ("USB-C-CABLE-1M", "USB-C cable 1m", Decimal("25.00")),
    ("EARBUDS-BT5", "Bluetooth earbuds", Decimal("199.00")),
    ("BACKPACK-20L", "Backpack 20l", Decimal("259.00")),
    ("RICE-5KG", "Northeast rice 5kg", Decimal("59.90")),
    ("NOODLES-12P", "Instant noodles, 12 pack", Decimal("35.80")),
    ("FACE-MASK-10P", "Sheet masks, 10 pack", Decimal("89.00")),
    ("TSHIRT-M-WHITE", "T-shirt M white", Decimal("79.00")),
    ("SNEAKERS-42", "Running shoes 42", Decimal("499.00")),
    ("POWER-BANK-20K", "Power bank 20000mAh", Decimal("149.00")),
    ("LAMP-DESK-LED", "LED desk lamp", Decimal("129.00")),
    (HIGH_VALUE_SKU, "Laptop 16in", Decimal("8999.00")),
)

# Share of orders per platform (roughly a Chinese marketplace mix plus one overseas storefront).
PLATFORMS: tuple[tuple[str, int], ...] = (
    ("tmall", 30),
    ("jd", 25),
    ("pinduoduo", 20),
    ("douyin", 15),
    ("shopify", 10),
)

CN_PLACES = (
    ("Shanghai", "SH", "200000"),
    ("Beijing", "BJ", "100000"),
    ("Hangzhou", "ZJ", "310000"),
    ("Shenzhen", "GD", "518000"),
    ("Chengdu", "SC", "610000"),
    ("Wuhan", "HB", "430000"),
)
US_PLACES = (("San Francisco", "CA", "94103"), ("Seattle", "WA", "98101"), ("Austin", "TX", "73301"))
NAMES = ("Li Lei", "Han Meimei", "Wang Fang", "Zhang Wei", "Chen Jing", "Liu Yang", "Zhao Min", "Sun Li")
STREETS = ("Nanjing Rd", "Renmin Rd", "Jiefang Ave", "Main St")
US_NAMES = ("Alex Smith", "Jordan Lee", "Sam Taylor", "Casey Brown")

MISMATCH_SHARE = 0.04  # orders whose total does not add up: review rejects them
HIGH_VALUE_SHARE = 0.03  # orders above 5000: review holds them for a person
SHORT_SKU_COUNT = 3  # SKUs stocked below demand, so late orders for them are rejected OUT_OF_STOCK
MISSING = "MISSING"  # final status of a posted order the OMS never stored
FLASH_SHARE = 0.3  # normal orders that include the flash-sale item
FLASH_STOCK_SHARE = (0.3, 0.45)  # its stock, as a share of what is asked for
FLASH_SHARDS = 8  # stock counters the flash-sale item is spread over (allocation rule hot_sku_shards)
GIFT_SHARE = 0.06  # normal orders with a gift card line (virtual)
REPEAT_SHARE = 0.08  # normal orders by a buyer who ordered before, to the same address (合单 candidates)
RESTOCK_SHARE = 0.5  # of what a short SKU lacks, delivered half-way through the run (wakes backorders)
SOUTH_REGIONS = ("GD", "SC", "HB")  # shipping regions WH-SOUTH serves

# The allocation rules the simulation runs under (PUT /rules, as an admin would store them).
ALLOCATION_RULES: dict[str, Any] = {
    "warehouse_priority": [MAIN_WAREHOUSE, SECOND_WAREHOUSE],
    "warehouse_regions": {SECOND_WAREHOUSE: list(SOUTH_REGIONS)},
    "allow_split": True,
    "out_of_stock": "backorder",
    "backorder_retry_minutes": 60,
    "backorder_max_hours": 4,
    "merge_window_minutes": 15,
    "hot_sku_shards": {FLASH_SKU: FLASH_SHARDS},
}
# Who carries what (docs/shipping.md): the southern warehouse hands its parcels to JDL, US addresses go
# with UPS, the rest with the default (SF). (oms/carrier_sim.py shortens the tracking SLA later.)
CARRIER_RULES: dict[str, Any] = {
    "rules": [{"carrier": "JDL", "warehouses": [SECOND_WAREHOUSE]}],
    "carrier_by_country": {"US": "UPS"},
}
# Orders that arrive unpaid (functions/payment): half are paid by the platform's callback within the pay
# timeout, the other half never, and are cancelled at their deadline by the timers.
UNPAID_SHARE = 0.10
PAID_LATER, NEVER_PAID = "unpaid_paid_later", "unpaid_never_paid"
PAYMENT_DELAY_MINUTES = (1, 25)  # when the payers pay, after the order was posted (timeout: 30)
PLATFORM_FUNCTION = "SimulatedPlatform"  # the local "function" the payment schedules invoke


@dataclass
class SkuPlan:
    sku: str
    name: str
    price: Decimal
    stock: dict[str, int]  # warehouse -> on_hand
    demand: int  # units asked for by orders that should pass review
    short: bool


@dataclass
class SimulationPlan:
    skus: list[SkuPlan]
    orders: list[dict[str, Any]]  # OrderIn bodies, ready to POST
    intent: list[str]  # per order: "normal", "mismatch", "high_value", PAID_LATER or NEVER_PAID
    pay_after_minutes: dict[int, int] = field(default_factory=dict)  # PAID_LATER order index -> delay
    # Deliveries half-way through the run: (sku, warehouse, units), synced as PUT /inventory restocks.
    restocks: list[tuple[str, str, int]] = field(default_factory=list)


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _platform_order_id(platform: str, index: int, rng: random.Random) -> str:
    # Each platform has its own id shape; the index keeps them unique within a run.
    if platform == "tmall":
        return f"{rng.randrange(10**11, 10**12)}{index:06d}"
    if platform == "jd":
        return f"{rng.randrange(10**5, 10**6)}{index:06d}"
    if platform == "pinduoduo":
        return f"261111-{rng.randrange(10**8, 10**9)}{index:06d}"
    if platform == "douyin":
        return f"69{rng.randrange(10**10, 10**11)}{index:06d}"
    return f"SHOP-{1000 + index}"


def _order_body(
    index: int, intent: str, rng: random.Random, popular: list[SkuPlan], flash: SkuPlan | None = None
) -> dict[str, Any]:
    platform = rng.choices([p for p, _ in PLATFORMS], weights=[w for _, w in PLATFORMS])[0]
    overseas = platform == "shopify"
    if intent == "high_value":
        picked = [(next(s for s in CATALOG if s[0] == HIGH_VALUE_SKU), 1)]
    else:
        # Popularity falls off along `popular` (1/rank): a few best sellers, a long tail.
        count = rng.choices((1, 2, 3), weights=(55, 30, 15))[0]
        chosen = rng.choices(popular, weights=[1 / (i + 1) for i in range(len(popular))], k=count * 2)
        unique = list(dict.fromkeys(s.sku for s in chosen))[:count]
        by_sku = {s.sku: s for s in popular}
        picked = [
            ((sku, by_sku[sku].name, by_sku[sku].price), rng.choices((1, 2, 3), weights=(70, 20, 10))[0])
            for sku in unique
        ]
        if flash is not None and rng.random() < FLASH_SHARE:  # one per buyer, as flash sales limit
            picked = [((flash.sku, flash.name, flash.price), 1), *picked[:1]]
    lines = [
        {"sku": sku, "name": name, "quantity": quantity, "unit_price": _money(price)}
        for (sku, name, price), quantity in picked
    ]
    if intent != "high_value" and rng.random() < GIFT_SHARE:
        lines.append(
            {
                "sku": GIFT_CARD_SKU,
                "name": "Gift card 100",
                "quantity": 1,
                "unit_price": "100.00",
                "virtual": True,
            }
        )
        picked.append(((GIFT_CARD_SKU, "Gift card 100", Decimal("100.00")), 1))
    subtotal = sum((price * quantity for (_, _, price), quantity in picked), Decimal("0"))
    shipping = Decimal("0") if subtotal >= 99 else Decimal("8.00")
    discount = Decimal(rng.choice((0, 0, 0, 5, 10))) if subtotal > 50 else Decimal("0")
    total = subtotal + shipping - discount
    if intent == "mismatch":
        total += Decimal(rng.choice(("10.00", "0.50", "100.00")))  # a platform rounding or coupon bug
    if overseas:
        city, region, postal = rng.choice(US_PLACES)
        name, phone, country, currency, offset = rng.choice(US_NAMES), "+1 415 555 0100", "US", "USD", -8
    else:
        city, region, postal = rng.choice(CN_PLACES)
        name, phone, country, currency, offset = (
            rng.choice(NAMES),
            f"+86 138 {rng.randrange(1000, 10000)} {rng.randrange(1000, 10000)}",
            "CN",
            "CNY",
            8,
        )
    placed = SIM_START + timedelta(seconds=index * 7 + rng.randrange(0, 7))
    return {
        "platform": platform,
        "platform_order_id": _platform_order_id(platform, index, rng),
        "buyer": {"id": f"{platform}-buyer-{rng.randrange(1, 10**6)}", "name": name},
        "shipping_address": {
            "name": name,
            "phone": phone,
            "line1": f"{rng.randrange(1, 999)} {rng.choice(STREETS)}",
            "city": city,
            "region": region,
            "postal_code": postal,
            "country": country,
        },
        "lines": lines,
        "amounts": {
            "currency": currency,
            "subtotal": _money(subtotal),
            "shipping": _money(shipping),
            "discount": _money(discount),
            "total": _money(total),
        },
        "placed_at": placed.astimezone(timezone(timedelta(hours=offset))).isoformat(),
    }


def plan_simulation(orders: int, seed: int) -> SimulationPlan:
    """Orders and stock, both from `random.Random(seed)`: the same seed gives the same run."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    regular = [
        SkuPlan(sku, name, price, {}, 0, False) for sku, name, price in CATALOG if sku != HIGH_VALUE_SKU
    ]
    flash = SkuPlan(FLASH_SKU, "Air fryer 5l (flash sale)", Decimal("299.00"), {}, 0, True)
    special = rng.sample(
        range(orders), k=min(orders, _share(orders, MISMATCH_SHARE) + _share(orders, HIGH_VALUE_SHARE))
    )
    mismatch = set(special[: _share(orders, MISMATCH_SHARE)])
    intent = [
        "mismatch" if i in mismatch else "high_value" if i in special else "normal" for i in range(orders)
    ]
    popular = rng.sample(regular, k=len(regular))  # which SKUs sell best differs by seed
    bodies = [_order_body(i, intent[i], rng, popular, flash) for i in range(orders)]
    # Some buyers order again, to the same address, shortly after: candidates for merging (合单).
    for i in range(1, orders):
        if intent[i] != "normal" or rng.random() >= REPEAT_SHARE:
            continue
        earlier = [
            j for j in range(i) if intent[j] == "normal" and bodies[j]["platform"] == bodies[i]["platform"]
        ]
        if earlier:
            first = bodies[rng.choice(earlier)]
            bodies[i]["buyer"] = dict(first["buyer"])
            bodies[i]["shipping_address"] = dict(first["shipping_address"])
    pay_after = _make_some_unpaid(bodies, intent, seed)

    # Stock follows demand, so the run has the same shape at any size: most SKUs cover what is asked
    # for, a few best sellers (chosen by the seed) are short and run out part-way through.
    stocked = [*regular, flash]
    for i, body in enumerate(bodies):
        if intent[i] in ("normal", PAID_LATER, NEVER_PAID):
            for line in body["lines"]:
                if not line.get("virtual"):
                    next(s for s in stocked if s.sku == line["sku"]).demand += line["quantity"]
    best_sellers = sorted((s for s in regular if s.demand > 0), key=lambda s: -s.demand)[:6]
    for s in rng.sample(best_sellers, k=min(SHORT_SKU_COUNT, max(0, len(best_sellers) - 1))):
        s.short = True
    skus = [*regular, SkuPlan(HIGH_VALUE_SKU, "Laptop 16in", CATALOG[-1][2], {}, 0, False)]
    for index, s in enumerate(skus):
        total = math.floor(s.demand * rng.uniform(0.45, 0.7)) if s.short else s.demand + rng.randint(3, 12)
        if index % 4 == 1 and not s.short:
            # Some SKUs are split over two warehouses, so sourcing has to choose.
            s.stock = {MAIN_WAREHOUSE: total - total // 3, SECOND_WAREHOUSE: total // 3}
        elif index % 4 == 3 and not s.short:
            # Some only the southern warehouse carries: an order with one of them and a main-warehouse
            # SKU ships in two parts (split).
            s.stock = {SECOND_WAREHOUSE: total}
        else:
            s.stock = {MAIN_WAREHOUSE: total}
    if flash.demand > 0:
        # The flash sale: far fewer units than buyers, on sharded counters in the main warehouse.
        flash.stock = {MAIN_WAREHOUSE: max(1, math.floor(flash.demand * rng.uniform(*FLASH_STOCK_SHARE)))}
        skus.append(flash)
    # Half-way through, a delivery brings part of what the short SKUs lack: backorders waiting for them
    # are woken; the rest wait until their backorder deadline and are rejected.
    restocks = [
        (s.sku, MAIN_WAREHOUSE, max(1, math.floor((s.demand - sum(s.stock.values())) * RESTOCK_SHARE)))
        for s in skus
        if s.short
    ]
    return SimulationPlan(
        skus=skus, orders=bodies, intent=intent, pay_after_minutes=pay_after, restocks=restocks
    )


def _make_some_unpaid(bodies: list[dict[str, Any]], intent: list[str], seed: int) -> dict[int, int]:
    """Turn a seeded share of the normal orders into unpaid ones (their own Random: the rest of the
    plan stays what it was). Returns when each PAID_LATER order is paid, in minutes after posting."""
    rng = random.Random(f"{seed}:unpaid")  # noqa: S311 - reproducible test data
    normal = [i for i, kind in enumerate(intent) if kind == "normal"]
    chosen = rng.sample(normal, k=min(len(normal), _share(len(bodies), UNPAID_SHARE) * 2))
    pay_after: dict[int, int] = {}
    for n, i in enumerate(chosen):
        bodies[i]["payment"] = {"status": "unpaid"}
        intent[i] = PAID_LATER if n % 2 == 0 else NEVER_PAID
        if intent[i] == PAID_LATER:
            pay_after[i] = rng.randint(*PAYMENT_DELAY_MINUTES)
    return pay_after


def _share(orders: int, share: float) -> int:
    # At least one of each kind, so even a small run exercises review's reject and hold.
    return max(1, round(orders * share)) if orders >= 10 else 0

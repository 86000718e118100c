"""What each route admits: the one permissions table, and matching a request to its route.

PERMISSIONS maps (method, route) to who may call it. A route that is not in it is refused.
"""

from __future__ import annotations

import re

from functions.core.auth.principals import CARRIER, PLATFORM, PUBLIC, AuthError, Principal, Role

Access = frozenset[str]
READERS: Access = frozenset(Role)
ADMIN: Access = frozenset({Role.ADMIN})
OPS: Access = frozenset({Role.OPS, Role.ADMIN})
AFTERSALES: Access = frozenset({Role.CUSTOMER_SERVICE, Role.ADMIN})
MERCHANDISING: Access = frozenset({Role.MERCHANDISER, Role.ADMIN})
OWN_PLATFORM: Access = frozenset({PLATFORM})
OWN_CARRIER: Access = frozenset({CARRIER})

# The one permissions table: (method, route) -> the roles (and PLATFORM / PUBLIC) that may call it.
# Routes are API Gateway resource paths. A platform reaches only its own orders on every route with
# {order_id} (checked in functions/core/security.py). A new route is one added line; without it, 403.
PERMISSIONS: dict[tuple[str, str], Access] = {
    ("GET", "/openapi.json"): frozenset({PUBLIC}),
    ("POST", "/orders"): OWN_PLATFORM,
    ("GET", "/orders"): READERS | OWN_PLATFORM,
    ("GET", "/orders/{order_id}"): READERS | OWN_PLATFORM,
    ("GET", "/orders/{order_id}/history"): READERS | OWN_PLATFORM,
    ("POST", "/orders/{order_id}/review"): OPS,
    ("POST", "/orders/{order_id}/intercept"): OPS,
    ("POST", "/orders/{order_id}/payment"): ADMIN | OWN_PLATFORM,
    ("POST", "/orders/{order_id}/aftersales"): AFTERSALES | OWN_PLATFORM,
    ("GET", "/orders/{order_id}/aftersales"): READERS | OWN_PLATFORM,
    ("POST", "/shipments/{shipment_id}/tracking"): OWN_CARRIER | ADMIN,
    ("GET", "/shipments/{shipment_id}"): READERS | OWN_PLATFORM,
    ("GET", "/exceptions"): READERS,
    ("POST", "/exceptions/{exception_id}/resolve"): OPS,
    # After-sales cases (functions/aftersales): a platform reaches the cases of its own orders only.
    ("GET", "/aftersales/{case_id}"): READERS | OWN_PLATFORM,
    ("POST", "/aftersales/{case_id}/approve"): AFTERSALES,
    ("POST", "/aftersales/{case_id}/reject"): AFTERSALES,
    ("POST", "/aftersales/{case_id}/return-shipped"): AFTERSALES | OWN_PLATFORM,
    ("POST", "/aftersales/{case_id}/received"): OPS,
    ("POST", "/aftersales/{case_id}/inspect"): OPS,
    ("POST", "/refunds/{refund_id}/callback"): ADMIN | OWN_PLATFORM,
    ("GET", "/holds"): READERS,
    ("POST", "/holds/decisions"): OPS,
    ("POST", "/orders/interceptions"): OPS,
    ("GET", "/orders/export"): READERS,
    ("GET", "/audit"): ADMIN,
    ("POST", "/orders/{order_id}/changes/address"): OPS | OWN_PLATFORM,
    ("POST", "/orders/{order_id}/changes/lines"): OPS | OWN_PLATFORM,
    ("POST", "/orders/{order_id}/changes/split"): OPS,
    ("POST", "/orders/{order_id}/changes/refunds/{reference}/callback"): ADMIN | OWN_PLATFORM,
    ("GET", "/inventory/{sku}"): READERS,
    ("PUT", "/inventory/{sku}"): ADMIN,
    ("POST", "/inventory/import"): ADMIN,
    ("GET", "/inventory/{sku}/ledger"): READERS,
    ("GET", "/rules"): READERS,
    ("GET", "/rules/versions"): READERS,
    ("GET", "/rules/versions/{number}"): READERS,
    ("PUT", "/rules"): ADMIN,
    ("POST", "/rules/dry-run"): ADMIN,
    ("GET", "/reports/sales"): READERS,
    ("GET", "/events"): OPS,
    ("GET", "/events/schemas"): READERS,
    ("POST", "/events/replay"): ADMIN,
    ("PUT", "/webhooks/{platform}"): ADMIN,
    ("GET", "/webhooks"): ADMIN,
    ("GET", "/webhooks/deliveries"): OPS,
    # Channel connectors (functions/connectors): shops are admin's, SKU maps ops'; a push is signed the
    # platform's own way with its shop's secret, so one shop's secret admits only that shop's orders.
    ("PUT", "/channels/{platform}/shops/{shop}"): ADMIN,
    ("GET", "/channels"): READERS,
    ("PUT", "/channels/{platform}/shops/{shop}/sku-map"): OPS,
    ("GET", "/channels/{platform}/shops/{shop}/held"): READERS,
    ("POST", "/channels/{platform}/webhooks"): frozenset({PUBLIC}),
    # Product master (functions/products): merchandisers and admins write, every staff role reads.
    ("GET", "/products"): READERS,
    ("GET", "/products/{sku}"): READERS,
    ("GET", "/products/{sku}/versions"): READERS,
    ("PUT", "/products/{sku}"): MERCHANDISING,
    ("POST", "/products/import"): MERCHANDISING,
}


def _compile(route: str) -> re.Pattern[str]:
    parts = [re.escape(p) if not p.startswith("{") else "[^/]+" for p in route.strip("/").split("/")]
    return re.compile("^/" + "/".join(parts) + "$")


# Static routes first: /orders/export is not the order "export" of /orders/{order_id}.
_ROUTES = sorted(
    ((method, route, _compile(route)) for method, route in PERMISSIONS), key=lambda entry: "{" in entry[1]
)


def match_route(method: str, path: str) -> str | None:
    """The table's route for a concrete path (or for the route itself), None when it has none."""
    method = method.upper()
    path = "/" + path.split("?", 1)[0].strip("/")
    for m, route, pattern in _ROUTES:
        if m == method and (path == route or pattern.match(path)):
            return route
    return None


def path_parameter(route: str, path: str, name: str) -> str | None:
    """The value of {name} in `path`, matched against `route`."""
    parts, values = route.strip("/").split("/"), path.split("?", 1)[0].strip("/").split("/")
    if len(parts) != len(values):
        return None
    for part, value in zip(parts, values, strict=True):
        if part == "{" + name + "}":
            return value
    return None


def authorize(method: str, path: str, principal: Principal) -> str:
    """The matched route if `principal` may call it; AuthError otherwise (unknown routes included)."""
    route = match_route(method, path)
    if route is None:
        raise AuthError(403, "FORBIDDEN", f"no permission for {method.upper()} {path}: unknown route")
    allowed = PERMISSIONS[(method.upper(), route)]
    if PUBLIC in allowed or principal.role in allowed:
        return route
    if principal.kind == "anonymous":
        raise AuthError(401, "UNAUTHENTICATED", "missing credentials")
    raise AuthError(
        403, "FORBIDDEN", f"{principal.kind} {principal.role} may not call {method.upper()} {route}"
    )

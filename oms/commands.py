"""`oms token`, `orders`, `review`, `report`, `events`, `post`: the API from the terminal.

They talk to a running OMS ($OMS_URL, else `oms serve` on port 3000) with a staff token: `--token`, else
$OMS_TOKEN, else a token minted with the local development key (which only a local `oms serve` accepts).
`oms post` signs as the order's platform with that key instead.
`register(subcommands)` adds them to the `oms` parser (oms/cli.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from functions.core.status import OrderStatus
from oms.client import ApiClient, ApiError, default_url, ensure_products

ROLES = ("ops", "customer_service", "admin", "viewer", "merchandiser")
STATUSES = tuple(status.value for status in OrderStatus)  # every status, BACKORDERED included
MAX_PAGES = 100


def _console() -> Console:
    """The terminal's width; piped output is not wrapped at 80 columns ($COLUMNS, else 200)."""
    if sys.stdout.isatty():
        return Console()
    columns = os.environ.get("COLUMNS", "")
    return Console(width=int(columns) if columns.isdigit() and int(columns) > 20 else 200)


def _keep_whole(table: Table, index: int, values: list[str]) -> None:
    """Identifiers are copied into the next command: on a narrow terminal other columns give way, an
    id column is never folded or cut."""
    column = table.columns[index]
    column.no_wrap = True
    column.min_width = max([len(column.header) if isinstance(column.header, str) else 0, *map(len, values)])


def watching(args: argparse.Namespace, render: Callable[[], int]) -> int:
    """Render once, or with --watch every few seconds (Ctrl-C stops) until the server stops answering."""
    if args.watch is None:
        return render()
    console = _console()
    rounds = 0
    try:
        while True:
            if console.is_terminal:
                console.clear()
            stamp = datetime.now(UTC).astimezone().strftime("%H:%M:%S")
            console.print(f"[dim]{stamp} · every {args.watch:g} s · Ctrl-C to stop[/]", highlight=False)
            code = render()
            rounds += 1
            if code != 0 or (args.watch_rounds and rounds >= args.watch_rounds):
                return code
            time.sleep(args.watch)
    except KeyboardInterrupt:
        return 0


def _client(args: argparse.Namespace) -> ApiClient:
    token = args.token or os.environ.get("OMS_TOKEN")
    if not token:
        from oms.local import credentials

        token = credentials.staff_token(args.role, os.environ.get("USER", "cli") or "cli")
    return ApiClient(args.url, token, timeout=args.timeout)


def _fail(command: str, err: Exception) -> int:
    print(f"oms {command}: {err}", file=sys.stderr)
    return 1


# ---------------------------------------------------------------- token


def _token(args: argparse.Namespace) -> int:
    from oms.local import credentials

    try:
        token = credentials.staff_token(args.role, args.user, ttl=timedelta(hours=args.hours))
    except ValueError as err:
        return _fail("token", err)
    print(token)
    return 0


# ---------------------------------------------------------------- orders


def _orders(args: argparse.Namespace) -> int:
    return watching(args, lambda: _orders_once(args))


def _orders_once(args: argparse.Namespace) -> int:
    if args.export is not None:
        return _export(args)
    query = {
        "status": args.status,
        "platform": args.platform,
        "buyer": args.buyer,
        "from": args.created_from,
        "to": args.created_to,
        "limit": args.limit,
    }
    items: list[dict[str, Any]] = []
    token: str | None = None
    try:
        client = _client(args)
        for _ in range(MAX_PAGES):
            page = client.call("GET", "/orders", query={**query, "next_token": token})
            items += page["items"]
            token = page.get("next_token")
            if not token or (not args.all and len(items) >= args.limit):
                break
    except (ApiError, ValueError) as err:
        return _fail("orders", err)
    if args.json:
        print(json.dumps({"items": items, "next_token": token}))
        return 0
    table = Table(title=f"{len(items)} orders" + (" (more: --all)" if token and not args.all else ""))
    for column in ("order", "platform", "status", "buyer", "total", "received", "why"):
        table.add_column(column, justify="right" if column == "total" else "left", no_wrap=column != "why")
    _keep_whole(table, 0, [o["order_id"] for o in items])
    for o in items:
        table.add_row(
            o["order_id"],
            f"{o['platform']} {o['platform_order_id']}",
            o["status"],
            f"{o['buyer'].get('name') or ''} ({o['buyer']['id']})",
            f"{o['total']} {o['currency']}",
            o["created_at"][:19].replace("T", " "),
            o.get("problem") or "",
        )
    _console().print(table)
    return 0


def _export(args: argparse.Namespace) -> int:
    """The search as CSV (GET /orders/export), to a file or '-' (stdout); masked as the role sees it."""
    query = {
        "status": args.status,
        "platform": args.platform,
        "buyer": args.buyer,
        "from": args.created_from,
        "to": args.created_to,
        "max_rows": args.max_rows,
    }
    try:
        text = _client(args).call("GET", "/orders/export", query=query)
    except (ApiError, ValueError) as err:
        return _fail("orders", err)
    if not isinstance(text, str):
        return _fail("orders", ValueError("this OMS did not answer CSV"))
    rows = max(0, len(text.splitlines()) - 1)
    if args.export == "-":
        sys.stdout.write(text)
        return 0
    Path(args.export).write_text(text, encoding="utf-8")
    capped = f" (capped at {args.max_rows}: narrow the search)" if rows >= args.max_rows else ""
    print(f"{rows} orders written to {args.export}{capped}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- review


def _approve_all(args: argparse.Namespace, client: ApiClient) -> int:
    """Approve every order held for one reason (POST /holds/decisions), after showing how many."""
    reason = args.approve_all
    page = client.call("GET", "/holds", query={"reason": reason, "limit": 500})
    held = [{"order_id": e["order_id"]} for e in page["holds"]]
    if not held:
        print(f"no orders are held for {reason}")
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            return _fail("review", ValueError(f"{len(held)} orders held for {reason}: confirm with --yes"))
        answer = input(f"Approve {len(held)} orders held for {reason}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing approved")
            return 1
    comment = args.comment or f"approved in bulk ({reason}) from the oms CLI"
    done = client.call(
        "POST", "/holds/decisions", {"decision": "approve", "comment": comment, "orders": held}
    )
    if args.json:
        print(json.dumps(done))
        return 0
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(done["counts"].items()))
    print(f"{len(held)} orders held for {reason}: {counts}")
    for result in done["results"]:
        if result["outcome"] not in ("applied", "repeated"):
            why = f"{result.get('code') or ''} {result.get('message') or ''}".strip()
            print(f"  {result['order_id']}: {result['outcome']} {why}")
    return 0 if all(r["outcome"] in ("applied", "repeated") for r in done["results"]) else 1


def _review(args: argparse.Namespace) -> int:
    try:
        client = _client(args)
        if args.approve_all is not None:
            return _approve_all(args, client)
        if args.order_id is None:  # the held-order queue
            rows = _held(client, args.reason)
            if args.json:
                print(json.dumps(rows))
                return 0
            table = Table(title="Held orders, oldest first (decide: oms review ORDER_ID --approve|--reject)")
            for column in ("order", "platform", "total", "held since", "why"):
                table.add_column(column)
            _keep_whole(table, 0, [row[0] for row in rows])
            for row in rows:
                table.add_row(*row)
            _console().print(table)
            return 0
        if args.decision is None:
            return _fail("review", ValueError("say --approve or --reject"))
        body = {"decision": args.decision, "comment": args.comment or f"{args.decision} from the oms CLI"}
        answer = client.call("POST", f"/orders/{args.order_id}/review", body)
    except ApiError as err:
        if err.status == 404 and err.code == "NOT_FOUND" and err.message.startswith("no route"):
            return _fail("review", ValueError("this OMS has no POST /orders/{id}/review endpoint yet"))
        return _fail("review", err)
    except ValueError as err:
        return _fail("review", err)
    print(json.dumps(answer) if args.json else f"{args.order_id}: {args.decision} accepted")
    return 0


def _held(client: ApiClient, reason: str | None) -> list[list[str]]:
    """The queue from GET /holds; from the status search where the OMS has no queue endpoint."""
    try:
        page = client.call("GET", "/holds", query={"reason": reason, "limit": 500})
    except ApiError as err:
        if err.status not in (403, 404):
            raise
        found = client.call("GET", "/orders", query={"status": "ON_HOLD", "limit": 100})
        return [
            [
                o["order_id"],
                o["platform"],
                f"{o['total']} {o['currency']}",
                o["created_at"][:19],
                o.get("problem") or "",
            ]
            for o in found["items"]
        ]
    return [
        [
            e["order_id"],
            e["platform"],
            f"{e['total']} {e['currency']}",
            e["held_since"][:19].replace("T", " "),
            ", ".join(f"{r['code']}: {r['message']}" for r in e["reasons"]),
        ]
        for e in page["holds"]
    ]


# ---------------------------------------------------------------- report


def _report(args: argparse.Namespace) -> int:
    query = {"from": args.start, "to": args.end, "platform": args.platform, "top": args.top}
    try:
        report = _client(args).call("GET", "/reports/sales", query=query)
    except (ApiError, ValueError) as err:
        return _fail("report", err)
    if args.json:
        print(json.dumps(report))
        return 0
    console = _console()
    revenue = " + ".join(f"{v} {c}" for c, v in report["revenue"].items()) or "0"
    console.print(
        f"[bold]Sales {report['start']} to {report['end']}[/] ({report.get('timezone', 'UTC')} days): "
        f"{report['orders']} orders, "
        f"{report['sales']} sales, revenue {revenue}"
        + ("  [red](truncated)[/]" if report["truncated"] else ""),
        highlight=False,
    )
    busiest = max([d["orders"] for d in report["days"]] + [1])
    days = Table(title="Per day")
    for column in ("day", "orders", "revenue", ""):
        days.add_column(column, justify="right" if column in ("orders", "revenue") else "left")
    for d in report["days"]:
        if d["orders"] or args.zeros:
            bar = "█" * max(1 if d["orders"] else 0, round(30 * d["orders"] / busiest))
            days.add_row(d["day"], str(d["orders"]), _money(d["revenue"]), bar)
    console.print(days)
    platforms: dict[str, list[Any]] = {}
    for p in report["platforms"]:
        entry = platforms.setdefault(p["platform"], [0, {}])
        entry[0] += p["orders"]
        for currency, amount in p["revenue"].items():
            entry[1][currency] = f"{float(entry[1].get(currency, 0)) + float(amount):.2f}"
    per_platform = Table(title="Per platform")
    for column in ("platform", "orders", "revenue"):
        per_platform.add_column(column, justify="left" if column == "platform" else "right")
    for name, (count, money) in sorted(platforms.items()):
        per_platform.add_row(name, str(count), _money(money))
    console.print(per_platform)
    skus = Table(title="Top SKUs")
    for column in ("sku", "units", "orders", "revenue"):
        skus.add_column(column, justify="left" if column == "sku" else "right")
    for s in report["top_skus"]:
        skus.add_row(s["sku"], str(s["quantity"]), str(s["orders"]), _money(s["revenue"]))
    console.print(skus)
    return 0


def _money(revenue: dict[str, str]) -> str:
    return " + ".join(f"{v} {c}" for c, v in revenue.items()) or "0"


# ---------------------------------------------------------------- events


def _events(args: argparse.Namespace) -> int:
    """The integration events published on the bus: one order's (in seq order), or the latest of a type."""
    if not args.order_id and not args.type:
        return _fail("events", ValueError("give an ORDER_ID or --type"))
    query = {"order_id": args.order_id, "type": args.type, "limit": args.limit}
    try:
        found = _client(args).call("GET", "/events", query=query)
    except (ApiError, ValueError) as err:
        return _fail("events", err)
    if args.json:
        print(json.dumps(found))
        return 0
    table = Table(title=f"Published on the bus (source {found['source']})")
    for column in ("occurred (UTC)", "detail-type", "event id", "status", "data"):
        table.add_column(column, overflow="fold", max_width=60 if column == "data" else None)
    _keep_whole(table, 1, [entry["detail_type"] for entry in found["events"]])
    _keep_whole(table, 2, [str(entry["detail"].get("event_id", "")) for entry in found["events"]])
    for entry in found["events"]:
        detail = entry["detail"]
        data = detail.get("data")
        if data is None:  # fulfilment.updated carries its fields at the top
            data = {k: detail.get(k) for k in ("shipment_id", "carrier", "tracking_number")}
        table.add_row(
            str(detail.get("occurred_at", "")).replace("T", " ")[:19],
            entry["detail_type"],
            str(detail.get("event_id", "")),
            str(detail.get("status") or detail.get("shipment_status") or ""),
            json.dumps(data, ensure_ascii=False),
        )
    _console().print(table)
    return 0


# ---------------------------------------------------------------- post


def _post(args: argparse.Namespace) -> int:
    """Sign as the order's platform (the local development key) and POST it: a file or a scenario."""
    from oms.scenarios import SCENARIOS, Scenario, new_platform_order_id

    if args.list or not args.what:
        for name, listed in SCENARIOS.items():
            print(f"  {name:<13} {listed.expect}")
        return 0 if args.list else _fail("post", ValueError("give a JSON file or one of the names above"))
    scenario: Scenario | None = SCENARIOS.get(args.what)
    try:
        if scenario is not None:
            raw = json.dumps(scenario.build(new_platform_order_id(scenario.name)), ensure_ascii=False)
        elif args.what == "-":
            raw = sys.stdin.read()
        else:
            raw = Path(args.what).read_text(encoding="utf-8")  # posted as written: that is what is signed
        body = json.loads(raw)
        platform = body.get("platform") if isinstance(body, dict) else None
        if not isinstance(platform, str) or not platform:
            raise ValueError("the order has no platform to sign as")
        client = ApiClient(args.url, "", timeout=args.timeout)
        if scenario is not None:
            _stock_for(client, scenario, body)
        answers = [_signed_post(client, platform, raw) for _ in range(scenario.posts if scenario else 1)]
    except FileNotFoundError:
        return _fail("post", ValueError(f"{args.what!r} is neither a file nor a scenario (oms post --list)"))
    except (ApiError, ValueError, OSError) as err:
        return _fail("post", err)
    for status, answer in answers:
        if args.json:
            print(json.dumps({"http_status": status, **answer}))
            continue
        created = "created" if answer.get("created") else "already there (same order, nothing new)"
        print(f"{status} {answer['order_id']} {answer.get('status', '')} {created}")
    if not args.json:
        order_id = answers[-1][1]["order_id"]
        if scenario is not None:
            print(f"Expect: {scenario.expect}")
        print(f"Follow it: oms history {order_id} --watch    or {client.base_url}/console#/orders/{order_id}")
    return 0


def _signed_post(client: ApiClient, platform: str, raw: str) -> tuple[int, dict[str, Any]]:
    status, answer = client.post_as_platform("/orders", platform, raw)
    return status, answer


def _stock_for(client: ApiClient, scenario: Any, body: dict[str, Any]) -> None:
    """The scenario's set-up: its SKUs in the product master, WMS counts, as an admin of the local OMS."""
    from oms.local import credentials

    admin = ApiClient(client.base_url, credentials.staff_token("admin", "oms-post"), client.timeout)
    if scenario.register_products:
        lines = body.get("lines", [])
        ensure_products(
            admin,
            [line["sku"] for line in lines] + [sync.sku for sync in scenario.stock],
            virtual=[line["sku"] for line in lines if line.get("virtual") is True],
        )
    for sync in scenario.stock:
        body = {
            "sync_id": f"oms-post-{uuid.uuid4().hex}",
            "warehouse": sync.warehouse,
            "on_hand": sync.on_hand,
        }
        admin.call("PUT", f"/inventory/{sync.sku}", body)


# ---------------------------------------------------------------- parser


def add_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", default=default_url(), help="where the OMS listens (default $OMS_URL, else port 3000)"
    )


def add_watch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--watch",
        nargs="?",
        type=float,
        const=2.0,
        metavar="SECONDS",
        help="show it again every SECONDS (default 2) until Ctrl-C",
    )
    parser.add_argument("--watch-rounds", type=int, default=0, help=argparse.SUPPRESS)  # tests stop it


def _connection(parser: argparse.ArgumentParser, role: str) -> None:
    add_url(parser)
    parser.add_argument("--token", help="staff token (default $OMS_TOKEN, else a local development token)")
    parser.add_argument(
        "--role", choices=ROLES, default=role, help=f"role of the local development token (default {role})"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the server")
    parser.add_argument("--json", action="store_true", help="print the API's JSON")


def register(commands: Any) -> None:
    """Add token, orders, review and report to an argparse subparsers object."""
    token = commands.add_parser("token", help="mint a staff token for a local `oms serve`")
    token.add_argument("--role", choices=ROLES, required=True)
    token.add_argument("--user", required=True, help="who (recorded as staff:<user> on what they do)")
    token.add_argument("--hours", type=float, default=12.0, help="lifetime (default 12, at most 168)")
    token.set_defaults(run=_token)

    orders = commands.add_parser("orders", help="search orders (newest first)")
    orders.add_argument("--status", choices=STATUSES)
    orders.add_argument("--platform")
    orders.add_argument("--buyer", help="buyer id")
    orders.add_argument("--from", dest="created_from", help="received at or after (ISO 8601 with zone)")
    orders.add_argument("--to", dest="created_to", help="received before (ISO 8601 with zone)")
    orders.add_argument("--limit", type=int, default=20, help="page size, 1-100 (default 20)")
    orders.add_argument("--all", action="store_true", help=f"follow next_token (at most {MAX_PAGES} pages)")
    orders.add_argument("--export", metavar="FILE", help="write the search as CSV to FILE ('-': stdout)")
    orders.add_argument("--max-rows", type=int, default=5000, help="rows an export holds at most (<= 10000)")
    _connection(orders, "ops")
    add_watch(orders)
    orders.set_defaults(run=_orders)

    review = commands.add_parser("review", help="list held orders, or approve / reject one")
    review.add_argument("order_id", nargs="?", metavar="ORDER_ID")
    decision = review.add_mutually_exclusive_group()
    decision.add_argument("--approve", dest="decision", action="store_const", const="approve")
    decision.add_argument("--reject", dest="decision", action="store_const", const="reject")
    review.add_argument("--comment", help="why (kept on the order's timeline)")
    review.add_argument("--reason", help="list only orders held for this reason code (e.g. HIGH_VALUE)")
    review.add_argument(
        "--approve-all", metavar="REASON", help="approve every order held for REASON (asks to confirm)"
    )
    review.add_argument("--yes", action="store_true", help="confirm --approve-all without asking")
    _connection(review, "ops")
    review.set_defaults(run=_review)

    from oms.change_commands import register_change

    register_change(commands)

    report = commands.add_parser("report", help="sales per day, per platform, top SKUs")
    report.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (default 29 days before --to)")
    report.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (default today, UTC)")
    report.add_argument("--platform")
    report.add_argument("--top", type=int, default=10, help="SKUs to rank (default 10)")
    report.add_argument("--zeros", action="store_true", help="list days without orders too")
    _connection(report, "viewer")
    report.set_defaults(run=_report)

    events = commands.add_parser("events", help="integration events published on the bus (docs/events.md)")
    events.add_argument("order_id", nargs="?", metavar="ORDER_ID")
    events.add_argument("--type", help="only this detail-type, e.g. order.shipped")
    events.add_argument("--limit", type=int, default=100)
    _connection(events, "ops")
    events.set_defaults(run=_events)

    post = commands.add_parser(
        "post", help="sign and post an order: a JSON file, or a named scenario (oms post --list)"
    )
    post.add_argument(
        "what", nargs="?", metavar="FILE|SCENARIO", help="order JSON file ('-': stdin), or a name"
    )
    post.add_argument("--list", action="store_true", help="the scenarios, and what each shows")
    add_url(post)
    post.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the server")
    post.add_argument("--json", action="store_true", help="print the API's answers as JSON lines")
    post.set_defaults(run=_post)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oms", description="The OMS API from the terminal.")
    register(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())

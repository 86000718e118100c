"""The `oms` command: run the OMS locally (`serve`), load it (`simulate`), read a timeline (`history`)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from types import FrameType
from typing import Any

from rich.console import Console
from rich.table import Table

from oms.commands import register as register_api_commands
from oms.simulate import MAIN_WAREHOUSE, SimulationReport

DEFAULT_URL = "http://127.0.0.1:3000"

# What `oms serve` puts on the shelf, so the printed curl example ships straight away.
DEMO_STOCK: dict[str, int] = {
    "TEA-LONGJING-250G": 50,
    "MUG-CERAMIC-350": 30,
    "PHONE-CASE-X": 100,
    "EARBUDS-BT5": 20,
    "SNEAKERS-42": 5,
    "LAPTOP-PRO-16": 3,
}


def demo_order_body(platform_order_id: str = "TM-DEMO-1001") -> dict[str, Any]:
    """A valid order for the demo stock: 2 teas and a mug, totals that add up."""
    return {
        "platform": "tmall",
        "platform_order_id": platform_order_id,
        "buyer": {"id": "tb-buyer-1", "name": "Li Lei"},
        "shipping_address": {
            "name": "Li Lei",
            "phone": "+86 138 0000 0000",
            "line1": "1 Nanjing Rd",
            "city": "Shanghai",
            "region": "SH",
            "postal_code": "200000",
            "country": "CN",
        },
        "lines": [
            {"sku": "TEA-LONGJING-250G", "quantity": 2, "unit_price": "168.00"},
            {"sku": "MUG-CERAMIC-350", "quantity": 1, "unit_price": "39.90"},
        ],
        "amounts": {"currency": "CNY", "subtotal": "375.90", "total": "375.90"},
        "placed_at": "2026-11-11T00:00:05+08:00",
    }


def curl_example(base_url: str) -> str:
    """A ready POST of the demo order, signed as tmall now (good for 5 minutes, and for one use)."""
    from oms.local import credentials

    body = json.dumps(demo_order_body(), separators=(",", ":"))
    signed = " ".join(
        f"-H {shlex.quote(f'{name}: {value}')}"
        for name, value in credentials.platform_headers(
            "tmall", body, method="POST", target="/orders"
        ).items()
    )
    return (
        f"curl -sS -X POST {base_url}/orders -H 'Content-Type: application/json' {signed} "
        f"-d {shlex.quote(body)}"
    )


def _print_credentials(base_url: str) -> None:
    """What a newcomer needs to call the local OMS: platform secrets, staff tokens, the console."""
    from oms.local import credentials

    print("Platform secrets (local development key; sign as docs/integrators.md shows):", flush=True)
    for platform in credentials.DEMO_PLATFORMS:
        print(f"  {platform:<10} {credentials.platform_secret(platform)}", flush=True)
    print("Carrier webhook secrets (X-OMS-Carrier; docs/shipping.md):", flush=True)
    for carrier in credentials.DEMO_CARRIERS:
        print(f"  {carrier:<10} {credentials.carrier_secret(carrier)}", flush=True)
    print("Staff tokens (12 h; mint more with `oms token --role ROLE --user NAME`):", flush=True)
    tokens = {role: credentials.staff_token(role, f"local-{role.replace('_', '-')}") for role in _ROLES}
    for role, token in tokens.items():
        print(f"  {role:<16} {token}", flush=True)
    print(f"Ops console: {base_url}/console?token={tokens['ops']}", flush=True)


_ROLES = ("ops", "customer_service", "admin", "viewer")


def _local_webhooks(base_url: str) -> None:
    """Point the demo platforms' webhook endpoints at this server's sink (docs/events.md)."""
    from functions.core import clock, repository
    from oms.local import credentials
    from oms.local.http import WEBHOOK_SINK_PATH

    for platform in credentials.DEMO_PLATFORMS:
        url = f"{base_url}{WEBHOOK_SINK_PATH}/{platform}"
        document = {
            "url": url,
            "enabled": True,
            "updated_at": clock.now().isoformat(),
            "updated_by": "oms-serve",
        }
        repository.put_webhook_endpoint(platform, document)
    print(
        f"Status webhooks to platforms (signed) and bus events: curl -sS {base_url}{WEBHOOK_SINK_PATH}",
        flush=True,
    )
    print("  and `oms events ORDER_ID` for what the order published on the event bus", flush=True)


# ---------------------------------------------------------------- serve


def _serve(args: argparse.Namespace) -> int:
    from functions.core import repository
    from functions.core.models import order_id_for
    from oms.local.clock import SystemClock
    from oms.local.http import serve
    from oms.local.stack import LocalStack

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    stack = LocalStack(clock=SystemClock(), log_level=args.log_level.upper())
    try:
        stack.start()
        print(f"Demo stock in {MAIN_WAREHOUSE}:", flush=True)
        for sku, on_hand in DEMO_STOCK.items():
            repository.set_stock(sku, MAIN_WAREHOUSE, on_hand)
            print(f"  {sku:<20} on_hand={on_hand}", flush=True)
        try:
            server = serve(stack, port=args.port, verbose=args.verbose)
        except OSError as err:
            print(
                f"oms serve: cannot listen on 127.0.0.1:{args.port}: {err.strerror or err}", file=sys.stderr
            )
            return 1
        try:
            print(flush=True)
            _print_credentials(server.url)
            print(f"\nOMS API listening on {server.url}  (Ctrl-C to stop)", flush=True)
            print("Post an order (signed as tmall: good for 5 minutes and one use):", flush=True)
            print(f"  {curl_example(server.url)}", flush=True)
            demo = demo_order_body()
            print("Then read its timeline:", flush=True)
            demo_id = order_id_for(demo["platform"], demo["platform_order_id"])
            print(f"  oms history {demo_id} --url {server.url}", flush=True)
            print(f"Metrics (funnel, stage latency): curl -sS {server.url}/metrics", flush=True)
            _local_webhooks(server.url)
            print(flush=True)
            while not stop.wait(0.5):  # a timed wait keeps the main thread responsive to signals
                pass
            print("Shutting down.", flush=True)
        finally:
            server.shutdown()
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


# ---------------------------------------------------------------- simulate


def _simulate(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from oms.simulate import run_simulation

    err = Console(stderr=True)
    show_progress = not args.json and err.is_terminal
    with Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not show_progress,
        transient=True,
    ) as bar:
        tasks = {
            "post": bar.add_task("posting orders", total=args.orders),
            "wait": bar.add_task("awaiting workflows", total=args.orders),
        }

        def progress(phase: str, done: int, total: int) -> None:
            bar.update(tasks[phase], completed=done, total=total)

        report = run_simulation(args.orders, args.seed, args.concurrency, progress=progress)

    if args.json:
        print(report.to_json())
    else:
        _print_report(report, Console())
    return 0 if report.ok else 2  # the books did not balance: fail loudly, e.g. in CI


def _print_report(report: SimulationReport, console: Console) -> None:
    console.print(
        f"[bold]Simulated {report.orders} orders[/] (seed {report.seed}, concurrency {report.concurrency})",
        highlight=False,
    )
    statuses = Table(title="Final status", title_justify="left")
    statuses.add_column("status")
    statuses.add_column("orders", justify="right")
    for status, count in sorted(report.final_status.items(), key=lambda kv: -kv[1]):
        statuses.add_row(status, str(count))
    console.print(statuses)
    if report.reasons:
        reasons = ", ".join(f"{code} {n}" for code, n in report.reasons.items())
        console.print(f"Why not shipped: {reasons}", highlight=False)
    if report.unpaid:
        _print_unpaid(report, console)

    stock = Table(title="Stock per SKU (all warehouses)", title_justify="left")
    columns = ("sku", "before on_hand/res/avail", "restocked", "after on_hand/res/avail", "shipped", "check")
    for column in columns:
        stock.add_column(column, justify="left" if column == "sku" else "right")
    for sku, before in report.stock["before"].items():
        after = report.stock["after"][sku]
        problem = sku in report.oversold_skus or sku in report.stock_mismatches
        stock.add_row(
            sku,
            "{on_hand}/{reserved}/{available}".format(**before),
            str(report.stock.get("restocked", {}).get(sku, 0)),
            "{on_hand}/{reserved}/{available}".format(**after),
            str(report.stock["shipped"][sku]),
            "[red]OVERSOLD[/]" if sku in report.oversold_skus else "[red]MISMATCH[/]" if problem else "ok",
        )
    console.print(stock)
    _print_metrics(report.metrics, console)

    oversold = f"[green]{report.oversold}[/]" if report.oversold == 0 else f"[bold red]{report.oversold}[/]"
    console.print(f"Oversold SKUs:                {oversold}", highlight=False)
    if report.stock_mismatches:
        console.print(f"[bold red]Stock books disagree for:[/] {', '.join(report.stock_mismatches)}")
    if report.ledger_mismatches:
        console.print(
            f"[bold red]Counters differ from the ledger for:[/] {', '.join(report.ledger_mismatches)}"
        )
    else:
        console.print("Stock ledger:                 [green]every counter equals its movements[/]")
    if report.allocation:
        console.print(f"Sourcing:                     {_breakdown(report.allocation)}", highlight=False)
    if report.flash_sale:
        flash = report.flash_sale
        console.print(
            f"Flash sale {flash['sku']}: {flash['units_asked']} asked, {flash['units_for_sale']} for sale "
            f"on {flash['shards']} shards, {flash['units_shipped']} shipped, oversold {flash['oversold']}",
            highlight=False,
        )
    if report.missing_orders or report.misrouted_responses:
        console.print(
            f"[bold red]Orders lost: {report.missing_orders}, answers about another order: "
            f"{report.misrouted_responses}[/]"
        )
    if report.shipping:
        shipping = report.shipping
        console.print(
            f"Tracking:                     {shipping['parcels']} parcels "
            f"({_breakdown(shipping['carriers'])}), {shipping['events_posted']} carrier events: "
            f"{_breakdown(shipping['outcomes'])}",
            highlight=False,
        )
        console.print(
            f"Delivery:                     {_breakdown(shipping['orders_by_delivery'])}; open exceptions "
            f"{_breakdown(shipping['exceptions_open']) or 'none'}; reships {shipping['replacement_orders']}",
            highlight=False,
        )
    lines = [
        ("State transitions per order:", f"{report.transitions_per_order}"),
        ("Order history events / order:", f"{report.order_events_per_order}"),
        ("DynamoDB requests per order:", f"{report.dynamodb_requests_per_order}"),
        ("", _breakdown(report.dynamodb_requests)),
        ("Lambda invocations per order:", f"{report.lambda_invocations_per_order}"),
        ("", _breakdown(report.lambda_invocations)),
        ("Wall time:", f"{report.wall_seconds:.2f} s ({report.orders_per_second} orders/s)"),
    ]
    for label, value in lines:
        console.print(f"{label:<30}{value}", highlight=False)


def _print_unpaid(report: SimulationReport, console: Console) -> None:
    """Orders that arrived unpaid: who paid in time, who was cancelled at the pay deadline."""
    unpaid = Table(title="Arrived unpaid", title_justify="left")
    for column in ("buyer", "final status", "orders"):
        unpaid.add_column(column, justify="right" if column == "orders" else "left")
    for key, count in report.unpaid.items():
        kind, status = key.split(": ", 1)
        unpaid.add_row("paid later" if kind.endswith("paid_later") else "never paid", status, str(count))
    console.print(unpaid)
    payments = ", ".join(f"{answer} {n}" for answer, n in report.payments.items()) or "none"
    timers = ", ".join(f"{kind} {n}" for kind, n in report.timers_fired.items()) or "none"
    console.print(f"Cancelled at the pay deadline: {report.cancelled_unpaid}", highlight=False)
    console.print(f"Payment callbacks:            {payments}", highlight=False)
    console.print(f"Refunds flagged:              {report.refunds_flagged}", highlight=False)
    console.print(
        f"Timers fired:                 {timers} ({report.virtual_minutes} simulated minutes)",
        highlight=False,
    )
    if report.payment_mismatches:
        wrong = ", ".join(report.payment_mismatches)
        console.print(f"[bold red]Unpaid orders that ended against their intent:[/] {wrong}")


def _print_metrics(metrics: dict[str, Any], console: Console) -> None:
    """The funnel and stage latencies, from the EMF metrics the handlers published during the run."""
    if not metrics:
        return
    funnel = Table(title="Order funnel", title_justify="left")
    funnel.add_column("step")
    funnel.add_column("orders", justify="right")
    for step, n in metrics["funnel"].items():
        funnel.add_row(step, str(n))
    console.print(funnel)
    latency = Table(title="Stage latency (ms)", title_justify="left")
    for column in ("stage", "invocations", "p50", "p95", "max"):
        latency.add_column(column, justify="left" if column == "stage" else "right")
    for stage, figures in metrics["latency_ms"].items():
        latency.add_row(
            stage,
            str(figures["count"]),
            f"{figures['p50']:.1f}",
            f"{figures['p95']:.1f}",
            f"{figures['max']:.1f}",
        )
    console.print(latency)


def _breakdown(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items(), key=lambda kv: -kv[1]))


# ---------------------------------------------------------------- bench


def _bench(args: argparse.Namespace) -> int:
    from oms.bench import run_bench

    err = Console(stderr=True)
    report = run_bench(
        orders=args.orders,
        concurrency=args.concurrency,
        seed=args.seed,
        hot_contenders=args.hot_contenders,
        import_runs=args.import_runs,
        progress=lambda message: err.print(f"[dim]bench: {message}[/]", highlight=False),
    )
    console = Console() if sys.stdout.isatty() else Console(width=200)
    hot = report.hot_sku
    lines = [
        ("Happy-path orders:", f"{report.happy_path_orders}/{report.orders} shipped"),
        ("State transitions per order:", f"{report.transitions_per_order} (states entered + start)"),
        ("Lambda invocations per order:", f"{report.lambda_invocations_per_order}"),
        ("", _breakdown(report.lambda_invocations)),  # type: ignore[arg-type]
        ("Handler ms per order:", _breakdown(report.lambda_ms_per_order)),  # type: ignore[arg-type]
        ("DynamoDB requests per order:", f"{report.dynamodb_requests_per_order}"),
        ("", _breakdown(report.dynamodb_requests)),  # type: ignore[arg-type]
        (
            "DynamoDB WCU / RCU per order:",
            f"{report.dynamodb_wcu_per_order} (table {report.dynamodb_wcu_breakdown['table']} + GSI "
            f"{report.dynamodb_wcu_breakdown['gsi']}) / {report.dynamodb_rcu_per_order}",
        ),
        ("USD per 1,000 orders:", f"{report.usd_per_1000_orders} ({report.prices['region']} list prices)"),
        ("", _breakdown(report.usd_breakdown_per_1000)),  # type: ignore[arg-type]
        ("Cold import ratio:", f"{report.cold_import_ratio} x import boto3"),
        (
            "Pipeline vs storage floor:",
            f"{report.pipeline_vs_floor} ({report.pipeline_orders_per_second} vs "
            f"{report.floor_orders_per_second} orders/s)",
        ),
        (
            "Hot SKU:",
            f"{hot['contenders']} racing for {hot['stock']}: {hot['successes']} reserved, "
            f"{hot['oversold']} oversold, {hot['conflicts']} conflicts",
        ),
        ("Wall time:", f"{report.wall_seconds} s"),
    ]
    for label, value in lines:
        console.print(f"{label:<31}{value}", highlight=False)
    if args.json:
        print(report.to_json(), flush=True)
    ok = report.happy_path_orders == report.orders and hot["oversold"] == 0
    return 0 if ok else 2


# ---------------------------------------------------------------- history


def _history(args: argparse.Namespace) -> int:
    base = args.url.rstrip("/")
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        print(f"oms history: --url must be an http(s) URL, not {args.url!r}", file=sys.stderr)
        return 1
    url = f"{base}/orders/{urllib.parse.quote(args.order_id, safe='')}/history"
    token = args.token or os.environ.get("OMS_TOKEN")
    if not token:
        from oms.local import credentials

        token = credentials.staff_token("ops", os.environ.get("USER") or "cli")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:  # noqa: S310 - scheme checked
            data = json.load(response)
    except urllib.error.HTTPError as err:
        if err.code == 404:
            print(f"oms history: order {args.order_id} not found at {base}", file=sys.stderr)
        else:
            print(f"oms history: {base} answered {err.code}: {_error_message(err)}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        print(f"oms history: cannot reach {base} ({reason}); is `oms serve` running?", file=sys.stderr)
        return 1

    # Piped output is not wrapped at 80 columns, so event names stay greppable on one line.
    console = Console() if sys.stdout.isatty() else Console(width=200)
    execution = data.get("execution") or {}
    console.print(
        f"[bold]{data['order_id']}[/]  status [bold]{data['status']}[/]"
        + (f"  workflow {execution.get('status')}" if execution else "  (no workflow yet)")
    )
    table = Table(show_lines=False)
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("source", no_wrap=True)
    table.add_column("event", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("status change", no_wrap=True)
    table.add_column("actor", no_wrap=True)
    table.add_column("detail", overflow="fold", max_width=60)
    for entry in data.get("timeline", []):
        is_order = entry.get("source") == "order"
        change = ""
        if is_order:
            change = f"{entry.get('from_status') or '-'} -> {entry.get('to_status')}"
        table.add_row(
            _short_time(entry.get("at")),
            "order" if is_order else "workflow",
            f"[bold]{entry['type']}[/]" if is_order else str(entry.get("type", "")),
            str(entry.get("state", "")),
            change,
            str(entry.get("actor", "")),
            _detail(entry),
        )
    console.print(table)
    return 0


def _error_message(err: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(err.read() or b"null")
    except ValueError:
        return str(err.reason)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message", body["error"]))
    return json.dumps(body)[:300]


def _short_time(value: Any) -> str:
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _detail(entry: dict[str, Any]) -> str:
    if entry.get("source") == "order":
        detail = entry.get("detail") or {}
        text = json.dumps(detail, ensure_ascii=False, separators=(",", ":")) if detail else ""
    elif entry.get("error") or entry.get("cause"):
        text = ": ".join(str(entry[key]) for key in ("error", "cause") if entry.get(key))
    else:
        text = ":".join(str(entry[key]) for key in ("resourceType", "resource") if entry.get(key))
    return text if len(text) <= 100 else text[:97] + "..."


# ---------------------------------------------------------------- entry point


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _port(value: str) -> int:
    number = int(value)
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {number}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oms", description="Order Management System, run locally.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the OMS API on 127.0.0.1 with the full pipeline behind it")
    serve.add_argument("--port", type=_port, default=3000, help="TCP port (0 picks a free one; default 3000)")
    serve.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="log level of the functions (default INFO)",
    )
    serve.add_argument(
        "-v", "--verbose", action="store_true", help="one access-log line per request on stderr"
    )
    serve.set_defaults(run=_serve)

    simulate = commands.add_parser(
        "simulate", help="push synthetic orders through the pipeline and check stock"
    )
    simulate.add_argument("--orders", type=_positive, default=100, help="how many orders (default 100)")
    simulate.add_argument(
        "--seed", type=int, default=1, help="random seed; same seed, same orders (default 1)"
    )
    simulate.add_argument("--concurrency", type=_positive, default=8, help="posting threads (default 8)")
    simulate.add_argument("--json", action="store_true", help="print the report as one JSON line")
    simulate.set_defaults(run=_simulate)

    bench = commands.add_parser(
        "bench", help="measure per-order cost, import time, pipeline vs storage floor, hot-SKU contention"
    )
    bench.add_argument("--orders", type=_positive, default=60, help="happy-path orders (default 60)")
    bench.add_argument("--concurrency", type=_positive, default=8, help="posting threads (default 8)")
    bench.add_argument("--seed", type=int, default=1, help="random seed of the orders (default 1)")
    bench.add_argument(
        "--hot-contenders", type=_positive, default=20, help="racing reservations on one SKU (default 20)"
    )
    bench.add_argument(
        "--import-runs", type=_positive, default=5, help="fresh interpreters per module (default 5)"
    )
    bench.add_argument("--json", action="store_true", help="end with the figures as one JSON line")
    bench.set_defaults(run=_bench)

    history = commands.add_parser("history", help="print an order's timeline from a running `oms serve`")
    history.add_argument("order_id", metavar="ORDER_ID")
    history.add_argument(
        "--url", default=DEFAULT_URL, help=f"where `oms serve` listens (default {DEFAULT_URL})"
    )
    history.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the server")
    history.add_argument("--token", help="staff token (default $OMS_TOKEN, else a local development token)")
    history.set_defaults(run=_history)
    register_api_commands(commands)  # token, orders, review, report (oms/commands.py)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())

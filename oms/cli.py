"""The `oms` command: run the OMS locally (`serve`), load it (`simulate`), read a timeline (`history`)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from rich import box
from rich.table import Table

from oms.client import default_url
from oms.commands import _console, add_url, add_watch, watching
from oms.commands import register as register_api_commands
from oms.run_commands import _bench, _simulate
from oms.simulate import MAIN_WAREHOUSE

# Sold by `oms serve`'s demo but never stocked: gift cards ship virtually (the product master says so).
DEMO_VIRTUAL_SKUS = ("GIFT-CARD-100",)

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
    from oms.scenarios import order

    lines = [("TEA-LONGJING-250G", 2, "168.00"), ("MUG-CERAMIC-350", 1, "39.90")]
    return order(platform_order_id, lines, placed_at="2026-11-11T00:00:05+08:00")


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


_ROLES = ("ops", "customer_service", "admin", "viewer", "merchandiser")


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


def _port_free(port: int) -> str | None:
    """Why 127.0.0.1:port cannot be listened on, or None (checked before minutes of set-up, not after)."""
    if port == 0:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as err:
            return err.strerror or str(err)
    return None


def _oms_command() -> str:
    """How to run `oms` from this shell: `oms` when it is on PATH, else the virtualenv's script."""
    script = Path(sys.executable).with_name("oms")
    found = shutil.which("oms")
    if found and Path(found).resolve() == script.resolve():
        return "oms"
    if script.exists():
        try:
            return str(script.relative_to(Path.cwd()))
        except ValueError:
            return str(script)
    return f"{sys.executable} -m oms.cli"


def _serve(args: argparse.Namespace) -> int:
    from functions.core import repository
    from oms.local import logs, persistence
    from oms.local.catalog import register_products
    from oms.local.clock import SystemClock
    from oms.local.fake_platform import start_demo_channels
    from oms.local.http import serve
    from oms.local.stack import LocalStack

    busy = _port_free(args.port)
    if busy:
        print(
            f"oms serve: cannot listen on 127.0.0.1:{args.port}: {busy}. Is another `oms serve` running? "
            f"Pick another port: make run PORT={args.port + 101}  (or oms serve --port {args.port + 101})",
            file=sys.stderr,
        )
        return 1
    state_dir = Path(args.state).resolve()
    if args.fresh and (state_dir / persistence.STATE_FILE).exists():
        (state_dir / persistence.STATE_FILE).unlink()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    stack = LocalStack(clock=SystemClock(), log_level=args.log_level.upper())
    function_logs = logs.FunctionLogs(Path(args.logs).resolve(), echo=args.verbose)
    autosave: persistence.Autosave | None = None
    try:
        stack.start()
        function_logs.install(stack.runtime)
        try:
            restored = persistence.restore(stack, state_dir)
        except (ValueError, OSError) as err:
            print(f"oms serve: cannot restore {state_dir}: {err}", file=sys.stderr)
            return 1
        if restored is None:
            print(f"Demo stock in {MAIN_WAREHOUSE}:", flush=True)
            register_products(DEMO_STOCK, virtual=DEMO_VIRTUAL_SKUS)
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
        autosave = persistence.Autosave(stack, state_dir).start()
        try:
            _banner(server.url, restored, state_dir, function_logs.path, verbose=args.verbose)
            channels = start_demo_channels(server.url, stack.clock.now())
            print(flush=True)
            logs.echo_order_events(stack.runtime, lambda line: print(line, flush=True))
            while not stop.wait(0.5):  # a timed wait keeps the main thread responsive to signals
                pass
            print("Shutting down.", flush=True)
            channels.stop()
        finally:
            server.shutdown()
    finally:
        if autosave is not None:
            saved = autosave.stop()
            print(f"Saved {saved} items to {state_dir} (`oms serve --fresh` starts empty).", flush=True)
        stack.stop()
        function_logs.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _banner(url: str, restored: Any, state_dir: Path, log_file: Path, *, verbose: bool) -> None:
    oms = _oms_command()
    print(flush=True)
    _print_credentials(url)
    _local_webhooks(url)
    print(f"Metrics (funnel, stage latency): curl -sS {url}/metrics", flush=True)
    print(flush=True)
    if restored is not None:
        print(
            f"State: restored {restored.items} items saved {restored.saved_at[:19]} UTC from {state_dir}; "
            "saved every 30 s and at Ctrl-C (--fresh starts empty)",
            flush=True,
        )
        if restored.midway:
            print(
                f"  {restored.midway} restored orders were mid-way (held, unpaid, in progress): their "
                "workflows ended with the last run and do not resume; post new orders to see the flow",
                flush=True,
            )
    else:
        print(f"State: kept in {state_dir} (every 30 s and at Ctrl-C; --fresh starts empty)", flush=True)
    print(f"Function logs: {log_file}  (tail -f it; -v also prints them here)", flush=True)
    if not url.endswith(":3000"):
        print(f"Other port: run `export OMS_URL={url}` in the shell where you use {oms}", flush=True)
    print("Try it:", flush=True)
    print(f"  {oms} post held          (or happy, unpaid, out-of-stock, virtual, split: {oms} post --list)")
    print(f"  {oms} orders --watch     {oms} history ORDER_ID     {oms} simulate --url {url} --orders 50")
    print(f"  or curl, signed as tmall (good for 5 minutes, once): {curl_example(url)}", flush=True)
    print(f"\nOMS API listening on {url}  console {url}/console  (Ctrl-C to stop)", flush=True)
    print("One line per order event follows" + ("" if verbose else " (-v for every log line):"), flush=True)


# ---------------------------------------------------------------- history


def _history(args: argparse.Namespace) -> int:
    return watching(args, lambda: _history_once(args))


# The workflow events kept without --all: where the execution went, not each task's bookkeeping.
_PATH_EVENTS = ("StateEntered", "ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed", "Failed")


# Which workflow ran a step (ADR 0001): the Express fast path or the Standard one an order waits on.
_WORKFLOWS = {"express": "fast path", "standard": "waiting workflow"}


def _history_once(args: argparse.Namespace) -> int:
    from oms.client import ApiClient, ApiError

    token = args.token or os.environ.get("OMS_TOKEN")
    if not token:
        from oms.local import credentials

        token = credentials.staff_token("ops", os.environ.get("USER") or "cli")
    try:
        client = ApiClient(args.url, token, timeout=args.timeout)
        data = client.call("GET", f"/orders/{urllib.parse.quote(args.order_id, safe='')}/history")
    except ValueError as err:
        print(f"oms history: {err}", file=sys.stderr)
        return 1
    except ApiError as err:
        if err.status == 404:
            print(f"oms history: order {args.order_id} not found at {client.base_url}", file=sys.stderr)
        elif err.status == 0:
            print(f"oms history: {err.message}", file=sys.stderr)
        else:
            print(f"oms history: {client.base_url} answered {err.status}: {err.message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return 0
    console = _console()
    executions = data.get("executions") or []
    entries = [
        e
        for e in data.get("timeline", [])
        if args.all or e.get("source") == "order" or str(e.get("type", "")).endswith(_PATH_EVENTS)
    ]
    hidden = len(data.get("timeline", [])) - len(entries)
    console.print(
        f"[bold]{data['order_id']}[/]  status [bold]{data['status']}[/]"
        + (
            "".join(f"  {_WORKFLOWS.get(e.get('kind'), 'workflow')} {e.get('status')}" for e in executions)
            if executions
            else "  (no workflow yet)"
        )
        + (f"  [dim](+{hidden} events: --all)[/]" if hidden else ""),
        highlight=False,
    )
    days = {str(e.get("at", ""))[:10] for e in entries}
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
    table.add_column(f"UTC {days.pop()}" if len(days) == 1 else "time (UTC)", no_wrap=True)
    table.add_column("event", no_wrap=True)
    table.add_column("state / status", no_wrap=True)
    table.add_column("by", no_wrap=True, max_width=18)
    table.add_column("detail", overflow="fold", min_width=12, ratio=1)
    for entry in entries:
        is_order = entry.get("source") == "order"
        change = f"-> {entry.get('to_status')}" if is_order else ""  # from: the row before
        table.add_row(
            _short_time(entry.get("at"), with_day=len(days) > 0),
            f"[bold]{entry['type']}[/]" if is_order else f"[dim]{entry.get('type', '')}[/]",
            change or str(entry.get("state", "")),
            str(entry.get("actor", "") if is_order else _WORKFLOWS.get(entry.get("workflow"), "")),
            _detail(entry),
        )
    console.print(table)
    return 0


def _short_time(value: Any, with_day: bool = True) -> str:
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    millis = f"{moment.microsecond // 1000:03d}"
    return moment.strftime("%m-%d %H:%M:%S." if with_day else "%H:%M:%S.") + millis


def _detail(entry: dict[str, Any]) -> str:
    if entry.get("source") == "order":
        detail = entry.get("detail") or {}
        text = " ".join(  # key=value reads in a narrow column; the JSON is one --json away
            f"{key}={value if isinstance(value, str) else json.dumps(value, separators=(',', ':'))}"
            for key, value in detail.items()
        )
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
        "-v", "--verbose", action="store_true", help="function logs and one line per request here too"
    )
    serve.add_argument("--state", default=".oms/state", help="where local state is kept (default .oms/state)")
    serve.add_argument("--fresh", action="store_true", help="discard the saved state and start empty")
    serve.add_argument("--logs", default=".oms/logs", help="where function logs go (default .oms/logs)")
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
    simulate.add_argument(
        "--url",
        nargs="?",
        const=default_url(),
        help="drive a running `oms serve` at URL (default $OMS_URL, else port 3000), not a private stack",
    )
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
    add_url(history)
    history.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the server")
    history.add_argument("--token", help="staff token (default $OMS_TOKEN, else a local development token)")
    history.add_argument("--json", action="store_true", help="print the API's timeline as JSON")
    history.add_argument("--all", action="store_true", help="every workflow event, not only the path")
    add_watch(history)
    history.set_defaults(run=_history)
    register_api_commands(commands)  # token, orders, review, report (oms/commands.py)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())

"""`oms simulate` and `oms bench`: run synthetic orders through the pipeline and print the figures.

`oms simulate` runs on a private in-process stack (exact books, a virtual clock), or with --url against a
running `oms serve`, so the console shows the run (oms/remote_simulation.py).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from oms.simulate import SimulationReport

# ---------------------------------------------------------------- simulate


def _simulate(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    err = Console(stderr=True)
    show_progress = not args.json and err.is_terminal
    if not args.json:
        where = f"against {args.url} (watch it in {args.url}/console)" if args.url else "on a private stack"
        err.print(f"Simulating {args.orders} orders {where}", highlight=False)
    with Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        disable=not show_progress,
        transient=True,
    ) as bar:
        tasks = {
            "post": bar.add_task("posting orders", total=args.orders, rate=""),
            "wait": bar.add_task("awaiting workflows", total=args.orders, rate=""),
        }

        def progress(phase: str, done: int, total: int) -> None:
            task = bar.tasks[tasks[phase]]
            elapsed = task.elapsed or 0.0
            rate = f"{done / elapsed:6.1f}/s" if elapsed > 0 else ""
            bar.update(tasks[phase], completed=done, total=total, rate=rate)

        if args.url:
            return _simulate_remote(args, progress)
        from oms.simulate import run_simulation

        report = run_simulation(args.orders, args.seed, args.concurrency, progress=progress)

    if args.json:
        print(report.to_json())
    else:
        _print_report(report, Console())
        Console(stderr=True).print(
            "[dim]This ran on a private stack that is gone now; `oms simulate --url URL` drives a running "
            "`oms serve` instead, so its console shows the orders.[/]"
        )
    return 0 if report.ok else 2  # the books did not balance: fail loudly, e.g. in CI


def _simulate_remote(args: argparse.Namespace, progress: Any) -> int:
    from oms.client import ApiError
    from oms.remote_simulation import run_remote

    try:
        report = run_remote(args.url, args.orders, args.seed, args.concurrency, progress=progress)
    except (ApiError, ValueError) as err:
        print(f"oms simulate: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(report.to_json())
        return 0 if report.ok else 2
    console = Console()
    console.print(
        f"[bold]Posted {report.orders} orders[/] to {report.url} (seed {report.seed}, run {report.run}): "
        f"answers {_breakdown(report.post_status)}",
        highlight=False,
    )
    console.print(f"Final status:    {_breakdown(report.final_status)}", highlight=False)
    console.print(f"Reviewed:        {_breakdown(report.reviewed) or 'none'}", highlight=False)
    console.print(f"Paid late:       {_breakdown(report.payments) or 'none'}", highlight=False)
    console.print(
        f"Wall time:       {report.wall_seconds:.2f} s ({report.orders_per_second} orders/s)", highlight=False
    )
    console.print(f"See them:        {report.url}/console  (Sales, Orders, Held orders)", highlight=False)
    return 0 if report.ok else 2


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
        ("Whole run:", f"{report.total_wall_seconds:.1f} s (stack start, tracking and checks included)"),
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


def _ceiling_line(c: dict[str, Any]) -> str:
    return (
        f"{c['default']:,} orders/s at default quotas ({c['binding_default']}), {c['raised']:,} with "
        f"the named increases ({c['binding_raised']}); {c['waiting_share']:.0%} of orders wait"
    )


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
        ("Ceiling (us-east-1):", _ceiling_line(report.ceiling_orders_per_second)),
        ("Wall time:", f"{report.wall_seconds} s"),
    ]
    for label, value in lines:
        console.print(f"{label:<31}{value}", highlight=False)
    if args.json:
        print(report.to_json(), flush=True)
    ok = report.happy_path_orders == report.orders and hot["oversold"] == 0
    return 0 if ok else 2

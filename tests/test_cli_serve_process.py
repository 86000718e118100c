"""`oms serve` as a real process: the demo order it prints, a curl that works, a clean stop on Ctrl-C.

Apart from tests/test_cli.py so that, with pytest-xdist's whole-module scheduling, these two real-process
runs and the simulations there land on different workers when both are free.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

from functions.core.models.order_in import OrderIn
from oms.cli import DEMO_STOCK, demo_order_body, main
from oms.local.stack import WAIT_BOUND_SECONDS, LocalStack

ROOT = Path(__file__).resolve().parents[1]


def test_demo_order_is_valid_and_stocked():
    order = OrderIn.model_validate(demo_order_body())
    assert sum((line.amount for line in order.lines), Decimal(0)) == order.amounts.total
    assert all(line.sku in DEMO_STOCK and line.quantity <= DEMO_STOCK[line.sku] for line in order.lines)


def _read_until(
    process: subprocess.Popen[str], marker: str, timeout: float = WAIT_BOUND_SECONDS
) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    raise AssertionError(f"{marker!r} not printed; got:\n" + "\n".join(lines))


@pytest.mark.parametrize("log_level", ["INFO", "WARNING"])  # INFO, the default, runs the info-level logging
def test_serve_prints_a_working_curl_example_and_stops_cleanly_on_ctrl_c(log_level, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    state_flags = ["--state", str(tmp_path / "state"), "--logs", str(tmp_path / "logs")]
    process = subprocess.Popen(
        [sys.executable, "-m", "oms.cli", "serve", "--port", "0", "--log-level", log_level, *state_flags],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one pipe: nothing can fill up unread
        text=True,
    )
    try:
        lines = _read_until(process, "listening on")
        assert any("TEA-LONGJING-250G" in line for line in lines), lines  # the seeded stock is shown
        url = lines[-1].split("listening on ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        curl = "curl " + next(line for line in lines if "signed as tmall" in line).split(" curl ", 1)[1]

        if shutil.which("curl"):
            posted = subprocess.run(
                shlex.split(curl), capture_output=True, text=True, timeout=WAIT_BOUND_SECONDS, check=True
            )
            answer = json.loads(posted.stdout)
        else:  # the same request, without curl
            from oms.local import credentials

            raw = json.dumps(demo_order_body())
            request = urllib.request.Request(
                f"{url}/orders",
                data=raw.encode(),
                method="POST",
                headers=credentials.platform_headers("tmall", raw, method="POST", target="/orders"),
            )
            with urllib.request.urlopen(request, timeout=WAIT_BOUND_SECONDS) as response:
                answer = json.load(response)
        assert answer["created"] is True

        deadline = time.monotonic() + WAIT_BOUND_SECONDS  # a real clock here: poll until shipped
        status = ""
        token = next(line.split()[-1] for line in lines if line.strip().startswith("viewer "))
        while time.monotonic() < deadline and status != "SHIPPED":
            read = urllib.request.Request(
                f"{url}/orders/{answer['order_id']}", headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(read, timeout=WAIT_BOUND_SECONDS) as response:
                status = json.load(response)["status"]
            time.sleep(0.1)
        assert status == "SHIPPED"

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=WAIT_BOUND_SECONDS) == 0
        remaining = process.stdout.read() if process.stdout else ""
        assert "Shutting down." in remaining
        assert f"order.shipped            {answer['order_id']}  SHIPPED" in remaining  # one line per event
        assert "Saved " in remaining
        assert (tmp_path / "state" / "dynamodb.json").is_file()
        logged = [json.loads(line) for line in (tmp_path / "logs" / "functions.log").read_text().splitlines()]
        assert {entry["service"] for entry in logged} <= {"oms"}  # WARNING: maybe nothing to say
        if log_level == "INFO":  # each line names the function that wrote it, not whichever ran last
            mine = {
                (e["function_name"], e["message"]) for e in logged if e.get("order_id") == answer["order_id"]
            }
            assert {("ApiFunction", "order ingested"), ("ShipFunction", "shipped")} <= mine
            assert all(e["function_request_id"].startswith("local-") for e in logged)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def test_serve_refuses_a_busy_port_before_building_anything(monkeypatch, tmp_path, capsys):
    def never(self):
        raise AssertionError("the stack was built for a port that cannot be listened on")

    monkeypatch.setattr(LocalStack, "start", never)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--state", str(tmp_path), "--logs", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert f"make run PORT={port + 101}" in err

"""Where `oms serve`'s output goes: function logs to a file, one line per order event on the terminal.

Every function runs in this one process and logs through the one Powertools logger of
functions/core/observability.py. On AWS each function has its own container, so its lines name their
service, function and request by themselves; here many handlers run at once, so each handler is wrapped
to note which function and request the current thread runs, and a filter stamps that on every record.
The lines go to .oms/logs/functions.log (JSON, one per line, as CloudWatch would hold them); the terminal
shows one short line per event the OMS published about an order (and every log line too with -v).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

SERVICE = "oms"  # POWERTOOLS_SERVICE_NAME of every function in template.yaml
LOG_FILE = "functions.log"

_current = threading.local()  # (function name, request id) of the handler this thread runs


def _attributed(function_name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        outer = getattr(_current, "call", None)  # a handler may invoke another synchronously
        _current.call = (function_name, getattr(context, "aws_request_id", None))
        try:
            return handler(event, context)
        finally:
            _current.call = outer

    return run


class _Attribution(logging.Filter):
    """Stamps the service, function and request of the running handler on each record (as extras,
    which the Powertools formatter writes over the keys another thread's invocation appended)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = SERVICE
        call = getattr(_current, "call", None)
        if call is not None:
            record.function_name, record.function_request_id = call
        return True


class FunctionLogs:
    """Routes the functions' log lines to `directory`/functions.log; `echo` copies them to stderr."""

    def __init__(self, directory: Path, echo: bool = False) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / LOG_FILE
        self.echo = echo
        self._file: TextIO | None = None
        self._extra: logging.Handler | None = None

    def install(self, runtime: Any) -> None:
        """After the stack started: wrap its handlers and point the functions' logger at the file."""
        from functions.core.observability import logger

        for name, (handler, context) in list(runtime.handlers.items()):
            runtime.handlers[name] = (_attributed(name, handler), context)
        self._file = self.path.open("a", encoding="utf-8", buffering=1)  # line-buffered: tail -f works
        handler = logger.registered_handler
        handler.addFilter(_Attribution())
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(self._file)
        if self.echo:
            import sys

            self._extra = logging.StreamHandler(sys.stderr)
            self._extra.setFormatter(handler.formatter)
            self._extra.addFilter(_Attribution())
            logger.addHandler(self._extra)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def order_event_line(event: dict[str, Any]) -> str | None:
    """One terminal line for an event the OMS published on its bus about an order, else None."""
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return None
    order_id = detail.get("order_id") or (detail.get("data") or {}).get("order_id")
    if not order_id:
        return None
    status = detail.get("status") or detail.get("shipment_status") or ""
    moment = datetime.now(UTC).astimezone().strftime("%H:%M:%S")
    kind = str(event.get("detail-type") or event.get("DetailType") or "")
    return f"{moment}  {kind:<24} {order_id}  {status}".rstrip()


def echo_order_events(runtime: Any, write: Callable[[str], None] = print) -> None:
    """Print one line per order event put on a bus, keeping whatever listener the stack installed."""
    previous = runtime.bus_listener

    def listener(bus: str, event: dict[str, Any]) -> None:
        if previous is not None:
            previous(bus, event)
        line = order_event_line(event)
        if line:
            write(line)

    runtime.bus_listener = listener

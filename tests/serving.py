"""A local stack served over HTTP for the tests that drive `oms` commands against a live server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from oms.local.http import LocalHttpServer, serve
from oms.local.stack import LocalStack


@contextmanager
def serving(stack: LocalStack) -> Iterator[tuple[LocalStack, LocalHttpServer]]:
    """Start `stack`, serve it on a free port, and stop both afterwards (moto is process-global, so a
    module's server must be gone before the next stack starts)."""
    stack.start()
    server = serve(stack, port=0)
    try:
        yield stack, server
    finally:
        server.shutdown()
        stack.stop()

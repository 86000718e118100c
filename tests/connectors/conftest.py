"""The connector tests' own fixtures (the fake platform server)."""

from tests.connectors.channel_support import fake

__all__ = ["fake"]

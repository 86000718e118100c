"""Which connector speaks for which platform name (the `{platform}` of /channels/{platform}/...).

A connector's module (its native models, signing) is imported the first time a shop of its platform
needs it: a function that pulls from or ships back to Shopify shops never loads the Taobao connector
(docs/adr/0004-cold-import-budget.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from functions.connectors.contract import Connector
from functions.core.errors import RefusedError

# platform -> (module in functions.connectors, name of its connector there)
_WHERE = {
    "shopify": ("shopify", "CONNECTOR"),
    "taobao": ("taobao", "CONNECTOR"),
    # Tmall shops speak TOP as Taobao shops do; their orders keep platform "tmall"
    "tmall": ("taobao", "TMALL"),
    "jd": ("jd", "CONNECTOR"),
    "douyin": ("douyin", "CONNECTOR"),
    "pinduoduo": ("pinduoduo", "CONNECTOR"),
    "woocommerce": ("woocommerce", "CONNECTOR"),
}


class _Connectors(Mapping[str, Connector]):
    """The platform -> connector table; a connector's module is imported on first lookup."""

    def __getitem__(self, platform: str) -> Connector:
        module, name = _WHERE[platform]
        connector: Connector = getattr(importlib.import_module(f"functions.connectors.{module}"), name)
        return connector

    def __iter__(self) -> Iterator[str]:
        return iter(_WHERE)

    def __len__(self) -> int:
        return len(_WHERE)


CONNECTORS: Mapping[str, Connector] = _Connectors()


def connector_for(platform: str) -> Connector:
    connector = CONNECTORS.get(platform)
    if connector is None:
        known = ", ".join(sorted(CONNECTORS))
        raise RefusedError("UNKNOWN_PLATFORM", f"no connector for {platform!r}; known: {known}", status=404)
    return connector

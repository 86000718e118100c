"""Which connector speaks for which platform name (the `{platform}` of /channels/{platform}/...)."""

from __future__ import annotations

from functions.connectors import douyin, jd, pinduoduo, shopify, taobao, woocommerce
from functions.connectors.contract import Connector
from functions.core.errors import RefusedError

CONNECTORS: dict[str, Connector] = {
    "shopify": shopify.CONNECTOR,
    "taobao": taobao.CONNECTOR,
    "tmall": taobao.TMALL,  # Tmall shops speak TOP as Taobao shops do; their orders keep platform "tmall"
    "jd": jd.CONNECTOR,
    "douyin": douyin.CONNECTOR,
    "pinduoduo": pinduoduo.CONNECTOR,
    "woocommerce": woocommerce.CONNECTOR,
}


def connector_for(platform: str) -> Connector:
    connector = CONNECTORS.get(platform)
    if connector is None:
        known = ", ".join(sorted(CONNECTORS))
        raise RefusedError("UNKNOWN_PLATFORM", f"no connector for {platform!r}; known: {known}", status=404)
    return connector

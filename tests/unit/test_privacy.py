"""Personal data is masked in log lines and in what the viewer role receives."""

from __future__ import annotations

import io
import json
import logging

from functions.core.privacy import mask_pii
from tests.factories import order_body


def test_order_body_is_masked_everywhere_it_names_a_person():
    body = order_body(
        buyer={"id": "b-1", "name": "Han Meimei", "phone": "+86 139 1234 5678", "email": "hm@x.cn"}
    )
    masked = mask_pii(body)
    assert masked["buyer"] == {"id": "b-1", "name": "H***", "phone": "***5678", "email": "h***@x.cn"}
    address = masked["shipping_address"]
    assert address["name"] == "L***"
    assert address["phone"] == "***0000"
    assert address["line1"] == "***"
    assert address["postal_code"] == "***"
    assert (address["city"], address["country"]) == ("Shanghai", "CN")  # kept: analytics need them
    assert masked["lines"] == body["lines"]
    assert body["buyer"]["name"] == "Han Meimei"  # a copy: the original is untouched


def test_json_bodies_inside_log_records_are_masked():
    record = {"event": {"body": json.dumps(order_body())}, "name": "a state name is not a person"}
    masked = mask_pii(record)
    assert "Li Lei" not in json.dumps(masked)
    assert "1 Nanjing Rd" not in json.dumps(masked)
    assert masked["name"] == "a state name is not a person"


def test_the_logger_masks_what_it_is_given():
    from functions.core.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    try:
        body = order_body()
        logger.warning("order arrived", extra={"order": body, "phone": "+86 138 0000 1234"})
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert "order arrived" in line
    for secret in ("Li Lei", "+86 138 0000 0000", "1 Nanjing Rd", "138 0000 1234"):
        assert secret not in line
    assert json.loads(line)["phone"] == "***1234"


def test_rule_blacklists_are_masked():
    rules = {
        "review": {
            "blacklisted_phones": ["+8613800000000"],
            "blacklisted_addresses": ["1 Nanjing Rd"],
            "hold_above_total": "5000",
        }
    }
    masked = mask_pii(rules)["review"]
    assert masked["blacklisted_phones"] == ["***"]
    assert masked["blacklisted_addresses"] == ["***"]
    assert masked["hold_above_total"] == "5000"

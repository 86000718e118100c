"""Personal data (buyer name, phone, email, address) masked wherever it leaves for eyes that need not see it.

Used for log records (functions.core.observability) and for responses to the viewer role
(functions/core/security.py). At rest, the table's KMS key encrypts it (template.yaml, DataKey).
"""

from __future__ import annotations

import json
from typing import Any

MASK = "***"
_PERSON_KEYS = {"buyer", "shipping_address", "address", "billing_address", "receiver"}
_MASKED_IN_PERSON = {"name", "phone", "email", "line1", "line2", "postal_code", "mobile"}
_MASKED_ANYWHERE = {"phone", "email", "mobile", "buyer_name", "receiver_name", "receiver_phone"}
# Lists of personal data (the review rules' blacklists): every entry masked.
_MASKED_LISTS = {"blacklisted_buyers", "blacklisted_phones", "blacklisted_addresses"}


def mask_value(key: str, value: Any) -> Any:
    if not isinstance(value, str) or not value:
        return value
    if key in {"phone", "mobile", "receiver_phone"}:
        digits = [c for c in value if c.isdigit()]
        return MASK + "".join(digits[-4:]) if len(digits) >= 7 else MASK
    if key == "email" and "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}{MASK}@{domain}"
    if key in {"name", "buyer_name", "receiver_name"}:
        return value[:1] + MASK
    return MASK


def mask_pii(value: Any, *, inside_person: bool = False) -> Any:
    """A copy of `value` with personal fields masked; JSON strings under "body" are masked too."""
    if isinstance(value, dict):
        masked: dict[Any, Any] = {}
        for key, item in value.items():
            name = str(key)
            if name in _MASKED_LISTS and isinstance(item, list):
                masked[key] = [MASK if isinstance(entry, str) else entry for entry in item]
            elif (inside_person and name in _MASKED_IN_PERSON) or name in _MASKED_ANYWHERE:
                masked[key] = mask_value(name, item)
            elif name == "body" and isinstance(item, str):
                masked[key] = _mask_json_text(item)
            else:
                masked[key] = mask_pii(item, inside_person=name in _PERSON_KEYS)
        return masked
    if isinstance(value, list | tuple):
        return [mask_pii(item, inside_person=inside_person) for item in value]
    return value


def _mask_json_text(text: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        return text
    return json.dumps(mask_pii(document), separators=(",", ":"))


def masked_json(record: Any) -> str:
    """Powertools Logger's json_serializer: every log line passes here."""
    return json.dumps(mask_pii(record), default=str, separators=(",", ":"))

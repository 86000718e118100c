"""The event catalogue without AWS: envelope, allow-listed data, fulfilment updates, schema files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema_rs

from functions.core.models.orders import HistoryEvent
from functions.core.status import OrderStatus
from functions.events import schemas
from functions.events.catalogue import OrderRef, bus_entries, generic_data

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events"
ORDER = OrderRef(order_id="ord-1", platform="jd", platform_order_id="JD-9", buyer_id="b-7")
AT = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _event(
    event_type: str, detail: dict, status: OrderStatus = OrderStatus.SHIPPED, seq: int = 5
) -> HistoryEvent:
    return HistoryEvent(seq=seq, at=AT, type=event_type, from_status=status, to_status=status, actor="x",
                        detail=detail)  # fmt: skip


def test_schema_files_in_docs_are_the_generated_ones(tmp_path):
    written = schemas.write(tmp_path)
    assert {p.name for p in written} == {p.name for p in DOCS.glob("*.schema.json")}
    for path in written:
        assert path.read_text() == (DOCS / path.name).read_text(), (
            "regenerate: python -m functions.events.schemas"
        )


def test_envelope_ids_are_stable_and_data_is_allow_listed():
    event = _event("order.shipped", {"shipments": [{"id": "S1", "tracking": "T1"}], "address": "1 Road"})
    (detail_type, detail), (update_type, update) = bus_entries(ORDER, event)
    assert detail_type == "order.shipped"
    assert detail["event_id"] == "ord-1:5"
    assert bus_entries(ORDER, event)[0][1]["event_id"] == "ord-1:5"  # the same on every redelivery
    assert detail["data"] == {"shipments": [{"shipment_id": "S1", "tracking_number": "T1"}]}
    assert (update_type, update["event_id"], update["shipment_status"]) == (
        "fulfilment.updated",
        "ord-1:5:S1",
        "shipped",
    )
    for kind, document in ((detail_type, detail), (update_type, update)):
        validator = jsonschema_rs.validator_for(schemas.schema_for(kind))
        assert validator.is_valid(document)
    polluted = {**detail, "data": {**detail["data"], "address": "1 Road"}}
    assert not jsonschema_rs.validator_for(schemas.schema_for("order.shipped")).is_valid(polluted)


def test_generic_data_keeps_ids_and_codes_only():
    detail = {"case_id": "C1", "item_ids": ["a", "b"], "comment": "call Li Lei", "phone": "138", "kind": "x",
              "nested": {"case_id": "C2"}, "lines": [{"sku": "A"}]}  # fmt: skip
    assert generic_data(detail) == {"case_id": "C1", "item_ids": ["a", "b"], "kind": "x", "lines": 1}


def test_shipment_status_events_become_fulfilment_updates():
    detail = {"shipment_id": "S2", "carrier": "YTO", "tracking_number": "Y2", "status": "delivered",
              "carrier_event_id": "e9", "occurred_at": "2026-03-01T11:00:00+00:00"}  # fmt: skip
    entries = bus_entries(ORDER, _event("shipment.delivered", detail))
    update = entries[1][1]
    assert (update["carrier"], update["tracking_number"], update["shipment_status"]) == (
        "YTO",
        "Y2",
        "delivered",
    )
    assert update["platform"] == "jd"
    assert update["platform_order_id"] == "JD-9"
    assert len(bus_entries(ORDER, _event("review.approve", {}, OrderStatus.APPROVED))) == 1


def test_cancel_reason_codes_pass_and_free_text_does_not():
    coded = bus_entries(ORDER, _event("order.cancelled", {"reason": "PAY_TIMEOUT", "released": [1, 2]}))
    assert coded[0][1]["data"] == {"reason": "PAY_TIMEOUT", "released": 2}
    text = bus_entries(ORDER, _event("order.cancelled", {"reason": "buyer Li Lei phoned"}))
    assert "reason" not in text[0][1]["data"]
    assert json.dumps(text).find("Li Lei") == -1


def test_a_detail_that_does_not_fit_its_model_is_published_with_ids_only_never_stalls():
    odd = _event("order.refunded", {"case_id": "C9", "amount": "not money", "note": "Li Lei"})
    (detail_type, detail), *updates = bus_entries(ORDER, odd)
    assert detail_type == "order.refunded"
    assert detail["data"] == {"case_id": "C9", "amount": "not money"}
    assert updates == []
    assert bus_entries(ORDER, _event("shipment.in_transit", {"carrier": "SF"}))[1:] == []

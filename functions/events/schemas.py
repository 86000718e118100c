"""JSON Schemas of the published events, generated from the catalogue's models.

`python -m functions.events.schemas` writes them to docs/events/ (tests/unit/test_event_schemas.py checks
the files are current); GET /events/schemas serves the same documents.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, create_model

from functions.events.catalogue import (
    DATA_MODELS,
    FULFILMENT_UPDATED,
    SOURCE,
    FulfilmentUpdate,
    IntegrationEvent,
)

GENERIC = "generic"  # the schema of a type not in the catalogue: data holds ids and codes only


def _strict(model: type[BaseModel]) -> dict[str, Any]:
    """A model's serialised JSON Schema, with no properties beyond the documented ones anywhere."""
    schema = model.model_json_schema(mode="serialization")

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node.setdefault("additionalProperties", False)
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema)
    return schema


def _event_model(event_type: str) -> type[BaseModel]:
    data = DATA_MODELS[event_type]
    literal: Any = Literal[event_type]  # a type built at run time: one per catalogued type
    name = "".join(part.capitalize() for part in event_type.replace("_", ".").split(".")) + "Event"
    model: type[BaseModel] = create_model(
        name,
        __base__=IntegrationEvent,
        __doc__=f"detail of a `{event_type}` event. {(data.__doc__ or '').strip()}",
        type=(literal, ...),
        data=(data, ...),
    )
    return model


class _GenericData(BaseModel):
    model_config = ConfigDict(extra="allow")


def schema_for(event_type: str) -> dict[str, Any]:
    """The JSON Schema of `detail` of a `event_type` event (the generic one for uncatalogued types)."""
    if event_type == FULFILMENT_UPDATED:
        schema = _strict(FulfilmentUpdate)
    elif event_type in DATA_MODELS:
        schema = _strict(_event_model(event_type))
    else:
        schema = _strict(IntegrationEvent)
        schema["properties"]["data"] = {
            "type": "object",
            "description": "ids and codes only: keys ending in _id/_ids and a few code fields",
            "additionalProperties": {
                "anyOf": [
                    {"type": ["string", "integer", "number", "boolean", "null"]},
                    {"type": "array", "items": {"type": ["string", "integer"]}},
                ]
            },
        }
        schema["title"] = "GenericEvent"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"oms.orders/{event_type}.schema.json"
    schema["x-eventbridge"] = {"source": SOURCE, "detail-type": event_type if event_type != GENERIC else "*"}
    return schema


def catalogue() -> dict[str, dict[str, Any]]:
    """Every documented type -> its schema (and `generic` for the rest)."""
    types = [*sorted(DATA_MODELS), FULFILMENT_UPDATED, GENERIC]
    return {t: schema_for(t) for t in types}


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type, schema in catalogue().items():
        path = directory / f"{event_type}.schema.json"
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    target = (
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "docs" / "events"
    )
    for path in write(target):
        print(path)

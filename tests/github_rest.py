"""GitHub's published REST description (an extract in fixtures/github-rest): schemas to check our
requests against, and responses shaped from the documented examples."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

EXTRACT = Path(__file__).parent / "fixtures" / "github-rest" / "api.github.com.extract.json"


@cache
def description() -> dict[str, Any]:
    return json.loads(EXTRACT.read_text())


def validate_request_body(path: str, method: str, body: Any) -> None:
    """Raises jsonschema.ValidationError when `body` does not match the documented request body."""
    operation = description()["paths"][path][method]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    jsonschema.validate(body, schema)


def example_of(schema_name: str) -> dict[str, Any]:
    """An object made of the `example` values of a documented schema's properties."""
    schema = description()["components"]["schemas"][schema_name]
    return {
        name: prop["example"] for name, prop in schema["properties"].items() if "example" in prop
    }

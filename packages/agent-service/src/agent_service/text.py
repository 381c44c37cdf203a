"""`Text`: the string type of every text field a client sends.

PostgreSQL cannot store NUL (`\\u0000`) in a text column (a `DataError`, so a 500), and SQLite
stores it silently; neither is what a client meant. Every schema's text fields use `Text`, so a NUL
is a 422 at the schema on every database, and the published schema says so with a `pattern`.
Length limits stay on each field: `title: Text = Field(max_length=200)`. A type with its own
string constraints puts `NUL_FREE` (or `NON_BLANK`, when blank is refused) after them:
`Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), NON_BLANK]`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

NUL_FREE_PATTERN = "^[^\\x00]*$"
# What survives `str.strip()`: at least one character that is neither whitespace nor NUL.
NON_BLANK_PATTERN = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"


def reject_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters (\\u0000)")
    return value


class _NulFree:
    """Annotation: refuse NUL after the other checks, and publish the rule as a `pattern`."""

    def __init__(self, pattern: str = NUL_FREE_PATTERN) -> None:
        self.pattern = pattern

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(reject_nul, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema


NUL_FREE = _NulFree()
# For text that is stripped or must not be blank (titles, names, messages): the same check, and a
# pattern that tells clients and fuzzers a whitespace-only value is refused too.
NON_BLANK = _NulFree(NON_BLANK_PATTERN)
Text = Annotated[str, NUL_FREE]

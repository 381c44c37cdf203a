"""`Text`: the string type of every text field a client sends.

PostgreSQL cannot store NUL (`\\u0000`) in a text column (a `DataError`, so a 500), and SQLite
stores it silently; neither is what a client meant. Every schema's text fields use `Text`, so a NUL
is a 422 at the schema on every database, and the published schema says so with a `pattern`.
Length limits stay on each field: `title: Text = Field(max_length=200)`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

NUL_FREE_PATTERN = "^[^\\x00]*$"


def reject_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters (\\u0000)")
    return value


Text = Annotated[
    str, AfterValidator(reject_nul), Field(json_schema_extra={"pattern": NUL_FREE_PATTERN})
]

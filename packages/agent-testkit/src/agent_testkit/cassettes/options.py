"""The options a cassette takes, with one set of names for `use_cassette(...)`, the `cassette` marker and
(for some) ini settings, so a setting reads the same wherever it is given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import timedelta
from enum import StrEnum
from typing import Any

from agent_testkit.cassettes.matching import DEFAULT_CHAT_MATCH_ON, DEFAULT_MATCH_ON, Matcher
from agent_testkit.cassettes.scrub import Scrubber

DEFAULT_MAX_AGE_DAYS = 90.0


class RecordMode(StrEnum):
    """The record modes of vcrpy and pytest-recording, with the same meaning."""

    NONE = (
        "none"  # replay only; a request with no recorded answer fails, nothing reaches the network
    )
    ONCE = "once"  # record when the file does not exist yet, else replay only
    NEW_EPISODES = "new_episodes"  # replay what matches, record (and append) the rest
    ALL = "all"  # record everything again and overwrite the file

    @classmethod
    def parse(cls, value: str | RecordMode) -> RecordMode:
        if value == "rewrite":  # pytest-recording's name for "all"
            return cls.ALL
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown record mode {value!r}: use one of {choices}") from None


@dataclass(frozen=True)
class CassetteOptions:
    record_mode: RecordMode = RecordMode.NONE
    max_age_days: float | None = DEFAULT_MAX_AGE_DAYS  # None: no age limit
    allow_unused: bool = False
    match_on: tuple[str, ...] = DEFAULT_MATCH_ON
    chat_match_on: tuple[str, ...] = DEFAULT_CHAT_MATCH_ON
    ignore_hosts: tuple[
        str, ...
    ] = ()  # requests to these hosts pass through, neither played nor recorded
    timing: float = 0.0  # scale of the recorded delays between stream chunks on replay; 0 = at once
    scrub_headers: tuple[str, ...] = ()
    scrub_query: tuple[str, ...] = ()
    scrub_fields: tuple[str, ...] = ()
    scrub_values: tuple[str, ...] = ()
    record_command: str | None = field(
        default=None, compare=False
    )  # in messages; "{mode}" is filled in

    @classmethod
    def build(cls, **options: Any) -> CassetteOptions:
        """From keyword options as users write them (lists, strings); unknown names are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"unknown cassette option(s) {unknown}; known: {sorted(known)}")
        values = dict(options)
        if "record_mode" in values:
            values["record_mode"] = RecordMode.parse(values["record_mode"])
        for name in (
            "match_on",
            "chat_match_on",
            "ignore_hosts",
            "scrub_headers",
            "scrub_query",
            "scrub_fields",
            "scrub_values",
        ):
            if name in values:
                values[name] = _strings(name, values[name])
        if values.get("timing") is not None:
            values["timing"] = float(values["timing"])
        return cls(**values)

    @property
    def max_age(self) -> timedelta | None:
        return None if self.max_age_days is None else timedelta(days=self.max_age_days)

    def matcher(self) -> Matcher:
        return Matcher(self.match_on, self.chat_match_on)

    def scrubber(self) -> Scrubber:
        return Scrubber().extend(
            headers=self.scrub_headers,
            query_params=self.scrub_query,
            fields=self.scrub_fields,
            values=self.scrub_values,
        )


def _strings(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) or hasattr(value, "__iter__"):
        return tuple(str(v) for v in value)
    raise TypeError(f"cassette option {name} takes a list of strings, got {value!r}")

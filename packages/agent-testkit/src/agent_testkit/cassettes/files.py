"""Cassette files: YAML that a person can review in a pull request (multi-line strings as blocks,
keys in a fixed order), read with the safe loader only (a cassette is data, never code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from agent_testkit.cassettes.model import Interaction

FORMAT_VERSION = 1
HEADER = "# agent_testkit cassette: recorded HTTP traffic, secrets scrubbed. Review it like code.\n"

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CassetteFormatError(ValueError):
    """The file is not a cassette this kit can read."""


@dataclass
class CassetteFile:
    interactions: list[Interaction] = field(default_factory=list)
    recorded_at: datetime | None = None
    source: str | None = None  # where the traffic came from, for cassettes made from others' files

    def to_yaml(self) -> dict[str, Any]:
        data: dict[str, Any] = {"version": FORMAT_VERSION}
        if self.recorded_at is not None:
            data["recorded_at"] = format_time(self.recorded_at)
        if self.source:
            data["source"] = self.source
        data["interactions"] = [i.to_yaml() for i in self.interactions]
        return data


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def load_cassette(path: Path) -> CassetteFile:
    """Read a cassette file written by `save_cassette` (or by hand in the same format)."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - safe loader
    except yaml.YAMLError as exc:
        raise CassetteFormatError(f"cassette {str(path)!r} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise CassetteFormatError(
            f"cassette {str(path)!r} is not an agent_testkit cassette (version {FORMAT_VERSION}); "
            "convert a vcrpy cassette with `python -m agent_testkit.cassettes convert`"
        )
    try:
        interactions = [Interaction.from_yaml(i) for i in data.get("interactions") or []]
    except (KeyError, TypeError, ValueError) as exc:
        raise CassetteFormatError(
            f"cassette {str(path)!r} has a malformed interaction: {exc}"
        ) from exc
    recorded_at = data.get("recorded_at")
    return CassetteFile(
        interactions=interactions,
        recorded_at=parse_time(recorded_at) if recorded_at else None,
        source=data.get("source"),
    )


def save_cassette(path: Path, cassette: CassetteFile) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + dump_yaml(cassette.to_yaml()), encoding="utf-8")


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (SSE chunks, diffs) as literal blocks, so a chunk reads as it was sent; no
    `&id001` anchors for values that happen to be shared."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and _block_safe(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _block_safe(value: str) -> bool:
    """Literal blocks cannot hold trailing spaces on a line, tabs, or other control characters."""
    if any(line.endswith((" ", "\t")) for line in value.split("\n")):
        return False
    return all(ch == "\n" or ch.isprintable() for ch in value)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )

"""Golden cases: YAML files of tagged cases, read and checked before anything runs.

A file holds a list of cases, or `{defaults: {...}, cases: [...]}` where defaults (agent, tags, setup)
apply to each case (tags add up). A case:

    id: tasks-create-high-priority           # unique across files
    description: what it checks, for people
    tags: [tasks]                            # its slices
    agent: assistant                         # the agent type the app runs
    setup: {...}                             # the app's side: data to create first (app-specific)
    turns: ["add a high-priority task to renew my passport"]   # one or more user turns
    expect:                                  # graders, each with an optional weight (default 1)
      - tool_called: {name: create_task, arguments: {priority: high}}
      - {contains: passport, weight: 2}
    script: [...]                            # the model's side, for --model scripted
    judge: [...]                             # the judge's side, for --model scripted
    cassette: cassettes/x.yaml               # for --model replay (default: <id>.yaml in the cassette dir)
    known_weakness: why it loses points      # expected to score low; reports show it as such
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent_testkit.evals.graders import Grader, GraderSpecError, build_grader
from agent_testkit.evals.scripts import PlaceholderError, substitute

CASE_KEYS = {
    "id",
    "description",
    "tags",
    "agent",
    "setup",
    "turns",
    "expect",
    "script",
    "judge",
    "cassette",
    "known_weakness",
}
DEFAULT_KEYS = {"agent", "tags", "setup"}
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CaseFormatError(ValueError):
    """A case file that cannot be used; the message names the file, the case and the field."""


@dataclass(frozen=True)
class Expectation:
    """One grader spec of a case, and its weight in the case's score."""

    kind: str
    spec: Any
    weight: float = 1.0

    def grader(self, variables: Mapping[str, str] | None = None) -> Grader:
        """The grader, with `${...}` placeholders filled in from `variables`."""
        spec = substitute(self.spec, variables) if variables is not None else self.spec
        return build_grader(self.kind, spec)


@dataclass(frozen=True)
class Case:
    id: str
    tags: tuple[str, ...]
    agent: str
    turns: tuple[Any, ...]
    expect: tuple[Expectation, ...]
    setup: Mapping[str, Any] = field(default_factory=dict)
    script: tuple[Any, ...] = ()
    judge: tuple[Any, ...] = ()
    cassette: str | None = None
    description: str = ""
    source: str = ""
    known_weakness: str = ""

    def uses_judge(self) -> bool:
        return any(e.kind == "llm_judge" for e in self.expect)


def load_cases(directory: str | Path, *, pattern: str = "*.yaml") -> list[Case]:
    """Every case in the files of `directory`, in file then position order; ids must be unique."""
    files = sorted(Path(directory).glob(pattern))
    if not files:
        raise CaseFormatError(f"no case files ({pattern}) in {str(directory)!r}")
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for path in files:
        for case in load_case_file(path):
            if case.id in seen:
                raise CaseFormatError(
                    f"{case.source}: case id {case.id!r} is already used at {seen[case.id]}"
                )
            seen[case.id] = case.source
            cases.append(case)
    return cases


def load_case_file(path: Path) -> list[Case]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - safe loader
    except yaml.YAMLError as exc:
        raise CaseFormatError(f"{path}: not valid YAML: {exc}") from exc
    defaults: Mapping[str, Any] = {}
    if isinstance(data, Mapping):
        unknown = set(data) - {"defaults", "cases"}
        if unknown:
            raise CaseFormatError(f"{path}: unknown top-level key(s) {sorted(unknown)}")
        defaults = data.get("defaults") or {}
        data = data.get("cases")
        if set(defaults) - DEFAULT_KEYS:
            raise CaseFormatError(f"{path}: defaults take only {sorted(DEFAULT_KEYS)}")
    if not isinstance(data, list):
        raise CaseFormatError(f"{path}: expected a list of cases (or `cases:`)")
    return [parse_case(entry, defaults, f"{path.name}#{n + 1}") for n, entry in enumerate(data)]


def parse_case(entry: Any, defaults: Mapping[str, Any], source: str) -> Case:
    if not isinstance(entry, Mapping):
        raise CaseFormatError(f"{source}: a case is a mapping, got {entry!r}")
    case_id = str(entry.get("id", ""))
    where = f"{source} ({case_id or 'no id'})"
    unknown = set(entry) - CASE_KEYS
    if unknown:
        raise CaseFormatError(
            f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(CASE_KEYS)}"
        )
    if not _ID.match(case_id):
        raise CaseFormatError(f"{where}: `id` must be lower-case letters, digits, '.', '-' or '_'")
    tags = tuple(dict.fromkeys([*defaults.get("tags", []), *entry.get("tags", [])]))
    agent = entry.get("agent", defaults.get("agent"))
    turns = entry.get("turns")
    if not tags:
        raise CaseFormatError(f"{where}: give at least one tag (its slices)")
    if not agent:
        raise CaseFormatError(f"{where}: give the `agent` type")
    if not isinstance(turns, list) or not turns:
        raise CaseFormatError(f"{where}: `turns` must be a non-empty list of user messages")
    setup = {**(defaults.get("setup") or {}), **(entry.get("setup") or {})}
    return Case(
        id=case_id,
        tags=tuple(str(t) for t in tags),
        agent=str(agent),
        turns=tuple(turns),
        expect=_expectations(entry.get("expect"), where),
        setup=setup,
        script=tuple(_list(entry, "script", where)),
        judge=tuple(_list(entry, "judge", where)),
        cassette=entry.get("cassette"),
        description=str(entry.get("description", "")).strip(),
        source=source,
        known_weakness=str(entry.get("known_weakness") or "").strip(),
    )


def _list(entry: Mapping[str, Any], key: str, where: str) -> Sequence[Any]:
    value = entry.get(key) or []
    if not isinstance(value, list):
        raise CaseFormatError(f"{where}: `{key}` must be a list")
    return value


def _expectations(value: Any, where: str) -> tuple[Expectation, ...]:
    if not isinstance(value, list) or not value:
        raise CaseFormatError(f"{where}: `expect` must be a non-empty list of graders")
    found: list[Expectation] = []
    for n, raw in enumerate(value, start=1):
        if not isinstance(raw, Mapping):
            raise CaseFormatError(
                f"{where}: expectation {n} must be a mapping like {{contains: Done}}"
            )
        kinds = [k for k in raw if k != "weight"]
        if len(kinds) != 1:
            raise CaseFormatError(f"{where}: expectation {n} needs exactly one grader, got {kinds}")
        weight = raw.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            raise CaseFormatError(f"{where}: expectation {n}: weight must be a positive number")
        expectation = Expectation(kinds[0], raw[kinds[0]], float(weight))
        try:
            expectation.grader()
        except (GraderSpecError, PlaceholderError, TypeError, ValueError, KeyError) as exc:
            raise CaseFormatError(f"{where}: expectation {n}: {exc}") from exc
        found.append(expectation)
    return tuple(found)

"""`json_schema`: the reply (or a tool's arguments or results) is JSON valid against a schema.

    - json_schema:
        schema: {type: object, required: [priority], properties: {priority: {enum: [P0, P1, P2, P3]}}}
        in: reply            # or tool_arguments / tool_results, with `tool: create_task`

A reply in a Markdown code fence (```json ... ```) is read from inside the fence, as people do.
Validation is `jsonschema`'s (Draft 2020-12), imported when the grader is first used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent_testkit.evals.graders.base import (
    GradeContext,
    Grader,
    GraderSpecError,
    Verdict,
    options,
    register,
    short,
)

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(?P<body>.*?)\n\s*```\s*$", re.DOTALL)
_TARGETS = ("reply", "tool_arguments", "tool_results")


def parse_json_text(text: str) -> Any:
    """JSON from a model's text: bare, or inside one Markdown code fence. Raises ValueError."""
    fenced = _FENCE.match(text)
    return json.loads(fenced.group("body") if fenced else text)


def schema_errors(schema: Mapping[str, Any], instance: Any) -> list[str]:
    """Every way `instance` breaks `schema`, as `path: message` lines (empty when valid)."""
    try:
        from jsonschema import Draft202012Validator
    except ImportError as exc:  # pragma: no cover - jsonschema is in the kit's test environment
        raise RuntimeError(
            "the json_schema grader needs the `jsonschema` package: pip install jsonschema"
        ) from exc
    validator = Draft202012Validator(dict(schema))
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]


@dataclass(frozen=True)
class JsonSchema(Grader):
    schema: Mapping[str, Any]
    where: str = "reply"
    tool: str | None = None
    kind = "json_schema"

    @classmethod
    def from_spec(cls, spec: Any) -> JsonSchema:
        opts = options(spec, cls.kind, shorthand="schema", known={"schema", "in", "tool"})
        schema = opts.get("schema")
        if not isinstance(schema, Mapping):
            raise GraderSpecError(f"{cls.kind}: `schema` must be a mapping, got {schema!r}")
        try:
            from jsonschema import Draft202012Validator
            from jsonschema.exceptions import SchemaError

            Draft202012Validator.check_schema(dict(schema))
        except SchemaError as exc:
            raise GraderSpecError(f"{cls.kind}: not a valid schema: {exc.message}") from exc
        where = str(opts.get("in", "reply"))
        if where not in _TARGETS:
            raise GraderSpecError(f"{cls.kind}: `in` is {where!r}; use one of {_TARGETS}")
        tool = opts.get("tool")
        if where != "reply" and not tool:
            raise GraderSpecError(f"{cls.kind}: `in: {where}` needs `tool: <name>`")
        return cls(schema, where=where, tool=str(tool) if tool else None)

    def describe(self) -> str:
        target = f"{self.where} of {self.tool}" if self.tool else self.where
        return f"{self.kind} of {target}"

    def _instances(self, context: GradeContext) -> list[Any]:
        transcript = context.transcript
        if self.where == "reply":
            return [parse_json_text(transcript.reply)]
        calls = [c for c in transcript.tool_calls if c.name == self.tool]
        values = [c.arguments if self.where == "tool_arguments" else c.result for c in calls]
        return [parse_json_text(v) if isinstance(v, str) else v for v in values]

    async def check(self, context: GradeContext) -> Verdict:
        try:
            instances = self._instances(context)
        except ValueError as exc:
            return Verdict(
                0.0, f"{self.where} is not JSON ({exc}): {short(context.transcript.reply)!r}"
            )
        if not instances:
            return Verdict(0.0, f"no call of {self.tool!r} to validate")
        for instance in instances:
            errors = schema_errors(self.schema, instance)
            if errors:
                more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
                return Verdict(0.0, f"invalid against the schema: {errors[0]}{more}")
        return Verdict(1.0, f"{len(instances)} value(s) valid against the schema")


register("json_schema")(JsonSchema.from_spec)

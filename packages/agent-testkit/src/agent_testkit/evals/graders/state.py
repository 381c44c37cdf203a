"""`state`: the app's state, read through its own HTTP API after the case, as its user would.

    - state:
        get: /api/tasks                      # a path of the app (placeholders already filled in)
        params: {status: done}
        match: {title: Renew passport, priority: high}   # subset match on each listed item
        count: 1                             # or min / max; default: at least one
    - state: {get: /api/tasks, count: 0}     # nothing was created
    - state: {get: "/api/tasks/${other.task:Payroll}", as: other, match: {status: pending}}
    - state: {get: /api/projects/123, status: 404}

The listed items are the body's `items` when it has them, the body when it is a list, else the body
itself as one item (`items: path.to.list` picks another list).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
from agent_testkit.evals.matching import mismatch


@dataclass(frozen=True)
class StateRequest:
    """What to ask the app: a GET of `path` with `params`, as the client of role `role`."""

    path: str
    params: Mapping[str, Any] = field(default_factory=dict)
    role: str = "user"


@dataclass(frozen=True)
class State(Grader):
    request: StateRequest
    match: Any = None
    status: int = 200
    items_path: str | None = None
    minimum: int = 1
    maximum: int | None = None
    kind = "state"

    @classmethod
    def from_spec(cls, spec: Any) -> State:
        known = {"get", "params", "as", "match", "status", "items", "count", "min", "max"}
        opts = options(spec, cls.kind, shorthand="get", known=known)
        path = opts.get("get")
        if not isinstance(path, str) or not path.startswith("/"):
            raise GraderSpecError(
                f"{cls.kind}: `get` must be a path starting with '/', got {path!r}"
            )
        count = opts.get("count")
        maximum = count if count is not None else opts.get("max")
        return cls(
            StateRequest(path, dict(opts.get("params") or {}), str(opts.get("as", "user"))),
            match=opts.get("match"),
            status=int(opts.get("status", 200)),
            items_path=opts.get("items"),
            minimum=int(count if count is not None else opts.get("min", 1)),
            maximum=None if maximum is None else int(maximum),
        )

    def describe(self) -> str:
        what = f" with {self.match!r}" if self.match else ""
        who = f" as {self.request.role}" if self.request.role != "user" else ""
        if self.status != 200:
            return f"{self.kind} GET {self.request.path}{who} answers {self.status}"
        times = f"{self.minimum}" if self.maximum == self.minimum else f">={self.minimum}"
        return f"{self.kind} GET {self.request.path}{who} lists {times}{what}"

    def _items(self, body: Any) -> list[Any]:
        if self.items_path:
            for key in self.items_path.split("."):
                body = body[int(key)] if isinstance(body, list) else body[key]
            return list(body)
        if isinstance(body, Mapping) and isinstance(body.get("items"), list):
            return list(body["items"])
        return list(body) if isinstance(body, list) else [body]

    async def check(self, context: GradeContext) -> Verdict:
        client = context.clients.get(self.request.role)
        if client is None:
            return Verdict(0.0, f"no HTTP client for the role {self.request.role!r}")
        response = await client.get(self.request.path, params=dict(self.request.params))
        if response.status_code != self.status:
            return Verdict(
                0.0,
                f"GET {self.request.path} answered {response.status_code}, expected "
                f"{self.status}: {short(response.text)!r}",
            )
        if self.status != 200:
            return Verdict(1.0, f"GET {self.request.path} answered {self.status}")
        items = self._items(response.json())
        reasons = [mismatch(self.match, item) if self.match is not None else None for item in items]
        found = sum(reason is None for reason in reasons)
        if found >= self.minimum and (self.maximum is None or found <= self.maximum):
            return Verdict(1.0, f"{found} of {len(items)} item(s) match")
        expected = self.minimum if self.maximum == self.minimum else f">={self.minimum}"
        closest = next((r for r in reasons if r), None)
        hint = f"; e.g. {closest}" if closest and found < self.minimum else ""
        return Verdict(
            0.0,
            f"{found} of {len(items)} item(s) at {self.request.path} match, expected {expected}{hint}",
        )


register("state")(State.from_spec)

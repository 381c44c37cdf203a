"""The run state machine is written once: the table is the documented one, the code moves a run
only through `lifecycle.transition`, and only along the table's arrows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from agent_service.runs import lifecycle
from agent_service.runs.models import ACTIVE_STATUSES, FINAL_STATUSES

SOURCE = Path(lifecycle.__file__).parents[1]  # agent_service/
TRANSITION_FUNCTIONS = {"transition", "transition_returning"}


def test_the_table_is_the_documented_state_machine() -> None:
    arrows = {(a, b) for a, targets in lifecycle.TRANSITIONS.items() for b in targets}
    assert arrows == {
        ("queued", "running"),
        ("queued", "failed"),
        ("queued", "cancelled"),
        ("queued", "interrupted"),
        ("running", "requires_action"),
        ("running", "completed"),
        ("running", "failed"),
        ("running", "cancelled"),
        ("running", "interrupted"),
        ("requires_action", "running"),
        ("requires_action", "failed"),
        ("requires_action", "cancelled"),
        ("requires_action", "interrupted"),
    }
    assert set(lifecycle.TRANSITIONS) == set(lifecycle.STATUSES)
    assert all(not lifecycle.TRANSITIONS[final] for final in FINAL_STATUSES)
    assert all(lifecycle.TRANSITIONS[active] & set(FINAL_STATUSES) for active in ACTIVE_STATUSES)


@pytest.mark.parametrize(
    ("from_", "to"),
    [("completed", "running"), ("queued", "requires_action"), ("cancelled", "failed")],
)
async def test_a_move_outside_the_table_is_refused_before_any_statement(
    from_: str, to: str
) -> None:
    with pytest.raises(lifecycle.TransitionNotAllowed):
        await lifecycle.transition(None, lifecycle.uuid.uuid4(), from_=from_, to=to)  # type: ignore[arg-type]


def _modules_touching_runs() -> list[Path]:
    return [
        path
        for path in SOURCE.rglob("*.py")
        if path.name != "lifecycle.py"
        and (path.parent.name == "runs" or "runs.models import" in path.read_text())
    ]


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def test_no_code_writes_a_run_status_but_lifecycle() -> None:
    offences = []
    for path in _modules_touching_runs():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Attribute) and target.attr == "status":
                        offences.append(f"{path.name}:{node.lineno} assigns .status")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "values"
                and _keyword(node, "status") is not None
            ):
                offences.append(f"{path.name}:{node.lineno} sets status in .values()")
    assert offences == []


def test_every_transition_in_the_code_is_in_the_table() -> None:
    seen = []
    for path in _modules_touching_runs():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            if name not in TRANSITION_FUNCTIONS:
                continue
            from_, to = _keyword(node, "from_"), _keyword(node, "to")
            assert from_ is not None and to is not None, f"{path.name}:{node.lineno}"
            if isinstance(from_, ast.Constant) and isinstance(to, ast.Constant):
                assert lifecycle.allowed(from_.value, to.value), f"{path.name}:{node.lineno}"
            seen.append((path.name, node.lineno))
    # the claim, the resume, the pause, the answer and every other end
    assert {name for name, _ in seen} >= {
        "scheduling.py",
        "admission.py",
        "driving.py",
        "ending.py",
        "service.py",
    }

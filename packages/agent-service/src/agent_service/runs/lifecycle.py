"""A run's state machine, written once: its statuses, the transitions allowed between them, and
the one function that moves a run from one status to another.

`queued → running → (requires_action ⇄ running) → completed | failed | cancelled | interrupted`

Every transition is one conditional UPDATE (`WHERE status = <expected>`): two replicas, a
cancel and a sweep may race for the same run, and the database, not a read-then-write, says
which one moved it. The loser sees `False` and leaves the run alone. A unit test checks this
table and that no other code writes a run's status.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from agent_service.runs import hooks
from agent_service.runs.models import ACTIVE_STATUSES, FINAL_STATUSES, Run

STATUSES = (*ACTIVE_STATUSES, *FINAL_STATUSES)

TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"running", "failed", "cancelled", "interrupted"}),
    "running": frozenset({"requires_action", "completed", "failed", "cancelled", "interrupted"}),
    "requires_action": frozenset({"running", "failed", "cancelled", "interrupted"}),
    **{final: frozenset() for final in FINAL_STATUSES},
}


class TransitionNotAllowed(ValueError):
    """A programming error: the code asked for a move the state machine does not have."""

    def __init__(self, from_: str, to: str) -> None:
        super().__init__(f"A run cannot go from {from_!r} to {to!r}.")


def allowed(from_: str, to: str) -> bool:
    return to in TRANSITIONS.get(from_, frozenset())


def _statement(
    run_id: uuid.UUID, from_: str, to: str, where: Iterable[ColumnElement[bool]], values: Any
) -> Any:
    if not allowed(from_, to):
        raise TransitionNotAllowed(from_, to)
    return (
        update(Run).where(Run.id == run_id, Run.status == from_, *where).values(status=to, **values)
    )


async def transition(
    session: AsyncSession,
    run: Run | uuid.UUID,
    *,
    from_: str,
    to: str,
    where: Iterable[ColumnElement[bool]] = (),
    **values: Any,
) -> bool:
    """Move the run from `from_` to `to` (setting `values` with it) if it is still `from_`; the
    caller commits. Whether it moved; a loaded `run` then shows the new values."""
    run_id = run if isinstance(run, uuid.UUID) else run.id
    statement = _statement(run_id, from_, to, where, values)
    result = await session.execute(statement.execution_options(synchronize_session=False))
    moved = bool(result.rowcount == 1)  # type: ignore[attr-defined]
    if moved and isinstance(run, Run):
        for name, value in {"status": to, **values}.items():
            set_committed_value(run, name, value)
    if moved and to in FINAL_STATUSES:
        await hooks.run_ended(session, run, to)  # its completion webhook, in the same commit
    return moved


async def transition_returning(
    session: AsyncSession,
    run_id: uuid.UUID,
    *,
    from_: str,
    to: str,
    where: Iterable[ColumnElement[bool]] = (),
    **values: Any,
) -> Run | None:
    """`transition`, reading the moved row back in the same statement (`UPDATE … RETURNING`)."""
    statement = _statement(run_id, from_, to, where, values).returning(Run)
    moved = await session.scalars(statement.execution_options(populate_existing=True))
    return moved.one_or_none()


async def hold(
    session: AsyncSession,
    run: Run | uuid.UUID,
    *,
    status: str,
    where: Iterable[ColumnElement[bool]] = (),
    **values: Any,
) -> bool:
    """Write `values` to a run that is still `status` (and matches `where`), without moving it:
    a driver's step, which must not land on a run ended or taken over meanwhile. Whether it
    was; the caller commits."""
    run_id = run if isinstance(run, uuid.UUID) else run.id
    statement = (
        update(Run)
        .where(Run.id == run_id, Run.status == status, *where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    held = bool(result.rowcount == 1)  # type: ignore[attr-defined]
    if held and isinstance(run, Run):
        for name, value in values.items():
            set_committed_value(run, name, value)
    return held

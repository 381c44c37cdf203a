"""Before/after assertions on application state: "this request created exactly one task".

The probe is any callable (sync, or async under `async with`) returning a comparable value, such as a
row count or a set of ids; it is read on entry and on exit.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

UNSET: Any = object()


def _name(probe: Callable[[], Any]) -> str:
    return getattr(probe, "__name__", None) or repr(probe)


class StateChange:
    """Reads `probe` before and after the block and asserts how it changed (or that it did not)."""

    def __init__(
        self,
        probe: Callable[[], Any] | Callable[[], Awaitable[Any]],
        *,
        from_: Any = UNSET,
        to: Any = UNSET,
        by: Any = UNSET,
        unchanged: bool = False,
    ) -> None:
        self.probe = probe
        self.expected_from, self.expected_to, self.by, self.unchanged = from_, to, by, unchanged
        self.before: Any = UNSET
        self.after: Any = UNSET

    def __enter__(self) -> StateChange:
        self.before = self._read_sync()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.after = self._read_sync()
            self.check()

    async def __aenter__(self) -> StateChange:
        self.before = await self._read_async()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.after = await self._read_async()
            self.check()

    def _read_sync(self) -> Any:
        value = self.probe()
        if inspect.isawaitable(value):
            value.close() if inspect.iscoroutine(value) else None
            raise TypeError(f"{_name(self.probe)} is async: use `async with`")
        return value

    async def _read_async(self) -> Any:
        value = self.probe()
        return await value if inspect.isawaitable(value) else value

    def check(self) -> None:
        """Compare `before` and `after` with what was expected; AssertionError says both values."""
        what = f"{_name(self.probe)}()"
        seen = f"it went from {self.before!r} to {self.after!r}"
        if self.unchanged and self.after != self.before:
            raise AssertionError(f"expected {what} to stay {self.before!r}, but {seen}")
        if self.expected_from is not UNSET and self.before != self.expected_from:
            raise AssertionError(f"expected {what} to start at {self.expected_from!r}, but {seen}")
        if self.expected_to is not UNSET and self.after != self.expected_to:
            raise AssertionError(f"expected {what} to end at {self.expected_to!r}, but {seen}")
        if self.by is not UNSET and self.after - self.before != self.by:
            raise AssertionError(f"expected {what} to change by {self.by!r}, but {seen}")
        if (
            not self.unchanged
            and (self.expected_to, self.by) == (UNSET, UNSET)
            and self.after == self.before
        ):
            raise AssertionError(f"expected {what} to change, but it stayed {self.before!r}")


def assert_changes(
    probe: Callable[[], Any] | Callable[[], Awaitable[Any]],
    *,
    from_: Any = UNSET,
    to: Any = UNSET,
    by: Any = UNSET,
) -> StateChange:
    """`with assert_changes(count_tasks, by=1): ...`; with no expectation, any change passes."""
    return StateChange(probe, from_=from_, to=to, by=by)


def assert_unchanged(probe: Callable[[], Any] | Callable[[], Awaitable[Any]]) -> StateChange:
    """`with assert_unchanged(count_tasks): ...`: the block must leave the value as it was."""
    return StateChange(probe, unchanged=True)

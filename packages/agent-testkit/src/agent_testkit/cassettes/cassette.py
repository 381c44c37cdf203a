"""One cassette in use: which recorded interaction answers each request, what gets recorded, and what
went wrong (requests with no recorded answer, interactions never used), reported at the end."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from agent_testkit.cassettes.files import CassetteFile, format_time, load_cassette, save_cassette
from agent_testkit.cassettes.matching import summarize
from agent_testkit.cassettes.model import Interaction, RecordedRequest, RecordedResponse
from agent_testkit.cassettes.options import CassetteOptions, RecordMode
from agent_testkit.cassettes.scrub import Scrubber

OPENED_PATHS: set[Path] = set()  # every cassette opened in this process, for the orphan report


class CassetteError(Exception):
    """A cassette cannot be used as asked; the message says what to do."""


class CassetteNotFound(CassetteError):
    pass


class CassetteExpired(CassetteError):
    pass


class CassetteProblems(AssertionError):
    """Raised when a `use_cassette` block ends with unanswered requests or unused interactions."""


@dataclass(frozen=True)
class Replay:
    interaction: Interaction
    timing: float


@dataclass(frozen=True)
class Record:
    slot: int
    request: RecordedRequest  # scrubbed
    scrubber: Scrubber  # the cassette's, plus this request's own credentials


@dataclass(frozen=True)
class NoMatch:
    message: str


Decision = Replay | Record | NoMatch


class Cassette:
    """Use as a context manager (`use_cassette`), or `start()`/`stop()` and read `problems()`."""

    def __init__(self, path: str | Path, options: CassetteOptions | None = None) -> None:
        self.path = Path(path)
        self.options = options or CassetteOptions()
        self.matcher = self.options.matcher()
        self.scrubber = self.options.scrubber()
        self.interactions: list[Interaction] = []
        self.recorded_at: datetime | None = None
        self.source: str | None = None
        self.replaying = False
        self.recording = False
        self._played: set[int] = set()
        self._new: list[Interaction | None] = []
        self._problems: list[str] = []
        self._lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------------

    def open(self, *, now: datetime | None = None) -> None:
        """Load the file as the record mode says; raises CassetteNotFound or CassetteExpired."""
        mode = self.options.record_mode
        exists = self.path.exists()
        OPENED_PATHS.add(self.path.resolve())
        if mode is RecordMode.NONE and not exists:
            raise CassetteNotFound(
                f"cassette {str(self.path)!r} does not exist, and record mode 'none' replays only "
                f"(nothing reaches the network). Record it: {self.command(RecordMode.ONCE)}"
            )
        if exists and mode is not RecordMode.ALL:
            loaded = load_cassette(self.path)
            self.interactions, self.recorded_at, self.source = (
                loaded.interactions,
                loaded.recorded_at,
                loaded.source,
            )
            self.replaying = True
        self.recording = mode is RecordMode.ALL or mode is RecordMode.NEW_EPISODES or not exists
        if self.replaying and not self.recording:
            self._check_age(now or datetime.now(UTC))

    def _check_age(self, now: datetime) -> None:
        limit = self.options.max_age
        if limit is None or self.recorded_at is None or now - self.recorded_at <= limit:
            return
        days = (now - self.recorded_at).days
        raise CassetteExpired(
            f"cassette {str(self.path)!r} was recorded {format_time(self.recorded_at)} ({days} days "
            f"ago), past its age limit of {self.options.max_age_days:g} days: the API it recorded may "
            f"have changed since. Re-record it: {self.command(RecordMode.ALL)}"
        )

    def command(self, mode: RecordMode) -> str:
        """How to record this cassette again, for messages."""
        if self.options.record_command:
            return self.options.record_command.format(mode=mode.value)
        return f"use_cassette({str(self.path)!r}, record_mode={mode.value!r}) with real credentials"

    def start(self) -> Cassette:
        from agent_testkit.cassettes.interception import install

        self.open()
        install(self)
        return self

    def stop(self) -> None:
        from agent_testkit.cassettes.interception import uninstall

        uninstall(self)
        self.save()

    def __enter__(self) -> Cassette:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        problems = self.problems()
        if exc_type is None and problems:
            raise CassetteProblems("\n".join(problems))

    # -- requests ------------------------------------------------------------------------------------

    def decide(self, request: RecordedRequest) -> Decision:
        """Answer from the cassette, record, or refuse (with the reason, also kept for `problems()`)."""
        live = self.scrubber.request(request)
        with self._lock:
            if self.replaying:
                for index, interaction in enumerate(self.interactions):
                    if index not in self._played and not self.matcher.differences(
                        interaction.request, live
                    ):
                        self._played.add(index)
                        return Replay(interaction, self.options.timing)
            if self.recording:
                self._new.append(None)
                scrubber = self.scrubber.with_request_credentials(request.headers)
                return Record(len(self._new) - 1, scrubber.request(request), scrubber)
            message = self._no_match(live)
            self._problems.append(message)
            return NoMatch(message)

    def _no_match(self, live: RecordedRequest) -> str:
        lines = [f"cassette {str(self.path)!r} has no recorded answer for {summarize(live)}"]
        candidates = [
            (len(self.matcher.differences(i.request, live)), n)
            for n, i in enumerate(self.interactions)
        ]
        if candidates:
            _, closest = min(candidates, key=lambda c: (c[0], c[1] in self._played, c[1]))
            reasons = self.matcher.differences(self.interactions[closest].request, live)
            if reasons:
                lines.append(f"  closest is interaction {closest + 1}: " + "; ".join(reasons))
            else:
                lines.append(
                    f"  interaction {closest + 1} matches but was used already (one answer each)"
                )
        else:
            lines.append("  the cassette has no interactions")
        lines.append(f"  if the app changed on purpose, re-record: {self.command(RecordMode.ALL)}")
        return "\n".join(lines)

    def finish_recording(self, record: Record, response: RecordedResponse) -> None:
        with self._lock:
            self._new[record.slot] = Interaction(record.request, record.scrubber.response(response))

    # -- results -------------------------------------------------------------------------------------

    def unused(self) -> list[tuple[int, Interaction]]:
        """Recorded interactions no request used, when replaying only (recording keeps them anyway)."""
        if not self.replaying or self.recording:
            return []
        return [(n, i) for n, i in enumerate(self.interactions) if n not in self._played]

    def problems(self) -> list[str]:
        problems = list(self._problems)
        if not self.options.allow_unused:
            problems.extend(
                f"cassette {str(self.path)!r} interaction {n + 1} was never used: "
                f"{summarize(i.request)}"
                for n, i in self.unused()
            )
        return problems

    def save(self) -> None:
        if not self.recording:
            return
        with self._lock:
            new = [i for i in self._new if i is not None]
            keep = self.interactions if self.options.record_mode is RecordMode.NEW_EPISODES else []
            if not new and keep:
                return
            recorded_at = self.recorded_at if keep and self.recorded_at else datetime.now(UTC)
            save_cassette(self.path, CassetteFile(keep + new, recorded_at, self.source))

    def __repr__(self) -> str:
        state = "recording" if self.recording else "replaying"
        return f"<Cassette {str(self.path)!r} {state} interactions={len(self.interactions)}>"


def use_cassette(path: str | Path, **options: Any) -> Cassette:
    """A cassette for a `with` block, outside pytest too: `with use_cassette("x.yaml"): ...`.

    Options are those of `CassetteOptions` (record_mode, max_age_days, allow_unused, match_on,
    chat_match_on, ignore_hosts, timing, scrub_headers, scrub_query, scrub_fields, scrub_values). The
    block raises `CassetteProblems` at its end for requests with no recorded answer and unused
    interactions (unless allow_unused).
    """
    return Cassette(path, CassetteOptions.build(**options))

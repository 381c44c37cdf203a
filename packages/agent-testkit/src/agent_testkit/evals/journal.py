"""Resume an interrupted run: every finished attempt is appended to a journal (one JSON line, flushed
as it lands), so a run stopped halfway (Ctrl-C, a crash, a CI timeout, a provider's outage) starts
again where it was with `--resume` instead of paying for every attempt twice, as Inspect's
`eval-retry` does from its log.

An attempt is reused only when it was made the same way: the same run key (model side, model, seed,
variation) and the same case definition (its fingerprint, so an edited case runs again). Attempts
that crashed are run again; attempts that merely scored low are results like any other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from agent_testkit.evals.cases import Case
from agent_testkit.evals.scoring import CaseResult

CRASHED = "the run crashed"
Attempt = tuple[str, int]  # (case id, epoch)


def case_fingerprint(case: Case) -> str:
    """What makes two runs of a case the same attempt: its whole definition."""
    return hashlib.sha256(repr(case).encode("utf-8")).hexdigest()[:16]


class AttemptJournal:
    """`done = journal.open(resume=...)`, then `journal.record(case, result)` per finished attempt."""

    def __init__(self, path: str | Path, run_key: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.run_key = json.dumps(dict(run_key), sort_keys=True)
        self._file: IO[str] | None = None

    def open(self, cases: list[Case], *, resume: bool) -> dict[Attempt, CaseResult]:
        """Start the journal; with `resume`, the attempts of `cases` it already holds."""
        done = self._read(cases) if resume else {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("w", encoding="utf-8")  # rewritten: only what is reused
        for (case_id, _), result in sorted(done.items()):
            self._write(case_fingerprint(_by_id(cases)[case_id]), result)
        return done

    def record(self, case: Case, result: CaseResult) -> None:
        self._write(case_fingerprint(case), result)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _write(self, fingerprint: str, result: CaseResult) -> None:
        if self._file is None:
            raise RuntimeError("open the journal first")
        line = {"run": self.run_key, "case": fingerprint, "result": result.to_json()}
        self._file.write(json.dumps(line, ensure_ascii=False) + "\n")
        self._file.flush()

    def _read(self, cases: list[Case]) -> dict[Attempt, CaseResult]:
        if not self.path.exists():
            return {}
        wanted = {case.id: case_fingerprint(case) for case in cases}
        done: dict[Attempt, CaseResult] = {}
        for text in self.path.read_text(encoding="utf-8").splitlines():
            try:
                line = json.loads(text)
                result = CaseResult.from_json(line["result"])
            except (ValueError, KeyError, TypeError):
                continue  # the line the interruption cut short
            same = line.get("run") == self.run_key and wanted.get(result.case_id) == line.get(
                "case"
            )
            crashed = any(problem.startswith(CRASHED) for problem in result.problems)
            if same and not crashed:
                done[(result.case_id, result.epoch)] = result
        return done


def _by_id(cases: list[Case]) -> dict[str, Case]:
    return {case.id: case for case in cases}


__all__ = ["CRASHED", "Attempt", "AttemptJournal", "case_fingerprint"]

"""`agent-service eval run` killed halfway (as a CI timeout or a crash would), then `--resume`: the
attempts the first process finished are kept from its journal, only the rest run, and the results
hold every attempt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

CLI = str(Path(sys.executable).parent / "agent-service")
CASES = "\n".join(
    f"""- id: hello-{n}
  tags: [hello]
  agent: assistant
  turns: ["hi"]
  script: [{{reply: "Hello {n}!"}}]
  expect: [{{contains: Hello}}]"""
    for n in range(12)
)


def eval_run(project: Path, *args: str) -> subprocess.Popen[str]:
    command = [CLI, "eval", "run", "--model", "scripted", "--no-gate", "--concurrency", "1", *args]
    command += ["--epochs", "2", "--variation", "0"]  # exact: every attempt scores 100
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_a_killed_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    (tmp_path / "evals" / "golden").mkdir(parents=True)
    (tmp_path / "evals" / "golden" / "cases.yaml").write_text(CASES)
    journal = tmp_path / "var" / "evals" / "attempts.jsonl"
    first = eval_run(tmp_path)
    deadline = time.monotonic() + 50
    while time.monotonic() < deadline and first.poll() is None:
        if journal.exists() and len(journal.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    assert first.poll() is None, "the run ended before it could be interrupted"
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    kept = len(journal.read_text().splitlines())
    assert 3 <= kept < 24

    second = eval_run(tmp_path, "--resume")
    output, _ = second.communicate(timeout=50)
    assert second.returncode == 0, output
    run_now = int(output.split("evals: ")[1].split(" attempts to run")[0])
    assert run_now <= 24 - kept  # the kept ones (a line cut short at most runs again)
    results = json.loads((tmp_path / "var" / "evals" / "results.json").read_text())
    assert len(results["cases"]) == 24 and results["scores"]["overall"] == 100.0
    assert len(journal.read_text().splitlines()) == 24

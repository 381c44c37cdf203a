"""The gate end to end, as a user runs it: same-model runs pass, a real drop fails.

    python evals/same_model_runs.py [--epochs 5] [--seeds 1,2,3] [--drop-variation 0.41] [--out DIR]

1. `agent-service eval run --model scripted --epochs 5 --seed 0`, accepted as a baseline (in OUT,
   not evals/baseline.json): the scripted model with its seeded variation (10% of final replies
   come out vague), like a live model whose answers vary from run to run.
2. The same model again with other seeds: every run must pass the gate (no true change).
3. The same model made worse: `--variation 0.41` makes final replies vague about four times as
   often, a true drop of about 5 points overall (measured and printed); the gate must fail.

Exit 0 when all of that holds. Each run is 209 cases x epochs through the real service (about 2-6
minutes each, by the machine), so this is not part of the test suite; its figures are quoted in the
kit's README.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "agent-service")  # the one installed beside this Python


def eval_run(out: Path, baseline: Path, epochs: int, seed: int, variation: float) -> int:
    command = [
        *(CLI, "eval", "run", "--model", "scripted"),
        *("--epochs", str(epochs), "--seed", str(seed), "--variation", str(variation)),
        *("--baseline", str(baseline), "--out", str(out)),
    ]
    print("$ agent-service", " ".join(command[1:]), flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    summary = [
        line for line in done.stdout.splitlines() + done.stderr.splitlines() if "gate " in line
    ]
    print(
        "  exit", done.returncode, "|", summary[-1] if summary else done.stderr[-400:], flush=True
    )
    return done.returncode


def overall(out: Path) -> float:
    return float(json.loads((out / "results.json").read_text())["scores"]["overall"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--drop-variation", type=float, default=0.41)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="same-model-"))
    baseline = out / "baseline.json"
    eval_run(out / "seed-0", out / "none.json", args.epochs, 0, 0.1)
    accepted = subprocess.run(  # noqa: S603
        [
            CLI,
            "eval",
            "accept",
            "--results",
            str(out / "seed-0" / "results.json"),
            "--baseline",
            str(baseline),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if accepted.returncode:
        print(accepted.stdout, accepted.stderr)
        return 1
    rows, ok = [], True
    for seed in (int(s) for s in args.seeds.split(",")):
        code = eval_run(out / f"seed-{seed}", baseline, args.epochs, seed, 0.1)
        rows.append((f"same model, seed {seed}", overall(out / f"seed-{seed}"), code))
        ok &= code == 0
    code = eval_run(out / "drop", baseline, args.epochs, 99, args.drop_variation)
    rows.append((f"worse model (variation {args.drop_variation:g})", overall(out / "drop"), code))
    ok &= code == 1
    before = overall(out / "seed-0")
    print(f"\nbaseline (seed 0, {args.epochs} epochs): overall {before:.2f}")
    print("| run | overall | change | gate |\n| --- | --- | --- | --- |")
    for name, score, code in rows:
        print(
            f"| {name} | {score:.2f} | {score - before:+.2f} | {'passed' if code == 0 else 'FAILED'} |"
        )
    print(f"\nall as expected: {ok} (outputs in {out})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

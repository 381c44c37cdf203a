"""Whether the judge may decide the gate: a run whose scores rest on `llm_judge` verdicts gates only
when that judge was calibrated against people's labels, on the labelled set and prompt as they are
now, with the lower bound of its Cohen's kappa (95% interval) at `min_kappa` (0.6 by default:
"substantial" agreement) or more. Otherwise the gate refuses: a judge that agrees with people no
better than chance, or on too few labels to tell, would make every judged slice a coin toss.

Calibrations are kept per judge model in a JSON file (`evals/judge/calibration.json`), written by
`agent-service eval judge-agreement --save`:

    {"version": 1, "judges": {"gpt-4o-mini": {"labels": 210, "kappa": 0.81,
      "kappa_interval": [0.73, 0.89], "labelled_sha256": "...", "prompt_sha256": "...", ...}}}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DEFAULT_MIN_KAPPA = 0.6
CALIBRATION_VERSION = 1


def fingerprint(content: str | bytes) -> str:
    """The sha256 of a labelled set's bytes or a prompt's text."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class JudgeCalibration:
    """One judge model's agreement with people over every labelled case (all rubrics together)."""

    model: str
    labels: int
    kappa: float | None
    kappa_low: float | None
    kappa_high: float | None
    labelled_sha256: str
    prompt_sha256: str
    measured_at: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["model"], data["kappa_low"], data["kappa_high"]
        data["kappa_interval"] = (
            None if self.kappa_low is None else [self.kappa_low, self.kappa_high]
        )
        return data

    @classmethod
    def from_json(cls, model: str, data: Mapping[str, Any]) -> JudgeCalibration:
        low, high = data.get("kappa_interval") or (None, None)
        return cls(
            model,
            int(data["labels"]),
            data.get("kappa"),
            low,
            high,
            str(data["labelled_sha256"]),
            str(data["prompt_sha256"]),
            str(data.get("measured_at", "")),
        )


def load_calibrations(path: str | Path) -> dict[str, JudgeCalibration]:
    """The calibrations of a file, by judge model; none when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        model: JudgeCalibration.from_json(model, entry)
        for model, entry in (data.get("judges") or {}).items()
    }


def save_calibration(path: str | Path, calibration: JudgeCalibration) -> Path:
    """Add or replace one judge model's calibration in the file."""
    path = Path(path)
    found = load_calibrations(path) | {calibration.model: calibration}
    data = {
        "version": CALIBRATION_VERSION,
        "judges": {model: found[model].to_json() for model in sorted(found)},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return path


@dataclass(frozen=True)
class JudgeCheck:
    """The gate's verdict on the judge of a run: may its verdicts decide the gate?"""

    model: str
    passed: bool
    reason: str
    min_kappa: float = DEFAULT_MIN_KAPPA
    labels: int = 0
    kappa: float | None = None
    kappa_low: float | None = None
    kappa_high: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JudgeCheck:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


def check_judge(
    model: str,
    calibrations: Mapping[str, JudgeCalibration],
    *,
    labelled_sha256: str,
    prompt_sha256: str,
    min_kappa: float = DEFAULT_MIN_KAPPA,
) -> JudgeCheck:
    """The judge `model` may gate when its calibration is current and its kappa's lower bound is
    at least `min_kappa`; otherwise the reason it may not, and what to do."""
    calibration = calibrations.get(model)
    again = f"run `agent-service eval judge-agreement --save` with the judge {model!r}"
    if calibration is None:
        return JudgeCheck(
            model, False, f"the judge {model!r} was never calibrated: {again}", min_kappa
        )
    figures: dict[str, Any] = {
        "min_kappa": min_kappa,
        "labels": calibration.labels,
        "kappa": calibration.kappa,
        "kappa_low": calibration.kappa_low,
        "kappa_high": calibration.kappa_high,
    }
    if calibration.labelled_sha256 != labelled_sha256 or calibration.prompt_sha256 != prompt_sha256:
        changed = "labelled set" if calibration.labelled_sha256 != labelled_sha256 else "prompt"
        reason = f"the judge's calibration is stale (the {changed} changed since): {again}"
        return JudgeCheck(model, False, reason, **figures)
    shown = _kappa_text(calibration)
    if calibration.kappa_low is None or calibration.kappa_low < min_kappa:
        reason = (
            f"the judge {model!r} agrees with people too little to gate: {shown}, lower bound "
            f"under {min_kappa:g}; improve its rubrics or prompt, or label more cases"
        )
        return JudgeCheck(model, False, reason, **figures)
    return JudgeCheck(model, True, f"the judge {model!r} is calibrated: {shown}", **figures)


def _kappa_text(calibration: JudgeCalibration) -> str:
    if calibration.kappa is None or calibration.kappa_low is None:
        return f"kappa undefined on {calibration.labels} labels"
    return (
        f"Cohen's kappa {calibration.kappa:.2f}, 95% interval "
        f"[{calibration.kappa_low:.2f}, {calibration.kappa_high or 0:.2f}] on "
        f"{calibration.labels} labels"
    )


__all__ = [
    "DEFAULT_MIN_KAPPA",
    "JudgeCalibration",
    "JudgeCheck",
    "check_judge",
    "fingerprint",
    "load_calibrations",
    "save_calibration",
]

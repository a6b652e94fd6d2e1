"""What `mlops demo` is asked to do (DemoSettings) and what a run records and returns (DemoResult and its parts).

The story (mlops.twin.story.demo) fills these in step by step; the summary, the timeline and the report read them, and
`DemoResult.to_json` is the machine-readable result of `mlops demo --json`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from scipy.stats import binomtest

from mlops.twin.story import defaults


@dataclass(frozen=True)
class DemoSettings:
    out: Path
    seed: int = 7
    steps: int = 12
    drift_started_step: int = 4
    drift_share: float = defaults.DRIFT_SHARE
    student_balance_shift: float = defaults.STUDENT_BALANCE_SHIFT  # the concept drift (mlops.twin.story.traffic)
    balance_increase: float = defaults.BALANCE_INCREASE  # the covariate shift CBPE sees (mlops.twin.story.traffic)
    requests_per_step: int = 400
    labelled_rows: int = 2000  # a labelled cohort per step: the training window once its outcomes are known
    label_delay: int = defaults.LABEL_DELAY  # steps between a request and its ground truth
    clients: int = 4
    max_tail_steps: int = 15  # extra steps allowed for a retraining still running after `steps`
    batch_rows: int = 20

    @classmethod
    def for_run(
        cls,
        out: Path,
        *,
        seed: int = 7,
        steps: int | None = None,
        drift_share: float = defaults.DRIFT_SHARE,
        balance_increase: float = defaults.BALANCE_INCREASE,
        fast: bool = False,
        label_delay: int = defaults.LABEL_DELAY,
    ) -> DemoSettings:
        """Defaults for a full or a --fast (CI) run; the drift starts after a third of the steps."""
        count = steps if steps is not None else (8 if fast else 12)
        return cls(
            out=out,
            seed=seed,
            steps=count,
            drift_started_step=max(2, count // 3 + 1),
            drift_share=drift_share,
            balance_increase=balance_increase,
            requests_per_step=150 if fast else 400,
            labelled_rows=2000,
            label_delay=label_delay,
        )


@dataclass
class StepRecord:
    step: int
    start: datetime
    phase: str  # "before drift" | "drift" | "retraining" | "after"
    requests: int = 0
    failed: int = 0
    served: dict[str, int] = field(default_factory=dict)  # model version -> requests
    accuracy: dict[str, float] = field(default_factory=dict)  # model version -> accuracy of its predictions
    scored: dict[str, tuple[int, int]] = field(default_factory=dict)  # model version -> (labelled, correct)
    # What the platform saw this step: the drift function's Accuracy metric (ground truth `label_delay` steps
    # late, None when none arrived) and the estimated accuracy (label-free), when the drift function publishes it.
    reported_accuracy: float | None = None
    estimated_accuracy: float | None = None
    drift: dict[str, dict[str, float]] = field(default_factory=dict)  # metric -> feature -> value
    alarms: list[str] = field(default_factory=list)  # "name -> STATE"
    sync: str = ""


@dataclass
class TimelineEntry:
    step: int
    time: datetime
    text: str


@dataclass
class ModelInfo:
    package: str
    version: str
    holdout_accuracy: float
    execution: str


@dataclass
class DemoResult:
    run_dir: Path
    report: Path | None
    settings: DemoSettings
    steps: list[StepRecord] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)  # {name, feature, first_alarm_step, ...}
    models: list[ModelInfo] = field(default_factory=list)
    comparison: dict[str, Any] | None = None
    retrainings: int = 0
    retraining_states: list[list[str]] = field(default_factory=list)
    final_package: str = ""
    new_model_traffic_share: float = 0.0
    failed_requests: int = 0
    requests: int = 0
    iam_summary: str = ""  # the twin's IAM/KMS evaluation (mlops.aws_rules.iam_policy.IamReport.summary)
    iam_report: list[str] = field(default_factory=list)  # its denials, unresolved statements, unevaluated calls
    iam_denials: int = 0
    handlers_deployed: list[str] = field(default_factory=list)
    handlers_called: list[str] = field(default_factory=list)
    batch_transform_job: str = ""
    batch_transform_records: int = 0  # records the local transform scored with the package's own serving code
    min_accuracy: float = 0.0
    approval_step: int | None = None  # when the retraining approved its challenger (the desired package changed)
    accuracy_alarm_step: int | None = None  # first ALARM of an alarm on realised accuracy (ground truth)
    estimated_accuracy_alarm_step: int | None = None  # first ALARM of an alarm on estimated accuracy (no labels)
    retraining_started_step: int | None = None
    retraining_trigger: list[str] = field(default_factory=list)  # the alarm that started it, and its ALARM children
    reasons: list[str] = field(default_factory=list)  # why the story did not complete (empty: it did)
    seconds: float = 0.0
    drifted_traffic: pd.DataFrame | None = None  # the requests sent after the drift began (for the report)

    @property
    def completed(self) -> bool:
        return not self.reasons

    @property
    def drift_started_step(self) -> int:
        return self.settings.drift_started_step

    @property
    def final_model_accuracy(self) -> float | None:
        served = [m for m in self.models if m.package == self.final_package]
        return served[0].holdout_accuracy if served else None

    def accuracy_before_after(self) -> tuple[float | None, float | None]:
        """Live accuracy of the served predictions: drifted traffic on the champion vs on the new model (the same
        counts as `served_accuracy`, as plain numbers)."""
        champion, new_model = self.served_accuracy()
        return _rounded(champion), _rounded(new_model)

    def served_accuracy(self) -> tuple[ServedAccuracy | None, ServedAccuracy | None]:
        """Accuracy of the served predictions on the drifted traffic, with counts and 95% Wilson intervals: the
        champion (first model) and the new model (the last one, once it serves)."""
        if not self.models:
            return None, None
        champion = ServedAccuracy.pooled(self.steps, self.models[0].version, self.drift_started_step)
        if len(self.models) < 2:
            return champion, None
        return champion, ServedAccuracy.pooled(self.steps, self.models[-1].version, self.drift_started_step)

    def to_json(self) -> dict[str, Any]:
        before, after = self.accuracy_before_after()
        champion, new_model = self.served_accuracy()
        return {
            "completed": self.completed,
            "reasons": self.reasons,
            "failed_requests": self.failed_requests,
            "iam": {"summary": self.iam_summary, "denials": self.iam_denials, "report": self.iam_report},
            "requests": self.requests,
            "retrainings": self.retrainings,
            "drift_started_step": self.drift_started_step,
            "steps": len(self.steps),
            "alarms": self.alarms,
            "final_model_accuracy": self.final_model_accuracy,
            "min_accuracy": self.min_accuracy,
            "new_model_traffic_share": self.new_model_traffic_share,
            "live_accuracy_on_drifted_traffic": {"champion": before, "new_model": after},
            "champion_served_accuracy": champion.to_json() if champion else None,
            "new_model_served_accuracy": new_model.to_json() if new_model else None,
            "label_delay": self.settings.label_delay,
            "accuracy_alarm_step": self.accuracy_alarm_step,
            "estimated_accuracy_alarm_step": self.estimated_accuracy_alarm_step,
            "retraining_started_step": self.retraining_started_step,
            "retraining_trigger": self.retraining_trigger,
            "models": [asdict(m) for m in self.models],
            "comparison": self.comparison,
            "final_package": self.final_package,
            "handlers_deployed": self.handlers_deployed,
            "handlers_called": self.handlers_called,
            "retraining_states": self.retraining_states,
            "batch_transform_job": self.batch_transform_job,
            "batch_transform_records": self.batch_transform_records,
            "report": str(self.report) if self.report else None,
            "run_dir": str(self.run_dir),
            "seconds": round(self.seconds, 1),
        }


def _rounded(served: ServedAccuracy | None) -> float | None:
    return round(served.accuracy, 4) if served else None


@dataclass(frozen=True)
class ServedAccuracy:
    """Correct predictions out of the labelled requests a model answered, with a 95% Wilson score interval."""

    requests: int
    correct: int

    @classmethod
    def pooled(cls, steps: list[StepRecord], version: str, from_step: int) -> ServedAccuracy | None:
        pairs = [s.scored[version] for s in steps if s.step >= from_step and version in s.scored]
        requests = sum(n for n, _ in pairs)
        return cls(requests, sum(c for _, c in pairs)) if requests else None

    @property
    def accuracy(self) -> float:
        return self.correct / self.requests

    def interval(self) -> tuple[float, float]:
        low, high = binomtest(self.correct, self.requests).proportion_ci(confidence_level=0.95, method="wilson")
        return float(low), float(high)

    def to_json(self) -> dict[str, Any]:
        low, high = self.interval()
        return {"accuracy": round(self.accuracy, 4), "requests": self.requests, "correct": self.correct,
                "ci95": [round(low, 4), round(high, 4)]}  # fmt: skip

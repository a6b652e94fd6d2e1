"""The demo's text: the progress line of a step, short package and execution names, a retraining's state path."""

from __future__ import annotations

from contracts import metrics
from mlops.twin.story.demo_result import DemoSettings, StepRecord


def step_line(record: StepRecord, settings: DemoSettings) -> str:
    """One step's progress line: requests, the models that served them and their accuracy, PSI, alarm changes."""
    served = ", ".join(f"{v[:8]} {n}" for v, n in record.served.items())
    accuracy = ", ".join(f"{v[:8]} {a:.3f}" for v, a in record.accuracy.items())
    psi = record.drift.get(metrics.PSI, {})
    drift = " ".join(f"{f}={v:.2f}" for f, v in sorted(psi.items()))
    counter = f"{record.step:>2}/{settings.steps}" if record.step <= settings.steps else f"{record.step:>2} (extra)"
    line = (
        f"step {counter} [{record.phase:<12}] {record.requests:>4} req, {record.failed} failed"
        f" | served {served} | accuracy {accuracy or '-'} | PSI {drift or '-'}"
    )
    # The first evaluation moves every alarm out of INSUFFICIENT_DATA: only real changes are worth a line.
    changes = [a for a in record.alarms if record.step > 1 or not a.endswith("-> OK")]
    if changes:
        line += " | " + "; ".join(changes)
    return line


def compact_states(states: list[str]) -> str:
    """The visited states with the pipeline polling loop folded: "... > (Wait > Check > State) x7 > ..."."""
    loop = ["WaitForPipeline", "CheckPipeline", "PipelineState"]
    out: list[str] = []
    i = 0
    while i < len(states):
        count = 0
        while states[i : i + 3] == loop:
            count += 1
            i += 3
        if count:
            out.append(f"(WaitForPipeline > CheckPipeline > PipelineState) x{count}")
        if i < len(states):
            out.append(states[i])
            i += 1
    return " > ".join(out)


def short_arn(arn: str) -> str:
    """An ARN's last two "/" parts where it has them (a model package: group/version), else its last ":" part."""
    return arn.rsplit("/", 2)[-2] + "/" + arn.rsplit("/", 1)[-1] if arn.count("/") >= 2 else arn.rsplit(":", 1)[-1]

"""The demo's report as a person sees it: rendered by real headless Chromium (Debian's package, `make
browser-setup`), screenshotted, and checked pixel for pixel where the accuracy plot should be.

Skipped only when Chromium is absent outside CI; in CI (CI=true) a missing browser fails the test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from mlops.twin.story.demo_result import DemoResult, DemoSettings, ModelInfo, StepRecord
from mlops.twin.story.report import ACCURACY_PLOT, write_report
from platform_config.platform import load_config

BROWSER = os.environ.get("CHROMIUM", "chromium")  # not $BROWSER: editors set it to other programs
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--hide-scrollbars", "--force-device-scale-factor=1",
         "--window-size=1280,1400"]  # fmt: skip
# Appended to a copy of the page: once everything has loaded, each image's load state and on-page box.
PROBE = """<pre id="probe"></pre><script>window.addEventListener("load", () => {
  document.getElementById("probe").textContent = JSON.stringify([...document.images].map(i => ({
    src: i.getAttribute("src"), complete: i.complete, width: i.naturalWidth, height: i.naturalHeight,
    box: i.getBoundingClientRect()})));
});</script>"""


def browser() -> str:
    found = shutil.which(BROWSER)
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail(f"{BROWSER} is not installed: run `make browser-setup` (CI must render the report)")
    pytest.skip(f"{BROWSER} is not installed (`make browser-setup`)")


def chromium(page: Path, profile: Path, *args: str) -> str:
    command = [browser(), *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def story_result(tmp_path: Path) -> DemoResult:
    """A run's record as the demo fills it in: the champion loses accuracy after the drift, the new model wins."""
    config = load_config()
    settings = DemoSettings(out=tmp_path, steps=10, drift_started_step=4, label_delay=2)
    result = DemoResult(run_dir=tmp_path, report=None, settings=settings, min_accuracy=config.min_accuracy)
    result.models = [ModelInfo("pkg/1", "champion-v", 0.97, "x"), ModelInfo("pkg/2", "new-v", 0.94, "y")]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for step in range(1, 11):
        version = "champion-v" if step < 8 else "new-v"
        correct = 388 if step < 4 else (312 if version == "champion-v" else 378)
        record = StepRecord(step, t0 + timedelta(hours=step - 1), "drift", requests=400, served={version: 400})
        record.scored = {version: (400, correct)}
        record.accuracy = {version: correct / 400}
        record.reported_accuracy = (388 if step < 6 else 312) / 400 if step > 2 else None
        record.drift = {"PSI": {"income": 0.05 if step < 4 else 0.9, "balance": 0.03, "student": 0.01}}
        record.sync = "deployed" if step == 8 else "unchanged"
        result.steps.append(record)
    result.accuracy_alarm_step, result.retraining_started_step = 6, 6
    result.retraining_trigger = ["mlops-model-degraded", "AccuracyAlarm"]
    result.alarms = [{"name": "IncomePsiAlarm", "feature": "income", "metric": "PSI", "first_alarm_step": 4,
                      "kind": None, "state_at_end": "OK"}]  # fmt: skip
    return result


def check_in_browser(page: Path, scratch: Path) -> list[dict[str, Any]]:
    """Render `page` in Chromium: every image loaded, the accuracy plot first, and the screenshot shows the plot's
    own pixels where the page puts it. Returns the images' load states and boxes."""
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium(probe, scratch / "profile-dom", "--dump-dom", "--virtual-time-budget=5000")
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found and found.group(1), dom[-2000:]
    images = json.loads(found.group(1).replace("&quot;", '"'))
    assert images[0]["src"] == ACCURACY_PLOT  # the first plot on the page, before the per-feature ones
    assert all(i["complete"] and i["width"] > 0 and i["height"] > 0 for i in images), images

    shot = scratch / "report.png"
    chromium(page, scratch / "profile-shot", f"--screenshot={shot}")
    screen = matplotlib.image.imread(shot)[..., :3]
    plot = matplotlib.image.imread(page.parent / ACCURACY_PLOT)[..., :3]
    box = images[0]["box"]
    top, left = round(box["top"]), round(box["left"])
    assert (round(box["width"]), round(box["height"])) == plot.shape[1::-1]  # shown at its own size
    shown = screen[top : top + plot.shape[0], left : left + plot.shape[1]]
    assert shown.shape == plot.shape, "the plot is not inside the first screen"
    # The browser shows the plot's own pixels there (small colour-management differences allowed).
    assert float(np.abs(shown - plot).mean()) < 0.02
    assert float((shown < 0.9).any(axis=2).mean()) > 0.05  # and it is a plot, not a blank area
    return images


def test_the_report_renders_the_accuracy_plot_first_in_a_real_browser(tmp_path: Path) -> None:
    result = story_result(tmp_path)
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"student": rng.choice(["Yes", "No"], 500), "balance": rng.normal(800, 400, 500),
                         "income": rng.normal(33000, 13000, 500), "default": "No"})  # fmt: skip
    result.drifted_traffic = data.assign(income=data["income"] * 1.4)
    page = write_report(result, data, None, load_config(), tmp_path / "report")  # type: ignore[arg-type]

    images = check_in_browser(page, tmp_path)
    assert [i["src"] for i in images[1:3]] == ["distribution_income.png", "psi_over_time.png"]

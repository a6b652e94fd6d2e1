"""`mlops pipeline run`: the local pipeline on the real credit data, the gate, and bad input (exit 2, one line)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops.cli.main import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["pipeline", "run", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_real_credit_data_is_trained_gated_and_registered(demo_csv: Path, in_tmp_cwd: Path, capsys) -> None:
    code, out, err = _run(capsys, "--data", str(demo_csv), "--target", "default", "--json")
    result = json.loads(out)
    assert code == 0
    assert result["accuracy"] > 0.85 and result["registered"] is True
    assert result["model_package_arn"].startswith(
        "arn:aws:sagemaker:us-east-1:111111111111:model-package/mlops-models/"
    )
    assert result["approval_status"] == "PendingManualApproval"
    assert result["mlflow_run_id"]
    assert (Path(result["baseline_dir"]) / "statistics.json").exists()
    for step in ("preprocess", "train", "evaluate", "baseline", "register"):
        assert f"[{step}] done" in err


@pytest.mark.slow
def test_a_model_below_the_minimum_is_not_registered(demo_csv: Path, in_tmp_cwd: Path, capsys) -> None:
    code, out, err = _run(
        capsys,
        "--data",
        str(demo_csv),
        "--target",
        "default",
        "--min-accuracy",
        "0.999",
        "--tracking-uri",
        "",
        "--json",
    )
    result = json.loads(out)
    assert code == 1 and result["registered"] is False and result["model_package_arn"] is None
    assert "not above the minimum 0.9990" in err


@pytest.mark.slow
def test_data_no_model_can_learn_fails_the_gate(in_tmp_cwd: Path, capsys) -> None:
    rng = np.random.default_rng(1)
    noise = pd.DataFrame({"x": rng.normal(size=600), "y": rng.choice(["a", "b"], 600)})
    noise["label"] = rng.choice(["p", "q"], 600)  # independent of the features: best accuracy ~0.5
    noise.to_csv("noise.csv", index=False)
    code, out, _ = _run(capsys, "--data", "noise.csv", "--target", "label", "--tracking-uri", "", "--json")
    result = json.loads(out)
    assert code == 1 and result["registered"] is False and result["accuracy"] < 0.7


@pytest.mark.parametrize(
    ("content", "target", "expected"),
    [
        (None, "default", "missing.csv: file not found"),
        ("", "default", "bad.csv: file is empty"),
        ("balance,default\n1,No\n2,Yes\n", "label", "bad.csv: target column 'label' not found"),
        ("balance,default\n1,No\n2,No\n", "default", "bad.csv: target column 'default' has only 'No'"),
    ],
)
def test_bad_input_exits_2_with_one_line(in_tmp_cwd: Path, capsys, content, target, expected) -> None:
    name = "missing.csv" if content is None else "bad.csv"
    if content is not None:
        Path(name).write_text(content)
    code, out, err = _run(capsys, "--data", name, "--target", target)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err


def test_usage_errors_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["pipeline", "run", "--data", "x.csv"])
    assert exc.value.code == 2 and "--target" in capsys.readouterr().err


def test_unknown_dataset_is_a_user_error(in_tmp_cwd: Path, capsys) -> None:
    code = main(["data", "export", "--dataset", "ISLR/Nope", "--out", "x.csv"])
    assert code == 2 and "ISLR/Nope" in capsys.readouterr().err

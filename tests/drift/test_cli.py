"""`mlops drift baseline` / `mlops drift check` end to end through mlops.cli.main, good and bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import drift_core
from mlops import drift_io
from mlops.cli.main import main


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "default": rng.choice(["No", "Yes"], n, p=[0.97, 0.03]),
            "student": rng.choice(["No", "Yes"], n, p=[0.7, 0.3]),
            "balance": np.abs(rng.normal(835, 480, n)) + shift * 480,
            "income": rng.normal(33_500, 13_300, n),
        }
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    train, calm, moved = tmp_path / "train.csv", tmp_path / "calm.csv", tmp_path / "moved.csv"
    _frame(5000, 0).to_csv(train, index=False)
    _frame(2000, 1).to_csv(calm, index=False)
    _frame(2000, 2, shift=3.0).to_csv(moved, index=False)
    base = tmp_path / "baseline"
    assert main(["drift", "baseline", "--data", str(train), "--out", str(base), "--target", "default"]) == 0
    return {"train": train, "calm": calm, "moved": moved, "base": base, "dir": tmp_path}


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["drift", "check", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_baseline_writes_model_monitor_files(files: dict[str, Path]) -> None:
    assert (files["base"] / "statistics.json").is_file() and (files["base"] / "constraints.json").is_file()
    baseline = drift_core.read_baseline(files["base"])
    assert list(baseline.features) == ["student", "balance", "income"] and baseline.target_name == "default"


def test_check_json_and_table(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _check(capsys, "--baseline", str(files["base"]), "--data", str(files["moved"]), "--json")
    report = json.loads(out)
    assert code == 0 and report["drifted_features"] == ["balance"]
    assert report["features"]["balance"]["mean_shift_sigma"] > 3 and report["rows"] == 2000
    code, out, _ = _check(capsys, "--baseline", str(files["base"]), "--data", str(files["calm"]), "--sigma", "1")
    assert code == 0 and "0 of 3 features drifted over 2000 rows" in out and "balance" in out


def test_check_equals_in_memory_result_across_many_blocks(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(drift_io, "CHUNK_BYTES", 4096)  # dozens of chunks: the streaming path
    _, out, _ = _check(capsys, "--baseline", str(files["base"]), "--data", str(files["moved"]), "--json")
    frame = pd.read_csv(files["moved"])
    columns = {
        "student": frame["student"].to_numpy(dtype=object),
        "balance": frame["balance"].to_numpy(dtype=float),
        "income": frame["income"].to_numpy(dtype=float),
    }
    expected = drift_core.compute_drift(drift_core.read_baseline(files["base"]), columns).to_dict()
    got = json.loads(out)
    for name in columns:
        for key in ("rows", "missing", "ks", "psi", "linf"):
            want = expected["features"][name][key]
            assert got["features"][name][key] == (want if want is None else pytest.approx(want, rel=1e-9))
        want = expected["features"][name]["mean"]
        assert got["features"][name]["mean"] == (want if want is None else pytest.approx(want, rel=1e-12))


def test_many_files_and_directories(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    window = files["dir"] / "window"
    window.mkdir()
    frame = pd.read_csv(files["moved"])
    frame.iloc[:700].to_csv(window / "part1.csv", index=False)
    frame.iloc[700:].to_csv(window / "part2.csv", index=False)
    _, split, _ = _check(capsys, "--baseline", str(files["base"]), "--data", str(window), "--json")
    _, whole, _ = _check(capsys, "--baseline", str(files["base"]), "--data", str(files["moved"]), "--json")
    a, b = json.loads(split), json.loads(whole)
    assert a["drifted_features"] == b["drifted_features"]
    assert a["features"]["balance"]["ks"] == b["features"]["balance"]["ks"]


def test_jsonl_records_and_sagemaker_capture(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    frame = pd.read_csv(files["moved"])
    flat, capture = files["dir"] / "flat.jsonl", files["dir"] / "capture.jsonl"
    records = frame[["student", "balance", "income"]].to_dict(orient="records")
    flat.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    lines = []
    for r in records:
        data = f"{r['student']},{r['balance']},{r['income']}"
        lines.append(json.dumps({"captureData": {"endpointInput": {"data": data, "encoding": "CSV"}}}))
    capture.write_text("\n".join(lines) + "\n")
    _, a, _ = _check(capsys, "--baseline", str(files["base"]), "--data", str(flat), "--json")
    _, b, _ = _check(capsys, "--baseline", str(files["base"]), "--data", str(capture), "--json")
    ra, rb = json.loads(a), json.loads(b)
    assert ra["drifted_features"] == rb["drifted_features"] == ["balance"]
    assert ra["features"]["balance"]["ks"] == rb["features"]["balance"]["ks"]


def test_unparseable_values_are_counted_not_fatal(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    frame = pd.read_csv(files["calm"]).astype({"income": object})
    frame.loc[:9, "income"] = "n/a?"
    dirty = files["dir"] / "dirty.csv"
    frame.to_csv(dirty, index=False)
    code, out, _ = _check(capsys, "--baseline", str(files["base"]), "--data", str(dirty), "--json")
    income = json.loads(out)["features"]["income"]
    assert code == 0 and income["unparseable"] == 10 and income["completeness"] == pytest.approx(0.995)
    code, out, _ = _check(capsys, "--baseline", str(files["base"]), "--data", str(dirty))
    assert "income: 10 unparseable" in out


def test_label_shift_accuracy_violations_and_fail_on_drift(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    frame = pd.read_csv(files["moved"])
    frame["pred"] = "No"
    labelled = files["dir"] / "labelled.csv"
    frame.to_csv(labelled, index=False)
    out_dir = files["dir"] / "violations"
    code, out, _ = _check(
        capsys,
        *("--baseline", str(files["base"]), "--data", str(labelled), "--prediction", "pred"),
        *("--min-accuracy", "0.99", "--violations", str(out_dir), "--json", "--fail-on-drift"),
    )
    report = json.loads(out)
    assert code == 1 and report["model_quality"]["below_min"] and report["label_shift"]["target"] == "default"
    assert (out_dir / "constraint_violations.json").is_file()


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse usage errors leave through SystemExit(2)
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    return err


def test_bad_inputs_exit_2_with_one_line(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    d, base = files["dir"], str(files["base"])
    empty, header_only, no_income = d / "empty.csv", d / "header.csv", d / "no_income.csv"
    empty.write_text("")
    header_only.write_text("default,student,balance,income\n")
    pd.read_csv(files["calm"]).drop(columns=["income"]).to_csv(no_income, index=False)
    (d / "broken").mkdir()
    (d / "broken" / "statistics.json").write_text("{oops")

    assert "income" in _error(capsys, ["drift", "check", "--baseline", base, "--data", str(no_income)])
    assert str(empty) in _error(capsys, ["drift", "check", "--baseline", base, "--data", str(empty)])
    assert str(empty) in _error(capsys, ["drift", "baseline", "--data", str(empty), "--out", str(d / "x")])
    assert "no data rows" in _error(capsys, ["drift", "check", "--baseline", base, "--data", str(header_only)])
    assert "missing.csv" in _error(capsys, ["drift", "check", "--baseline", base, "--data", str(d / "missing.csv")])
    assert "nowhere" in _error(capsys, ["drift", "check", "--baseline", str(d / "nowhere"), "--data", "x.csv"])
    broken = _error(capsys, ["drift", "check", "--baseline", str(d / "broken"), "--data", str(files["calm"])])
    assert "statistics.json" in broken
    target = _error(
        capsys,
        ["drift", "baseline", "--data", str(files["train"]), "--out", str(d / "y"), "--target", "nope"],
    )
    assert "nope" in target
    assert "--sigma" in _error(capsys, ["drift", "check", "--baseline", base, "--data", "a.csv", "--sigma", "0"])
    pred = _error(capsys, ["drift", "check", "--baseline", base, "--data", str(files["calm"]), "--prediction", "zzz"])
    assert "zzz" in pred


def test_bom_crlf_and_no_final_newline(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    text = pd.read_csv(files["calm"]).to_csv(index=False, lineterminator="\r\n").rstrip("\r\n")
    odd = files["dir"] / "odd.csv"
    odd.write_bytes(b"\xef\xbb\xbf" + text.encode())
    code, out, _ = _check(capsys, "--baseline", str(files["base"]), "--data", str(odd), "--json")
    report = json.loads(out)
    assert code == 0 and report["rows"] == 2000 and report["features"]["income"]["unparseable"] == 0


def test_probability_column_gives_the_cbpe_estimate_and_the_drift_kinds(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    frame = pd.read_csv(files["calm"])
    rng = np.random.default_rng(9)
    frame["pred"] = np.where(rng.random(len(frame)) < 0.5, "No", "Yes")
    frame["proba"] = rng.uniform(0.5, 0.8, len(frame))
    frame.loc[:4, "proba"] = np.nan  # rows without a probability are counted, not estimated
    window = files["dir"] / "scored.csv"
    frame.to_csv(window, index=False)
    calibration = files["dir"] / "calibration.json"
    calibration.write_text(json.dumps({"method": "isotonic", "pooled": {"x": [0.5, 1.0], "y": [0.5, 1.0]}}))
    args = ["--baseline", str(files["base"]), "--data", str(window), "--min-accuracy", "0.85"]
    code, out, _ = _check(capsys, *args, "--probability-column", "proba", "--calibration", str(calibration), "--json")
    report = json.loads(out)
    estimate = report["performance_estimate"]
    expected = frame["proba"].dropna()
    assert code == 0 and estimate["rows"] == len(expected) and estimate["rows_without_probability"] == 5
    assert estimate["estimated_accuracy"] == pytest.approx(expected.mean())
    assert estimate["below_min"] is True
    assert report["drift_kinds"]["concept_drift"] is True and "concept_drift" in report["drift_kinds"]["detected"]
    assert report["multivariate"]["drifted"] is False and report["drifted_features"] == []
    # the table says the same
    code, out, _ = _check(capsys, *args, "--probability-column", "proba", "--calibration", str(calibration))
    assert "estimated accuracy (CBPE)" in out and "BELOW A_min" in out and "drift kinds: concept_drift" in out
    # without a calibration there is nothing to estimate with: exit 2, naming the flag
    code, _, err = _check(capsys, *args, "--probability-column", "proba")
    assert code == 2 and "--probability-column" in err and "calibration" in err
    code, _, err = _check(capsys, *args, "--probability-column", "nope", "--calibration", str(calibration))
    assert code == 2 and "probability column 'nope' not found" in err
    calibration.write_text('{"method": "isotonic"}')
    code, _, err = _check(capsys, *args, "--probability-column", "proba", "--calibration", str(calibration))
    assert (
        code == 2 and "calibration.json" in err and "calibration.pooled" in err and len(err.strip().splitlines()) == 1
    )

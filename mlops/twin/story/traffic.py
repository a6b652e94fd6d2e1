"""The demo's traffic and its drift story, drawn from the real ISLR Default credit data.

Before the drift, requests are rows of the training data. From the drift on, they come from a shifted population:
applicant income is higher by `drift_share` (x1.4 for 0.4) and more applicants default (label shift: the default
rate rises to `default_rate_after`, drawing defaulters more often while each class keeps its own balance and
student mix). The same population yields the new labelled data that the retraining pipeline trains on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

FEATURES = ("student", "balance", "income")
TARGET = "default"
POSITIVE = "Yes"
SHIFTED_FEATURE = "income"
# What the story moves: income directly, and balance through the label shift (defaulters carry higher balances,
# and each class keeps its own distribution). Student status barely moves (0.29 -> 0.31 students): unshifted.
SHIFTED_FEATURES = ("income", "balance")
UNSHIFTED_FEATURES = ("student",)


@dataclass(frozen=True)
class DriftStory:
    drift_share: float = 0.4  # income x (1 + drift_share)
    default_rate_after: float = 0.15  # the training data's rate is 0.033

    @property
    def income_factor(self) -> float:
        return 1.0 + self.drift_share


class Population:
    """Draws labelled applicants before (`drifted=False`) or after the drift."""

    def __init__(self, data: pd.DataFrame, story: DriftStory, seed: int) -> None:
        missing = [c for c in (*FEATURES, TARGET) if c not in data.columns]
        if missing:
            raise ValueError(f"data set: column '{missing[0]}' not found")
        self.data = data.reset_index(drop=True)
        self.story = story
        self.rng = np.random.default_rng(seed)
        self._positive = self.data[self.data[TARGET] == POSITIVE]
        self._negative = self.data[self.data[TARGET] != POSITIVE]

    def sample(self, rows: int, *, drifted: bool) -> pd.DataFrame:
        if not drifted:
            picked = self.data.iloc[self.rng.integers(0, len(self.data), rows)]
            return picked.reset_index(drop=True)
        positives = int(self.rng.binomial(rows, self.story.default_rate_after))
        parts = [_draw(self._positive, positives, self.rng), _draw(self._negative, rows - positives, self.rng)]
        frame = pd.concat(parts).sample(frac=1.0, random_state=int(self.rng.integers(2**31))).reset_index(drop=True)
        return frame.assign(**{SHIFTED_FEATURE: frame[SHIFTED_FEATURE] * self.story.income_factor})

    def labelled_window(self, rows: int) -> pd.DataFrame:
        """New labelled data after the drift, for retraining (defaulters without replacement while they last, so
        the holdout split shares as few duplicated rows with training as the data allows)."""
        return self.sample(rows, drifted=True)


def _draw(pool: pd.DataFrame, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    replace = rows > len(pool)
    return pool.iloc[rng.choice(len(pool), size=rows, replace=replace)]


def request_body(row: Mapping[str, object]) -> bytes:
    """One CSV request row in the model's feature order (what a client of the endpoint sends)."""
    return f"{row['student']},{float(row['balance']):.2f},{float(row['income']):.2f}".encode()  # type: ignore[arg-type]


def requests(frame: pd.DataFrame) -> tuple[list[bytes], dict[bytes, str]]:
    """The request bodies of `frame` and each body's true label (to score the served predictions)."""
    bodies, labels = [], {}
    for row in frame.to_dict("records"):
        body = request_body(row)
        bodies.append(body)
        labels.setdefault(body, str(row[TARGET]))
    return bodies, labels


def scored_captures(lines: Iterable[str], labels: Mapping[bytes, str]) -> dict[str, tuple[int, int]]:
    """Model version -> (predictions with a known label, correct ones), from SageMaker-format capture records."""
    scores: dict[str, tuple[int, int]] = {}
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)["captureData"]
        label = labels.get(record["endpointInput"]["data"].encode())
        predictions = json.loads(record["endpointOutput"]["data"]).get("predictions") or []
        if label is None or not predictions:
            continue
        version = str(predictions[0].get("model_version", ""))
        known, correct = scores.get(version, (0, 0))
        scores[version] = (known + 1, correct + int(str(predictions[0].get("label")) == label))
    return scores

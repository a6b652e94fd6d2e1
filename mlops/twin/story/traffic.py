"""The demo's traffic and its drift story, drawn from the real ISLR Default credit data.

Before the drift, requests are rows of the data with their recorded labels. From the drift on, three things change:
- feature drift: applicant income is higher by `drift_share` (x1.4 for 0.4). The model barely uses income, so
  this moves a feature (its PSI alarm warns) without hurting accuracy;
- covariate shift with a changed relationship: every applicant's balance is `balance_increase` (1000) higher, as
  when an issuer raises every credit line, while each applicant's risk stays what it was. The champion reads the
  higher balances as risk: many applicants now sit where it is unsure (balances around 2000), so its confidence
  falls and the estimated accuracy (CBPE) drops before any label arrives; it also calls many of them defaulters;
- concept drift: students now default at balances `student_balance_shift` (1400) lower than before, so
  P(default | features) changes for one segment and the champion misses most of their defaults. This part alone
  is invisible to CBPE (the champion stays confident about those students): only the labels reveal it.

How the labels after the drift are made (seeded, from the real rows): a logistic model of P(default | student,
balance, income) is fitted to the real data (its own relationship, 97% accurate). Every real row gets one uniform
draw u from the seed, fixed for the run. A non-student keeps the recorded label. A student is a defaulter when
u < P(default | student, balance + shift, income): the fitted model evaluated as if the balance were `shift`
higher (at the row's real balance and income, before the feature drift). The same row therefore always gets the
same label in one run, and the default rate rises from 3% to about 22%. The balance increase does not change any
label: it is the served features that move, so P(default | served balance) moves with them.

Balance and income are moved; student keeps the data's share, so its drift alarm must stay quiet. A model
retrained on the drifted cohorts (the same population, labelled) learns the new relationship and is confident
again. The same population yields the labelled cohorts that reach the training window (the raw bucket) once
their outcomes are known (mlops.twin.story.demo: `label_delay` steps later).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlops.twin.story import defaults

FEATURES = ("student", "balance", "income")
TARGET = "default"
POSITIVE, NEGATIVE = "Yes", "No"
CONCEPT_SEGMENT = "student"  # the segment whose P(default | features) changes
# What the story moves: income and balance. Student keeps the data's own share.
SHIFTED_FEATURES = ("income", "balance")
UNSHIFTED_FEATURES = ("student",)


@dataclass(frozen=True)
class DriftStory:
    drift_share: float = defaults.DRIFT_SHARE  # income x (1 + drift_share)
    student_balance_shift: float = defaults.STUDENT_BALANCE_SHIFT  # students default at balances this much lower
    balance_increase: float = defaults.BALANCE_INCREASE  # every served balance higher; the risk stays the row's own

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
        self.drifted_labels = _concept_labels(self.data, story, np.random.default_rng([seed, 1]).random(len(data)))

    def sample(self, rows: int, *, drifted: bool) -> pd.DataFrame:
        picked = self.rng.integers(0, len(self.data), rows)
        frame = self.data.iloc[picked].reset_index(drop=True)
        if not drifted:
            return frame
        return frame.assign(
            **{
                "income": frame["income"] * self.story.income_factor,
                "balance": frame["balance"] + self.story.balance_increase,
                TARGET: self.drifted_labels[picked],
            }
        )

    def labelled_window(self, rows: int, *, drifted: bool) -> pd.DataFrame:
        """A cohort of applicants whose outcomes are known: the training window the raw bucket holds."""
        return self.sample(rows, drifted=drifted)


def _concept_labels(data: pd.DataFrame, story: DriftStory, draws: np.ndarray) -> np.ndarray:
    """Every real row's label under the drifted concept (see the module docstring)."""
    inputs = _numeric(data)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(inputs, (data[TARGET] == POSITIVE).to_numpy())
    students = (data[CONCEPT_SEGMENT] == "Yes").to_numpy()
    shifted = inputs.assign(balance=inputs["balance"] + story.student_balance_shift)
    risk = model.predict_proba(shifted)[:, 1]
    labels = data[TARGET].astype(str).to_numpy(copy=True)
    labels[students] = np.where(draws[students] < risk[students], POSITIVE, NEGATIVE)
    return labels


def _numeric(data: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "student": (data["student"] == "Yes").astype(float),
            "balance": data["balance"].astype(float),
            "income": data["income"].astype(float),
        }
    )


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


def captured(lines: Iterable[str]) -> Iterable[tuple[str, bytes, dict[str, object]]]:
    """(eventId, request body, first prediction) of each SageMaker-format capture record with a prediction."""
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        data = record["captureData"]
        predictions = json.loads(data["endpointOutput"]["data"]).get("predictions") or []
        if predictions:
            event_id = str(record.get("eventMetadata", {}).get("eventId", ""))
            yield event_id, data["endpointInput"]["data"].encode(), predictions[0]


def scored_captures(lines: Iterable[str], labels: Mapping[bytes, str]) -> dict[str, tuple[int, int]]:
    """Model version -> (predictions with a known label, correct ones), from SageMaker-format capture records."""
    scores: dict[str, tuple[int, int]] = {}
    for _, body, prediction in captured(lines):
        label = labels.get(body)
        if label is None:
            continue
        version = str(prediction.get("model_version", ""))
        known, correct = scores.get(version, (0, 0))
        scores[version] = (known + 1, correct + int(str(prediction.get("label")) == label))
    return scores


def ground_truth_lines(lines: Iterable[str], labels: Mapping[bytes, str]) -> list[str]:
    """SageMaker's ground-truth records (one per captured request whose label is known), joined by eventId: what
    the application writes once a loan's outcome is known (the drift function's model-quality input)."""
    out = []
    for event_id, body, _ in captured(lines):
        label = labels.get(body)
        if label is not None and event_id:
            record = {
                "groundTruthData": {"data": label, "encoding": "CSV"},
                "eventMetadata": {"eventId": event_id},
                "eventVersion": "0",
            }
            out.append(json.dumps(record))
    return out

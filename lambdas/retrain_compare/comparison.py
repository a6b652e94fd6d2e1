"""Challenger vs champion on their holdout metrics: pure logic.

The challenger replaces the champion only if its holdout accuracy is higher by more than the configured margin
(and, with no champion yet, above A_min, which the pipeline's gate already required).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Comparison:
    better: bool
    challenger_accuracy: float
    champion_accuracy: float | None
    reason: str


def compare(challenger: float, champion: float | None, margin: float, min_accuracy: float) -> Comparison:
    if champion is None:
        better = challenger > min_accuracy
        why = f"no champion; challenger {challenger:.4f} {'>' if better else '<='} A_min {min_accuracy:.4f}"
        return Comparison(better, challenger, None, why)
    better = challenger > champion + margin
    relation = ">" if better else "<="
    why = f"challenger {challenger:.4f} {relation} champion {champion:.4f} + margin {margin:.4f}"
    return Comparison(better, challenger, champion, why)

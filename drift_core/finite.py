"""The one non-finite rule, shared by `mlops drift baseline`, `mlops drift check`, the drift Lambda and the
pipeline's preprocess step (docs/cli-input-rules.md).

A numeric cell is a value when it is finite and |x| <= MAX_MAGNITUDE. `inf`, `-inf`, and magnitudes above the
limit (1e308 is finite, but its square or the sum of two of them is not, so means and standard deviations would
come out inf/NaN) are *non-finite*: counted per column, and then treated like a cell that does not parse, i.e.
left out of every statistic and, in the pipeline, handed to the model's imputer as missing. NaN/empty stays
missing. No statistic written to JSON is ever inf or NaN.
"""

from __future__ import annotations

import numpy as np

# Far above any real measurement, and small enough that squares and sums over billions of rows stay finite.
MAX_MAGNITUDE = 1e100


def usable(values: np.ndarray) -> np.ndarray:
    """Mask of the cells that are values under the rule (NaN and non-finite cells are False)."""
    with np.errstate(invalid="ignore"):
        return np.abs(values) <= MAX_MAGNITUDE


def non_finite(values: np.ndarray) -> np.ndarray:
    """Mask of the cells the rule refuses: present (not NaN) but not a usable value."""
    return ~np.isnan(values) & ~usable(values)

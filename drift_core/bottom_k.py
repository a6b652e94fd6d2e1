"""A uniform sample of a stream: the items with the `size` smallest random keys (a bottom-k sample).

The caller draws one uniform key per item and offers only the items whose key is below `threshold` (once `size`
items are held, the k-th smallest key so far): most chunks then cost one comparison per item. Offered items wait
in parts and are compacted to the `size` smallest keys when they pass 1.25 x `size`. Items are the last axis of
the values, so one sample holds single values (a feature's sample for its bins) or aligned rows of several
features (the PCA's fitting sample).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class BottomK:
    size: int
    leading: tuple[int, ...] = ()  # the shape of one item: () for single values, (features,) for rows
    parts: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    pending: int = 0
    threshold: float = 1.0

    def offer(self, values: np.ndarray, keys: np.ndarray) -> None:
        """Items `values[..., i]` with keys `keys[i]`, each below `threshold`."""
        self.parts.append((values, keys))
        self.pending += keys.size
        if self.pending >= self.size + self.size // 4:
            self.compact()

    def compact(self) -> None:
        if not self.parts:
            return
        values = np.concatenate([v for v, _ in self.parts], axis=-1)
        keys = np.concatenate([k for _, k in self.parts])
        if keys.size > self.size:
            keep = np.argpartition(keys, self.size)[: self.size]
            values, keys = values[..., keep], keys[keep]
            self.threshold = float(keys.max())
        self.parts = [(values, keys)]
        self.pending = keys.size

    @property
    def sample(self) -> np.ndarray:
        self.compact()
        return self.parts[0][0] if self.parts else np.empty((*self.leading, 0))

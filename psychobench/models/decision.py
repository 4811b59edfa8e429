"""Decision rules: from a network's output to an answer in the experiment's response set.

:class:`ImageNet16` maps 1000 ImageNet logits to the 16 categories of Geirhos et al.: softmax
over the 1000 classes, then for each category the MEAN probability over its ImageNet indices
(model-vs-human's ``ImageNetProbabilitiesTo16ClassesMapping``, aggregation "mean"); the answer is
the arg-max category.  The 16 values are not renormalised: they are the per-category mean of
ImageNet probabilities, and ``p_true`` reports the one of the true category.
"""

from __future__ import annotations

import numpy as np
import torch

from psychobench.data.categories import CATEGORIES, CATEGORY_INDICES


class ImageNet16:
    """1000 ImageNet logits -> 16-category scores (mean softmax probability per category)."""

    name = "imagenet16"
    categories: tuple[str, ...] = CATEGORIES

    def __init__(self) -> None:
        # (1000, 16) averaging matrix: column k has 1/|I_k| at the indices of category k.
        w = torch.zeros(1000, len(CATEGORIES), dtype=torch.float64)
        for k, cat in enumerate(CATEGORIES):
            idx = list(CATEGORY_INDICES[cat])
            w[idx, k] = 1.0 / len(idx)
        self.weights = w

    def identity(self) -> dict:
        return {"rule": self.name, "aggregation": "mean-softmax"}

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        """(batch, 1000) logits -> (batch, 16) mean probabilities (float64)."""
        if logits.ndim != 2 or logits.shape[1] != 1000:
            raise ValueError(f"expected (batch, 1000) ImageNet logits, got {tuple(logits.shape)}")
        probs = torch.softmax(logits.double(), dim=1)
        return probs @ self.weights.to(probs.device)

    def decide(self, scores: torch.Tensor) -> np.ndarray:
        """Arg-max category names of (batch, 16) scores."""
        return np.asarray(self.categories, dtype=object)[scores.argmax(dim=1).cpu().numpy()]


DECISION_RULES = {"imagenet16": ImageNet16}


def get_rule(name: str):
    try:
        return DECISION_RULES[name]()
    except KeyError:
        raise KeyError(f"unknown decision rule {name!r}; known: {sorted(DECISION_RULES)}") from None

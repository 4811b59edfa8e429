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


class ImageNetSubset:
    """Top-1 over a chosen set of ImageNet classes: the answer is the label whose ImageNet
    index has the highest logit among all indices of the set (a forced choice between the
    labels).  A label may accept several indices (``coffee-mug``: coffee mug and cup); its score is
    the largest softmax probability (softmax over all 1000 classes) among them.  Chance is
    1 / number of labels."""

    name = "imagenet-subset"

    def __init__(self, classes: dict[str, tuple[int, ...]]) -> None:
        if not classes:
            raise ValueError("ImageNetSubset needs at least one label")
        flat = [i for ix in classes.values() for i in ix]
        bad = [i for i in flat if not 0 <= int(i) < 1000]
        if bad or len(set(flat)) != len(flat):
            raise ValueError(f"ImageNet indices must be distinct and in [0, 1000); got {sorted(flat)}")
        self.classes = {k: tuple(int(i) for i in v) for k, v in classes.items()}
        self.categories: tuple[str, ...] = tuple(self.classes)
        self._index = torch.tensor(flat, dtype=torch.long)
        self._owner = torch.tensor([k for k, ix in enumerate(self.classes.values()) for _ in ix])

    def identity(self) -> dict:
        return {"rule": self.name, "aggregation": "max-softmax", "classes": self.classes}

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        """(batch, 1000) logits -> (batch, n_labels) max probability per label (float64)."""
        if logits.ndim != 2 or logits.shape[1] != 1000:
            raise ValueError(f"expected (batch, 1000) ImageNet logits, got {tuple(logits.shape)}")
        probs = torch.softmax(logits.double(), dim=1)[:, self._index.to(logits.device)]
        out = torch.full((probs.shape[0], len(self.categories)), -1.0, dtype=probs.dtype,
                         device=probs.device)
        owner = self._owner.to(probs.device).expand_as(probs)
        return out.scatter_reduce(1, owner, probs, reduce="amax", include_self=True)

    def decide(self, scores: torch.Tensor) -> np.ndarray:
        """Arg-max label of (batch, n_labels) scores."""
        return np.asarray(self.categories, dtype=object)[scores.argmax(dim=1).cpu().numpy()]


#: ImageNet-1k indices of the rendered objects of :mod:`psychobench.stimuli.render` (facts of the
#: ImageNet class list: 504 coffee mug, 968 cup, 805 soccer ball, 444 bicycle-built-for-two,
#: 671 mountain bike, 850 teddy, 532 dining table, 907 wine bottle, 440 beer bottle, 898 water
#: bottle, 543 dumbbell, 920 traffic light, 427 barrel).
OBJECT_CLASSES: dict[str, tuple[int, ...]] = {
    "coffee-mug": (504, 968), "soccer-ball": (805,), "bicycle": (444, 671), "teddy": (850,),
    "dining-table": (532,), "wine-bottle": (907, 440, 898), "dumbbell": (543,),
    "traffic-light": (920,), "barrel": (427,),
}


class ImageNetObjects(ImageNetSubset):
    """:class:`ImageNetSubset` over the labels of the rendered viewpoint objects."""

    name = "imagenet-objects"

    def __init__(self) -> None:
        super().__init__(OBJECT_CLASSES)


DECISION_RULES = {"imagenet16": ImageNet16, "imagenet-objects": ImageNetObjects}


def get_rule(name: str):
    try:
        return DECISION_RULES[name]()
    except KeyError:
        raise KeyError(f"unknown decision rule {name!r}; known: {sorted(DECISION_RULES)}") from None

"""Answer spaces: what an observer may answer in an experiment.

An answer space is a closed list of labels (the 16 categories, 9 rendered objects, 64 words,
``first``/``second`` for two intervals) or open (any word: open-set recognisers and the words
listeners typed).  Where the labels are ImageNet classes, the space carries each label's
ImageNet-1k indices and the rule that turns 1000 ImageNet probabilities into one score per label,
so that any ImageNet network can answer without a fitted readout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from psychobench.data.categories import CATEGORIES, CATEGORY_INDICES, NO_ANSWER, OBJECT_INDICES


@dataclass(frozen=True)
class AnswerSpace:
    """``labels``: the allowed answers in score-column order (None: open set).
    ``imagenet``: label -> ImageNet-1k indices, where the labels are ImageNet classes;
    ``aggregation``: ``"mean"`` (mean softmax probability over a label's indices:
    model-vs-human's rule for the 16 categories) or ``"max"`` (the largest of them: a forced
    choice between the labels).  ``chance``: the guess rate of a closed set."""

    labels: tuple[str, ...] | None
    imagenet: Mapping[str, tuple[int, ...]] | None = field(default=None, compare=False)
    aggregation: str = "mean"
    name: str = ""

    def __post_init__(self):
        if self.labels is not None:
            if not self.labels:
                raise ValueError("an answer space needs at least one label")
            if len(set(self.labels)) != len(self.labels):
                raise ValueError(f"answer space {self.name or self.labels}: labels repeat")
        if self.imagenet is not None:
            missing = [lab for lab in self.labels or () if lab not in self.imagenet]
            if missing:
                raise ValueError(f"answer space {self.name}: no ImageNet indices for {missing}")
        if self.aggregation not in ("mean", "max"):
            raise ValueError(f"aggregation must be 'mean' or 'max', got {self.aggregation!r}")

    @property
    def open(self) -> bool:
        return self.labels is None

    @property
    def chance(self) -> float:
        """1 / number of labels (0 for an open set)."""
        return 0.0 if self.labels is None else 1.0 / len(self.labels)

    def allows(self, answer: str) -> bool:
        return self.labels is None or answer in self.labels or answer == NO_ANSWER

    def subset(self, labels: Sequence[str]) -> AnswerSpace:
        """The space restricted to ``labels`` (in this space's order)."""
        keep = [lab for lab in (self.labels or ()) if lab in set(labels)]
        unknown = sorted(set(labels) - set(keep))
        if unknown:
            raise ValueError(f"answer space {self.name}: {unknown} are not among its labels")
        return AnswerSpace(tuple(keep), self.imagenet, self.aggregation, self.name)

    def identity(self) -> dict:
        return {"labels": list(self.labels) if self.labels is not None else None,
                "imagenet": ({k: list(v) for k, v in self.imagenet.items() if k in (self.labels or ())}
                             if self.imagenet is not None else None),
                "aggregation": self.aggregation}


#: The 16 entry-level categories of Geirhos et al. (mean softmax over their ImageNet indices).
IMAGENET16 = AnswerSpace(CATEGORIES, CATEGORY_INDICES, "mean", "imagenet16")
#: The 9 rendered viewpoint objects (top-1 among their ImageNet classes).
IMAGENET_OBJECTS = AnswerSpace(tuple(OBJECT_INDICES), OBJECT_INDICES, "max", "imagenet-objects")
#: Any answer.
OPEN = AnswerSpace(None, name="open")

NAMED: dict[str, AnswerSpace] = {"imagenet16": IMAGENET16, "imagenet-objects": IMAGENET_OBJECTS,
                                 "open": OPEN}


def answer_space(spec: str | Sequence[str] | AnswerSpace | None) -> AnswerSpace:
    """An answer space from a name (``imagenet16``, ``imagenet-objects``, ``open``), a list of
    labels, or itself."""
    if isinstance(spec, AnswerSpace):
        return spec
    if spec is None:
        return OPEN
    if isinstance(spec, str):
        try:
            return NAMED[spec]
        except KeyError:
            raise ValueError(f"unknown answer space {spec!r}; known: {sorted(NAMED)}, or a list "
                             "of labels") from None
    labels = tuple(str(s) for s in spec)
    if set(labels) <= set(CATEGORIES):
        return IMAGENET16.subset(labels)
    return AnswerSpace(labels, name="labels")

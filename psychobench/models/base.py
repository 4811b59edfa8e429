"""What every observer is: anything that answers the trials of an experiment.

An :class:`Observer` carries what it needs to see or hear a stimulus (its preprocessing: image
size and normalisation, or sample rate and clip length), an identity that keys the answer cache,
and :meth:`Observer.answer`, which turns one batch of stimuli into answers in the experiment's
answer space.  Networks (timm, any torch module through a factory, the hearing networks),
readouts fitted on a layer and control models are all observers; one Lightning module serves
them all (:mod:`psychobench.lightning.module`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from psychobench.errors import PsychobenchError
from psychobench.data.answers import AnswerSpace


@dataclass(frozen=True)
class Preprocessing:
    """What an image network's weights expect: ``size`` (H, W) pixels, per-channel mean/std of
    [0, 1] RGB input, resize interpolation.  The whole image is resized (no crop)."""

    size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"

    def identity(self) -> dict:
        return {"size": list(self.size), "mean": list(self.mean), "std": list(self.std),
                "interpolation": self.interpolation}

    def key(self) -> str:
        return repr(sorted(asdict(self).items()))


@dataclass(frozen=True)
class AudioInput:
    """What a hearing observer expects: sample rate ``fs`` (Hz) and, where it takes clips of a
    fixed length, ``clip_s`` (seconds; shorter sounds are centred and zero-padded, longer ones
    centre-cut).  Two-interval stimuli arrive as ``(batch, 2, samples)``."""

    fs: int = 16000
    clip_s: float | None = None

    def identity(self) -> dict:
        return {"fs": int(self.fs), "clip_s": self.clip_s}


class ObserverError(PsychobenchError, ValueError):
    """An observer cannot answer an experiment (wrong modality, answer space or readout)."""


class Observer:
    """Base class of observers.  Subclasses set ``name``, ``modality`` (``image`` or ``audio``)
    and ``preprocessing``, and implement :meth:`answer`; observers whose readout is fitted on
    features (``model/readout=logistic``) implement :meth:`features` and
    :meth:`feature_identity` instead, and the run pipeline fits the readout on the features of
    all stimuli (:mod:`psychobench.results.fitting`)."""

    name: str
    modality: ClassVar[str] = "image"
    #: True for observers whose answers are free text (open-set recognisers).
    open_set: bool = False
    #: What kind of observer it is, for comparisons of networks with controls: ``network``
    #: (trained weights), ``random`` (the same architecture with random weights) or ``control``
    #: (a model that is not a trained network: pixels, a V1-like filter bank, an HMM recogniser).
    family: str = "network"
    #: The readout, where the observer has one (:mod:`psychobench.models.readouts`).
    readout = None

    @property
    def fitted(self) -> bool:
        """Whether the readout is fitted on features (the pipeline fits it before answering)."""
        return bool(getattr(self.readout, "fitted", False))

    def features(self, batch: dict):
        """Pooled features of one batch, ``(batch, features)`` float32 (observers with a
        fitted readout)."""
        raise ObserverError(f"{self.name} gives no features for a fitted readout")

    def feature_identity(self) -> dict:
        """Everything that changes the features (keys the feature cache): weights, input,
        layer and pooling; not the readout."""
        raise ObserverError(f"{self.name} gives no features for a fitted readout")

    def prepare(self) -> None:
        """Load weights (once), before prediction starts."""

    def torch_module(self):
        """The torch module to place on the prediction device (None for observers that are not
        torch modules, e.g. a CTranslate2 or HMM recogniser)."""
        return None

    def identity(self) -> dict:
        """Everything about the observer that can change an answer (keys the answer cache)."""
        raise NotImplementedError

    def check(self, answers: AnswerSpace) -> None:
        """Raise :class:`ObserverError` if the observer cannot answer in ``answers``."""

    def answer(self, batch: dict, answers: AnswerSpace) -> dict[str, Any]:
        """Answers to one batch: ``response`` (batch,) strings and, where the observer scores
        the labels, ``scores`` (batch, n_labels) in the order of ``answers.labels``; any other
        key is a per-trial column (e.g. an F0 estimate)."""
        raise NotImplementedError

    def chance(self, answers: AnswerSpace) -> float:
        """The guess rate of this observer in ``answers``: 1 / labels for a closed set, 0 for
        free answers."""
        return 0.0 if self.open_set or answers.open else answers.chance


def fitted_name(name: str, readout, layer: str | None = None) -> str:
    """The name of an observer read out by a fitted readout: ``NAME[@LAYER]+READOUT``
    (``tf_efficientnet_lite0@blocks.5+logistic``), so that its runs never pass for those of the
    same network with its fixed readout.  Other observers keep ``name``."""
    if not getattr(readout, "fitted", False):
        return name
    tag = f"+{readout.name}"
    if name.endswith(tag):
        return name
    return f"{name}{'@' + layer if layer else ''}{tag}"


def decide(scores: np.ndarray, labels) -> np.ndarray:
    """Arg-max label of every row of ``scores`` (batch, n_labels)."""
    return np.asarray(labels, dtype=object)[np.asarray(scores).argmax(axis=1)]

"""Readouts: from a network's outputs to a score per label of the experiment's answer space.

A readout is part of the observer (``model/readout=NAME``):

* ``imagenet``: 1000 ImageNet logits -> softmax -> per label the MEAN probability over its
  ImageNet indices (model-vs-human's ``ImageNetProbabilitiesTo16ClassesMapping``, aggregation
  "mean", for the 16 categories) or the largest of them (a forced choice among ImageNet classes,
  for the rendered objects); which of the two comes with the answer space.  The 16 values are
  not renormalised: ``p_<category>`` reports the per-category mean of ImageNet probabilities.
* ``identity``: a head that already answers the experiment's labels: output ``k`` is label
  ``labels[k]`` (default: the answer space's labels in their order), or a mapping file for
  another label space (CSV ``index,label``: which output answers which label; outputs mapping to
  labels outside the answer space are ignored).  Scores are the softmax over the mapped outputs.
* ``auto`` (the default): ``imagenet`` when the network has 1000 outputs and the answer space
  consists of ImageNet classes, else an error saying which readout to choose.

Fitted readouts learn the mapping from a layer's features (:mod:`psychobench.models.features`)
to the experiment's labels (:class:`LogisticReadout`, :class:`ProbabilitiesReadout`; see
:class:`FittedReadout` for where they are fitted and how a stimulus is kept out of the readout
that answers it).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import torch

from psychobench.data.answers import AnswerSpace
from psychobench.data.io import sha256_file
from psychobench.models.base import ObserverError


class BoundReadout:
    """A readout fixed to one answer space and network: ``scores(outputs)`` -> (batch, labels)
    float64.  Plain data (tensors), so observers pickle to other processes."""

    def __init__(self, labels: tuple[str, ...], identity: dict):
        self.labels, self._identity = tuple(labels), identity

    def scores(self, outputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def identity(self) -> dict:
        return self._identity


class _MeanSoftmax(BoundReadout):
    def __init__(self, labels, identity, weights: torch.Tensor):
        super().__init__(labels, identity)
        self.weights = weights                                 # (1000, labels) averaging matrix

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(logits.double(), dim=1)
        return probs @ self.weights.to(probs.device)


class _MaxSoftmax(BoundReadout):
    def __init__(self, labels, identity, flat: torch.Tensor, owner: torch.Tensor):
        super().__init__(labels, identity)
        self.flat, self.owner = flat, owner                    # ImageNet index, its label's column

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(logits.double(), dim=1)[:, self.flat.to(logits.device)]
        out = torch.full((probs.shape[0], len(self.labels)), -1.0, dtype=probs.dtype, device=probs.device)
        return out.scatter_reduce(1, self.owner.to(probs.device).expand_as(probs), probs,
                                  reduce="amax", include_self=True)


class _Columns(BoundReadout):
    def __init__(self, labels, identity, cols: torch.Tensor, softmax: bool):
        super().__init__(labels, identity)
        self.cols, self.softmax = cols, softmax

    def scores(self, outputs: torch.Tensor) -> torch.Tensor:
        x = outputs.double()[:, self.cols.to(outputs.device)]
        return torch.softmax(x, dim=1) if self.softmax else x


class Readout:
    name = "readout"
    #: Whether the readout is fitted on features (True) or a fixed mapping of outputs (False).
    fitted = False

    def bind(self, answers: AnswerSpace, n_outputs: int) -> BoundReadout:
        raise NotImplementedError

    def identity(self) -> dict:
        return {"readout": self.name}


def closed_labels(answers: AnswerSpace, who: str) -> tuple[str, ...]:
    if answers.open:
        raise ObserverError(f"the {who} readout needs a closed answer space; the experiment's is open")
    return answers.labels


@dataclass
class ImageNetReadout(Readout):
    """``aggregation``: ``mean`` or ``max`` (default: the answer space's)."""

    aggregation: str | None = None
    name = "imagenet"

    def bind(self, answers: AnswerSpace, n_outputs: int) -> BoundReadout:
        labels = closed_labels(answers, "imagenet")
        if answers.imagenet is None:
            raise ObserverError(
                f"the imagenet readout maps ImageNet classes to labels, but the labels {list(labels)[:6]} "
                "are not ImageNet classes: use model/readout=identity for a head trained on them")
        if n_outputs != 1000:
            raise ObserverError(f"the imagenet readout needs 1000 ImageNet logits; the network has "
                                f"{n_outputs} outputs (use model/readout=identity for its own head)")
        how = self.aggregation or answers.aggregation
        index = [list(answers.imagenet[lab]) for lab in labels]
        ident = {"readout": "imagenet", "aggregation": how, "labels": list(labels), "indices": index}
        if how == "mean":
            w = torch.zeros(1000, len(labels), dtype=torch.float64)
            for k, idx in enumerate(index):
                w[idx, k] = 1.0 / len(idx)
            return _MeanSoftmax(labels, ident, w)
        if how == "max":
            flat = torch.tensor([i for idx in index for i in idx], dtype=torch.long)
            owner = torch.tensor([k for k, idx in enumerate(index) for _ in idx])
            return _MaxSoftmax(labels, ident, flat, owner)
        raise ObserverError(f"imagenet readout: aggregation must be 'mean' or 'max', got {how!r}")

    def identity(self) -> dict:
        return {"readout": self.name, "aggregation": self.aggregation}


@dataclass
class IdentityReadout(Readout):
    """``labels``: the label of each output, in order (default: the answer space's labels);
    ``mapping_file``: a CSV ``index,label`` instead; ``softmax``: scores are the softmax over the
    mapped outputs (else the outputs themselves)."""

    labels: list[str] | None = None
    mapping_file: str | None = None
    softmax: bool = True
    name = "identity"

    def _mapping(self) -> dict[int, str] | None:
        if self.mapping_file is None:
            return None if self.labels is None else {i: str(lab) for i, lab in enumerate(self.labels)}
        path = Path(self.mapping_file).expanduser()
        if not path.is_file():
            raise ObserverError(f"model.readout.mapping_file={path}: no such file")
        out: dict[int, str] = {}
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        if not rows or [c.strip() for c in rows[0][:2]] != ["index", "label"]:
            raise ObserverError(f"{path}: line 1: a mapping file has the header 'index,label'")
        for n, r in enumerate(rows[1:], start=2):
            if not r:
                continue
            try:
                out[int(r[0])] = r[1].strip()
            except (ValueError, IndexError):
                raise ObserverError(f"{path}: line {n}: expected 'index,label', got {','.join(r)!r}") from None
        return out

    def bind(self, answers: AnswerSpace, n_outputs: int) -> BoundReadout:
        labels = closed_labels(answers, "identity")
        mapping = self._mapping()
        if mapping is None:
            if n_outputs != len(labels):
                raise ObserverError(f"the identity readout maps output k to label k, but the network has "
                                    f"{n_outputs} outputs and the experiment {len(labels)} labels; give "
                                    "model.readout.labels=[...] or model.readout.mapping_file=CSV")
            mapping = dict(enumerate(labels))
        bad = [i for i in mapping if not 0 <= i < n_outputs]
        if bad:
            raise ObserverError(f"identity readout: output index {bad[0]} outside the network's "
                                f"{n_outputs} outputs")
        cols = []
        for lab in labels:
            idx = [i for i, v in mapping.items() if v == lab]
            if len(idx) != 1:
                raise ObserverError(f"identity readout: label {lab!r} of the experiment is answered by "
                                    f"{len(idx)} outputs (needs exactly one)")
            cols.append(idx[0])
        ident = {"readout": "identity", "outputs": cols, "labels": list(labels), "softmax": self.softmax,
                 "mapping": sha256_file(self.mapping_file) if self.mapping_file else None}
        return _Columns(labels, ident, torch.tensor(cols, dtype=torch.long), self.softmax)

    def identity(self) -> dict:
        return {"readout": self.name, "labels": self.labels, "softmax": self.softmax,
                "mapping": sha256_file(self.mapping_file) if self.mapping_file else None}


@dataclass
class AutoReadout(Readout):
    """``imagenet`` where it applies, else a clear error."""

    name = "auto"

    def bind(self, answers: AnswerSpace, n_outputs: int) -> BoundReadout:
        if answers.imagenet is not None and n_outputs == 1000:
            return ImageNetReadout().bind(answers, n_outputs)
        if answers.imagenet is not None:
            raise ObserverError(f"the network has {n_outputs} outputs, not 1000 ImageNet logits; choose "
                                "model/readout=identity (outputs in the order of the experiment's labels, or "
                                "model.readout.labels=[...])")
        raise ObserverError(f"the experiment's labels {list(answers.labels or [])[:6]} are not ImageNet classes; "
                            "choose model/readout=identity for a head trained on them")


def as_readout(spec) -> Readout:
    """A readout from an object, None (auto) or a name."""
    if isinstance(spec, Readout):
        return spec
    if spec is None or spec == "auto":
        return AutoReadout()
    if spec in ("imagenet", "imagenet16"):
        return ImageNetReadout()
    if spec == "identity":
        return IdentityReadout()
    if spec in ("logistic", "probabilities"):
        from psychobench.models import fitting

        return fitting.LogisticReadout() if spec == "logistic" else fitting.ProbabilitiesReadout()
    raise ObserverError(f"unknown readout {spec!r}; known: auto, imagenet16 (imagenet), identity, logistic, "
                        "probabilities")


_FITTED = ("FittedReadout", "LogisticReadout", "ProbabilitiesReadout")


def __getattr__(name: str):
    # The fitted readouts live in psychobench.models.fitting (which builds on this module); they
    # are reachable here too, as the config group names them (psychobench.models.readouts.LogisticReadout).
    if name in _FITTED:
        from psychobench.models import fitting

        return getattr(fitting, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The fitted readouts are reachable as attributes (module __getattr__ above) but not listed
# here: a star import would load scikit-learn for every user of this module.
__all__ = ["Readout", "BoundReadout", "ImageNetReadout", "IdentityReadout", "AutoReadout", "as_readout"]

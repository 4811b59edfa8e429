"""Prediction: an observer answers a stimulus set through one Lightning ``Trainer``.

:class:`Predictor` holds the ``trainer.*`` settings of a run (accelerator, devices, strategy,
precision, batch size, loader workers, progress bar); they apply to every observer, seeing or
hearing.  With several devices on one machine each gets a process (``ddp_spawn``); every process
writes its answers to a shard file and the launching process gathers them, drops the duplicates
a distributed sampler pads with, and alone goes on to score and write.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from psychobench.data.answers import AnswerSpace
from psychobench.data.io import cache_dir

log = logging.getLogger(__name__)
PRECISIONS = ("32-true", "32", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true", "transformer-engine")


def n_devices(devices, accelerator: str = "auto") -> int:
    """How many devices a Trainer ``devices`` setting asks for (-1 / "auto": every GPU here)."""
    if isinstance(devices, (list, tuple)) or hasattr(devices, "__len__") and not isinstance(devices, str):
        return len(devices)
    text = str(devices).strip()
    if text in ("-1", "auto"):
        import torch
        gpus = torch.cuda.device_count() if str(accelerator) in ("auto", "gpu", "cuda") else 0
        return max(1, gpus) if text == "-1" or gpus > 1 else 1
    if "," in text:
        return len([t for t in text.split(",") if t.strip()])
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"trainer.devices: cannot read {devices!r} (an int, a list or -1)") from None


@dataclass
class Predictor:
    """The ``trainer`` config group (``_target_: psychobench.lightning.predict.Predictor``)."""

    accelerator: str = "auto"
    devices: Any = 1
    strategy: str = "auto"
    precision: str = "32-true"
    batch_size: int = 32
    num_workers: int = 1
    progress_bar: bool = True

    def __post_init__(self):
        try:
            self.batch_size = int(self.batch_size)
        except (TypeError, ValueError):
            raise ValueError(f"trainer.batch_size must be a positive integer, got {self.batch_size!r}") from None
        if self.batch_size < 1:
            raise ValueError(f"trainer.batch_size must be >= 1, got {self.batch_size}")
        if int(self.num_workers) < 0:
            raise ValueError(f"trainer.num_workers must be >= 0, got {self.num_workers}")
        self.precision = str(self.precision)
        if self.precision not in PRECISIONS:
            raise ValueError(f"trainer.precision={self.precision!r}; known: {', '.join(PRECISIONS)}")
        if hasattr(self.devices, "__iter__") and not isinstance(self.devices, str):
            self.devices = list(self.devices)
        n_devices(self.devices, self.accelerator)              # readable, or a clear error

    def identity(self) -> dict:
        """The settings that can change an answer (numerics): precision."""
        return {"precision": self.precision}

    def predict(self, observer, stimuli, answers: AnswerSpace) -> tuple[pd.DataFrame, int]:
        """The observer's answers to every stimulus, in manifest order, and the forward passes.

        Returns a table with ``response``, ``p_<label>`` per label where the observer scores
        the labels, and its per-trial extras."""
        observer.prepare()
        observer.check(answers)
        outputs, passes = self._run(observer, stimuli, answers, "answers")
        return answer_table(stimuli, outputs, answers), passes

    def features(self, observer, stimuli) -> tuple[np.ndarray, int]:
        """The observer's pooled features of every stimulus, ``(n, features)`` float32 in
        manifest order, and the forward passes (observers with a fitted readout)."""
        observer.prepare()
        outputs, passes = self._run(observer, stimuli, None, "features")
        return feature_matrix(stimuli, outputs), passes

    def _run(self, observer, stimuli, answers: AnswerSpace | None, what: str) -> tuple[list[dict], int]:
        import pytorch_lightning as pl

        from psychobench.lightning.data import StimulusDataModule
        from psychobench.lightning.module import ObserverModule, ShardWriter, read_shards

        logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
        module = ObserverModule(observer, answers, what=what)
        dm = StimulusDataModule(stimuli, observer.preprocessing, batch_size=self.batch_size,
                                num_workers=self.num_workers)
        multi = n_devices(self.devices, self.accelerator) > 1
        strategy = "ddp_spawn" if multi and self.strategy == "auto" else self.strategy
        shard_dir = Path(tempfile.mkdtemp(prefix=".predict-", dir=cache_dir())) if multi else None
        trainer = pl.Trainer(accelerator=self.accelerator, devices=self.devices, strategy=strategy,
                             precision=self.precision, logger=False, enable_checkpointing=False,
                             enable_model_summary=False, enable_progress_bar=bool(self.progress_bar),
                             callbacks=[ShardWriter(shard_dir)] if multi else None)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*LeafSpec.*")
                warnings.filterwarnings("ignore", message=".*does not have many workers.*")
                outputs = trainer.predict(module, datamodule=dm, return_predictions=not multi)
            passes = module.forward_passes
            if multi:
                outputs, passes = read_shards(shard_dir, trainer.world_size)
        finally:
            if shard_dir is not None:
                shutil.rmtree(shard_dir, ignore_errors=True)
        return outputs, passes


def _manifest_order(stimuli, outputs: list[dict]) -> np.ndarray:
    """Positions in the concatenated outputs of manifest rows 0..n-1 (the first where several
    processes repeat a stimulus; a distributed sampler pads the shards).  Every stimulus must be
    there."""
    n = len(stimuli.manifest)
    index = np.concatenate([o["index"] for o in outputs])
    uniq, first = np.unique(index, return_index=True)
    if len(uniq) != n or (n and (uniq[0] != 0 or uniq[-1] != n - 1)):
        missing = np.setdiff1d(np.arange(n), uniq)
        raise RuntimeError(f"{stimuli.name}: prediction answered {len(uniq)} of {n} stimuli"
                           + (f" (first missing: manifest row {int(missing[0])})" if missing.size else ""))
    return first[np.argsort(uniq)]


def feature_matrix(stimuli, outputs: list[dict]) -> np.ndarray:
    """Feature outputs as one ``(n, features)`` float32 matrix in manifest order."""
    if not outputs:
        if len(stimuli.manifest):
            raise RuntimeError(f"{stimuli.name}: prediction returned no features")
        return np.zeros((0, 0), np.float32)
    order = _manifest_order(stimuli, outputs)
    return np.ascontiguousarray(np.concatenate([o["features"] for o in outputs])[order], dtype=np.float32)


def answer_table(stimuli, outputs: list[dict], answers: AnswerSpace) -> pd.DataFrame:
    """Predict outputs as one table in manifest order.  Outputs of several processes may repeat
    a stimulus (a distributed sampler pads the shards); the first answer is kept.  Every
    stimulus must be answered."""
    n = len(stimuli.manifest)
    if not outputs:
        if n:
            raise RuntimeError(f"{stimuli.name}: prediction returned no answers")
        return pd.DataFrame({"response": pd.Series(dtype=str)})
    order = _manifest_order(stimuli, outputs)
    cols: dict[str, np.ndarray] = {}
    for k in outputs[0]:
        if k == "index":
            continue
        v = np.concatenate([o[k] for o in outputs])[order]
        if k == "scores":
            if answers.open or v.ndim != 2 or v.shape[1] != len(answers.labels):
                raise RuntimeError(f"{stimuli.name}: the observer scored {v.shape[-1]} labels, the answer space "
                                   f"has {0 if answers.open else len(answers.labels)}")
            for j, lab in enumerate(answers.labels):
                cols[f"p_{lab}"] = v[:, j].astype(float)
        elif v.ndim == 1:
            cols[k] = v.astype(str) if v.dtype.kind in "OUS" else v
    cols["response"] = cols["response"].astype(str)
    return pd.DataFrame({"response": cols.pop("response"), **cols})

"""One Lightning module for every observer: ``predict_step`` asks the observer to answer a batch.

The observer's torch module (if it has one) is registered as a submodule, so Lightning places it
on the prediction device and applies the trainer's precision; observers that are not torch
modules (a CTranslate2 or HMM recogniser) run where they are.  The outputs of a batch are numpy
arrays: ``index`` (manifest rows), ``response`` and, where the observer scores the labels,
``scores`` (batch, labels), plus any per-trial extras.  With ``what="features"`` (observers with
a fitted readout) a batch gives ``index`` and ``features`` (batch, features) float32 instead.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter

from psychobench.data.answers import AnswerSpace
from psychobench.data.io import atomic_path


class ObserverModule(pl.LightningModule):
    """Wraps an observer for one experiment's answer space (``what="answers"``) or for its
    features (``what="features"``); counts forward passes (batches)."""

    def __init__(self, observer, answers: AnswerSpace | None = None, what: str = "answers"):
        super().__init__()
        if what not in ("answers", "features"):
            raise ValueError(f"what must be 'answers' or 'features', got {what!r}")
        self.observer = observer
        self.answers = answers
        self.what = what
        net = observer.torch_module()
        self.net = net if isinstance(net, torch.nn.Module) else None
        self.forward_passes = 0
        self.forward_seconds = 0.0      # in the observer's answer calls (synchronised on a GPU)

    def predict_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> dict:
        cuda = self.device.type == "cuda"
        if cuda:
            torch.cuda.synchronize(self.device)
        t = time.perf_counter()
        with torch.inference_mode():
            if self.what == "features":
                out = {"features": self.observer.features(batch).float()}
            else:
                out = self.observer.answer(batch, self.answers)
        if cuda:
            torch.cuda.synchronize(self.device)
        self.forward_seconds += time.perf_counter() - t
        self.forward_passes += 1
        res = {"index": batch["index"].cpu().numpy()}
        for k, v in out.items():
            if hasattr(v, "detach"):
                v = v.detach().cpu().numpy()
            res[k] = np.asarray(v)
        return res


class ShardWriter(BasePredictionWriter):
    """Multi-device prediction: at the end of prediction every process writes its answers to
    ``folder/shard-<rank>.npz`` (atomically); the launching process reads them all back with
    :func:`read_shards` (processes spawned on one machine)."""

    def __init__(self, folder: str | os.PathLike):
        super().__init__(write_interval="epoch")
        self.folder = Path(folder)

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices) -> None:
        if predictions and isinstance(predictions[0], list):      # one list per dataloader
            predictions = [p for dl in predictions for p in dl]
        keys = list(predictions[0]) if predictions else ["index"]
        arrays = {k: np.concatenate([p[k] for p in predictions]) if predictions else np.zeros(0, np.int64)
                  for k in keys}
        arrays = {k: (v.astype(str) if v.dtype == object else v) for k, v in arrays.items()}
        with atomic_path(self.folder / f"shard-{trainer.global_rank}.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, forward_passes=np.int64(getattr(pl_module, "forward_passes", 0)), **arrays)


def read_shards(folder: str | os.PathLike, world_size: int) -> tuple[list[dict], int]:
    """The outputs :class:`ShardWriter` wrote, as ``predict_step`` dicts, and the forward passes
    of all processes.  A missing shard (a process that failed) is an error naming it."""
    folder = Path(folder)
    outputs, passes = [], 0
    for rank in range(world_size):
        f = folder / f"shard-{rank}.npz"
        if not f.is_file():
            raise RuntimeError(f"{f}: process {rank} of {world_size} wrote no answers")
        with np.load(f, allow_pickle=False) as z:
            if z["index"].size:                                  # a process may get no stimuli
                outputs.append({k: z[k] for k in z.files if k != "forward_passes"})
            passes += int(z["forward_passes"])
    return outputs, passes

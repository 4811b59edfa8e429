"""Lightning modules that run an audio observer over a stimulus set and return its answers.

:class:`WaveformDataModule` serves ``(index, waveform, target)`` batches from an in-memory stimulus
set; :class:`ObserverModule`'s ``predict_step`` applies the observer (network + decision rule);
:func:`predict_answers` runs both through a CPU/GPU Lightning ``Trainer`` and gathers one row of
answers per stimulus, in stimulus order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch


class _Items(torch.utils.data.Dataset):
    def __init__(self, waves, targets):
        self.waves, self.targets = waves, targets

    def __len__(self) -> int:
        return len(self.waves)

    def __getitem__(self, i: int):
        return i, self.waves[i], None if self.targets is None else self.targets[i]


def _collate(items):
    idx, waves, targets = zip(*items)
    return {"index": np.asarray(idx), "waves": list(waves), "targets": None if targets[0] is None else list(targets)}


class WaveformDataModule(pl.LightningDataModule):
    """Stimuli in memory: ``waves`` (array ``(n, samples)`` or list of 1-D arrays), ``targets`` (str)."""

    def __init__(self, waves, targets=None, batch_size: int = 64):
        super().__init__()
        self.waves, self.targets, self.batch_size = waves, targets, batch_size

    def predict_dataloader(self):
        return torch.utils.data.DataLoader(_Items(self.waves, self.targets), batch_size=self.batch_size,
                                           shuffle=False, collate_fn=_collate)


class ObserverModule(pl.LightningModule):
    """Wraps an observer (``respond(waves, targets) -> dict of arrays``); counts forward passes."""

    def __init__(self, observer):
        super().__init__()
        self.observer = observer
        self.forward_passes = 0

    def predict_step(self, batch, batch_idx):
        out = self.observer.respond(batch["waves"], batch["targets"])
        self.forward_passes += len(batch["index"])
        return {"index": batch["index"], **{k: np.asarray(v) for k, v in out.items()}}


def predict_answers(observer, waves, targets=None, batch_size: int = 64) -> tuple[pd.DataFrame, int]:
    """Run ``observer`` over the stimuli with a Lightning ``Trainer``; ``(answers, forward_passes)``.

    answers: one row per stimulus in input order, columns ``response`` and any the observer adds.
    """
    if hasattr(observer, "prepare"):   # load (or train) weights before Lightning's inference mode
        observer.prepare()
    dm = WaveformDataModule(waves, targets, batch_size)
    module = ObserverModule(observer)
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    parts = trainer.predict(module, datamodule=dm)
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    df = pd.DataFrame(cols).sort_values("index").reset_index(drop=True)
    return df.drop(columns="index"), module.forward_passes

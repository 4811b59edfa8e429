"""The Lightning module that turns a network and a decision rule into trial-table rows."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter

from psychobench.lightning.data import normalize
from psychobench.models.vision import VisionNet
from psychobench.stimuli.manifest import StimulusSet


class ObserverModule(pl.LightningModule):
    """``predict_step`` runs the network on a batch and applies the decision rule.

    Returns per batch a dict: ``index`` (manifest rows), ``scores`` (batch, n_categories, float64)
    and ``response`` (category names).  :meth:`forward_passes` counts network calls.
    """

    def __init__(self, net: VisionNet, rule):
        super().__init__()
        self.net = net.module
        self.preprocessing = net.preprocessing
        self.rule = rule
        self.forward_passes = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.forward_passes += 1
        return self.net(x.contiguous(memory_format=torch.channels_last))

    def predict_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> dict:
        index, pixels = batch
        with torch.inference_mode():
            logits = self(normalize(pixels, self.preprocessing))
        scores = self.rule.scores(logits.float())
        return {"index": index.cpu().numpy(), "scores": scores.cpu().numpy(),
                "response": self.rule.decide(scores)}


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
        cat = (lambda k: np.concatenate([p[k] for p in predictions])) if predictions else \
            (lambda k: np.zeros(0))
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".shard-{trainer.global_rank}.tmp.npz"
        np.savez(tmp, index=cat("index").astype(np.int64), scores=cat("scores"),
                 response=cat("response").astype(str),
                 forward_passes=np.int64(getattr(pl_module, "forward_passes", 0)))
        os.replace(tmp, self.folder / f"shard-{trainer.global_rank}.npz")


def read_shards(folder: str | os.PathLike, world_size: int) -> tuple[list[dict], int]:
    """The outputs :class:`ShardWriter` wrote, as ``predict_step`` dicts, and the forward passes
    of all processes.  A missing shard (a process that failed) is an error naming it."""
    folder = Path(folder)
    outputs, passes = [], 0
    for rank in range(world_size):
        f = folder / f"shard-{rank}.npz"
        if not f.is_file():
            raise RuntimeError(f"{f}: process {rank} of {world_size} wrote no answers")
        with np.load(f) as z:
            if z["index"].size:                                  # a process may get no stimuli
                outputs.append({"index": z["index"], "scores": z["scores"], "response": z["response"]})
            passes += int(z["forward_passes"])
    return outputs, passes


def trial_table(stimuli: StimulusSet, outputs: list[dict], *, subject: str,
                categories: tuple[str, ...]) -> pd.DataFrame:
    """Assemble predict outputs into a trial table in manifest order (one session, one trial
    per stimulus).  Adds ``p_true`` and one ``p_<category>`` column per category.

    Outputs of several processes may repeat a stimulus (a distributed sampler pads the shards
    to equal length); the first answer is kept.  Every stimulus must be answered."""
    index = np.concatenate([o["index"] for o in outputs])
    scores = np.concatenate([o["scores"] for o in outputs])
    response = np.concatenate([o["response"] for o in outputs])
    uniq, first = np.unique(index, return_index=True)
    n = len(stimuli.manifest)
    if len(uniq) != n or (n and (uniq[0] != 0 or uniq[-1] != n - 1)):
        missing = np.setdiff1d(np.arange(n), uniq)
        raise RuntimeError(f"{stimuli.name}: prediction answered {len(uniq)} of {n} stimuli"
                           + (f" (first missing: manifest row {int(missing[0])})" if missing.size else ""))
    scores, response = scores[first], response[first]
    man = stimuli.manifest.reset_index(drop=True)
    cat_idx = pd.Index(categories).get_indexer(man["category"])
    if (cat_idx < 0).any():
        bad = man["category"][cat_idx < 0].iloc[0]
        raise ValueError(f"{stimuli.name}: category {bad!r} is not an answer of the decision rule")
    table = pd.DataFrame({
        "experiment": stimuli.name,
        "subject": subject,
        "session": np.ones(len(man), dtype=np.int64),
        "trial": np.arange(1, len(man) + 1, dtype=np.int64),
        "stimulus_id": man["stimulus_id"].astype(str),
        "condition": man["condition"].astype(str),
        "category": man["category"].astype(str),
        "response": response.astype(str),
        "correct": response.astype(str) == man["category"].to_numpy(dtype=str),
        "rt": np.nan,
    })
    names = man["imagename"] if "imagename" in man.columns else man["stimulus_id"]
    table["imagename"] = names.astype(str)
    table["p_true"] = scores[np.arange(len(man)), cat_idx]
    for k, cat in enumerate(categories):
        table[f"p_{cat}"] = scores[:, k]
    for extra in ("level", "texture"):
        if extra in man.columns:
            table[extra] = man[extra].to_numpy()
    return table

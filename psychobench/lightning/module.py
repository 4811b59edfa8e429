"""The Lightning module that turns a network and a decision rule into trial-table rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

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


def trial_table(stimuli: StimulusSet, outputs: list[dict], *, subject: str,
                categories: tuple[str, ...]) -> pd.DataFrame:
    """Assemble predict outputs into a trial table in manifest order (one session, one trial
    per stimulus).  Adds ``p_true`` and one ``p_<category>`` column per category."""
    index = np.concatenate([o["index"] for o in outputs])
    scores = np.concatenate([o["scores"] for o in outputs])
    response = np.concatenate([o["response"] for o in outputs])
    if sorted(index.tolist()) != list(range(len(stimuli.manifest))):
        raise RuntimeError("prediction did not return exactly one answer per stimulus")
    order = np.argsort(index)
    scores, response = scores[order], response[order]
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

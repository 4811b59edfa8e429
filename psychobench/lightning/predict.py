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

from psychobench.errors import SettingError
from psychobench.data.answers import AnswerSpace
from psychobench.data.io import cache_dir
from psychobench.stimuli.manifest import StimulusSet

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
        raise SettingError(f"trainer.devices: cannot read {devices!r} (an int, a list or -1)") from None


@dataclass
class Predictor:
    """The ``trainer`` config group (``_target_: psychobench.lightning.predict.Predictor``)."""

    accelerator: str = "auto"
    devices: Any = 1
    strategy: str = "auto"
    precision: str = "32-true"
    batch_size: Any = 32
    num_workers: int = 1
    progress_bar: bool = True
    decoded_cache: bool = True
    checkpoint_every: Any = 512

    def __post_init__(self):
        if str(self.batch_size).strip().lower() == "auto":
            self.batch_size = "auto"
        else:
            try:
                self.batch_size = int(self.batch_size)
            except (TypeError, ValueError):
                raise SettingError(f"trainer.batch_size must be a positive integer or auto, "
                                   f"got {self.batch_size!r}") from None
            if self.batch_size < 1:
                raise SettingError(f"trainer.batch_size must be >= 1, got {self.batch_size}")
        if self.checkpoint_every is not None:
            try:
                self.checkpoint_every = int(self.checkpoint_every)
            except (TypeError, ValueError):
                raise SettingError(f"trainer.checkpoint_every must be a positive integer or null, "
                                   f"got {self.checkpoint_every!r}") from None
            if self.checkpoint_every < 1:
                raise SettingError(f"trainer.checkpoint_every must be >= 1 (or null: no checkpoints), "
                                   f"got {self.checkpoint_every}")
        if not isinstance(self.decoded_cache, bool):
            raise SettingError(f"trainer.decoded_cache must be true or false, got {self.decoded_cache!r}")
        self.forward_seconds = 0.0           # time in the observer's answer calls, this object's runs
        self.images = 0
        try:
            self.num_workers = int(self.num_workers)
        except (TypeError, ValueError):
            raise SettingError(f"trainer.num_workers must be an integer, got {self.num_workers!r}") from None
        if self.num_workers < 0:
            raise SettingError(f"trainer.num_workers must be >= 0, got {self.num_workers}")
        self.precision = str(self.precision)
        if self.precision not in PRECISIONS:
            raise SettingError(f"trainer.precision={self.precision!r}; known: {', '.join(PRECISIONS)}")
        if hasattr(self.devices, "__iter__") and not isinstance(self.devices, str):
            self.devices = list(self.devices)
        n_devices(self.devices, self.accelerator)              # readable, or a clear error

    def identity(self) -> dict:
        """The settings that can change an answer (numerics): precision.  (Batch size and
        checkpoints do not: observers answer each stimulus on its own.)"""
        return {"precision": self.precision}

    def chunk_size(self, observer) -> int | None:
        """Stimuli per checkpoint of a long prediction (:func:`~psychobench.results.pipeline.answers_for`):
        ``checkpoint_every`` rounded up to a whole number of batches, so that every batch holds
        the stimuli it would hold in one pass; None without checkpoints."""
        if self.checkpoint_every is None:
            return None
        b = self.resolve_batch_size(observer)
        return -(-self.checkpoint_every // b) * b

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
        batch_size = self.resolve_batch_size(observer)
        dm = StimulusDataModule(stimuli, observer.preprocessing, batch_size=batch_size,
                                num_workers=self.num_workers, decoded=self.decoded_cache,
                                progress=bool(self.progress_bar))
        multi = n_devices(self.devices, self.accelerator) > 1
        if self.decoded_cache and isinstance(stimuli, StimulusSet):
            from psychobench.stimuli.decoded import decode_set

            decode_set(stimuli, observer.preprocessing, progress=bool(self.progress_bar))   # once, before any spawn
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
            self.forward_seconds += module.forward_seconds
            self.images += len(stimuli.manifest)
            if multi:
                outputs, passes = read_shards(shard_dir, trainer.world_size)
        finally:
            if shard_dir is not None:
                shutil.rmtree(shard_dir, ignore_errors=True)
        return outputs, passes

    def resolve_batch_size(self, observer) -> int:
        """``trainer.batch_size``, with ``auto`` resolved: on a GPU, the largest power of two
        (up to 1024) at which the observer's network answers a batch in memory; elsewhere 32."""
        if self.batch_size != "auto":
            return int(self.batch_size)
        import torch

        gpu = str(self.accelerator) in ("auto", "gpu", "cuda") and torch.cuda.is_available()
        net = observer.torch_module() if hasattr(observer, "torch_module") else None
        size = getattr(getattr(observer, "preprocessing", None), "size", None)
        if not gpu or not isinstance(net, torch.nn.Module) or size is None:
            return 32
        import weakref

        memo = self.__dict__.setdefault("_largest", weakref.WeakKeyDictionary())   # one probe per network,
        if net not in memo:                                                         # not one per checkpoint
            memo[net] = largest_batch(net, tuple(size), self.precision)
        return memo[net]


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


def largest_batch(net, size: tuple[int, int], precision: str = "32-true", limit: int = 1024) -> int:
    """The largest power of two <= ``limit`` at which ``net`` runs a forward pass of
    ``(batch, 3, H, W)`` on the current CUDA device (doubling from 1 until it runs out of
    memory; the probe runs the same forward pass at the run's precision)."""
    import torch

    dev = torch.device("cuda")
    was = next(net.parameters()).device if any(True for _ in net.parameters()) else torch.device("cpu")
    net = net.to(dev)
    dtype = {"16-mixed": torch.float16, "bf16-mixed": torch.bfloat16, "16-true": torch.float16,
             "bf16-true": torch.bfloat16}.get(str(precision))
    fits, b = 0, 1
    try:
        while b <= limit:
            try:
                x = torch.zeros((b, 3, *size), device=dev).contiguous(memory_format=torch.channels_last)
                with torch.inference_mode(), torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
                    net(x)
                torch.cuda.synchronize()
                fits = b
                b *= 2
            except torch.cuda.OutOfMemoryError:
                break
            finally:
                x = None
                torch.cuda.empty_cache()
    finally:
        net.to(was)
    if fits == 0:
        raise SettingError("trainer.batch_size=auto: not even one stimulus fits the GPU's memory")
    log.info("trainer.batch_size=auto: %d", fits)
    return fits


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

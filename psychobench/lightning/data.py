"""One Lightning data module for every stimulus set: image files and waveforms alike.

Images are decoded, converted to RGB and resized to the observer's input size WITHOUT cropping
(the network sees the whole stimulus, as people did); they travel as uint8 and are normalised
batched inside the observer (4x less data between processes).  :func:`read_pixels` is the one
place images are decoded, so a bare forward pass in a test or benchmark sees exactly what a run
sees.  Waveforms come from a :class:`~psychobench.stimuli.waveforms.WaveformSet`, resampled to
the observer's rate where needed and, for observers that take clips of fixed length, centred in
a clip of that length.

Every batch is a dict: ``index`` (positions in the manifest), ``pixels`` (uint8 ``(B, 3, H,
W)``) or ``waves`` (float32 ``(B, [intervals,] samples)``, or a list where lengths differ), and
``targets`` (the true categories, for observers that score the target).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset

from psychobench.errors import SettingError
from psychobench.models.base import AudioInput, Preprocessing
from psychobench.models.vision import normalize
from psychobench.stimuli.images import StimulusError
from psychobench.stimuli.manifest import StimulusSet
from psychobench.stimuli.waveforms import WaveformSet

_PIL_INTERP = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR,
               "nearest": Image.Resampling.NEAREST, "lanczos": Image.Resampling.LANCZOS}


def read_pixels(path: str | Path, pre: Preprocessing) -> torch.Tensor:
    """Decode one image file -> uint8 tensor (3, H, W) at the network's input size."""
    try:
        with Image.open(path) as im:
            im.load()
            rgb = im.convert("RGB")
    except (OSError, UnidentifiedImageError, SyntaxError) as e:
        raise StimulusError(f"{path}: cannot read image ({e})") from e
    h, w = pre.size
    if rgb.size != (w, h):
        rgb = rgb.resize((w, h), _PIL_INTERP.get(pre.interpolation, Image.Resampling.BICUBIC))
    return torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)


def load_image(path: str | Path, pre: Preprocessing) -> torch.Tensor:
    """One image as the network sees it: normalised float32 (3, H, W)."""
    return normalize(read_pixels(path, pre), pre)


class ManifestImages(Dataset):
    """Images of a stimulus set, in manifest order: items are ``(index, uint8 pixels, target)``."""

    def __init__(self, stimuli: StimulusSet, pre: Preprocessing):
        self.paths = [str(p) for p in stimuli.paths()]
        self.targets = stimuli.manifest["category"].astype(str).tolist()
        self.pre = pre

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        return i, read_pixels(self.paths[i], self.pre), self.targets[i]


def fit_clip(x: np.ndarray, n: int) -> np.ndarray:
    """Centre ``x`` (..., samples) in ``n`` samples: zero-pad both sides or cut both ends."""
    m = x.shape[-1]
    if m == n:
        return x
    if m < n:
        a = (n - m) // 2
        pad = [(0, 0)] * (x.ndim - 1) + [(a, n - m - a)]
        return np.pad(x, pad)
    a = (m - n) // 2
    return x[..., a:a + n]


class Waveforms(Dataset):
    """Waveforms of a set as the observer hears them: items ``(index, float32 array, target)``."""

    def __init__(self, stimuli: WaveformSet, pre: AudioInput):
        self.stimuli, self.pre = stimuli, pre
        self.targets = stimuli.manifest["category"].astype(str).tolist()
        self.n = int(round(pre.clip_s * pre.fs)) if pre.clip_s else None

    def __len__(self) -> int:
        return len(self.stimuli)

    def __getitem__(self, i: int):
        x = self.stimuli.wave(i)
        if int(self.stimuli.fs) != int(self.pre.fs):
            from psychobench.stimuli.audio.signal import resample
            x = resample(x, int(self.stimuli.fs), int(self.pre.fs)).astype(np.float32)
        if self.n is not None:
            x = fit_clip(x, self.n)
        return i, torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), self.targets[i]


class DecodedImages(Dataset):
    """A set's decoded images (:func:`psychobench.stimuli.decoded.decode_set`), served a whole
    batch per item: item ``k`` is batch ``k``, one slice copy of the memory-mapped array, with no
    per-image Python work (use with ``DataLoader(batch_size=None)``)."""

    def __init__(self, pixels: np.ndarray, targets: list[str], batch_size: int):
        self.pixels, self.targets, self.batch_size = pixels, targets, int(batch_size)

    def __len__(self) -> int:
        return -(-len(self.pixels) // self.batch_size)

    def __getitem__(self, k: int) -> dict:
        a = k * self.batch_size
        b = min(len(self.pixels), a + self.batch_size)
        return {"index": torch.arange(a, b, dtype=torch.long),
                "pixels": torch.from_numpy(np.array(self.pixels[a:b])),      # one copy out of the map
                "targets": self.targets[a:b]}


def _as_batch(batch: dict) -> dict:
    return batch                      # DecodedImages items are batches already


def collate(items) -> dict:
    idx, data, targets = zip(*items)
    out = {"index": torch.as_tensor(idx, dtype=torch.long), "targets": list(targets)}
    key = "pixels" if data[0].dtype == torch.uint8 else "waves"
    same = all(d.shape == data[0].shape for d in data)
    out[key] = torch.stack(data) if same else list(data)
    return out


def _worker_init(_: int) -> None:
    # Decoding is single-threaded work; leave the cores' thread pools to the network.
    torch.set_num_threads(1)


class StimulusDataModule(pl.LightningDataModule):
    """Prediction-only data module over one stimulus set (image files or waveforms)."""

    def __init__(self, stimuli: StimulusSet | WaveformSet, preprocessing: Preprocessing | AudioInput,
                 batch_size: int = 32, num_workers: int = 1, pin_memory: bool | None = None,
                 decoded: bool = True, progress: bool = True):
        super().__init__()
        if int(batch_size) < 1:
            raise SettingError(f"trainer.batch_size must be >= 1, got {batch_size}")
        self.stimuli = stimuli
        self.preprocessing = preprocessing
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        # pinned host memory lets Lightning copy batches to the GPU with non_blocking=True
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.decoded = bool(decoded)
        self.progress = bool(progress)

    def dataset(self) -> Dataset:
        if isinstance(self.stimuli, WaveformSet):
            if not isinstance(self.preprocessing, AudioInput):
                raise ValueError(f"{self.stimuli.name}: sounds need a hearing observer")
            return Waveforms(self.stimuli, self.preprocessing)
        if not isinstance(self.preprocessing, Preprocessing):
            raise ValueError(f"{self.stimuli.name}: images need a seeing observer")
        return ManifestImages(self.stimuli, self.preprocessing)

    def predict_dataloader(self) -> DataLoader:
        ds = self.dataset()
        if self.decoded and isinstance(ds, ManifestImages):
            from psychobench.stimuli.decoded import decode_set

            pixels = decode_set(self.stimuli, self.preprocessing, progress=self.progress)
            return DataLoader(DecodedImages(pixels, ds.targets, self.batch_size), batch_size=None,
                              shuffle=False, num_workers=0, collate_fn=_as_batch,
                              pin_memory=self.pin_memory)
        workers = self.num_workers if isinstance(ds, ManifestImages) else 0   # waveforms are in memory
        return DataLoader(ds, batch_size=self.batch_size, shuffle=False, num_workers=workers,
                          collate_fn=collate, persistent_workers=False,
                          prefetch_factor=4 if workers > 0 else None,
                          worker_init_fn=_worker_init if workers > 0 else None,
                          pin_memory=self.pin_memory)

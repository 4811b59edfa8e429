"""Lightning data: a stimulus set's manifest as a :class:`LightningDataModule` for prediction.

Each image is decoded, converted to RGB, resized to the network's input size WITHOUT cropping
(the network sees the whole stimulus, as people did) and normalised with the network's own
mean and std.  :func:`load_image` is the one place this happens, so a bare forward pass in a test
or benchmark sees exactly what the Lightning run sees.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset

from psychobench.models.vision import Preprocessing
from psychobench.stimuli.images import StimulusError
from psychobench.stimuli.manifest import StimulusSet

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


def normalize(pixels: torch.Tensor, pre: Preprocessing) -> torch.Tensor:
    """uint8 pixels (..., 3, H, W) -> float32 ``(x / 255 - mean) / std`` (batched, on any device)."""
    mean = torch.tensor(pre.mean, dtype=torch.float32, device=pixels.device)[:, None, None]
    std = torch.tensor(pre.std, dtype=torch.float32, device=pixels.device)[:, None, None]
    return (pixels.float().div_(255.0) - mean).div_(std)


def load_image(path: str | Path, pre: Preprocessing) -> torch.Tensor:
    """One image as the network sees it: normalised float32 (3, H, W)."""
    return normalize(read_pixels(path, pre), pre)


class ManifestImages(Dataset):
    """Images of a stimulus set, in manifest order: items are ``(index, uint8 pixels)``;
    normalisation happens batched in the module (4x less data between processes)."""

    def __init__(self, stimuli: StimulusSet, pre: Preprocessing):
        self.paths = [str(p) for p in stimuli.paths()]
        self.pre = pre

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        return i, read_pixels(self.paths[i], self.pre)


def _worker_init(_: int) -> None:
    # Decoding is single-threaded work; leave the cores' thread pools to the network.
    torch.set_num_threads(1)


class StimulusDataModule(pl.LightningDataModule):
    """Prediction-only data module over one stimulus set."""

    def __init__(self, stimuli: StimulusSet, preprocessing: Preprocessing, batch_size: int = 32,
                 num_workers: int = 1):
        super().__init__()
        self.stimuli = stimuli
        self.preprocessing = preprocessing
        self.batch_size = batch_size
        self.num_workers = num_workers

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(
            ManifestImages(self.stimuli, self.preprocessing), batch_size=self.batch_size,
            shuffle=False, num_workers=self.num_workers,
            persistent_workers=False, prefetch_factor=4 if self.num_workers > 0 else None,
            worker_init_fn=_worker_init if self.num_workers > 0 else None,
            pin_memory=torch.cuda.is_available())

"""New texture/shape cue-conflict images: the shape of one category filled with the texture of another.

Shapes are the published filled silhouettes of Geirhos et al. (2019) (registry data set
``stimuli/silhouette``: 160 black-on-white 224 x 224 images, ``<category><k>.png``); the grey
level gives an opacity ``alpha = 1 - L / 255`` (antialiased edges kept).  Textures are crops of
base photographs (default: the centre ``crop`` x ``crop`` px of each 224 x 224 image of the
ImageNet sample base, where the object is) made seamless and stretched to 224 x 224 by texture
synthesis:

- ``quilting`` (default): image quilting (Efros & Freeman 2001, SIGGRAPH): blocks of ``block`` px
  laid in raster order with ``overlap`` px overlaps; each block is drawn at random among the
  sample's blocks whose summed squared difference over the overlap is within ``1 + tolerance``
  of the best, and joined along the minimum-error boundary cut (dynamic programming over the
  overlap's squared difference).  The overlap errors of all candidate blocks come from FFT
  correlations (numpy/scipy), so one 224 x 224 texture takes about 0.1 s.
- ``portilla-simoncelli``: a metamer of the crop's Portilla-Simoncelli statistics (plenoptic),
  the colour channels as a batch; slow (seconds per 100 iterations): not the default.

The stimulus is ``alpha * texture + (1 - alpha) * white``.  File names are
``<shape><k>-<texture><j>.png`` (k: the silhouette's number, j: 1-based rank of the texture
photograph among its category's base images), as the published cue-conflict images, so
model-vs-human's shape-bias analysis reads the texture from the name; the manifest also has the
``texture`` column (``category`` is the shape).  Seeded: each texture is synthesised with a
generator seeded by ``(seed, source id)`` and the pairing by ``seed``; the same seed regenerates
the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import fft as sfft

from psychobench.data.categories import CATEGORIES

from .bases import DEFAULT_BASE, BaseSet, load_base
from .images import StimulusError, decode_image, encode_png
from psychobench.data.io import sha256_bytes

from .manifest import (StimulusSet, cached_set, output_folder, read_manifest, staging,
                       write_manifest)

#: Bumped whenever generated pixels change for the same parameters.
CUE_CONFLICT_VERSION = "1"
SIZE = 224
METHODS = ("quilting", "portilla-simoncelli")


def _rng(seed: int, *tokens: str) -> np.random.Generator:
    k = int.from_bytes(hashlib.sha256("|".join(tokens).encode()).digest()[:8], "little")
    return np.random.default_rng([int(seed), k])


# ---------------------------------------------------------------------------------------------
# image quilting


def _min_cut(err: np.ndarray) -> np.ndarray:
    """Minimum-error vertical path through ``err`` (rows, cols) -> boolean mask (rows, cols),
    True left of the path (where the existing image is kept)."""
    rows, cols = err.shape
    cost = err.astype(np.float64).copy()
    for i in range(1, rows):                 # DP over rows (block height, ~32 steps)
        prev = cost[i - 1]
        left = np.concatenate(([np.inf], prev[:-1]))
        right = np.concatenate((prev[1:], [np.inf]))
        cost[i] += np.minimum(np.minimum(left, prev), right)
    path = np.empty(rows, dtype=np.int64)
    path[-1] = int(np.argmin(cost[-1]))
    for i in range(rows - 2, -1, -1):
        j = path[i + 1]
        lo, hi = max(j - 1, 0), min(j + 2, cols)
        path[i] = lo + int(np.argmin(cost[i, lo:hi]))
    return np.arange(cols)[None, :] < path[:, None]


class _Correlator:
    """Sum over a masked template of squared differences to every block of a sample, by FFT."""

    def __init__(self, sample: np.ndarray, block: int):
        self.s = sample                                   # (H, W, C) float64
        h, w = sample.shape[:2]
        self.block = block
        self.shape = (sfft.next_fast_len(h + block - 1), sfft.next_fast_len(w + block - 1))
        self.fs = sfft.rfft2(sample, s=self.shape, axes=(0, 1))
        self.fs2 = sfft.rfft2((sample ** 2).sum(2), s=self.shape)
        self.valid = (h - block + 1, w - block + 1)
        self._mask_cache: dict[bytes, np.ndarray] = {}

    def _corr(self, f_sample: np.ndarray, template: np.ndarray) -> np.ndarray:
        """Valid cross-correlation of the sample (via its FFT) with ``template`` (B, B[, C])."""
        t = template[::-1, ::-1]
        ft = sfft.rfft2(t, s=self.shape, axes=(0, 1))
        prod = f_sample * ft
        if prod.ndim == 3:
            prod = prod.sum(2)
        full = sfft.irfft2(prod, s=self.shape)
        b = self.block
        return full[b - 1:b - 1 + self.valid[0], b - 1:b - 1 + self.valid[1]]

    def ssd(self, template: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """SSD over ``mask`` (B, B) between ``template`` (B, B, C) and every block -> (H-B+1, W-B+1)."""
        key = mask.tobytes()
        if key not in self._mask_cache:
            self._mask_cache[key] = self._corr(self.fs2, mask.astype(np.float64))
        m = mask[..., None]
        return np.maximum(self._mask_cache[key] - 2 * self._corr(self.fs, template * m)
                          + float((template ** 2 * m).sum()), 0.0)


def quilt(sample: np.ndarray, size: int = SIZE, *, block: int = 32, overlap: int = 8,
          tolerance: float = 0.1, rng: np.random.Generator | None = None) -> np.ndarray:
    """Image quilting: a seamless (size, size, C) texture from ``sample`` (H, W, C) floats.

    Efros & Freeman (2001): raster order, overlap error within ``1 + tolerance`` of the minimum,
    minimum-error boundary cuts.  ``rng`` picks among the candidate blocks."""
    s = np.asarray(sample, dtype=np.float64)
    if s.ndim == 2:
        s = s[..., None]
    if min(s.shape[:2]) < block:
        raise StimulusError(f"texture sample of {s.shape[1]}x{s.shape[0]} px is smaller than the "
                            f"{block} px quilting block")
    if not 0 < overlap < block:
        raise StimulusError(f"quilting overlap must be in (0, block); got {overlap}")
    rng = rng if rng is not None else np.random.default_rng(0)
    step = block - overlap
    n = int(np.ceil((size - overlap) / step))
    canvas_n = n * step + overlap
    out = np.zeros((canvas_n, canvas_n, s.shape[2]))
    cor = _Correlator(s, block)
    for bi in range(n):
        for bj in range(n):
            y, x = bi * step, bj * step
            if bi == 0 and bj == 0:
                u = rng.integers(cor.valid[0])
                v = rng.integers(cor.valid[1])
                out[:block, :block] = s[u:u + block, v:v + block]
                continue
            mask = np.zeros((block, block), dtype=bool)
            if bj > 0:
                mask[:, :overlap] = True
            if bi > 0:
                mask[:overlap, :] = True
            tpl = out[y:y + block, x:x + block]
            err = cor.ssd(tpl, mask)
            best = err.min()
            cand = np.flatnonzero(err.ravel() <= best * (1 + tolerance) + 1e-12)
            u, v = np.unravel_index(cand[rng.integers(cand.size)], err.shape)
            patch = s[u:u + block, v:v + block]
            keep = np.zeros((block, block), dtype=bool)      # True: keep what is already there
            d = ((patch - tpl) ** 2).sum(2)
            if bj > 0:
                keep[:, :overlap] |= _min_cut(d[:, :overlap])
            if bi > 0:
                keep[:overlap, :] |= _min_cut(d[:overlap, :].T).T
            out[y:y + block, x:x + block] = np.where(keep[..., None], tpl, patch)
    return out[:size, :size]


# ---------------------------------------------------------------------------------------------
# Portilla-Simoncelli (optional, slow)


def portilla_simoncelli(sample: np.ndarray, size: int = 128, *, iterations: int = 300,
                        seed: int = 0) -> np.ndarray:
    """A (size, size, C) metamer of the Portilla-Simoncelli statistics of ``sample`` (its
    centre ``size`` x ``size`` crop), one channel at a time, from seeded noise (plenoptic's
    ``Metamer``; 1000+ iterations converge; ``size`` must be divisible by 2**4)."""
    import plenoptic as po
    import torch

    s = np.asarray(sample, dtype=np.float64)
    if s.ndim == 2:
        s = s[..., None]
    h, w = s.shape[:2]
    if min(h, w) < size:
        raise StimulusError(f"texture sample of {w}x{h} px is smaller than {size} px")
    t, l = (h - size) // 2, (w - size) // 2
    crop = s[t:t + size, l:l + size]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(int(seed))
    img = torch.tensor(np.moveaxis(crop, 2, 0)[:, None], dtype=torch.float32)   # (C, 1, size, size)
    mean = img.mean(dim=(2, 3), keepdim=True)
    init = (torch.rand(img.shape, generator=gen) * 0.2 + mean - 0.1).clamp(0, 1)
    met = po.Metamer(img, po.models.PortillaSimoncelli((size, size)), loss_function=po.loss.l2_norm)
    met.setup(initial_image=init)
    met.synthesize(max_iter=iterations, store_progress=False)
    out = np.moveaxis(met.metamer.detach().numpy()[:, 0].astype(np.float64), 0, 2)
    return np.clip(out, 0, 1)


# ---------------------------------------------------------------------------------------------
# the stimulus set


def load_silhouettes(categories=CATEGORIES, limit: int | None = None) -> list[tuple[str, int, np.ndarray]]:
    """The published silhouettes -> [(category, k, alpha (224, 224) float in [0, 1])], sorted by
    category and k; ``limit`` keeps the first ``limit`` (smallest k) per category."""
    from psychobench.data.registry import fetch_dataset

    root = fetch_dataset("stimuli/silhouette", progress=False)
    out = []
    for cat in categories:
        files = []
        for f in (root / cat).glob("*.png"):
            m = re.fullmatch(rf"{cat}(\d+)", f.stem)
            if m is None:
                raise StimulusError(f"{f}: not a silhouette name <category><k>.png")
            files.append((int(m.group(1)), f))
        for k, f in sorted(files)[:limit]:
            img = decode_image(f)
            lum = img if img.ndim == 2 else img.astype(np.float64) @ np.array([0.2125, 0.7154, 0.0721])
            if lum.shape != (SIZE, SIZE):
                raise StimulusError(f"{f}: wrong size {lum.shape[1]}x{lum.shape[0]}; silhouettes are 224x224")
            out.append((cat, k, 1.0 - np.asarray(lum, dtype=np.float64) / 255.0))
    if not out:
        raise StimulusError(f"{root}: no silhouettes")
    return out


def synthesise_texture(image: np.ndarray, *, method: str = "quilting", crop: int = 112,
                       seed: int = 0, source_id: str = "", iterations: int = 300,
                       block: int = 32, overlap: int = 8) -> np.ndarray:
    """A seamless 224 x 224 x 3 texture in [0, 1] from the centre ``crop`` px of ``image``
    (uint8 (224, 224[, 3]))."""
    x = np.asarray(image, dtype=np.float64) / 255.0
    if x.ndim == 2:
        x = np.repeat(x[..., None], 3, 2)
    h, w = x.shape[:2]
    t, l = (h - crop) // 2, (w - crop) // 2
    if t < 0 or l < 0:
        raise StimulusError(f"{source_id}: image of {w}x{h} px is smaller than the {crop} px crop")
    sample = x[t:t + crop, l:l + crop]
    if method == "quilting":
        return quilt(sample, SIZE, block=block, overlap=overlap, rng=_rng(seed, "texture", source_id))
    if method == "portilla-simoncelli":
        ps = portilla_simoncelli(sample, 128 if crop >= 128 else 64, iterations=iterations,
                                 seed=int(_rng(seed, "ps", source_id).integers(2 ** 31)))
        reps = int(np.ceil(SIZE / ps.shape[0]))      # PS metamers are periodic: tile seamlessly
        return np.tile(ps, (reps, reps, 1))[:SIZE, :SIZE]
    raise StimulusError(f"texture method must be one of {METHODS}; got {method!r}")


def compose(alpha: np.ndarray, texture: np.ndarray, background: float = 1.0) -> np.ndarray:
    """``alpha * texture + (1 - alpha) * background`` -> uint8 (224, 224, 3) (rounded)."""
    y = alpha[..., None] * texture + (1.0 - alpha[..., None]) * background
    return (np.clip(y, 0, 1) * 255 + 0.5).astype(np.uint8)


def pairings(shapes: list[tuple[str, int]], textures: dict[str, list[str]], per_shape: int,
             seed: int) -> list[tuple[str, int, str, int]]:
    """(shape cat, k, texture cat, j) for every shape: ``per_shape`` distinct texture
    categories other than the shape's, drawn with ``seed``, each with a random exemplar j."""
    out = []
    for cat, k in shapes:
        others = [c for c in sorted(textures) if c != cat and textures[c]]
        if per_shape > len(others):
            raise StimulusError(f"{per_shape} textures per shape, but only {len(others)} texture "
                                f"categories other than {cat!r}")
        rng = _rng(seed, "pair", cat, str(k))
        for t in sorted(rng.choice(len(others), per_shape, replace=False)):
            tc = others[int(t)]
            out.append((cat, k, tc, int(rng.integers(len(textures[tc]))) + 1))
    return out


def make_cue_conflict(out: str | Path | None = None, *, seed: int = 0, base: str | None = None,
                      method: str = "quilting", per_shape: int = 8, limit: int | None = None,
                      crop: int = 112, iterations: int = 300) -> StimulusSet:
    """Materialise the synthetic cue-conflict set ("cue-conflict-synth").

    ``base``: texture photographs (:func:`psychobench.stimuli.bases.load_base`; default the
    ImageNet samples); ``per_shape``: textures per silhouette (8: 160 x 8 = 1280 images, as many
    as the published set); ``limit``: silhouettes per category.  Writes
    ``<shape>/<shape><k>-<texture><j>.png`` and a manifest (``category`` = shape, ``texture``,
    ``params`` with both cues and the texture's source photograph).  Cached in the user cache
    unless ``out`` is given."""
    if method not in METHODS:
        raise StimulusError(f"texture method must be one of {METHODS}; got {method!r}")
    bset: BaseSet = load_base(base or DEFAULT_BASE)
    by_cat: dict[str, list] = {}
    for b in bset.images:
        by_cat.setdefault(b.category, []).append(b)
    for c in by_cat:
        by_cat[c].sort(key=lambda b: b.source_id)
    sil = load_silhouettes(limit=limit)
    pairs = pairings([(c, k) for c, k, _ in sil], {c: [b.source_id for b in v] for c, v in by_cat.items()},
                     per_shape, seed)
    key = hashlib.sha256(json.dumps({
        "base": bset.key(), "seed": int(seed), "method": method, "per_shape": per_shape,
        "limit": limit, "crop": crop, "iterations": iterations if method != "quilting" else None,
        "version": CUE_CONFLICT_VERSION}, sort_keys=True).encode()).hexdigest()
    final, done = output_folder("cue-conflict-synth", key, out)
    if done is not None:
        return done
    with staging(final) as tmp:
        alphas = {(c, k): a for c, k, a in sil}
        textures: dict[tuple[str, int], np.ndarray] = {}
        for _, _, tc, j in pairs:
            if (tc, j) not in textures:
                b = by_cat[tc][j - 1]
                textures[(tc, j)] = synthesise_texture(b.image, method=method, crop=crop, seed=seed,
                                                       source_id=b.source_id, iterations=iterations)
        rows, pix = [], hashlib.sha256()
        for c, k, tc, j in pairs:
            img = compose(alphas[(c, k)], textures[(tc, j)])
            name = f"{c}{k}-{tc}{j}.png"
            (tmp / c).mkdir(exist_ok=True)
            data = encode_png(img)
            (tmp / c / name).write_bytes(data)
            pix.update(name.encode() + b"\n" + img.tobytes())
            src = by_cat[tc][j - 1]
            rows.append({"stimulus_id": name[:-4], "path": f"{c}/{name}", "condition": "0",
                         "category": c, "params": json.dumps({
                             "shape": c, "texture": tc, "shape_image": f"{c}{k}.png",
                             "texture_source": src.source_id, "method": method, "crop": crop,
                             "seed": int(seed)}, sort_keys=True),
                         "sha256": sha256_bytes(data), "imagename": name, "texture": tc})
        df = pd.DataFrame(rows)
        info = {"name": "cue-conflict-synth", "key": key, "pixel_key": pix.hexdigest(), "n": len(df),
                "base": bset.name, "method": method, "seed": int(seed), "version": CUE_CONFLICT_VERSION}
        (tmp / "set.json").write_text(json.dumps(info, indent=1, sort_keys=True))
        write_manifest(df, tmp)
    return read_manifest(final, name="cue-conflict-synth")


def cue_conflict_set(seed: int = 0, base: str | None = None, method: str = "quilting",
                     per_shape: int = 8, limit: int | None = None, crop: int = 112,
                     cache: str | None = None) -> StimulusSet:
    """Hydra factory (``_target_: psychobench.stimuli.cueconflict.cue_conflict_set``)."""
    done = cached_set(Path(cache), "cue-conflict-synth") if cache is not None else None
    if done is not None:
        return done
    return make_cue_conflict(cache, seed=seed, base=base, method=method, per_shape=per_shape,
                             limit=limit, crop=crop)

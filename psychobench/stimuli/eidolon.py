"""Eidolon "partially coherent disarray" (Koenderink et al. 2017), as used by Geirhos et al. 2018.

A re-implementation, from its description (the Eidolon toolbox,
gestaltrevision/Eidolon, with its PR #1 coherence formula, driven by GHD ``code/wrapper.py``);
no code copied.  Steps (for one image):

1. uint8 image -> Lanczos resize so the long side is 256 -> PIL grey ``L``.
2. Embed in a 512 x 512 plane; mirror the outer 128 columns left/right, then the adjacent
   128 rows up/down.
3. 12 scales sigma_k = 2 ** ((k - 1) / 2), k = 0..11 (0.707 ... 32 px).
4. Blur: circular convolution with a sampled Gaussian (each axis scaled by 1/(sqrt(2 pi) sigma),
   offsets wrapped) done as a 1-D FFT convolution of the row-major flattened plane and kernel
   (so taps left of centre land one row lower, as in the toolbox).
5. DOG slices D_k = B_k P - B_{k+1} P (k < 11), D_11 = B_11 P.
6. Noise plane N(sigma): z ~ N(0, 1), z <- 127.5 z / max|z|, clip +-127, blur, then
   ``c - mean / std`` (the toolbox's operator-precedence slip, kept: the plane is not normalised).
7. X_k = (1 - coherence) I_k + coherence C_k with I_k = N(grain) fresh per level and
   C_k = sum_{j >= k} (sigma_j / 64) N(sigma_j) (fresh planes); Y_k an independent copy.
8. Warp D_k at rows floor(clip(r + reach X_k, 0, 511)), columns floor(clip(q + reach Y_k, 0, 511)).
9. Sum, crop the centre 256 x 256, clip [0, 255], uint8.

What differs from the original: the random numbers (the original used the unseeded global
``np.random``; here a seeded ``Generator``, drawn in this module's order), FFT round-off, and the
last step to the experiment's 224-px files, which is not documented: :func:`eidolon` resizes the
256-px result back to the input size with Lanczos (``out_size=None`` keeps 256 px).
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import fft as sfft

SIZE = 256
PLANE = 512
MARGIN = (PLANE - SIZE) // 2
MAX_SIGMA = SIZE / 4
SIGMAS = 2.0 ** ((np.arange(12) - 1) / 2)


def _to_picture(img_u8: np.ndarray) -> np.ndarray:
    """uint8 (H, W[, 3]) -> float (256, 256) grey as the toolbox's ``Picture`` loads it."""
    im = Image.fromarray(img_u8)
    w, h = im.size
    if w != h:
        raise ValueError(f"eidolon needs square images; got {w}x{h}")
    im = im.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    return np.asarray(im.convert("L"), dtype=np.float64)


def _embed(pic: np.ndarray) -> np.ndarray:
    plane = np.zeros((PLANE, PLANE))
    a, b = MARGIN, MARGIN + SIZE
    plane[a:b, a:b] = pic
    plane[a:b, :a] = pic[:, :MARGIN][:, ::-1]
    plane[a:b, b:] = pic[:, -MARGIN:][:, ::-1]
    plane[:a] = plane[a:2 * a][::-1]
    plane[b:] = plane[b - MARGIN:b][::-1]
    return plane


def _kernel_spectra(sigmas: np.ndarray) -> np.ndarray:
    """rfft of each row-major flattened wrapped Gaussian kernel -> (len(sigmas), PLANE**2 // 2 + 1)."""
    d = np.arange(PLANE, dtype=np.float64)
    d = np.where(d <= PLANE // 2, d, d - PLANE)
    g = np.exp(-d[None] ** 2 / (2 * sigmas[:, None] ** 2)) / (np.sqrt(2 * np.pi) * sigmas[:, None])
    k = g[:, :, None] * g[:, None, :]
    return sfft.rfft(k.reshape(len(sigmas), -1), axis=1)


_KSPEC: dict[float, np.ndarray] = {}


def _kspec(sigma: float) -> np.ndarray:
    if sigma not in _KSPEC:
        _KSPEC[sigma] = _kernel_spectra(np.array([sigma]))[0]
    return _KSPEC[sigma]


def _blur_flat(spec: np.ndarray, sigma: float) -> np.ndarray:
    return sfft.irfft(spec * _kspec(sigma), n=PLANE * PLANE)


def _noise_plane(rng: np.random.Generator, sigma: float) -> np.ndarray:
    z = rng.standard_normal(PLANE * PLANE)
    z = np.clip(127.5 * z / np.abs(z).max(), -127, 127)
    c = _blur_flat(sfft.rfft(z), sigma)
    return c - c.mean() / c.std()


def eidolon_256(img_u8: np.ndarray, reach: float, coherence: float, grain: float,
                rng: np.random.Generator) -> np.ndarray:
    """One image (uint8 (H, W[, 3]), square) -> uint8 (256, 256) partially coherent disarray."""
    if not 0.0 <= coherence <= 1.0:
        raise ValueError(f"eidolon coherence must be in [0, 1]; got {coherence}")
    plane = _embed(_to_picture(img_u8)).ravel()
    spec = sfft.rfft(plane)
    blurred = [_blur_flat(spec, s) for s in SIGMAS]
    dog = [blurred[k] - blurred[k + 1] for k in range(len(SIGMAS) - 1)] + [blurred[-1]]
    rr, qq = np.divmod(np.arange(PLANE * PLANE), PLANE)
    out = np.zeros(PLANE * PLANE)
    for k, d in enumerate(dog):
        disp = []
        for _axis in range(2):
            x = np.zeros(PLANE * PLANE)
            if coherence < 1.0:
                x += (1 - coherence) * _noise_plane(rng, grain)
            if coherence > 0.0:
                x += coherence * sum(SIGMAS[j] / MAX_SIGMA * _noise_plane(rng, SIGMAS[j])
                                     for j in range(k, len(SIGMAS)))
            disp.append(x)
        r = np.clip(rr + reach * disp[0], 0, PLANE - 1).astype(np.int64)
        q = np.clip(qq + reach * disp[1], 0, PLANE - 1).astype(np.int64)
        out += d[r * PLANE + q]
    out = out.reshape(PLANE, PLANE)[MARGIN:MARGIN + SIZE, MARGIN:MARGIN + SIZE]
    return np.clip(out, 0, 255).astype(np.uint8)


def eidolon(x: np.ndarray, reach: float, coherence: float, grain: float, rngs,
            out_size: int | None = -1) -> np.ndarray:
    """Batch (N, H, W[, 3]) float [0, 1] -> grey float (N, S, S) in [0, 1].

    ``rngs``: one Generator per image.  ``out_size=-1`` resizes back to the input size (Lanczos),
    ``None`` keeps the toolbox's 256 px, an int gives that size.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2 or (x.ndim == 3 and x.shape[-1] == 3 and x.shape[1] > 3):
        x = x[None]
    u8 = (np.clip(x, 0, 1) * 255).astype(np.uint8)
    rngs = list(rngs)
    if len(rngs) != len(u8):
        raise ValueError(f"got {len(rngs)} random generators for {len(u8)} images")
    size = x.shape[1] if out_size == -1 else out_size
    outs = []
    for img, rng in zip(u8, rngs):
        o = eidolon_256(img, reach, coherence, grain, rng)
        if size is not None and size != SIZE:
            o = np.asarray(Image.fromarray(o).resize((size, size), Image.Resampling.LANCZOS))
        outs.append(o / 255.0)
    return np.stack(outs)

"""Parametric image manipulations of Geirhos et al. (2018) / model-vs-human (2021), vectorised.

Every function takes a batch of images as float64 in [0, 1], shape ``(N, H, W, 3)`` (RGB) or
``(N, H, W)`` (grey), and returns float64 in [0, 1]: ``(N, H, W)`` for the grey manipulations,
``(N, H, W, 3)`` for ``colour:cr`` and false colour.  A single image ``(H, W[, 3])`` is accepted
where noted by :func:`as_batch`.  The formulas follow Geirhos et al. (2018) (rgeirhos/generalisation-humans-DNNs ``code/image_manipulation.py``) (read
from rgeirhos/generalisation-humans-DNNs ``code/image_manipulation.py``; no code copied).

Random manipulations take ``rng``: one ``numpy.random.Generator``/``RandomState`` (draws for the
whole batch, image after image, as the original's shared ``RandomState`` did) or a sequence of
them, one per image (what the stimulus-set generators use, so each image's noise depends only on
its own seed).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from psychobench.errors import PsychobenchError

#: Luminance weights of skimage ``rgb2gray`` (Rec. 709 on stored, gamma-encoded values).
GREY_WEIGHTS = np.array([0.2125, 0.7154, 0.0721])
#: Background grey of the filter experiments (mean grey of the second-batch image set).
BG_GREY = 0.4423
#: Contrast of the uniform-noise and salt-and-pepper experiments.
NOISE_CONTRAST = 0.3
#: L+M cone luminance weights of linear R, G, B that the false-colour transform keeps.
CONE_LUMINANCE = np.array([0.258828, 0.607436, 0.133736])

RngLike = np.random.Generator | np.random.RandomState | Sequence


class ManipulationError(PsychobenchError, ValueError):
    """Bad input to a manipulation (shape, range, parameter)."""


def as_batch(x: np.ndarray, *, colour: bool = False) -> np.ndarray:
    """Return ``x`` as a float64 batch ``(N, H, W[, 3])``; uint8 input is divided by 255.

    A single image ``(H, W)`` or ``(H, W, 3)`` becomes a batch of one (an array whose last axis
    is 3 and whose second axis is longer than 3 is read as one RGB image).  ``colour=True``
    demands RGB.
    """
    x = np.asarray(x)
    if x.dtype == np.uint8:
        x = x / 255.0
    x = x.astype(np.float64, copy=False)
    if x.ndim == 2 or (x.ndim == 3 and x.shape[-1] == 3 and x.shape[1] > 3):
        x = x[None]
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] != 3):
        raise ManipulationError(f"expected images (N, H, W) or (N, H, W, 3); got shape {x.shape}")
    if colour and x.ndim != 4:
        raise ManipulationError("this manipulation needs colour (RGB) images; got greyscale")
    return x


def grey(x: np.ndarray) -> np.ndarray:
    """Luminance ``Y = .2125 R + .7154 G + .0721 B``; grey input passes through. -> (N, H, W)."""
    x = as_batch(x)
    return x @ GREY_WEIGHTS if x.ndim == 4 else x


def contrast(x: np.ndarray, c: float) -> np.ndarray:
    """Grey, then ``c * Y + (1 - c) / 2`` (scaled about 0.5, not the image mean); c in [0, 1]."""
    if not 0.0 <= c <= 1.0:
        raise ManipulationError(f"contrast level must be in [0, 1]; got {c}")
    return (1 - c) / 2.0 + grey(x) * c


def _draw(rng: RngLike, n: int, shape: tuple[int, ...], kind: str, **kw) -> np.ndarray:
    """Draw ``n`` arrays of ``shape`` from one rng (consecutively) or from one rng per image."""
    if isinstance(rng, (np.random.Generator, np.random.RandomState)):
        return np.stack([getattr(rng, kind)(size=shape, **kw) for _ in range(n)]) if n else \
            np.empty((0, *shape))
    rngs = list(rng)
    if len(rngs) != n:
        raise ManipulationError(f"got {len(rngs)} random generators for {n} images")
    return np.stack([getattr(r, kind)(size=shape, **kw) for r in rngs]) if n else np.empty((0, *shape))


def uniform_noise(x: np.ndarray, width: float, rng: RngLike, c: float = NOISE_CONTRAST) -> np.ndarray:
    """Grey, contrast ``c``, add ``U[-width, width)`` per pixel (one plane), clip to [0, 1]."""
    y = contrast(x, c)
    n = _draw(rng, y.shape[0], y.shape[1:], "uniform", low=-width, high=width)
    return np.clip(y + n, 0.0, 1.0)


def salt_and_pepper(x: np.ndarray, p: float, rng: RngLike, c: float = NOISE_CONTRAST) -> np.ndarray:
    """Grey, contrast ``c``; u ~ U[0,1): u >= 1-p/2 -> +1, u < p/2 -> -1; clip (pixels 1 or 0)."""
    if not 0.0 <= p <= 1.0:
        raise ManipulationError(f"salt-and-pepper probability must be in [0, 1]; got {p}")
    y = contrast(x, c)
    u = _draw(rng, y.shape[0], y.shape[1:], "uniform")
    return np.clip(y + (u >= 1 - p / 2) - (u < p / 2), 0.0, 1.0)


def _blur(y: np.ndarray, sigma: float, bg: float, method: str = "exact") -> np.ndarray:
    """Gaussian blur of each (H, W) plane as scipy ``gaussian_filter(mode='constant', cval=bg)``.

    ``exact``: scipy itself (bit-identical to the original's per-image call).  ``fft``: the same
    separable sampled kernel (radius int(4 sigma + .5), normalised to sum 1; each axis padded with
    ``bg``, as scipy pads the intermediate result too) applied by FFT; equal up to float
    round-off (~1e-15), which can move a value across a uint8 step in rare pixels; several times
    faster for sigma >= 5.
    """
    if method == "exact":
        return ndimage.gaussian_filter(y, sigma=(0.0, sigma, sigma), mode="constant", cval=bg)
    if method != "fft":
        raise ManipulationError(f"blur method must be 'exact' or 'fft'; got {method!r}")
    r = int(4 * float(sigma) + 0.5)
    t = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 / sigma ** 2 * t ** 2)
    k /= k.sum()
    out = y
    for axis in (1, 2):
        n = out.shape[axis]
        pad = [(0, 0)] * out.ndim
        pad[axis] = (r, r)
        z = np.pad(out, pad, constant_values=bg)
        size = sfft.next_fast_len(n + 2 * r, real=True)
        kf = sfft.rfft(k, n=size)
        shape = [1] * out.ndim
        shape[axis] = kf.size
        conv = sfft.irfft(sfft.rfft(z, n=size, axis=axis, workers=-1) * kf.reshape(shape), n=size,
                          axis=axis, workers=-1)
        out = np.take(conv, np.arange(2 * r, 2 * r + n), axis=axis)
    return out


def gaussian_matrix(n: int, sigma: float) -> np.ndarray:
    """(n, n) banded Toeplitz matrix of scipy's sampled Gaussian (radius int(4 sigma + .5),
    normalised to sum 1): ``K @ y`` is the 1-D blur of ``y`` (n,) with zero outside."""
    r = int(4 * float(sigma) + 0.5)
    t = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-0.5 / (sigma * sigma) * t ** 2)
    w = w / w.sum()
    d = np.arange(n)[None, :] - np.arange(n)[:, None]
    return np.where(np.abs(d) <= r, w[np.clip(d + r, 0, 2 * r)], 0.0)


def _blur_matmul(y: np.ndarray, sigma: float, bg: float, dtype=np.float32) -> np.ndarray:
    """Separable blur as two matrix products, constant padding ``bg`` handled analytically.

    scipy pads each 1-D pass with ``bg``: pass 1 (rows) ``Z1 = K_H Y + bg a_H 1^T`` with
    ``a = 1 - K 1`` (the weight falling outside the image); pass 2 (columns)
    ``Z2 = Z1 K_W^T + bg 1 a_W^T = K_H Y K_W^T + bg (a_H (K_W 1)^T + 1 a_W^T)``.
    Batched (N, H, W) with torch (multi-threaded BLAS) -> array of ``dtype``."""
    import torch

    _, h, w = y.shape
    kh = gaussian_matrix(h, sigma)
    kw = kh if w == h else gaussian_matrix(w, sigma)
    ah, aw = 1.0 - kh.sum(1), 1.0 - kw.sum(1)
    add = bg * (np.outer(ah, kw.sum(1)) + aw[None, :])
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    t = torch.from_numpy(np.ascontiguousarray(y)).to(tdt)
    z = torch.matmul(torch.matmul(torch.from_numpy(kh).to(tdt), t), torch.from_numpy(kw.T).to(tdt))
    z += torch.from_numpy(add).to(tdt)
    return z.numpy()


#: Largest difference (in 8-bit units, 255 x) between the float32 matrix blur and scipy's that
#: :func:`low_pass` ``method='fast'`` allows before it recomputes a pixel in float64.
FAST_TOL_32 = 4e-4
FAST_TOL_64 = 1e-7
#: Below this sigma (px) scipy's direct convolution is faster than the matrix blur.
FAST_MIN_SIGMA = 7.0


def _near_step(z: np.ndarray, tol: float) -> np.ndarray:
    """True where ``z`` (= 255 y) is within ``tol`` of an integer or half-integer (a step of
    truncation or rounding to uint8)."""
    f = 2 * z
    return np.abs(f - np.rint(f)) < 2 * tol


def _blur_fast(y: np.ndarray, sigma: float, bg: float) -> np.ndarray:
    """:func:`_blur` ``exact`` at the 8-bit level (truncate or round), fast for any sigma.

    float32 matrix blur; pixels whose value is within :data:`FAST_TOL_32` of a quantisation
    step are recomputed in float64 (one row of ``K_H Y`` per pixel); images where a float64
    value is still within :data:`FAST_TOL_64` of a step (flat regions of exact grey levels)
    are recomputed with scipy.  So ``to_uint8`` of the clipped result equals that of scipy's."""
    out32 = _blur_matmul(y, sigma, bg, np.float32)
    amb = _near_step(np.clip(out32, 0.0, 1.0) * np.float32(255), FAST_TOL_32)
    out = out32.astype(np.float64)
    n_idx, i_idx, j_idx = np.nonzero(amb)
    if n_idx.size:
        _, h, w = y.shape
        kh = gaussian_matrix(h, sigma)
        kw = kh if w == h else gaussian_matrix(w, sigma)
        ah, aw = 1.0 - kh.sum(1), 1.0 - kw.sum(1)
        exact_imgs = set()
        for n in np.unique(n_idx):                   # images with ambiguous pixels (few pixels each)
            sel = n_idx == n
            ii, jj = i_idx[sel], j_idx[sel]
            rows = kh[ii] @ y[n]                      # (P, W) float64
            v = np.einsum("pw,pw->p", rows, kw[jj]) + bg * (ah[ii] * kw[jj].sum(1) + aw[jj])
            if _near_step(np.clip(v, 0.0, 1.0) * 255, FAST_TOL_64).any():
                exact_imgs.add(int(n))
            else:
                out[n, ii, jj] = v
        for n in sorted(exact_imgs):
            out[n] = ndimage.gaussian_filter(y[n], sigma=sigma, mode="constant", cval=bg)
    return out


def low_pass(x: np.ndarray, sigma: float, bg: float = BG_GREY, method: str = "exact") -> np.ndarray:
    """Grey, Gaussian blur with SD ``sigma`` px (radius int(4 sigma + .5), outside = ``bg``), clip.

    ``method``: ``exact`` (scipy, as the original), ``fft`` (see :func:`_blur`) or ``fast``
    (float32 matrix products; the 8-bit result equals ``exact``'s, see :func:`_blur_fast`;
    floats differ by < 1e-5; scipy itself is used below :data:`FAST_MIN_SIGMA`, where it is faster)."""
    if sigma < 0:
        raise ManipulationError(f"low-pass sigma must be >= 0; got {sigma}")
    y = grey(x)
    if sigma == 0:
        return np.clip(y, 0.0, 1.0)
    if method == "fast":
        blurred = _blur_fast(y, sigma, bg) if sigma >= FAST_MIN_SIGMA else _blur(y, sigma, bg, "exact")
    else:
        blurred = _blur(y, sigma, bg, method)
    return np.clip(blurred, 0.0, 1.0)


def high_pass(x: np.ndarray, sigma: float, bg: float = BG_GREY, method: str = "exact") -> np.ndarray:
    """Grey, ``h = Y - blur(Y)``, shift so the mean is ``bg``, clip; sigma = inf -> Y unfiltered."""
    y = grey(x)
    if np.isinf(sigma):
        return np.clip(y, 0.0, 1.0)
    if not sigma > 0:
        raise ManipulationError(f"high-pass sigma must be > 0 (or inf); got {sigma}")
    h = y - _blur(y, sigma, bg, method)
    h = h + (bg - h.mean(axis=(1, 2), keepdims=True))
    return np.clip(h, 0.0, 1.0)


def _spectrum(y: np.ndarray) -> np.ndarray:
    return sfft.fftshift(sfft.fft2(y, axes=(1, 2), workers=-1), axes=(1, 2))


def _inverse(f: np.ndarray) -> np.ndarray:
    out = sfft.ifft2(sfft.ifftshift(f, axes=(1, 2)), axes=(1, 2), workers=-1).real
    return np.clip(out, 0.0, 1.0)


def phase_noise(x: np.ndarray, width_deg: float, rng: RngLike) -> np.ndarray:
    """Phase scrambling as the original did it, quirk included.

    ``F = fftshift(fft2(Y))``; in the block ``F[1:, 1:]`` flattened row-major (n entries, DC at
    m = n // 2) entry i < m gets phase + s_i and entry m + 1 + i gets - s_i, with
    ``s = (u - .5) * 2 * width / 180 * pi``, u ~ U[0, 1).  The partner entries are not the
    conjugate ones, so the spectrum is not Hermitian; the real part of the inverse is kept
    (effective shift (s_i + s_{m-1-i}) / 2, amplitude times cos((s_i - s_{m-1-i}) / 2)).
    H and W must be even.
    """
    y = grey(x)
    h, w = y.shape[1:]
    if h % 2 or w % 2:
        raise ManipulationError(f"phase noise needs even image sides; got {h}x{w}")
    f = _spectrum(y)
    amp, phase = np.abs(f), np.angle(f)
    m = (h - 1) * (w - 1) // 2
    u = _draw(rng, y.shape[0], (m,), "random")
    s = (u - 0.5) * 2 * width_deg / 180 * np.pi
    block = phase[:, 1:, 1:].reshape(y.shape[0], -1)      # copy (non-contiguous slice)
    block[:, :m] += s
    block[:, m + 1:] -= s
    phase[:, 1:, 1:] = block.reshape(y.shape[0], h - 1, w - 1)
    return _inverse(amp * np.exp(1j * phase))


def mean_amplitude_spectrum(x: np.ndarray) -> np.ndarray:
    """Mean over images of ``|fftshift(fft2(Y))|`` -> (H, W); the target of power equalisation."""
    return np.abs(_spectrum(grey(x))).mean(axis=0)


def power_equalise(x: np.ndarray, mean_amplitude: np.ndarray | None = None) -> np.ndarray:
    """Grey; replace the amplitude spectrum by ``mean_amplitude`` (H, W), keep the phase; clip.

    ``mean_amplitude=None``: the spectrum the human stimuli got, Geirhos et al.'s
    ``mean_power_spectrum_grey.npy`` (:func:`psychobench.stimuli.tables.mean_power_spectrum`,
    224x224).  Another target (e.g. :func:`mean_amplitude_spectrum` of a base set) is a fallback
    for other image sizes only.
    """
    y = grey(x)
    if mean_amplitude is None:
        from psychobench.stimuli.tables import mean_power_spectrum
        mean_amplitude = mean_power_spectrum()
        if mean_amplitude.shape != y.shape[1:]:
            raise ManipulationError(
                f"the mean spectrum of the human stimuli is {mean_amplitude.shape[1]}x"
                f"{mean_amplitude.shape[0]}; images are {y.shape[2]}x{y.shape[1]} (give another "
                "target spectrum: recipe params spectrum: base, apply --spectrum base|FILE)")
    mean_amplitude = np.asarray(mean_amplitude, dtype=np.float64)
    if mean_amplitude.shape != y.shape[1:]:
        raise ManipulationError(
            f"mean amplitude spectrum has shape {mean_amplitude.shape}; images are {y.shape[1:]}")
    return _inverse(mean_amplitude * np.exp(1j * np.angle(_spectrum(y))))


def false_colour(x: np.ndarray, gamma: np.ndarray | None = None) -> np.ndarray:
    """Opponent colours: linearise ``L = g[255 x]``, ``L' = 2 Lambda - L`` with Lambda the L+M cone
    luminance (luminance kept, both opponent axes inverted about grey), clip, re-encode with
    the nearest table entry ``argmin_k |g[k] - L'| / 255``. -> (N, H, W, 3).

    ``gamma=None``: the measured monitor table of the experiment, ``x_gamma_function.npy``
    (:func:`psychobench.stimuli.tables.gamma_table`)."""
    x = as_batch(x, colour=True)
    if gamma is None:
        from psychobench.stimuli.tables import gamma_table
        gamma = gamma_table()
    g = np.asarray(gamma, dtype=np.float64)
    if g.shape == (256, 1):
        g = g[:, 0]
    if g.shape != (256,):
        raise ManipulationError(f"gamma table must have 256 entries; got shape {g.shape}")
    k = x * 255
    ki = np.rint(k).astype(np.uint8)
    if not np.allclose(k, ki):
        raise ManipulationError("false colour needs 8-bit images (values k/255)")
    lin = g[ki]
    lum = lin @ CONE_LUMINANCE
    out = np.clip(2 * lum[..., None] - lin, 0.0, 1.0)
    # nearest entry of a sorted table: searchsorted + compare the two neighbours (first on ties)
    order = np.argsort(g, kind="stable")
    gs = g[order]
    j = np.clip(np.searchsorted(gs, out), 1, 255)
    lo, hi = gs[j - 1], gs[j]
    pick = np.where(np.abs(out - lo) <= np.abs(hi - out), j - 1, j)
    return order[pick] / 255


def rotate(x: np.ndarray, angle: int) -> np.ndarray:
    """Grey, exact rotation: 90 = counter-clockwise (numpy rot90 k=1), 180, 270 = clockwise."""
    if angle % 90:
        raise ManipulationError(f"rotation angle must be a multiple of 90 degrees; got {angle}")
    return np.rot90(grey(x), k=(angle // 90) % 4, axes=(1, 2)).copy()


def colour(x: np.ndarray, mode: str) -> np.ndarray:
    """``cr``: the RGB image unchanged; ``bw``: grey Y."""
    if mode == "cr":
        return as_batch(x, colour=True).copy()
    if mode == "bw":
        return grey(x)
    raise ManipulationError(f"colour condition must be 'cr' or 'bw'; got {mode!r}")


def to_uint8(x: np.ndarray, quantise: str = "truncate") -> np.ndarray:
    """Float [0, 1] -> uint8 as the experiments saved: ``uint8(255 x)`` (truncation, as the spec
    states) or ``quantise='round'`` (``uint8(255 x + .5)``, scipy ``toimage``/``bytescale``)."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0) * 255
    if quantise == "round":
        x = x + 0.5
    elif quantise != "truncate":
        raise ManipulationError(f"quantise must be 'truncate' or 'round'; got {quantise!r}")
    return x.astype(np.uint8)

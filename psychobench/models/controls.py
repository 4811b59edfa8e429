"""Control observers: models that are not trained networks, each read out by a fitted readout.

They answer the question Rajalingham et al. (2018) and Kell & McDermott (2019, Fig. 2a) ask of
every network: is it more like people than a model with no learned features at all?

* :func:`pixels` (``model=pixels``): the image itself, resized (default 32 x 32 RGB, 3072
  values), optionally projected on its principal components by the readout
  (``model.readout.pca=N``, fitted on the fitting stimuli only);
* :func:`v1` (``model=v1``): a V1-like front end (:class:`V1`): Gabor filters at several
  spatial frequencies and orientations, simple cells (half-wave rectified responses of even
  and odd filters) and complex cells (the energy of each quadrature pair), divisive
  normalisation, spatial pooling;
* :func:`random_features` (``model=random_features model.arch=NAME``): any timm architecture,
  or the word network (``model.arch=wordnet``), with random weights and a fitted readout: Kell
  et al. (2018)'s random-filter baseline.  (``model=untrained``, random weights with the fixed
  ImageNet readout, is the chance-level twin.)
"""

from __future__ import annotations

import json
import math

import torch
import torch.nn.functional as F
from torch import nn

from psychobench.models.base import Observer, ObserverError, Preprocessing, fitted_name
from psychobench.models.readouts import as_readout


def _fitted_readout(readout, who: str):
    r = as_readout(readout if readout is not None else "logistic")
    if not r.fitted:
        raise ObserverError(f"{who} is read out by a fitted readout (model/readout=logistic or probabilities), "
                            f"not {r.name}")
    return r


# ------------------------------------------------------------------------------------ pixels

class Pixels(nn.Module):
    """The normalised image itself: ``(B, 3, H, W)`` in, the same out (``grey``: the luminance
    ``(B, 1, H, W)``, Rec. 601 weights)."""

    def __init__(self, grey: bool = False):
        super().__init__()
        self.grey = bool(grey)
        self.register_buffer("luma", torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.luma.to(x.dtype)).sum(1, keepdim=True) if self.grey else x


def pixels(name: str = "pixels", size: int = 32, grey: bool = False, interpolation: str = "bicubic",
           readout=None):
    """The pixel control: the stimulus resized to ``size`` x ``size`` (the data module resizes
    the whole image, antialiased; no crop), scaled to [-1, 1], every value a feature."""
    from psychobench.models.vision import ImageObserver

    size = int(size)
    if size < 1:
        raise ObserverError(f"model.size must be >= 1, got {size}")
    pre = Preprocessing(size=(size, size), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), interpolation=interpolation)
    readout = _fitted_readout(readout, "model=pixels")
    return ImageObserver(name=fitted_name(name, readout), arch=f"pixels{'-grey' if grey else ''}",
                         module=Pixels(grey).eval(), preprocessing=pre, weights_id="none", readout=readout,
                         channels_last=False, layer="output", pooling="flatten", family="control")


# ------------------------------------------------------------------------------------ V1

def gabor_bandwidth_sigma(bandwidth_octaves: float) -> float:
    """Gaussian envelope sd across the bars in wavelengths, for a spatial-frequency bandwidth
    (full width at half height) of ``bandwidth_octaves``: ``sigma / lambda = (1 / pi)
    sqrt(ln 2 / 2) (2^b + 1) / (2^b - 1)`` (1 octave: 0.56; 1.4 octaves: 0.42)."""
    b = float(bandwidth_octaves)
    return math.sqrt(math.log(2) / 2) / math.pi * (2 ** b + 1) / (2 ** b - 1)


class V1(nn.Module):
    """A V1-like front end on the luminance of the image (``(B, 3, H, W)`` normalised to [-1, 1]
    -> ``(B, channels, H / stride, W / stride)``).

    Settings and where they come from:

    * the image spans ``fov_deg`` degrees of visual angle (8: the VOneNet paper's assumption for
      224-px images, Dapello et al. 2020), so ``H / fov_deg`` pixels a degree;
    * Gabor filters (Jones & Palmer 1987: simple-cell receptive fields are 2-D Gabor functions)
      at ``n_orientations`` orientations (equally spaced over 180 deg) and peak spatial
      frequencies ``sfs`` in cycles/degree (octave-spaced 0.5 to 8: within the range of macaque
      V1, De Valois et al. 1982, and of the VOneNet paper's filters), with a
      spatial-frequency ``bandwidth`` of 1.4 octaves (the median of De Valois et al. 1982) and
      an envelope ``aspect`` ratio (across / along the bars) of 0.5, inside the 0.23-0.92 range
      of Jones & Palmer's fits;
    * filters are built in the frequency domain as one-sided (analytic) Gaussians: one complex
      response per filter whose real part is the even (cosine) and imaginary part the odd
      (sine) filter's response; zero response to uniform luminance;
    * simple cells: the half-wave rectified even and odd responses of both signs (4 phases:
      0, 90, 180, 270 deg); complex cells: the energy (modulus) of the quadrature pair
      (Adelson & Bergen 1985);
    * pooling: every response averaged over ``stride`` x ``stride`` pixels (VOneNet's stride
      4: 56 x 56 for a 224-px image);
    * divisive normalisation (Heeger 1992) of the pooled responses: each divided by ``sigma``
      plus the mean complex-cell energy over all channels in a Gaussian neighbourhood of
      ``norm_deg`` degrees (sd).

    ``sigma`` and ``norm_deg`` are this model's settings, not published values.  The image is
    mirror-padded by ``pad`` pixels before filtering (the filtering is circular; 224 + 2 x 16 =
    256, a fast FFT size).  Deterministic: no noise.
    """

    def __init__(self, size: int = 224, fov_deg: float = 8.0, sfs=(0.5, 1.0, 2.0, 4.0, 8.0), n_orientations: int = 8,
                 bandwidth: float = 1.4, aspect: float = 0.5, sigma: float = 0.05, norm_deg: float = 0.5,
                 stride: int = 4, pad: int = 16):
        super().__init__()
        self.size, self.fov_deg, self.stride = int(size), float(fov_deg), int(stride)
        self.sfs, self.n_ori = tuple(float(f) for f in sfs), int(n_orientations)
        self.bandwidth, self.aspect, self.sigma, self.norm_deg = float(bandwidth), float(aspect), float(sigma), float(norm_deg)
        self.pad = int(pad)
        ppd = self.size / self.fov_deg
        if max(self.sfs) > ppd / 2:
            raise ObserverError(f"V1: {max(self.sfs)} cycles/degree exceeds the Nyquist limit ({ppd / 2:.1f}) of "
                                f"{self.size} px over {self.fov_deg} degrees")
        n = self.size + 2 * self.pad
        fy = torch.fft.fftfreq(n, d=1.0).view(n, 1)      # cycles per pixel
        fx = torch.fft.fftfreq(n, d=1.0).view(1, n)
        s_across = gabor_bandwidth_sigma(self.bandwidth)  # envelope sd in wavelengths, across the bars
        bank = []
        for f_deg in self.sfs:
            f = f_deg / ppd                               # cycles per pixel
            sd_x = s_across / f                           # spatial sd (px) across the bars
            sd_y = sd_x / self.aspect                     # ... along the bars (longer)
            for k in range(self.n_ori):
                th = math.pi * k / self.n_ori
                u = fx * math.cos(th) + fy * math.sin(th)       # frequency along the carrier
                v = -fx * math.sin(th) + fy * math.cos(th)
                g = torch.exp(-2 * math.pi ** 2 * ((u - f) ** 2 * sd_x ** 2 + v ** 2 * sd_y ** 2))
                g[0, 0] = 0.0                                  # no response to uniform luminance
                bank.append(g)
        # a grating of amplitude 1 at a filter's preferred frequency and orientation gives a
        # complex response of modulus 1/2 (the one-sided filter passes half of a cosine)
        self.register_buffer("bank", torch.stack(bank).to(torch.complex64), persistent=False)
        sd = self.norm_deg * ppd / max(1, self.stride)          # in pooled cells
        r = max(1, int(round(3 * sd)))
        t = torch.arange(-r, r + 1, dtype=torch.float32)
        g1 = torch.exp(-0.5 * (t / sd) ** 2)
        self.register_buffer("pool1d", (g1 / g1.sum()).view(1, 1, 1, -1), persistent=False)
        self.register_buffer("luma", torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1), persistent=False)

    @property
    def n_filters(self) -> int:
        return len(self.sfs) * self.n_ori

    @property
    def channels(self) -> int:
        """4 simple-cell phases + 1 complex cell per filter."""
        return 5 * self.n_filters

    def _spectrum(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.size, self.size):
            raise ObserverError(f"V1: built for {self.size} x {self.size} images, got {tuple(x.shape[-2:])}")
        lum = (x.float() * self.luma).sum(1, keepdim=True)                       # (B, 1, H, W)
        if self.pad:
            lum = F.pad(lum, (self.pad,) * 4, mode="reflect")
        return torch.fft.fft2(lum)                                               # (B, 1, n, n)

    def _filter(self, spec: torch.Tensor, idx: slice) -> torch.Tensor:
        out = torch.fft.ifft2(spec * self.bank[idx].unsqueeze(0))                # (B, filters, n, n)
        p = self.pad
        return out[..., p:p + self.size, p:p + self.size]

    def responses(self, x: torch.Tensor) -> torch.Tensor:
        """Complex filter responses ``(B, filters, H, W)`` of normalised images ``x`` (filter
        ``i * n_orientations + k``: spatial frequency ``sfs[i]``, orientation ``180 k / n``
        deg); real part: even filter, imaginary part: odd filter."""
        return self._filter(self._spectrum(x), slice(None))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = self._spectrum(x)
        st = max(1, self.stride)
        simple, energy = [], []
        for i in range(len(self.sfs)):                                          # one spatial frequency at a time
            r = self._filter(spec, slice(i * self.n_ori, (i + 1) * self.n_ori))
            even, odd = r.real, r.imag
            cells = torch.stack([F.relu(even), F.relu(-even), F.relu(odd), F.relu(-odd)], 2).flatten(1, 2)
            simple.append(F.avg_pool2d(cells, st) if st > 1 else cells)
            e = r.abs()
            energy.append(F.avg_pool2d(e, st) if st > 1 else e)
        simple, energy = torch.cat(simple, 1), torch.cat(energy, 1)
        # divisive normalisation at the pooled resolution: the pool varies little within a cell
        k = self.pool1d.shape[-1] // 2
        norm = energy.mean(1, keepdim=True)
        norm = F.conv2d(F.pad(norm, (k, k, 0, 0), mode="replicate"), self.pool1d)
        norm = F.conv2d(F.pad(norm, (0, 0, k, k), mode="replicate"), self.pool1d.transpose(-1, -2))
        return torch.cat([simple, energy], 1) / (self.sigma + norm)


def v1(name: str = "v1", size: int = 224, fov_deg: float = 8.0, sfs=(0.5, 1.0, 2.0, 4.0, 8.0), n_orientations: int = 8,
       bandwidth: float = 1.4, aspect: float = 0.5, sigma: float = 0.05, norm_deg: float = 0.5, stride: int = 4,
       pooling: str = "grid", grid: int = 4, readout=None):
    """The V1-like control (:class:`V1`), its maps pooled to a vector by ``pooling`` (default:
    a 4 x 4 grid of averages per channel: 200 channels x 16 = 3200 features)."""
    from psychobench.models.vision import ImageObserver, module_digest

    module = V1(size=size, fov_deg=fov_deg, sfs=tuple(sfs), n_orientations=n_orientations, bandwidth=bandwidth,
                aspect=aspect, sigma=sigma, norm_deg=norm_deg, stride=stride).eval()
    settings = {"size": int(size), "fov_deg": float(fov_deg), "sfs": [float(f) for f in sfs],
                "n_orientations": int(n_orientations), "bandwidth": float(bandwidth), "aspect": float(aspect),
                "sigma": float(sigma), "norm_deg": float(norm_deg), "stride": int(stride), "pad": module.pad}
    pre = Preprocessing(size=(int(size), int(size)), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    readout = _fitted_readout(readout, "model=v1")
    return ImageObserver(name=fitted_name(name, readout), arch="v1", module=module, preprocessing=pre,
                         weights_id=f"gabor:{json.dumps(settings, sort_keys=True)}|{module_digest(module)}",
                         readout=readout, channels_last=False, layer="output",
                         pooling=pooling, grid=grid, family="control")


# ------------------------------------------------------------------------------------ random features

def random_features(arch: str, name: str | None = None, seed: int = 0, layer: str | None = None,
                    pooling: str = "avg", grid: int = 2, readout=None) -> Observer:
    """``arch`` with random weights (seeded) and a fitted readout on ``layer`` (default
    ``pre_logits``): any timm architecture, ``wordnet`` (the word network's random twin, a
    hearing observer) or ``pitchnet`` (the pitch network's, on the difference of the two
    intervals' embeddings)."""
    readout = _fitted_readout(readout, "model=random_features")
    name = name or f"{arch}-random"
    if arch == "wordnet":
        from psychobench.models.audio.observers import WordNetObserver

        return WordNetObserver(trained=False, name=name, seed=int(seed), readout=readout, layer=layer,
                               pooling=pooling, grid=grid)
    if arch == "pitchnet":
        from psychobench.models.audio.observers import ObserverError, PitchNetObserver

        if layer is not None:
            raise ObserverError("model.arch=pitchnet: its readout reads the embedding (the input of its head); "
                                f"model.layer={layer!r} is not offered")
        return PitchNetObserver(trained=False, name=name, seed=int(seed), readout=readout)
    from psychobench.models.vision import create

    return create(name, arch=arch, pretrained=False, seed=int(seed), readout=readout, layer=layer,
                  pooling=pooling, grid=grid, family="random")


__all__ = ["Pixels", "V1", "gabor_bandwidth_sigma", "pixels", "random_features", "v1"]

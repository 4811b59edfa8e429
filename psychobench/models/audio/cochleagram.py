"""A cochleagram-like front end in torch: ERB-spaced gammatone-shaped filterbank on a short-time
power spectrum, envelope, power-law compression (as in the input stage of Kell et al. 2018).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def erb_number(f: np.ndarray) -> np.ndarray:
    """ERB-number (Cams) of frequency ``f`` in Hz (Glasberg & Moore 1990)."""
    return 21.4 * np.log10(1.0 + 0.00437 * np.asarray(f, dtype=np.float64))


def erb_number_inv(e: np.ndarray) -> np.ndarray:
    return (10.0 ** (np.asarray(e, dtype=np.float64) / 21.4) - 1.0) / 0.00437


def gammatone_weights(n_bands: int, fs: int, n_fft: int, f_lo: float = 50.0, f_hi: float = 7500.0) -> np.ndarray:
    """Power weights ``(n_bands, n_fft//2+1)`` of 4th-order gammatone filters at ERB-spaced centres.

    Magnitude response |H(f)| = (1 + ((f - fc) / (1.019 ERB(fc)))^2)^-2, ERB(fc) = 24.7 (4.37 fc/1000 + 1).
    """
    fc = erb_number_inv(np.linspace(erb_number(f_lo), erb_number(f_hi), n_bands))
    f = np.fft.rfftfreq(n_fft, 1.0 / fs)
    b = 1.019 * 24.7 * (4.37 * fc / 1000.0 + 1.0)
    h = (1.0 + ((f[None, :] - fc[:, None]) / b[:, None]) ** 2) ** -2
    return (h * h).astype(np.float32)


class Cochleagram(nn.Module):
    """Waveform ``(batch, samples)`` at ``fs`` Hz -> cochleagram ``(batch, 1, n_bands, frames)``.

    25-ms Hann window, 10-ms hop; band envelope = sqrt of gammatone-weighted power; compressed with
    exponent 0.3; frames = samples // hop + 1.
    """

    def __init__(self, fs: int = 16000, n_bands: int = 48, win_s: float = 0.025, hop_s: float = 0.010,
                 compression: float = 0.3):
        super().__init__()
        self.fs, self.win, self.hop = fs, int(win_s * fs), int(hop_s * fs)
        self.n_fft = int(2 ** np.ceil(np.log2(self.win)))
        self.compression = compression
        self.register_buffer("window", torch.hann_window(self.win), persistent=False)
        self.register_buffer("weights", torch.from_numpy(gammatone_weights(n_bands, fs, self.n_fft)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x, self.n_fft, self.hop, self.win, self.window, center=True, return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2                      # (B, F, T)
        bands = torch.einsum("kf,bft->bkt", self.weights, power)
        return (bands.clamp_min(1e-10).sqrt() ** self.compression).unsqueeze(1)

"""Manipulations against the properties of the Geirhos et al. (2018) manipulations and small exact cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from psychobench.stimuli import manipulations as M
from psychobench.stimuli.eidolon import _noise_plane, eidolon
from psychobench.stimuli.levels import SETS, LevelError, parse_level


def _imgs(n=3, h=32, w=32, seed=0, lo=0.0, hi=1.0):
    u8 = np.random.default_rng(seed).integers(int(lo * 255), int(hi * 255) + 1, (n, h, w, 3), dtype=np.uint8)
    return u8 / 255.0


def test_grey_weights_exact():
    x = np.zeros((1, 2, 2, 3))
    x[0, 0, 0] = (1, 0, 0)
    x[0, 0, 1] = (0, 1, 0)
    x[0, 1, 0] = (0, 0, 1)
    np.testing.assert_array_equal(M.grey(x)[0], [[0.2125, 0.7154], [0.0721, 0.0]])


@pytest.mark.parametrize("c", [1.0, 0.5, 0.1, 0.01])
def test_contrast_range_and_mean(c):
    x = _imgs()
    y, out = M.grey(x), M.contrast(x, c)
    np.testing.assert_allclose(out, c * y + (1 - c) / 2, atol=1e-15)
    assert out.min() >= (1 - c) / 2 - 1e-12 and out.max() <= (1 + c) / 2 + 1e-12
    np.testing.assert_allclose(out.mean((1, 2)), 0.5 + c * (y.mean((1, 2)) - 0.5), atol=1e-12)
    with pytest.raises(M.ManipulationError):
        M.contrast(x, 1.5)


def test_uniform_noise_width_clipping_and_seed():
    x = _imgs(4, 64, 64)
    base = M.contrast(x, 0.3)
    out = M.uniform_noise(x, 0.35, np.random.default_rng(1))
    d = out - base
    assert np.abs(d).max() <= 0.35 and d.std() == pytest.approx(0.35 / np.sqrt(3), rel=0.03)
    assert 0 < out.min() and out.max() < 1          # no clipping while w <= .35
    np.testing.assert_array_equal(out, M.uniform_noise(x, 0.35, np.random.default_rng(1)))
    np.testing.assert_array_equal(M.uniform_noise(x, 0.0, np.random.default_rng(2)), base)
    # one generator per image: an image's noise does not depend on the others
    rngs = lambda: [np.random.default_rng(s) for s in range(4)]  # noqa: E731
    np.testing.assert_array_equal(M.uniform_noise(x, .2, rngs())[2:], M.uniform_noise(x[2:], .2, rngs()[2:]))
    # the original's shared RandomState: images draw one after the other
    a = M.uniform_noise(x[:2], .1, np.random.RandomState(42))
    rs = np.random.RandomState(42)
    b = [np.clip(M.contrast(x[i], .3)[0] + rs.uniform(-.1, .1, (64, 64)), 0, 1) for i in range(2)]
    np.testing.assert_array_equal(a, np.stack(b))


def test_salt_and_pepper():
    x = _imgs(2, 64, 64)
    out = M.salt_and_pepper(x, 1.0, np.random.default_rng(0))
    assert set(np.unique(out)) <= {0.0, 1.0} and out.mean() == pytest.approx(0.5, abs=0.02)
    np.testing.assert_array_equal(M.salt_and_pepper(x, 0.0, np.random.default_rng(0)), M.contrast(x, .3))
    frac = (M.salt_and_pepper(x, 0.2, np.random.default_rng(0)) != M.contrast(x, .3)).mean()
    assert frac == pytest.approx(0.2, abs=0.02)


def test_low_pass_is_scipy_per_plane_and_keeps_bg():
    x = _imgs(3, 40, 40)
    y = M.grey(x)
    out = M.low_pass(x, 3.0)
    for i in range(3):  # bit-identical to the original's per-image call
        ref = np.clip(ndimage.gaussian_filter(y[i], 3.0, mode="constant", cval=M.BG_GREY), 0, 1)
        np.testing.assert_array_equal(out[i], ref)
    np.testing.assert_array_equal(M.low_pass(x, 0), y)
    flat = np.full((1, 30, 30), M.BG_GREY)
    np.testing.assert_allclose(M.low_pass(flat, 5.0), flat, atol=1e-12)
    # a blur keeps the mean of an image padded with its own mean
    assert M.low_pass(x, 10.0).std() < y.std()


def test_high_pass_mean_is_bg_and_inf_is_grey():
    x = _imgs(2, 48, 48, lo=0.35, hi=0.55)        # low contrast: nothing clips
    out = M.high_pass(x, 1.5)
    np.testing.assert_allclose(out.mean((1, 2)), M.BG_GREY, atol=1e-12)
    np.testing.assert_array_equal(M.high_pass(x, np.inf), M.grey(x))
    y = M.grey(x)[0]
    h = y - ndimage.gaussian_filter(y, 1.5, mode="constant", cval=M.BG_GREY)
    np.testing.assert_allclose(out[0], np.clip(h + M.BG_GREY - h.mean(), 0, 1), atol=1e-15)


def _phase_reference(y, width, u):
    """Loop-by-loop transcription of the spec's shift rule for one image."""
    f = np.fft.fftshift(np.fft.fft2(y))
    amp, ph = np.abs(f), np.angle(f)
    blk = ph[1:, 1:].flatten()
    m = blk.size // 2
    s = (u - 0.5) * 2 * width / 180 * np.pi
    for i in range(m):
        blk[i] += s[i]
        blk[m + 1 + i] -= s[i]
    ph[1:, 1:] = blk.reshape(ph[1:, 1:].shape)
    return np.clip(np.fft.ifft2(np.fft.ifftshift(amp * np.exp(1j * ph))).real, 0, 1)


def test_phase_noise_exact_small_case_and_dc():
    x = _imgs(2, 6, 8, lo=0.3, hi=0.6)
    y = M.grey(x)
    out = M.phase_noise(x, 90, [np.random.default_rng(3), np.random.default_rng(4)])
    for i, s in enumerate((3, 4)):
        u = np.random.default_rng(s).random(5 * 7 // 2)
        np.testing.assert_allclose(out[i], _phase_reference(y[i], 90, u), atol=1e-12)
    np.testing.assert_allclose(M.phase_noise(x, 0, np.random.default_rng(0)), y, atol=1e-12)
    with pytest.raises(M.ManipulationError):
        M.phase_noise(np.zeros((1, 7, 8)), 30, np.random.default_rng(0))


def test_phase_noise_power_factor():
    # effective AC power factor (1 + sinc^2 w) / 2: 0.5 at 180 deg, about 0.70 at 90 deg
    x = 0.5 + 0.1 * (np.random.default_rng(0).random((20, 32, 32)) - 0.5)
    y = M.grey(x)
    p0 = ((y - y.mean((1, 2), keepdims=True)) ** 2).sum()
    for w, want in ((180, 0.5), (90, (1 + np.sinc(0.5) ** 2) / 2)):
        out = M.phase_noise(x, w, np.random.default_rng(w))
        np.testing.assert_allclose(out.mean((1, 2)), y.mean((1, 2)), atol=1e-12)   # DC kept
        p = ((out - out.mean((1, 2), keepdims=True)) ** 2).sum()
        assert p / p0 == pytest.approx(want, abs=0.04)


def test_power_equalisation():
    x = _imgs(4, 16, 16, lo=0.3, hi=0.6)
    own = np.abs(np.fft.fftshift(np.fft.fft2(M.grey(x)[1])))
    np.testing.assert_allclose(M.power_equalise(x[1:2], own), M.grey(x[1:2]), atol=1e-12)
    amp = M.mean_amplitude_spectrum(x)
    out = M.power_equalise(x, amp)
    np.testing.assert_allclose(out.mean((1, 2)), amp[8, 8] / 256, atol=1e-12)
    with pytest.raises(M.ManipulationError):
        M.power_equalise(x, amp[:8])


def test_false_colour_keeps_grey_and_luminance(mirror):
    from psychobench.stimuli.tables import gamma_table
    g = gamma_table()                               # the measured table (fetched from the mirror)
    assert g[0] == 0 and g[255] == 1 and g[128] == pytest.approx(0.2441, abs=1e-4) and np.all(np.diff(g) > 0)
    grey = np.repeat((np.arange(256, dtype=np.uint8).reshape(16, 16) / 255.0)[None, ..., None], 3, -1)
    np.testing.assert_allclose(M.false_colour(grey), grey, atol=1e-12)
    x = _imgs(2, 16, 16, lo=0.55, hi=0.7)        # weakly saturated: nothing clips
    out = M.false_colour(x)
    lum = lambda a: g[np.round(a * 255).astype(int)] @ M.CONE_LUMINANCE  # noqa: E731
    np.testing.assert_allclose(lum(out), lum(x), atol=0.01)
    # opponent axes inverted: red-green difference flips sign
    d_in = g[np.round(x * 255).astype(int)]
    d_out = g[np.round(out * 255).astype(int)]
    lam = (d_in @ M.CONE_LUMINANCE)[..., None]
    np.testing.assert_allclose(d_out - lam, -(d_in - lam), atol=0.01)
    with pytest.raises(M.ManipulationError):
        M.false_colour(np.zeros((1, 8, 8)))


def test_rotation_directions():
    x = np.arange(6.0).reshape(1, 2, 3) / 10
    np.testing.assert_array_equal(M.rotate(x, 90)[0], [[0.2, 0.5], [0.1, 0.4], [0.0, 0.3]])  # ccw
    np.testing.assert_array_equal(M.rotate(x, 270)[0], [[0.3, 0.0], [0.4, 0.1], [0.5, 0.2]])  # cw
    np.testing.assert_array_equal(M.rotate(x, 180)[0], x[0, ::-1, ::-1])
    np.testing.assert_array_equal(M.rotate(x, 0), x)


def test_uint8_truncation():
    v = np.array([0.0, 0.5, 0.999, 1.0, 1.2, -0.1, 2 / 255 - 1e-9])
    np.testing.assert_array_equal(M.to_uint8(v), [0, 127, 254, 255, 255, 0, 1])
    np.testing.assert_array_equal(M.to_uint8(v, "round"), [0, 128, 255, 255, 255, 0, 2])


def test_eidolon_properties():
    x = _imgs(1, 64, 64)
    # reach 0: no displacement, the DOG stack sums to the finest blur of the picture
    out0 = eidolon(x, 0.0, 0.0, 10.0, [np.random.default_rng(0)])
    assert out0.shape == (1, 64, 64)
    out = eidolon(x, 8.0, 0.0, 10.0, [np.random.default_rng(0)])
    again = eidolon(x, 8.0, 0.0, 10.0, [np.random.default_rng(0)])
    np.testing.assert_array_equal(out, again)
    assert np.abs(out - out0).mean() > np.abs(eidolon(x, 1.0, 0.0, 10.0, [np.random.default_rng(0)]) - out0).mean()
    # the toolbox's unnormalised noise plane: std about 7.3 / sigma
    assert _noise_plane(np.random.default_rng(0), 10.0).std() == pytest.approx(0.73, rel=0.15)
    assert _noise_plane(np.random.default_rng(1), 2.0).std() == pytest.approx(3.65, rel=0.15)


def test_levels_parse_raw_and_canonical():
    assert parse_level("uniform-noise", "0.10")[:2] == ("0.10", "0.1")
    assert parse_level("uniform-noise", "0.1")[:2] == ("0.10", "0.1")
    assert parse_level("high-pass", "3.0")[2]["sigma"] == 3.0
    assert parse_level("false-colour", "True")[:2] == ("true", "True")
    assert parse_level("contrast", "c05")[2]["c"] == 0.05
    assert parse_level("eidolonII", "8-3-10")[2] == {"reach": 8.0, "coherence": 0.3, "grain": 10.0}
    assert parse_level("low-pass", "2.5")[1] == "2.5"           # a new level
    for bad in (("contrast", "5"), ("rotation", "45"), ("colour", "red"), ("nope", "1")):
        with pytest.raises(LevelError):
            parse_level(*bad)


def test_levels_match_human_csv_conditions(monkeypatch, tmp_path):
    from pathlib import Path
    mirror = Path(__file__).resolve().parents[2] / "shared/data/mirror"
    if not mirror.is_dir():
        pytest.skip("no data mirror")
    monkeypatch.setenv("PSYCHOBENCH_MIRROR", str(mirror))
    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path))
    from psychobench.data.trials import load_human_trials
    for name in ("uniform-noise", "high-pass", "false-colour", "eidolonII", "contrast"):
        got = set(load_human_trials(name)["condition"].unique())
        assert got == {parse_level(SETS[name], r)[1] for r in SETS[name].levels}, name

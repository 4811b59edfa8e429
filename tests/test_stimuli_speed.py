"""Properties of the fast stimulus paths (no timing asserts; timings: scripts/bench_stimuli.py)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from psychobench.stimuli import manipulations as M
from psychobench.stimuli.images import encode_png


def test_gaussian_matrix_is_scipys_blur():
    from scipy import ndimage
    y = np.random.default_rng(0).random(50)
    k = M.gaussian_matrix(50, 3.0)
    np.testing.assert_allclose(k @ y, ndimage.gaussian_filter1d(y, 3.0, mode="constant", cval=0.0),
                               atol=1e-14)


@pytest.mark.parametrize("sigma", [15, 40])
def test_matrix_blur_with_padding_matches_scipy(sigma):
    y = np.random.default_rng(1).random((3, 40, 56))
    got = M._blur_matmul(y, sigma, 0.4423, np.float64)
    np.testing.assert_allclose(got, M._blur(y, sigma, 0.4423, "exact"), atol=1e-12)


@pytest.mark.parametrize("quantise", ["truncate", "round"])
def test_fast_low_pass_is_8bit_identical(quantise):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (6, 64, 64, 3), dtype=np.uint8) / 255.0
    x[0] = 128 / 255.0                 # flat grey: values on quantisation steps -> exact fallback
    x[1, :32] = 1.0                    # saturated half
    for sigma in (15, 40):
        a = M.to_uint8(M.low_pass(x, sigma), quantise)
        b = M.to_uint8(M.low_pass(x, sigma, method="fast"), quantise)
        np.testing.assert_array_equal(a, b)
        assert np.abs(M.low_pass(x, sigma) - M.low_pass(x, sigma, method="fast")).max() < 1e-5


@pytest.mark.parametrize("shape", [(17, 23), (17, 23, 3)])
def test_fast_png_round_trips(shape):
    a = np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)
    data = encode_png(a, compress_level=1)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), a)
    assert data == encode_png(a, compress_level=1)

"""Synthetic texture/shape cue-conflict stimuli: quilting, composition, manifest, shape bias."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from psychobench.consistency.benchmark import shape_bias
from psychobench.data.trials import texture_of
from psychobench.stimuli import cueconflict as C
from psychobench.stimuli.images import decode_image


def test_min_cut_follows_the_cheap_column():
    err = np.ones((6, 5))
    err[:, 2] = 0.0
    keep = C._min_cut(err)
    assert (keep == (np.arange(5) < 2)[None, :]).all()


def test_quilting_copies_blocks_of_the_sample_and_is_seeded():
    rng = np.random.default_rng(1)
    sample = rng.random((48, 48, 3))
    a = C.quilt(sample, 64, block=16, overlap=4, rng=np.random.default_rng(0))
    b = C.quilt(sample, 64, block=16, overlap=4, rng=np.random.default_rng(0))
    assert a.shape == (64, 64, 3)
    np.testing.assert_array_equal(a, b)
    # the part of the first block that no overlap touches is a verbatim block of the sample
    first = a[:12, :12]
    hits = [(u, v) for u in range(37) for v in range(37)
            if np.array_equal(sample[u:u + 12, v:v + 12], first)]
    assert len(hits) == 1
    assert np.isin(a.reshape(-1, 3).view([("", float)] * 3),
                   sample.reshape(-1, 3).view([("", float)] * 3)).all()


def test_quilting_a_periodic_texture_is_seamless():
    """On a periodic sample the best blocks continue the period: the overlap error is ~0."""
    yy, xx = np.mgrid[0:64, 0:64]
    stripes = (np.sin(2 * np.pi * xx / 8) * 0.5 + 0.5)[..., None].repeat(3, 2)
    out = C.quilt(stripes, 96, block=16, overlap=4, tolerance=0.0, rng=np.random.default_rng(3))
    row = out[40, :, 0]
    np.testing.assert_allclose(row[8:], row[:-8], atol=1e-9)


def test_ssd_by_fft_matches_direct():
    rng = np.random.default_rng(2)
    s = rng.random((30, 30, 3))
    cor = C._Correlator(s, 8)
    tpl = rng.random((8, 8, 3))
    mask = np.zeros((8, 8), bool)
    mask[:, :3] = True
    got = cor.ssd(tpl, mask)
    want = np.array([[((s[u:u + 8, v:v + 8] - tpl) ** 2 * mask[..., None]).sum() for v in range(23)]
                     for u in range(23)])
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_compose_alpha():
    alpha = np.array([[1.0, 0.0], [0.5, 0.0]])
    tex = np.zeros((2, 2, 3))
    out = C.compose(alpha, tex)
    assert out[0, 0].tolist() == [0, 0, 0] and out[0, 1].tolist() == [255, 255, 255]
    assert out[1, 0].tolist() == [128, 128, 128]


def test_pairings_distinct_other_categories():
    tex = {c: ["x", "y"] for c in ("cat", "dog", "car", "boat")}
    p = C.pairings([("cat", 1), ("dog", 2)], tex, 3, seed=0)
    assert len(p) == 6
    for shape, k, t, j in p:
        assert t != shape and j in (1, 2)
    assert len({t for s, _, t, _ in p if s == "cat"}) == 3
    assert p == C.pairings([("cat", 1), ("dog", 2)], tex, 3, seed=0)


@pytest.fixture(scope="module")
def synth(tmp_path_factory, mirror):
    out = tmp_path_factory.mktemp("cc")
    a = C.make_cue_conflict(out / "a", seed=0, per_shape=2, limit=1)
    b = C.make_cue_conflict(out / "b", seed=0, per_shape=2, limit=1)
    return a, b


def test_synth_set_manifest_names_and_regeneration(synth):
    a, b = synth
    m = a.manifest
    assert len(m) == 16 * 2
    assert list(m["sha256"]) == list(b.manifest["sha256"])              # byte-identical
    assert (m["category"] != m["texture"]).all()
    assert (texture_of(m["imagename"]) == m["texture"]).all()           # names carry the texture
    assert m["imagename"].str.fullmatch(r"[a-z]+\d+-[a-z]+\d+\.png").all()
    p = json.loads(m["params"].iloc[0])
    assert p["shape"] == m["category"].iloc[0] and p["texture"] == m["texture"].iloc[0]
    img = decode_image(a.root / m["path"].iloc[0])
    assert img.shape == (224, 224, 3)
    # background (silhouette white) stays white; the shape carries texture (not flat)
    sil = C.load_silhouettes(categories=(m["category"].iloc[0],), limit=1)[0][2]
    assert (img[sil == 0] == 255).all()
    assert img[sil == 1].std() > 5


def test_shape_bias_reads_the_synth_manifest(synth):
    m = synth[0].manifest
    table = pd.DataFrame({"category": m["category"], "texture": m["texture"],
                          "imagename": m["imagename"]})
    table["response"] = np.where(np.arange(len(m)) % 4 == 0, m["texture"], m["category"])
    assert shape_bias(table) == pytest.approx(0.75)
    assert shape_bias(table.drop(columns="texture")) == pytest.approx(0.75)   # from the names


@pytest.mark.slow
def test_portilla_simoncelli_option_small():
    pytest.importorskip("plenoptic")
    rng = np.random.default_rng(0)
    img = (rng.random((224, 224, 3)) * 255).astype(np.uint8)
    tex = C.synthesise_texture(img, method="portilla-simoncelli", crop=128, iterations=2, seed=0)
    assert tex.shape == (224, 224, 3) and np.isfinite(tex).all()
    assert 0 <= tex.min() and tex.max() <= 1

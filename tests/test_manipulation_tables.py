"""The data tables of power equalisation and false colour: registered, fetched, checked and used.

Known answers on small synthetic inputs (an imposed spectrum comes out exactly; an identity
monitor table gives hand-computed opponent colours), then the real tables fetched through the
download code from the mirror (a directory and a loopback HTTP server), the regenerated sets
against their recipes' pinned pixel keys, and the cache key's dependence on the tables.
"""

from __future__ import annotations

import csv
import functools
import http.server
import json
import threading
from contextlib import nullcontext

import numpy as np
import pytest

from psychobench.data import registry
from psychobench.data.io import sha256_file
from psychobench.stimuli import manipulations as M
from psychobench.stimuli import tables as T

#: Spec facts (stimulus-manipulations.md): the monitor table at k = 0, 32, ..., 224, 255.
KNOTS_K = [0, 32, 64, 96, 128, 160, 192, 224, 255]
KNOTS_G = [0.0, 0.0072, 0.0441, 0.1239, 0.2441, 0.3982, 0.5904, 0.8042, 1.0]


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """An empty cache and no table held in memory (so the download code runs)."""
    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))
    T.mean_power_spectrum.cache_clear()
    T.gamma_table.cache_clear()
    yield tmp_path / "cache"
    T.mean_power_spectrum.cache_clear()
    T.gamma_table.cache_clear()


@pytest.fixture
def http_mirror(mirror):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    handler.log_message = lambda *a, **k: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _manifest_digests(mirror) -> dict[str, str]:
    with open(mirror.parent / "MANIFEST.tsv", newline="") as f:
        return {r["upstream_url"]: r["sha256"] for r in csv.DictReader(f, delimiter="\t")
                if r["dataset"] == "generalisation-2018-manipulation-tables"}


# --------------------------------------------------------------------------- known answers

def test_imposed_spectrum_comes_out_exactly():
    """A Hermitian target (the amplitude of another real image) is imposed exactly: the output's
    amplitude spectrum is the target and its phase the input's (no clipping at this scale)."""
    rng = np.random.default_rng(3)
    x = 0.4 + 0.2 * rng.random((2, 16, 16))
    other = 0.5 + 0.05 * rng.standard_normal((16, 16))
    target = np.abs(np.fft.fftshift(np.fft.fft2(other)))
    out = M.power_equalise(x, target)
    assert out.min() > 0 and out.max() < 1
    f_out = np.fft.fftshift(np.fft.fft2(out), axes=(1, 2))
    f_in = np.fft.fftshift(np.fft.fft2(x), axes=(1, 2))
    np.testing.assert_allclose(np.abs(f_out), np.broadcast_to(target, f_out.shape), atol=1e-9)
    big = target > 1e-6
    dphi = np.angle(f_out[:, big] * np.conj(f_in[:, big]))
    np.testing.assert_allclose(dphi, 0, atol=1e-8)
    assert out.mean() == pytest.approx(target[8, 8] / 256, abs=1e-12)        # DC / pixels


def test_false_colour_identity_table_known_answer():
    """With g[k] = k/255: Lambda = .258828*200 + .607436*100 + .133736*50 = 119.196 (in 8-bit
    units); L' = 2 Lambda - L = (38.392, 138.392, 188.392) -> nearest codes (38, 138, 188)."""
    ident = np.arange(256) / 255
    x = np.array([[[[200, 100, 50], [90, 90, 90]]]], dtype=np.uint8) / 255
    out = np.rint(M.false_colour(x, ident) * 255).astype(int)
    assert out[0, 0, 0].tolist() == [38, 138, 188]
    assert out[0, 0, 1].tolist() == [90, 90, 90]                              # grey stays
    # a table given as the file stores it (256 x 1) is accepted; a short one is refused
    np.testing.assert_array_equal(M.false_colour(x, ident[:, None]), M.false_colour(x, ident))
    with pytest.raises(M.ManipulationError, match="256 entries"):
        M.false_colour(x, ident[:100])


# --------------------------------------------------------------------------- the real tables

def test_tables_registered_fetched_and_checked(mirror, fresh):
    pinned = {e.relpath: e.sha256 for e in registry.files_of()[registry.MANIPULATION_TABLES]}
    spec = registry.get(registry.MANIPULATION_TABLES)
    upstream = _manifest_digests(mirror)
    assert pinned == {u[len(spec.base_url):]: d for u, d in upstream.items()} and len(pinned) == 2
    a, g = T.mean_power_spectrum(), T.gamma_table()
    for rel in (T.SPECTRUM_FILE, T.GAMMA_FILE):
        p = registry.dataset_dir(registry.MANIPULATION_TABLES) / rel
        assert p.is_relative_to(fresh) and sha256_file(p) == pinned[rel]
    assert a.shape == (224, 224) and a.dtype == np.float64 and not a.flags.writeable
    assert a[112, 112] == pytest.approx(22803.9, abs=0.05)                    # DC, spec
    assert a[112, 112] / 224 ** 2 == pytest.approx(0.4545, abs=1e-4)
    # an amplitude spectrum of real images: point-symmetric about DC on the [1:, 1:] block
    np.testing.assert_allclose(a[1:, 1:], a[1:, 1:][::-1, ::-1], rtol=1e-9)
    assert g.shape == (256,) and g.dtype == np.float64 and not g.flags.writeable
    np.testing.assert_allclose(g[KNOTS_K], KNOTS_G, atol=5e-5)


def test_tables_over_loopback_http(http_mirror, fresh, monkeypatch):
    monkeypatch.setenv("PSYCHOBENCH_MIRROR", http_mirror)
    g = T.gamma_table()
    assert g[255] == 1 and (registry.dataset_dir(registry.MANIPULATION_TABLES) / T.GAMMA_FILE).is_file()
    assert T.mean_power_spectrum().shape == (224, 224)


def test_bad_table_is_named(tmp_path, monkeypatch):
    np.save(tmp_path / T.GAMMA_FILE, np.linspace(0, 1, 100))
    np.save(tmp_path / T.SPECTRUM_FILE, np.ones((224, 224), dtype=np.float32))
    monkeypatch.setattr(registry, "fetch_dataset", lambda *a, **k: tmp_path)
    T.gamma_table.cache_clear()
    T.mean_power_spectrum.cache_clear()
    try:
        with pytest.raises(T.TableError, match=r"x_gamma_function\.npy.*shape"):
            T.gamma_table()
        with pytest.raises(T.TableError, match=r"mean_power_spectrum_grey\.npy.*float64"):
            T.mean_power_spectrum()
    finally:
        T.gamma_table.cache_clear()
        T.mean_power_spectrum.cache_clear()


def _base_images(n=6):
    from psychobench.stimuli.bases import load_base
    imgs = [b.image for b in load_base("imagenet-samples-16class").images if b.image.ndim == 3][:n]
    return np.stack(imgs) / 255.0


def test_power_equalisation_imposes_the_table_on_real_images(mirror):
    """Default power equalisation = the spec's formula with the table, recomputed here with
    numpy.fft; images that hardly clip get the table's amplitude spectrum and mean 0.4545."""
    x = _base_images()
    a = T.mean_power_spectrum()
    out = M.power_equalise(x)
    y = x @ np.array([0.2125, 0.7154, 0.0721])
    phase = np.angle(np.fft.fftshift(np.fft.fft2(y), axes=(1, 2)))
    want = np.clip(np.fft.ifft2(np.fft.ifftshift(a * np.exp(1j * phase), axes=(1, 2))).real, 0, 1)
    np.testing.assert_allclose(out, want, atol=1e-12)
    clipped = ((out <= 0) | (out >= 1)).mean((1, 2))
    f_out = np.abs(np.fft.fftshift(np.fft.fft2(out), axes=(1, 2)))
    rel = np.median(np.abs(f_out / a - 1), axis=(1, 2))
    low = clipped < 0.002
    assert low.sum() >= 2
    assert np.all(rel[low] < 0.02)
    np.testing.assert_allclose(out[low].mean((1, 2)), 0.4545, atol=1e-3)
    # another target (the images' own mean spectrum) gives other pixels
    assert np.abs(M.power_equalise(x, M.mean_amplitude_spectrum(x)) - out).mean() > 0.005
    with pytest.raises(M.ManipulationError, match="224x224.*16x16"):
        M.power_equalise(np.zeros((1, 16, 16)))


def test_false_colour_uses_the_measured_table(mirror):
    """Default false colour = the spec's four steps with the measured table, here by brute force
    (argmin over all 256 entries); an approximate table gives other codes."""
    x = _base_images()
    g = T.gamma_table()
    out = np.rint(M.false_colour(x) * 255).astype(int)
    lin = g[np.rint(x * 255).astype(int)]
    lam = lin @ np.array([0.258828, 0.607436, 0.133736])
    lp = np.clip(2 * lam[..., None] - lin, 0, 1)
    want = np.abs(lp[..., None] - g).argmin(-1)
    np.testing.assert_array_equal(out, want)
    approx = np.interp(np.arange(256), KNOTS_K, KNOTS_G)                 # piecewise-linear knots
    assert (np.rint(M.false_colour(x, approx) * 255).astype(int) != out).mean() > 0.01


# --------------------------------------------------------------------------- sets, pins, cache keys

@pytest.mark.parametrize("name", ["power-equalisation", "false-colour"])
def test_sets_match_pinned_pixel_keys(name, mirror, tmp_path, monkeypatch):
    import yaml

    from psychobench.stimuli.generate import make_set
    from psychobench.stimuli.recipes import recipes_dir
    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))
    grey_skipped = pytest.warns(UserWarning, match="greyscale") if name == "false-colour" else nullcontext()
    with grey_skipped:
        s = make_set(name)                          # raises if the recipe's pixel key differs
    info = json.loads((s.root / "set.json").read_text())
    rec = yaml.safe_load((recipes_dir() / f"{name.replace('-', '_')}.yaml").read_text())
    assert rec["expected"][0]["pixel_key"] == info["pixel_key"]
    assert info["generator_version"] == "2" and len(info["tables"]) == 1
    assert set(info["tables"].values()) <= set(T.table_digests().values())


def test_cache_key_follows_the_tables(mirror, monkeypatch):
    """The generated set's folder key includes the digests of the tables its pixels depend on, so
    a set made with other tables (or the older generator) is never reused."""
    import psychobench.stimuli.generate as G
    from psychobench.stimuli.bases import load_base
    from psychobench.stimuli.recipes import load_recipe
    base = load_base("imagenet-samples-16class", limit=1)
    pow_, fc, noise = (load_recipe(n) for n in ("power-equalisation", "false-colour", "uniform-noise"))
    before = {r.name: G._key(r, base, 0, "truncate") for r in (pow_, fc, noise)}
    real = T.table_digests()
    monkeypatch.setattr(T, "table_digests", lambda: {k: "0" * 64 for k in real})
    after = {r.name: G._key(r, base, 0, "truncate") for r in (pow_, fc, noise)}
    assert after[pow_.name] != before[pow_.name] and after[fc.name] != before[fc.name]
    assert after[noise.name] == before[noise.name]
    # the fallback spectrum (the base set's own mean) is a different set; a bad choice is named
    from dataclasses import replace
    own = replace(pow_, params={"spectrum": "base"})
    assert G._key(own, base, 0, "truncate") != after[pow_.name]
    with pytest.raises(G.StimulusError, match="params.spectrum"):
        G._key(replace(pow_, params={"spectrum": "mine"}), base, 0, "truncate")


def test_cli_apply_needs_224_px_for_the_table(mirror, tmp_path, capsys):
    from PIL import Image

    from psychobench.cli.stimuli import main as cli
    (tmp_path / "in").mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (100, 120, 3), dtype=np.uint8)).save(tmp_path / "in" / "a.png")
    assert cli(["apply", "power-equalisation", "pow", str(tmp_path / "in"), str(tmp_path / "o")]) == 2
    assert "a.png: wrong size 120x100" in capsys.readouterr().err and not (tmp_path / "o").exists()
    assert cli(["apply", "power-equalisation", "pow", str(tmp_path / "in"), str(tmp_path / "o"),
                "--spectrum", "base"]) == 0
    Image.fromarray(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)).save(tmp_path / "in" / "a.png")
    assert cli(["apply", "power-equalisation", "pow", str(tmp_path / "in"), str(tmp_path / "t")]) == 0
    got = np.asarray(Image.open(tmp_path / "t" / "a.png"))
    x = np.asarray(Image.open(tmp_path / "in" / "a.png"))[None] / 255.0
    np.testing.assert_array_equal(got[..., 0], M.to_uint8(M.power_equalise(x))[0])

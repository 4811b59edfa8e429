"""Generated stimulus sets: naming, manifest, determinism, caching, recipes, bad input, CLI, Hydra."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from psychobench.cli.stimuli import main as cli
from psychobench.stimuli.generate import make_set
from psychobench.stimuli.images import StimulusError
from psychobench.data.io import sha256_file

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(__file__).resolve().parents[2] / "shared/data/mirror"


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))
    if MIRROR.is_dir():
        monkeypatch.setenv("PSYCHOBENCH_MIRROR", str(MIRROR))


def _folder(root: Path, n=2, size=(300, 260), grey_one=False) -> Path:
    rng = np.random.default_rng(0)
    for cat in ("cat", "dog"):
        (root / cat).mkdir(parents=True)
        for i in range(n):
            a = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(a[..., 0] if grey_one and cat == "dog" and i == 0 else a).save(
                root / cat / f"{cat}{i}.jpg", quality=95)
    return root


def test_make_from_folder_names_manifest_determinism(tmp_path):
    base = _folder(tmp_path / "base")
    s = make_set("uniform-noise", base, seed=3, out=tmp_path / "a", progress=False)
    m = s.manifest
    assert len(m) == 4 * 8 and set(m["category"]) == {"cat", "dog"}
    assert set(m["condition"]) == {"0.0", "0.03", "0.05", "0.1", "0.2", "0.35", "0.6", "0.9"}
    first = m.iloc[0]
    assert first["imagename"] == "0001_nse_dnn_0.00_cat_10_cat0.png"
    tok = m["imagename"].str.split("_")
    assert (tok.str[4] == m["category"]).all() and (tok.str[2] == "dnn").all()
    for rel, digest in zip(m["path"], m["sha256"]):
        assert sha256_file(s.root / rel) == digest
    img = np.asarray(Image.open(s.root / first["path"]))
    assert img.shape == (224, 224) and img.dtype == np.uint8       # grey, resize 256 + crop 224
    assert json.loads(first["params"])["width"] == 0.0
    again = make_set("uniform-noise", base, seed=3, out=tmp_path / "b")
    assert again.content_key() == s.content_key()                 # byte-identical
    other = make_set("uniform-noise", base, seed=4, out=tmp_path / "c")
    assert other.content_key() != s.content_key()
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


def test_threads_do_not_change_output(tmp_path, monkeypatch):
    """Generation on 1 or 3 threads (several batches in flight, finishing out of order) writes
    the same manifest, files and pixel key."""
    import psychobench.stimuli.generate as G
    monkeypatch.setattr(G, "BATCH", 2)                                # 4 images -> 2 batches/level
    base = _folder(tmp_path / "base")
    one = make_set("uniform-noise", base, seed=1, out=tmp_path / "w1", workers=1)
    three = make_set("uniform-noise", base, seed=1, out=tmp_path / "w3", workers=3)
    cols = ["stimulus_id", "path", "condition", "category", "params", "sha256"]
    assert one.manifest[cols].equals(three.manifest[cols])
    a = json.loads((one.root / "set.json").read_text())["pixel_key"]
    assert a == json.loads((three.root / "set.json").read_text())["pixel_key"]
    # the ordered map keeps job order even when later jobs finish first
    import time
    out = list(G.ordered_map(lambda k: (time.sleep(0.02 * (5 - k)), k)[1], range(6), workers=3))
    assert out == list(range(6))


def test_cache_reuse_and_content_address(tmp_path):
    base = _folder(tmp_path / "base", n=1)
    a = make_set("contrast", base, conditions=["c05", "c50"])
    b = make_set("contrast", base, conditions=["c50", "c05"])      # other order: other set
    c = make_set("contrast", base, conditions=["c05", "c50"])
    assert c.root == a.root and a.root != b.root
    assert str(a.root).startswith(str(tmp_path / "cache" / "stimuli" / "contrast"))
    u8 = np.asarray(Image.open(a.root / a.manifest["path"][0]))
    assert u8.min() >= int(255 * 0.475) and u8.max() <= int(255 * 0.525) + 1


def test_recipe_checksum_default_base():
    if not MIRROR.is_dir():
        pytest.skip("no data mirror")
    s = make_set("contrast")                                         # checks the recipe's pixel key
    assert len(s.manifest) == 69 * 8
    info = json.loads((s.root / "set.json").read_text())
    import yaml
    rec = yaml.safe_load((REPO / "stimuli/contrast.yaml").read_text())
    assert rec["expected"][0]["pixel_key"] == info["pixel_key"]


def test_skimage_base_and_grey_needs_colour(tmp_path):
    s = make_set("rotation", "skimage", out=tmp_path / "r")
    assert set(s.manifest["category"]) == {"cat", "clock"}
    img = np.asarray(Image.open(s.root / s.manifest["path"][0]))
    assert img.shape == (224, 224, 3)                                 # saved as 3 equal channels
    with pytest.raises(StimulusError, match="clock.*needs colour"):
        make_set("colour", "skimage", out=tmp_path / "c", on_grey="error")
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())
    s2 = make_set("colour", "skimage", out=tmp_path / "c2", on_grey="skip")
    assert set(s2.manifest["category"]) == {"cat"}


def test_bad_base_images_name_file_and_leave_nothing(tmp_path):
    base = _folder(tmp_path / "base", n=1)
    bad = base / "cat" / "broken.jpg"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(StimulusError, match="broken.jpg"):
        make_set("low-pass", base)
    bad.unlink()
    good = (base / "dog" / "dog0.jpg").read_bytes()
    (base / "dog" / "trunc.jpg").write_bytes(good[: len(good) // 3])
    with pytest.raises(StimulusError, match="trunc.jpg"):
        make_set("low-pass", base)
    cache = tmp_path / "cache" / "stimuli"
    assert not cache.exists() or not any(cache.rglob("manifest.csv"))
    assert not list(cache.rglob("*.partial")) if cache.exists() else True


def test_release_layout_wrong_size(tmp_path):
    d = tmp_path / "datasets" / "colour" / "dnn" / "session-1"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)).save(
        d / "0001_cl_dnn_cr_cat_40_n02123045_1.png")
    s = make_set("contrast", tmp_path / "datasets" / "colour", out=tmp_path / "o", conditions=["c10"])
    assert s.manifest["imagename"][0] == "0001_cop_dnn_c10_cat_10_n02123045_1.png"
    Image.fromarray(rng.integers(0, 256, (200, 224, 3), dtype=np.uint8)).save(
        d / "0002_cl_dnn_cr_dog_40_n02085620_2.png")
    with pytest.raises(StimulusError, match="0002_cl_dnn.*wrong size"):
        make_set("contrast", tmp_path / "datasets" / "colour", out=tmp_path / "o2")


def test_cli_apply_writes_same_names(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(1)
    for name, shape in (("a.jpg", (50, 70, 3)), ("b.png", (40, 40, 3))):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(src / name)
    assert cli(["apply", "contrast", "c05", str(src), str(tmp_path / "out")]) == 0
    a = np.asarray(Image.open(tmp_path / "out" / "a.png"))
    assert a.shape == (50, 70) and a.min() >= int(255 * .475) and a.max() <= int(255 * .525)
    x = np.asarray(Image.open(src / "b.png")) / 255.0
    want = ((0.05 * (x @ [0.2125, 0.7154, 0.0721]) + 0.475) * 255).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "b.png")), want)
    assert cli(["apply", "uniform-noise", "0.35", str(src), str(tmp_path / "n1")]) == 0
    assert cli(["apply", "uniform-noise", "0.35", str(src), str(tmp_path / "n2")]) == 0
    assert (tmp_path / "n1/a.png").read_bytes() == (tmp_path / "n2/a.png").read_bytes()
    assert cli(["apply", "rotation", "90", str(src), str(tmp_path / "rot")]) == 0
    assert np.asarray(Image.open(tmp_path / "rot" / "a.png")).shape == (70, 50, 3)


def test_cli_apply_bad_input(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(src / "grey.png")
    assert cli(["apply", "colour", "bw", str(src), str(tmp_path / "o")]) == 2
    assert "grey.png" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    (src / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert cli(["apply", "contrast", "c10", str(src), str(tmp_path / "o")]) == 2
    assert "x.png" in capsys.readouterr().err and not (tmp_path / "o").exists()
    assert cli(["apply", "contrast", "c500", str(src), str(tmp_path / "o")]) == 2


def test_cli_make(tmp_path, capsys):
    base = _folder(tmp_path / "base", n=1)
    assert cli(["make", "low-pass", "--base", str(base), "--out", str(tmp_path / "lp"), "--quiet",
                "--conditions", "0", "3"]) == 0
    assert "4 stimuli" in capsys.readouterr().out
    assert (tmp_path / "lp" / "manifest.csv").is_file()


def test_hydra_stimuli_entries(tmp_path):
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    base = _folder(tmp_path / "base", n=1)
    names = sorted(p.stem for p in (REPO / "conf/stimuli").glob("*.yaml"))
    for n in ("uniform_noise", "low_pass", "contrast", "high_pass", "eidolonI", "false_colour"):
        assert n in names
    with initialize_config_dir(str(REPO / "conf"), version_base=None):
        cfg = compose("config", overrides=["stimuli=uniform_noise", f"stimuli.source.base={base}",
                                           "stimuli.source.conditions=[0.10,0.35]"])
    cfg = OmegaConf.create(OmegaConf.to_container(cfg.stimuli, resolve=True))
    assert cfg.name == "uniform-noise" and cfg.source.name == "uniform-noise" and cfg.comparison == "condition"
    exp = instantiate(cfg, _convert_="all")
    assert exp.humans_from == "uniform-noise"
    s = exp.stimuli()
    assert len(s.manifest) == 4 and set(s.manifest["condition"]) == {"0.1", "0.35"}

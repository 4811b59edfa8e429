"""The config mirrors the object graph: every config-group entry and every preset composes and
instantiates (no network runs, no stimuli made), experiment defaults equal their yaml, and
retired groups say what to write instead."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from psychobench.experiments.base import Experiment
from psychobench.lightning.predict import Predictor
from psychobench.models.base import Observer

CONF = Path(__file__).resolve().parents[1] / "conf"


def entries(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml") if not p.stem.startswith("_"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A minimal folder experiment (two categories, no humans)."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("cfg") / "mini"
    for cat in ("cat", "dog"):
        (root / "stimuli" / cat).mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "stimuli" / cat / f"{cat}1.png")
    return root


def _compose(*overrides):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("config", overrides=list(overrides))


EXTRA = {"timm": ["model.name=resnet18", "model.pretrained=false"],
         "torch": ["model.factory=tests.factories:tiny_head", "+model.kwargs.n_out=16"]}


@pytest.mark.parametrize("name", entries("model"))
def test_every_model_instantiates_to_an_observer(name):
    cfg = _compose(f"model={name}", *EXTRA.get(name, []))
    obs = instantiate(cfg.model, _convert_="all")
    assert isinstance(obs, Observer)
    # an observer read out by a fitted readout is named NAME+READOUT (its runs never pass for the
    # same network with a fixed readout); every other observer keeps its config's name
    want = f"{cfg.model.name}+{obs.readout.name}" if obs.fitted else cfg.model.name
    assert obs.name == want
    assert obs.family in ("network", "random", "control")
    assert obs.modality in ("image", "audio")
    if obs.modality == "audio":
        assert "arch" not in cfg.model                 # a hearing config names no vision architecture


@pytest.mark.parametrize("readout", entries("model/readout"))
def test_every_readout_composes_under_a_model(readout):
    cfg = _compose("model=tf_efficientnet_lite0", f"model/readout={readout}")
    assert instantiate(cfg.model.readout).name in (readout, "imagenet")


@pytest.mark.parametrize("name", entries("stimuli"))
def test_every_experiment_instantiates_without_making_stimuli(name, folder, tmp_path, monkeypatch):
    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))
    extra = [f"stimuli.path={folder}"] if name == "folder" else []
    cfg = _compose(f"stimuli={name}", *extra)
    exp = instantiate(cfg.stimuli, _convert_="all")
    assert isinstance(exp, Experiment) and exp.name
    assert exp.modality in ("image", "audio") and exp.comparison in ("item", "condition", "none")
    assert not (tmp_path / "cache" / "stimuli").exists()      # nothing generated yet


@pytest.mark.parametrize("name", entries("experiment"))
def test_every_preset_instantiates(name):
    cfg = _compose(f"experiment={name}")
    confs = {"stimuli": cfg.stimuli} if cfg.get("stimuli") is not None else dict(cfg.experiments)
    assert confs
    exps = [instantiate(c, _convert_="all") for c in confs.values()]
    if not any(e.modality == "audio" for e in exps):       # the default network loads in the model test
        return
    obs = instantiate(cfg.model, _convert_="all")
    assert {e.modality for e in exps} == {obs.modality}   # a hearing preset brings a hearing model


@pytest.mark.parametrize("name", entries("trainer") + entries("launcher"))
def test_trainer_and_launchers_compose(name):
    group = "trainer" if (CONF / "trainer" / f"{name}.yaml").is_file() else "launcher"
    cfg = _compose(f"{group}={name}")
    assert isinstance(instantiate(cfg.trainer), Predictor)


def test_parametric_sets_share_one_base():
    text = {p.stem: p.read_text() for p in (CONF / "stimuli").glob("*.yaml")}
    parametric = [n for n, t in text.items() if "- _parametric" in t]
    assert len(parametric) == 13
    for n in parametric:
        assert "source:" not in text[n], n              # the factory settings live in the base
    cfg = _compose("stimuli=uniform_noise")
    assert cfg.stimuli.source.name == "uniform-noise" and cfg.stimuli.comparison == "condition"


def _yaml_defaults(name: str) -> dict:
    return OmegaConf.to_container(OmegaConf.load(CONF / "stimuli" / f"{name}.yaml"))


@pytest.mark.parametrize("name", ["words_in_noise", "ccc", "pitch", "vad", "pitch_shift", "mistuned_harmonics",
                                  "alt_phase", "transposed_tones"])
def test_experiment_defaults_equal_their_yaml(name):
    y = _yaml_defaults(name)
    target = instantiate({"_target_": "hydra.utils.get_class", "path": y["_target_"]})
    fields = {f.name: f.default for f in dataclasses.fields(target)
              if f.default is not dataclasses.MISSING}
    checked = 0
    for key, value in y.items():
        if key.startswith("_") or (isinstance(value, str) and "${" in value):
            continue
        assert key in fields, (name, key)
        want = fields[key]
        got = tuple(value) if isinstance(value, list) else value
        assert got == (tuple(want) if isinstance(want, (list, tuple)) else want), (name, key)
        checked += 1
    assert checked >= 3
    assert inspect.isclass(target)


def test_retired_groups_have_a_message():
    from psychobench.cli.main import retired_override

    assert "model=NAME" in retired_override(["audio_model=whisper_open"])
    assert "stimuli.OPTION" in retired_override(["runner.n_per_cell=4"])
    assert retired_override(["model=wordnet", "stimuli.n_per_cell=4"]) is None
    import psychobench as pb
    with pytest.raises(ValueError, match="model=NAME"):
        pb.run("audio_model=crepe")

"""Viewpoint stimuli (pybullet rendering) and the ImageNet readout of a subset of classes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from psychobench.data.answers import IMAGENET_OBJECTS, AnswerSpace
from psychobench.data.categories import OBJECT_INDICES
from psychobench.models.base import ObserverError
from psychobench.models.readouts import ImageNetReadout
from psychobench.stimuli import render as R

pytest.importorskip("pybullet")


def test_angular_distance_known_answers():
    assert R.angular_distance(R.CANONICAL) == pytest.approx(0.0, abs=1e-6)
    assert R.angular_distance(R.Viewpoint(0, 15, 90)) == pytest.approx(90.0)
    assert R.angular_distance(R.Viewpoint(0, 15, 180)) == pytest.approx(180.0)
    assert R.angular_distance(R.Viewpoint(180, 15, 0)) == pytest.approx(180.0)   # turn about z
    assert R.angular_distance(R.Viewpoint(0, 45, 0)) == pytest.approx(30.0)
    b = R.camera_basis(30, 20, 10)
    np.testing.assert_allclose(b @ b.T, np.eye(3), atol=1e-12)


def test_view_names():
    assert R.Viewpoint(30, 15, 0).name() == "az030_el15_roll000"
    assert R.Viewpoint(0, -30, 270).name() == "az000_el-30_roll270"
    assert R.Viewpoint(0, 0, 0, 1.5, 0, 30).name() == "az000_el0_roll000_dist1.5_light0_30"


def test_roll_is_an_image_rotation():
    """Rolling the camera by 90 deg turns the image by 90 deg (counter-clockwise)."""
    r = R.Renderer(R.OBJECTS["mug"])
    try:
        up = r.render(R.Viewpoint(30, 15, 0))
        rolled = r.render(R.Viewpoint(30, 15, 90))
    finally:
        r.close()
    mask_up, mask_rolled = (up != 255).any(axis=2), (rolled != 255).any(axis=2)
    assert mask_up.mean() > 0.05                              # the object is in view
    diff = (mask_rolled != np.rot90(mask_up, k=1)).mean()     # geometry (shading: see render.py)
    assert diff < 0.01, diff                                  # up to rasterisation at edges
    assert (mask_rolled != np.rot90(mask_up, k=3)).mean() > 5 * diff


def test_make_viewpoints_manifest_and_determinism(tmp_path):
    kw = dict(objects=["mug", "dumbbell"], azimuths=[0, 90], elevations=[15], rolls=[0, 180])
    a = R.make_viewpoints(tmp_path / "a", **kw)
    b = R.make_viewpoints(tmp_path / "b", **kw)
    m = a.manifest
    assert len(m) == 8 and list(m["sha256"]) == list(b.manifest["sha256"])
    assert set(m["condition"]) == {"az000_el15_roll000", "az000_el15_roll180",
                                   "az090_el15_roll000", "az090_el15_roll180"}
    assert set(m["category"]) == {"coffee-mug", "dumbbell"}
    row = m[m["stimulus_id"] == "mug_az090_el15_roll180"].iloc[0]
    p = json.loads(row["params"])
    assert (p["azimuth"], p["elevation"], p["roll"], p["distance"]) == (90, 15, 180, 1.0)
    assert (p["light_azimuth"], p["light_elevation"]) == (45, 45)
    assert float(row["level"]) == pytest.approx(R.angular_distance(R.Viewpoint(90, 15, 180)))
    canon = m[m["condition"] == "az000_el15_roll000"]["level"].astype(float)
    assert (canon == 0).all()
    from psychobench.stimuli.images import decode_image
    img0 = decode_image(a.root / m.loc[m.stimulus_id == "mug_az000_el15_roll000", "path"].iloc[0])
    img180 = decode_image(a.root / m.loc[m.stimulus_id == "mug_az000_el15_roll180", "path"].iloc[0])
    np.testing.assert_array_equal(np.rot90(img0, 2), img180)


def test_bad_object_is_named(tmp_path):
    from psychobench.stimuli.images import StimulusError
    with pytest.raises(StimulusError, match="unicorn"):
        R.make_viewpoints(tmp_path / "x", objects=["unicorn"])


def test_object_classes_agree_with_the_answer_space():
    assert {o.label: o.imagenet for o in R.OBJECTS.values()} == OBJECT_INDICES
    assert IMAGENET_OBJECTS.labels == tuple(OBJECT_INDICES) and IMAGENET_OBJECTS.aggregation == "max"


def test_subset_rule_known_answers():
    space = AnswerSpace(("a", "b"), {"a": (1, 2), "b": (3,)}, "max")
    rule = ImageNetReadout().bind(space, 1000)
    logits = torch.zeros(3, 1000)
    logits[0, 2] = 5            # a via its second index
    logits[1, 3] = 5
    logits[2, 0] = 9            # outside the set: ignored; a's and b's logits tie at 0 -> first
    logits[2, 3] = 0.5
    s = rule.scores(logits)
    assert list(np.asarray(rule.labels)[s.argmax(1).numpy()]) == ["a", "b", "b"]
    p = torch.softmax(logits.double(), 1)
    torch.testing.assert_close(s[0], torch.stack([p[0, 2], p[0, 3]]))
    with pytest.raises(ObserverError, match="1000"):
        ImageNetReadout().bind(space, 10)


@pytest.mark.slow
def test_lite0_recognises_canonical_views_and_accuracy_varies():
    """tf_efficientnet_lite0 (bundled weights): near-canonical views well above chance (1/9);
    accuracy depends on the viewpoint (unusual views are harder)."""
    from psychobench.models.vision import create

    net = create("tf_efficientnet_lite0")
    rule = ImageNetReadout().bind(IMAGENET_OBJECTS, 1000)
    easy = [R.Viewpoint(0, 15, 0), R.Viewpoint(45, 15, 0)]
    hard = [R.Viewpoint(0, 75, 180), R.Viewpoint(90, -30, 90)]
    imgs = R.render_images(list(R.OBJECTS.values()), easy + hard)
    labels = [o.label for o in R.OBJECTS.values()]
    x = torch.tensor(np.stack([i for o in R.OBJECTS.values() for i in imgs[o.name]])).permute(0, 3, 1, 2)
    mean = torch.tensor(net.preprocessing.mean).view(1, 3, 1, 1)
    std = torch.tensor(net.preprocessing.std).view(1, 3, 1, 1)
    with torch.no_grad():
        answers = np.asarray(rule.labels)[rule.scores(net.module((x.float() / 255 - mean) / std)).argmax(1).numpy()]
    correct = (answers.reshape(len(labels), 4) == np.array(labels)[:, None])
    acc_easy, acc_hard = correct[:, :2].mean(), correct[:, 2:].mean()
    assert acc_easy >= 0.75, answers
    assert acc_easy - acc_hard >= 0.2, (acc_easy, acc_hard)

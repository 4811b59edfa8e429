"""Features from any layer: timm's forward_intermediates and forward hooks read the same
tensors, pre_logits is the classifier's input, a hook stops the pass at its layer, pooling has
known values, and the prediction path returns the features in manifest order."""

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from psychobench.models import vision
from psychobench.models.base import ObserverError
from psychobench.models.features import FeatureExtractor, FeatureSpec, pool


@pytest.fixture(scope="module")
def lite0():
    return vision.create("tf_efficientnet_lite0", pretrained=False, seed=2, channels_last=False).module


def test_timm_stage_and_hook_read_the_same_layer(lite0):
    x = torch.randn(2, 3, 224, 224)
    stage = FeatureExtractor(lite0, FeatureSpec("blocks.2", "flatten"))
    assert stage.how == "timm_stage"
    hooked = FeatureExtractor(lite0, FeatureSpec("blocks.2", "flatten"))
    hooked._how, hooked._target = "output_of", "blocks.2"          # the same module, read by a hook
    with torch.no_grad():
        a, b = stage.raw(x), hooked.raw(x)
    assert a.shape == (2, 40, 28, 28)
    torch.testing.assert_close(a, b)


def test_pre_logits_is_the_classifier_input(lite0):
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        f = FeatureExtractor(lite0, FeatureSpec(None)).raw(x)
        torch.testing.assert_close(lite0.classifier(f), lite0(x))
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                  torch.nn.Linear(4, 5))
        g = FeatureExtractor(net, FeatureSpec("pre_logits"))
        assert g.how == "input_of"
        torch.testing.assert_close(net[3](g(x)), net(x))


def test_a_hook_ends_the_forward_pass_at_its_layer(lite0):
    called = []
    h = lite0.conv_head.register_forward_hook(lambda *a: called.append(1))
    try:
        with torch.no_grad():
            out = FeatureExtractor(lite0, FeatureSpec("blocks.5.0", "avg"))(torch.randn(1, 3, 224, 224))
    finally:
        h.remove()
    assert out.shape == (1, 192) and not called


def test_pooling_known_values():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4)
    assert torch.equal(pool(x, "avg"), x.mean((2, 3)))
    assert torch.equal(pool(x, "max"), x[:, :, 3, 3])
    g = pool(x, "grid", 2)
    assert g.shape == (2, 12) and g[0, 0] == x[0, 0, :2, :2].mean() and g[0, 3] == x[0, 0, 2:, 2:].mean()
    assert pool(x, "flatten").shape == (2, 48)
    tokens = torch.randn(2, 5, 7)
    assert torch.equal(pool(tokens, "avg"), tokens.mean(1))
    with pytest.raises(ObserverError, match="pooling"):
        FeatureSpec(None, "median")


def test_unknown_layer_names_the_stages(lite0):
    with pytest.raises(ObserverError, match=r"blocks\.9.*blocks\.0, blocks\.1"):
        FeatureExtractor(lite0, FeatureSpec("blocks.9"))


def test_a_fixed_readout_reads_no_layer():
    with pytest.raises(ObserverError, match="fitted readout"):
        vision.create("tf_efficientnet_lite0", pretrained=False, layer="blocks.3")
    obs = vision.create("tf_efficientnet_lite0", pretrained=False, layer="blocks.3", readout="logistic")
    assert obs.name == "tf_efficientnet_lite0@blocks.3+logistic" and obs.family == "random"
    assert obs.feature_identity()["features"] == {"layer": "blocks.3", "pooling": "avg"}


def test_features_through_the_prediction_path_in_manifest_order(tmp_path):
    from psychobench.lightning.data import read_pixels
    from psychobench.lightning.predict import Predictor
    from psychobench.models.vision import normalize
    from psychobench.stimuli.manifest import read_manifest, write_manifest

    rng = np.random.default_rng(0)
    rows = []
    for i in range(5):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(tmp_path / f"im{i}.png")
        rows.append({"stimulus_id": f"im{i}", "path": f"im{i}.png", "condition": "0", "category": "cat",
                     "params": "{}", "sha256": str(i)})
    write_manifest(pd.DataFrame(rows), tmp_path)
    stimuli = read_manifest(tmp_path)
    obs = vision.create("resnet18", pretrained=False, readout="logistic", layer="layer2", channels_last=False)
    x, passes = Predictor(accelerator="cpu", batch_size=2, num_workers=0, progress_bar=False).features(obs, stimuli)
    assert x.shape == (5, 128) and x.dtype == np.float32 and passes == 3
    direct = torch.stack([normalize(read_pixels(p, obs.preprocessing), obs.preprocessing) for p in stimuli.paths()])
    with torch.no_grad():
        want = obs.module.layer2(obs.module.layer1(obs.module.maxpool(obs.module.act1(obs.module.bn1(
            obs.module.conv1(direct)))))).mean((2, 3)).numpy()
    np.testing.assert_allclose(x, want, rtol=1e-4, atol=1e-5)


def test_a_head_of_its_own_label_space_loads_from_its_weights_file(tmp_path):
    from psychobench.data.answers import IMAGENET16

    net = vision.create("resnet18", pretrained=False, num_classes=16, seed=4)
    f = tmp_path / "r18-16.pth"
    torch.save(net.module.state_dict(), f)
    again = vision.create("resnet18", weights_file=str(f), readout="identity")
    assert again.n_outputs == 16
    again.check(IMAGENET16)                                          # output k answers category k
    torch.testing.assert_close(again.module.fc.weight, net.module.fc.weight)
    with pytest.raises(ObserverError, match="do not fit"):
        vision.create("resnet18", weights_file=str(f), num_classes=10)

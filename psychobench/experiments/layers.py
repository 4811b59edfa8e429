"""Analyses of a network's internal stages, run on the same spine as the behavioural
experiments (stimuli, observers, the Lightning predictor, the feature cache, the metric table).

:class:`AttentionGain`: whether scaling units by their preference for a category, one layer at a
time, helps a readout detect that category in multi-object grids (Lindsay & Miller 2018).

:class:`LayerDecoding`: how linearly decodable category and category-orthogonal variables are
at each layer (Hong et al. 2016; Kell & McDermott 2019, Fig. 3c), on objects rendered at known
poses and placed at known positions and scales on varied backgrounds
(:func:`psychobench.stimuli.render.make_placed_objects`).  Rows of its metric table carry the
analysis coordinate ``layer``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

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


# --------------------------------------------------------------------------------------------
# feature-similarity attention gain (Lindsay & Miller 2018)

#: the metric codes of an attention-gain table (coordinates ``layer`` and ``beta``)
ATTENTION_METRICS = ("detection_dprime", "detection_accuracy")


def category_tuning(x: np.ndarray, category: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Each unit's preference for each category, ``(units, categories)``: its mean response to
    the category minus its mean over categories, over the standard deviation of its category
    means (Lindsay & Miller 2018, eq. 1); 0 for a unit whose category means are all equal."""
    category = np.asarray(category).astype(str)
    cats = sorted(set(category))
    means = np.stack([x[category == c].mean(0) for c in cats], 1)            # (units, categories)
    mu, sd = means.mean(1, keepdims=True), means.std(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(sd > 0, (means - mu) / sd, 0.0)
    return f, cats


def gain(tuning: np.ndarray, beta: float) -> np.ndarray:
    """Multiplicative gain of each unit when attending to a category: ``1 + beta f``, floored
    at 0 (a gain cannot make a rate negative)."""
    return np.maximum(1.0 + beta * np.asarray(tuning, float), 0.0)


def detection_scores(decisions: np.ndarray, present: np.ndarray, *, n_boot: int = 1000, seed: int = 0) -> dict:
    """Detection of each category in the grids: ``decisions``, ``present`` ``(grids, categories)``
    bool.  d' per category from hit and false-alarm rates with the log-linear correction
    ((k + 0.5) / (n + 1), Hautus 1995), averaged over categories; accuracy over grids and
    categories; 95% percentile intervals from ``n_boot`` resamples of the grids."""
    from scipy.stats import norm

    d, p = np.asarray(decisions, float), np.asarray(present, float)
    n = len(d)
    rng = np.random.default_rng([seed, 2018])
    W = np.vstack([np.ones(n), rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)])     # row 0: the data

    def stats(w):
        hit, fa = w @ (d * p), w @ (d * (1 - p))
        n_p, n_a = w @ p, w @ (1 - p)
        dp = norm.ppf((hit + 0.5) / (n_p + 1)) - norm.ppf((fa + 0.5) / (n_a + 1))
        acc = (w @ (d == p).astype(float)).sum(-1) / (w.sum(-1) * p.shape[1])
        return dp.mean(-1), acc

    dp, acc = stats(W)
    return {"detection_dprime": (float(dp[0]), *np.percentile(dp[1:], [2.5, 97.5])),
            "detection_accuracy": (float(acc[0]), *np.percentile(acc[1:], [2.5, 97.5]))}


@dataclass
class AttentionGain(ImageExperiment):
    """Feature-similarity attention (Lindsay & Miller 2018): grids of ``rows x cols`` objects of
    distinct categories are built from the experiment's single-object stimuli; a binary logistic
    readout per category on the network's ``pre_logits`` features says whether that category is
    in a grid (fitted out of fold on unattended grids, ``n_folds`` folds); then, one layer at a
    time, each unit of the layer is scaled by ``1 + beta f`` (``f``: its tuning to the attended
    category, from its responses to the single-object stimuli) and the grids are shown again.
    Reports detection d' and accuracy per layer and ``beta`` with grid-resample intervals."""

    comparison: str = "none"
    answers: object = "imagenet-objects"
    layers: tuple | None = None
    betas: tuple = (0.0, 0.5, 1.0, 2.0)
    n_grids: int = 90
    rows: int = 2
    cols: int = 2
    n_folds: int = 5
    n_boot: int = 1000
    seed: int = 0

    features_analysis = True

    def __post_init__(self):
        super().__post_init__()
        self.betas = tuple(float(b) for b in self.betas)
        if not self.betas or any(b < 0 for b in self.betas):
            raise SettingError(f"{self.name}: stimuli.betas must be gain strengths >= 0, got {list(self.betas)}")
        if 0.0 not in self.betas:
            self.betas = (0.0, *self.betas)            # the unattended baseline is always reported
        if self.layers is not None:
            self.layers = tuple(str(x) for x in self.layers)
        self.headline = self.headline or ATTENTION_METRICS
        self.notes.setdefault("analysis", "feature-similarity attention gain (Lindsay & Miller 2018): detection of "
                                          "the attended category in grids; value_ci: 95% interval from resampling "
                                          "the grids; beta 0 is the unattended baseline")

    def grids(self):
        from psychobench.stimuli.grids import make_grids

        return make_grids(self.stimuli(), n_grids=int(self.n_grids), rows=int(self.rows), cols=int(self.cols),
                          seed=int(self.seed))

    def score(self, trials: pd.DataFrame, settings: ScoreSettings, *, chance: float | None = None) -> pd.DataFrame:
        raise SettingError(f"{self.name}: an attention-gain experiment is scored from features, not answers")

    def analyse(self, model_cfg, predictor, *, use_cache: bool = True) -> tuple[pd.DataFrame, int, str]:
        from hydra.utils import instantiate
        from omegaconf import OmegaConf
        from sklearn.model_selection import KFold

        from psychobench.consistency.decoding import readout_pipeline
        from psychobench.results.fitting import features_of

        spec = OmegaConf.to_container(model_cfg, resolve=True) if OmegaConf.is_config(model_cfg) else dict(model_cfg)
        if "layer" not in spec:
            raise SettingError(f"model={spec.get('name')}: attention gain reads layers of the network, and this "
                               "observer has no model.layer setting")
        readout = {"_target_": "psychobench.models.readouts.LogisticReadout"}

        def observer(layer):
            return instantiate({**spec, "layer": layer, "pooling": "avg", "readout": readout}, _convert_="all")

        singles, grids = self.stimuli(), self.grids()
        head = observer("pre_logits")
        name = head.name.split("@")[0].split("+")[0]
        layers = list(self.layers) if self.layers is not None else [
            f["module"] for f in getattr(head.module, "feature_info", [])]
        if not layers:
            raise SettingError(f"{self.name}: give stimuli.layers (module paths); the network lists no stages")
        present_lists = [s.split("|") for s in grids.manifest["present"].astype(str)]
        cats = sorted({c for p in present_lists for c in p})
        present = np.array([[c in p for c in cats] for p in present_lists])
        x0, passes = features_of(head, grids, predictor, use_cache=use_cache)
        folds = list(KFold(int(self.n_folds), shuffle=True, random_state=int(self.seed)).split(x0))
        models = {}                                   # (category, fold) -> readout fitted on unattended grids
        for j, c in enumerate(cats):
            for k, (tr, _) in enumerate(folds):
                models[c, k] = readout_pipeline(binary=True).fit(x0[tr], present[tr, j])

        def decide(x_of_category) -> np.ndarray:
            out = np.zeros_like(present)
            for j, c in enumerate(cats):
                x = x_of_category(c)
                for k, (_, te) in enumerate(folds):
                    out[te, j] = models[c, k].predict(x[te]).astype(bool)
            return out

        rows = []

        def add(layer, beta, dec):
            for metric, (v, lo, hi) in detection_scores(dec, present, n_boot=int(self.n_boot),
                                                        seed=int(self.seed)).items():
                rows.append(T.row(self.name, metric, name, v, value_ci=(lo, hi), n=len(present), layer=layer,
                                  beta=float(beta)))

        base = decide(lambda c: x0)
        for layer in layers:
            xs, n = features_of(observer(layer), singles, predictor, use_cache=use_cache)
            passes += n
            tuning, tcats = category_tuning(xs, singles.manifest["category"].to_numpy())
            target = head.module.get_submodule(layer)
            for beta in self.betas:
                if beta == 0.0:
                    add(layer, beta, base)
                    continue
                attended = {}
                for c in cats:
                    g = torch.as_tensor(gain(tuning[:, tcats.index(c)], beta), dtype=torch.float32)

                    def hook(_m, _i, out, g=g):
                        if out.shape[1] != len(g):
                            raise SettingError(f"{layer}: {out.shape[1]} channels, tuning of {len(g)} units")
                        return out * g.to(out.device, out.dtype).view(1, -1, *([1] * (out.ndim - 2)))

                    handle = target.register_forward_hook(hook)
                    try:                              # attended features: never cached (the hook changes them)
                        attended[c], n = features_of(head, grids, predictor, use_cache=False)
                    finally:
                        handle.remove()
                    passes += n
                add(layer, beta, decide(lambda c: attended[c]))
                log.info("%s attention at %s, beta %g: d' %.2f (unattended %.2f)", name, layer, beta,
                         rows[-2]["value"], next(r["value"] for r in rows if r["layer"] == layer and r["beta"] == 0.0
                                                 and r["metric"] == "detection_dprime"))
        return T.metric_table(rows, f"{self.name}/{name}"), passes, name

    def identity(self) -> dict:
        return {**super().identity(), "layers": list(self.layers) if self.layers else None,
                "betas": list(self.betas), "n_grids": int(self.n_grids), "rows": int(self.rows),
                "cols": int(self.cols), "n_folds": int(self.n_folds), "n_boot": int(self.n_boot),
                "seed": int(self.seed)}

"""Report analyses: run folders (and the human data they were scored against) -> tidy tables.

Every function returns a tidy DataFrame, empty (with its columns) when the runs hold nothing
for it, so that a report section can say "not available" instead of failing.  Nothing here
runs a network: scores come from each run's metric table (``metrics.csv``), model answers from
its ``trials.parquet``, and the facts of each experiment (its condition levels, its human data)
from the experiment itself, rebuilt from the run's ``config.yaml`` (building an experiment loads
nothing; model-vs-human data sets are known by name where a run's config does not say).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtri

from psychobench.consistency import table as T
from psychobench.consistency.agreement import kappa_from_rates
from psychobench.consistency.intervals import wilson
from psychobench.results import store
from psychobench.results.run_folder import RunFolder

Z95 = float(ndtri(0.975))


@dataclass
class Runs:
    """The runs a report shows: ``runs`` (one row each, :data:`store.RUN_COLUMNS`),
    ``metrics`` (their metric rows) and their summaries by run id."""

    root: Path
    runs: pd.DataFrame
    metrics: pd.DataFrame
    summaries: dict = field(default_factory=dict)
    _experiments: dict = field(default_factory=dict, repr=False)

    def folder(self, run: str) -> Path:
        return self.root if (self.root / store.SUMMARY).is_file() else self.root / run

    def trials(self, run: str) -> pd.DataFrame:
        p = self.folder(run) / "trials.parquet"
        if p.is_file():
            return pd.read_parquet(p)
        return pd.DataFrame(columns=["experiment", "subject", "stimulus_id", "condition",
                                     "category", "response", "correct", "imagename"])

    def config(self, run: str) -> dict:
        return RunFolder(self.folder(run)).config()

    def run_metrics(self, run: str) -> pd.DataFrame:
        return self.metrics[self.metrics["run"] == run]

    def model(self, run: str) -> str:
        return str(self.runs.loc[self.runs["run"] == run, "model"].iloc[0])

    def experiment(self, run: str, dataset: str):
        """The experiment ``dataset`` of ``run`` (None where it cannot be rebuilt)."""
        if run not in self._experiments:
            self._experiments[run] = _experiments_of(self.config(run))
        exp = self._experiments[run].get(dataset)
        return exp if exp is not None else _builtin(dataset)


def _experiments_of(cfg: dict) -> dict:
    from omegaconf import OmegaConf

    from psychobench.results.pipeline import experiments_of

    if not cfg or not (cfg.get("stimuli") or cfg.get("experiments")):
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return experiments_of(OmegaConf.create(cfg))
    except Exception:            # a run of an older layout, or a folder that moved: no facts
        return {}


@functools.lru_cache(maxsize=64)
def _builtin(dataset: str):
    """A model-vs-human experiment by name (its stimuli are never loaded here)."""
    from psychobench.experiments import mvh
    from psychobench.experiments.vision import ModelVsHuman

    try:
        mvh.canonical_name(dataset)
    except KeyError:
        return None
    return ModelVsHuman(name=dataset, source=lambda: None)


def load(results_dir, runs=None, models=None) -> Runs:
    """Trusted runs under ``results_dir`` (shell patterns ``runs`` / ``models`` select), the
    latest of each (model, stimulus sets) pair, i.e. repeated runs of one job count once."""
    root = Path(results_dir)
    info = store.runs(root)
    info = info[store.match_patterns(info["run"], runs).to_numpy() & store.match_patterns(info["model"], models).to_numpy()]
    info = info.drop_duplicates(["model", "sets"], keep="last").reset_index(drop=True)
    table = store.collect(root, write=False)
    table = table[table["run"].isin(info["run"])].reset_index(drop=True)
    summaries = {r: RunFolder(root if (root / store.SUMMARY).is_file() else root / r).summary()
                 for r in info["run"]}
    return Runs(root, info, table, summaries)


def human_trials(data: Runs, run: str, dataset: str) -> pd.DataFrame:
    """The human trial table an image experiment of ``run`` was compared with (empty if none)."""
    exp = data.experiment(run, dataset)
    if exp is None or exp.modality != "image":
        return pd.DataFrame()
    h = exp.humans()
    return h if isinstance(h, pd.DataFrame) and "stimulus_id" in h.columns else pd.DataFrame()


# ---------------------------------------------------------------- psychometric curves

POINT_COLUMNS = ["dataset", "observer", "kind", "level", "x", "n_correct", "n_trials",
                 "accuracy", "ci_low", "ci_high", "parameter", "transform"]


def psychometric_points(data: Runs) -> pd.DataFrame:
    """Accuracy per stimulus level of every model and of the pooled humans, with 95% Wilson
    intervals, on every parametric experiment (one whose conditions are levels of one
    parameter): from the runs' per-condition ``accuracy`` rows (value and trials ``n``).  ``x`` is
    the level on the experiment's fitting scale (log10/log2 where it says so)."""
    from psychobench.consistency.psychometric import transform_levels

    m = data.metrics
    m = m[(m["metric"] == "accuracy") & (m["condition"] != "")]
    parts = []
    for (run, ds), g in m.groupby(["run", "dataset"], sort=False):
        exp = data.experiment(run, ds)
        if exp is None or not exp.conditions.parametric or exp.modality != "image":
            continue
        model = data.model(run)
        g = g[g["observer"].isin([model, T.HUMANS])]
        if g["observer"].nunique() < 1:
            continue
        try:
            lv = exp.conditions.levels(g["condition"].unique())
        except ValueError:
            continue
        sch = exp.conditions
        parts.append(pd.DataFrame({
            "dataset": ds, "observer": g["observer"].to_numpy(),
            "kind": np.where(g["observer"] == T.HUMANS, "humans", "model"),
            "level": g["condition"].map(lv).to_numpy(float),
            "n_correct": (g["value"] * g["n"]).round().to_numpy(), "n_trials": g["n"].to_numpy(float),
            "parameter": sch.parameter, "transform": sch.transform}))
    if not parts:
        return pd.DataFrame(columns=POINT_COLUMNS)
    df = pd.concat(parts, ignore_index=True)
    df = df.drop_duplicates(["dataset", "observer", "level"], keep="last")
    df["accuracy"] = df["n_correct"] / df["n_trials"]
    df["ci_low"], df["ci_high"] = wilson(df["n_correct"], df["n_trials"])
    df["x"] = df["level"].astype(float)
    for t, idx in df.groupby(df["transform"].fillna("none")).groups.items():   # a few groups
        if t != "none":
            df.loc[idx, "x"] = transform_levels(df.loc[idx, "level"].to_numpy(float), t)
    return df[POINT_COLUMNS].sort_values(["dataset", "kind", "observer", "x"]).reset_index(drop=True)


def psychometric_curves(points: pd.DataFrame, n: int = 100) -> pd.DataFrame:
    """Logistic fits (guess 1/16, lapse in [0, 0.06]; Wichmann & Hill 2001) of each observer's
    points, evaluated on ``n`` levels spanning the data: dataset, observer, kind, x, p."""
    from psychobench.consistency.psychometric import fit_psychometric

    cols = ["dataset", "observer", "kind", "x", "p"]
    rows = []
    for (ds, obs, kind), g in points.groupby(["dataset", "observer", "kind"], sort=False):
        g = g[np.isfinite(g["x"].to_numpy(float))]
        if g["x"].nunique() < 3:
            continue
        f = fit_psychometric(g["x"].to_numpy(float), g["n_correct"].to_numpy(float),
                             g["n_trials"].to_numpy(float), kind="logistic", guess=1 / 16)
        x = np.linspace(g["x"].min(), g["x"].max(), n)
        rows.append(pd.DataFrame({"dataset": ds, "observer": obs, "kind": kind, "x": x,
                                  "p": f.predict(x)}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=cols)


# ---------------------------------------------------------------- shape bias

SHAPE_COLUMNS = ["dataset", "observer", "kind", "category", "shape_hits", "texture_hits", "shape_bias"]


def _shape_counts(t: pd.DataFrame) -> pd.DataFrame:
    from psychobench.data.trials import texture_of

    texture = t["texture"] if "texture" in t and t["texture"].notna().all() \
        else texture_of(t["imagename"].astype(str))
    keep = (t["category"].to_numpy() != texture.to_numpy())
    d = pd.DataFrame({"category": t["category"].to_numpy()[keep],
                      "shape_hits": (t["response"].to_numpy() == t["category"].to_numpy())[keep],
                      "texture_hits": (t["response"].to_numpy() == texture.to_numpy())[keep]})
    return d.groupby("category", as_index=False)[["shape_hits", "texture_hits"]].sum()


def shape_bias_by_category(data: Runs) -> pd.DataFrame:
    """Fraction of shape decisions among shape-or-texture decisions per shape category
    (Geirhos et al. 2019, Fig. 4), for every model on every experiment that reports a shape
    bias, and for that experiment's pooled humans; trials whose shape and texture categories
    agree are dropped."""
    m = data.metrics
    sets = m[(m["metric"] == "shape_bias") & (m["condition"] == "") & (m["dataset"] != T.AGGREGATE)]
    parts, seen = [], set()
    for run, ds in sets[["run", "dataset"]].drop_duplicates().itertuples(index=False):
        t = data.trials(run)
        t = t[t["experiment"] == ds]
        if len(t):
            parts.append(_shape_counts(t).assign(dataset=ds, observer=data.model(run), kind="model"))
        h = human_trials(data, run, ds)
        if len(h) and ds not in seen:
            seen.add(ds)
            parts.append(_shape_counts(h).assign(dataset=ds, observer=T.HUMANS, kind="humans"))
    if not parts:
        return pd.DataFrame(columns=SHAPE_COLUMNS)
    df = pd.concat(parts, ignore_index=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        df["shape_bias"] = df["shape_hits"] / (df["shape_hits"] + df["texture_hits"])
    return df[SHAPE_COLUMNS]


# ---------------------------------------------------------------- error consistency

def kappa_matrix(correct: np.ndarray, cond: np.ndarray) -> np.ndarray:
    """Error consistency of every pair of observers: kappa per condition from the trials both
    answered, then the mean over conditions where it is defined (Geirhos et al. 2020).

    correct: (n_observers, n_stimuli) float, 1/0, NaN where not answered; cond: (n_stimuli,)
    condition codes.  Returns (n_observers, n_observers), NaN where undefined.
    """
    per = []
    for c in np.unique(cond):                      # conditions: a handful
        x = correct[:, cond == c]
        m = np.isfinite(x).astype(float)
        a = np.nan_to_num(x)
        n = m @ m.T                                            # trials both answered
        with np.errstate(invalid="ignore", divide="ignore"):
            p_a = (a @ m.T) / n                                # accuracy of row on shared trials
            p_b = (m @ a.T) / n
            c_obs = (a @ a.T + (m - a) @ (m - a).T) / n        # both right or both wrong
            per.append(np.where(n > 0, kappa_from_rates(p_a, p_b, c_obs), np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.stack(per), axis=0)


def item_level_sets(data: Runs) -> list[str]:
    """The data sets on which some run was compared with people item by item."""
    m = data.metrics
    return sorted(pd.unique(m.loc[(m["metric"] == "error_consistency") & (m["dataset"] != T.AGGREGATE), "dataset"]))


def error_consistency_matrix(data: Runs, dataset: str) -> pd.DataFrame:
    """Tidy kappa matrix of the models that ran ``dataset`` and its human observers:
    dataset, a, b, kind_a, kind_b, kappa (models first, then subjects)."""
    cols = ["dataset", "a", "b", "kind_a", "kind_b", "kappa"]
    tables, h = [], pd.DataFrame()
    for run, model in zip(data.runs["run"], data.runs["model"], strict=True):
        if dataset not in data.runs.loc[data.runs["run"] == run, "sets"].iloc[0].split(","):
            continue
        t = data.trials(run)
        t = t[t["experiment"] == dataset]
        if len(t):
            tables.append(t.assign(subject=model))
            if h.empty:
                h = human_trials(data, run, dataset)
    if not tables or h.empty:
        return pd.DataFrame(columns=cols)
    models = [t["subject"].iloc[0] for t in tables]
    subjects = sorted(h["subject"].astype(str).unique())
    allt = pd.concat([*tables, h.assign(subject=h["subject"].astype(str))], ignore_index=True)
    stim = pd.Index(pd.unique(h["stimulus_id"].astype(str)))
    cond_of = h.drop_duplicates("stimulus_id").set_index("stimulus_id")["condition"].astype(str)
    _, cond = np.unique(cond_of.reindex(stim).to_numpy(), return_inverse=True)
    observers = models + subjects
    o = pd.Index(observers).get_indexer(allt["subject"].astype(str))
    x = stim.get_indexer(allt["stimulus_id"].astype(str))
    ok = (o >= 0) & (x >= 0)
    mat = np.full((len(observers), len(stim)), np.nan)
    mat[o[ok], x[ok]] = allt["correct"].to_numpy(float)[ok]
    k = kappa_matrix(mat, cond)
    kind = np.array(["model"] * len(models) + ["human"] * len(subjects))
    ia, ib = np.meshgrid(np.arange(len(observers)), np.arange(len(observers)), indexing="ij")
    return pd.DataFrame({"dataset": dataset, "a": np.asarray(observers)[ia.ravel()],
                         "b": np.asarray(observers)[ib.ravel()], "kind_a": kind[ia.ravel()],
                         "kind_b": kind[ib.ravel()], "kappa": k.ravel()})


# ---------------------------------------------------------------- scores and ceilings

CEILING_COLUMNS = ["dataset", "metric", "model", "value", "value_ci_low", "value_ci_high", "ceiling",
                   "ceiling_ci_low", "ceiling_ci_high", "normalized", "normalized_ci_low", "normalized_ci_high"]


def _without_coordinates(m: pd.DataFrame) -> pd.DataFrame:
    """Rows that are no analysis of one part of a model (a network ``layer``, a gain ``beta``,
    ...): those whose analysis coordinates, the columns beyond the run and metric columns, are
    all empty."""
    extra = [c for c in m.columns if c not in store.RUN_COLUMNS and c not in T.COLUMNS]
    if not extra:
        return m
    x = m[extra]
    return m[(x.isna() | (x.astype(str) == "")).all(axis=1)]         # CSV writes an empty one as ""


def _model_rows(data: Runs, modality: str | None = "image") -> pd.DataFrame:
    """The models' whole-set rows (of experiments of ``modality``; aggregates count as image)."""
    m = _without_coordinates(data.metrics)
    m = m[(m["observer"] == m["model"]) & (m["condition"] == "")]
    if modality is None or m.empty:
        return m
    keep = [ds == T.AGGREGATE or getattr(data.experiment(run, ds), "modality", "image") == modality
            for run, ds in zip(m["run"], m["dataset"])]
    return m[np.asarray(keep, bool)]


def ceiling_table(data: Runs) -> pd.DataFrame:
    """Each model's consistency scores per data set of the vision experiments beside the human
    noise ceiling and their 95% intervals, as the runs recorded them (of several runs of a model
    on a data set, the latest).  Hearing comparisons have their own section."""
    m = _model_rows(data)
    m = m[m["ceiling"].notna() & (m["dataset"] != T.AGGREGATE)]
    if m.empty:
        return pd.DataFrame(columns=CEILING_COLUMNS)
    m = m.drop_duplicates(["model", "dataset", "metric"], keep="last")
    return m[CEILING_COLUMNS].reset_index(drop=True)


LEADERBOARD_COLUMNS = ["rank", "model", "mean_normalized", "n_scores", "n_own", "n_all", "missing"]


def leaderboard(data: Runs) -> pd.DataFrame:
    """Models ranked by their mean ceiling-normalised consistency, like for like: the mean of
    ``normalized`` over the (data set, consistency metric) cells of vision experiments that every
    model in the table has a finite score for (:func:`like_for_like`).  Columns: rank, model,
    mean_normalized, n_scores (cells in the mean, the same for every model), n_own (the model's
    cells), n_all (cells any model has), missing (the cells the model lacks), then the mean per
    metric over the same common cells.  A model that lacks cells is named in :func:`coverage_note`;
    where no cell is common, mean_normalized is NaN and no rank is given."""
    m = _model_rows(data)
    m = m[m["ceiling"].notna() & (m["dataset"] != T.AGGREGATE)]
    if m.empty:
        return pd.DataFrame(columns=LEADERBOARD_COLUMNS)
    m = m.drop_duplicates(["model", "dataset", "metric"], keep="last")
    per_model, common = like_for_like(m, ["dataset", "metric"], "normalized")
    out = per_model.rename(columns={"mean": "mean_normalized", "n_common": "n_scores"})
    if common:
        c = m[np.isfinite(m["normalized"].to_numpy(float))]
        c = c[pd.MultiIndex.from_frame(c[["dataset", "metric"]]).isin(common)]
        per = c.pivot_table(index="model", columns="metric", values="normalized", aggfunc="mean")
        per = per[[k for k in dict.fromkeys(t[1] for t in common)]]
        out = out.merge(per, left_on="model", right_index=True, how="left")
    out = out.sort_values("mean_normalized", ascending=False, na_position="last").reset_index(drop=True)
    ranked = np.isfinite(out["mean_normalized"].to_numpy(float))
    out.insert(0, "rank", pd.array(np.where(ranked, np.arange(1, len(out) + 1), 0), dtype="Int64"))
    out.loc[~ranked, "rank"] = pd.NA
    out.columns.name = None
    return out


# ---------------------------------------------------------------- hearing

WORD_POINT_COLUMNS = ["observer", "kind", "background", "background_name", "snr_db", "accuracy",
                      "ci_low", "ci_high", "n"]
HEADLINE_COLUMNS = ["run", "model", "experiment", "metric", "value", "human", "ceiling", "normalized", "status"]


def runs_with_metric(data: Runs, metric: str) -> list[tuple[str, str]]:
    """``(run, dataset)`` pairs whose metric table holds ``metric``."""
    m = data.metrics[data.metrics["metric"] == metric]
    return [tuple(r) for r in m[["run", "dataset"]].drop_duplicates().itertuples(index=False)]


def words_in_noise_points(data: Runs) -> pd.DataFrame:
    """Word accuracy per (background, SNR) of every words-in-noise run's model (95% Wilson
    intervals over its trials) and of its listeners (mean over listeners, 95% normal interval
    over listeners).  Clean cells have ``snr_db`` = inf and belong to every background."""
    from psychobench.stimuli.audio.maskers import SADDLER_BACKGROUNDS

    pairs = runs_with_metric(data, "srt_db")
    if not pairs:
        return pd.DataFrame(columns=WORD_POINT_COLUMNS)
    names = {k: v[0] for k, v in SADDLER_BACKGROUNDS.items()}
    parts, listeners = [], None
    for run, ds in pairs:
        t = data.trials(run)
        t = t[t["experiment"] == ds]
        clean = t[t["background"] < 0]
        noisy = t[t["background"] >= 0]
        expanded = pd.concat([noisy] + [clean.assign(background=b) for b in sorted(noisy["background"].unique())])
        g = expanded.groupby(["background", "snr_db"])["correct"].agg(k="sum", n="size").reset_index()
        lo, hi = wilson(g["k"].to_numpy(float), g["n"].to_numpy(float))
        parts.append(pd.DataFrame({"observer": data.model(run), "kind": "model",
                                   "background": g["background"], "snr_db": g["snr_db"],
                                   "accuracy": g["k"] / g["n"], "ci_low": lo, "ci_high": hi, "n": g["n"]}))
        if listeners is None:
            exp = data.experiment(run, ds)
            listeners = exp.humans() if exp is not None else None
    if listeners is not None:
        hg = listeners.groupby(["background", "snr_db"])["prop_correct"].agg(["mean", "std", "size"]).reset_index()
        half = Z95 * hg["std"] / np.sqrt(hg["size"])
        parts.append(pd.DataFrame({"observer": T.HUMANS, "kind": "humans", "background": hg["background"],
                                   "snr_db": hg["snr_db"], "accuracy": hg["mean"],
                                   "ci_low": (hg["mean"] - half).clip(0, 1), "ci_high": (hg["mean"] + half).clip(0, 1),
                                   "n": hg["size"]}))
    df = pd.concat(parts, ignore_index=True)
    df["background_name"] = df["background"].map(names)
    return df[WORD_POINT_COLUMNS].sort_values(["background", "kind", "observer", "snr_db"]).reset_index(drop=True)


def words_in_noise_curves(data: Runs, n: int = 80) -> pd.DataFrame:
    """The logistic fits each words-in-noise run recorded (``fit_alpha``, ``fit_beta``,
    ``fit_lapse``, ``fit_guess`` rows per background, model and listeners), evaluated on ``n``
    SNRs over the tested range: observer, kind, background, snr_db, p."""
    from psychobench.consistency.psychometric import psychometric_value
    from psychobench.stimuli.audio.maskers import SADDLER_BACKGROUNDS

    code = {v[0]: k for k, v in SADDLER_BACKGROUNDS.items()}
    cols = ["observer", "kind", "background", "snr_db", "p"]
    rows, seen_humans = [], set()
    for run, ds in runs_with_metric(data, "fit_alpha"):
        m = data.run_metrics(run)
        m = m[m["dataset"] == ds]
        snr = data.trials(run).query("experiment == @ds")["snr_db"].to_numpy(float)
        snr = snr[np.isfinite(snr)]
        x = np.linspace(snr.min(), snr.max(), n)
        fits = m[m["metric"].str.startswith("fit_")].pivot_table(index=["observer", "condition"], columns="metric",
                                                                  values="value", aggfunc="first")
        for (obs, cond), f in fits.iterrows():
            human = obs == T.HUMANS
            if human and cond in seen_humans:                      # the listeners' fit: once
                continue
            seen_humans |= {cond} if human else set()
            rows.append(pd.DataFrame({
                "observer": obs, "kind": "humans" if human else "model", "background": code.get(cond, -1),
                "snr_db": x, "p": psychometric_value("logistic", x, f["fit_alpha"], f["fit_beta"],
                                                     f["fit_guess"], f["fit_lapse"])}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=cols)


def pitch_thresholds(data: Runs) -> pd.DataFrame:
    """F0 discrimination thresholds of every pitch run's model beside the listeners', one row
    per (run, condition): model, condition, spectrum, phase, f0_hz, lowest_harmonic,
    human_f0dl_percent, threshold_percent, status."""
    cols = ["model", "condition", "spectrum", "phase", "f0_hz", "lowest_harmonic",
            "human_f0dl_percent", "threshold_percent", "status"]
    parts = []
    for run, ds in runs_with_metric(data, "f0dl_percent"):
        m = data.run_metrics(run)
        m = m[(m["dataset"] == ds) & (m["metric"] == "f0dl_percent")]
        model = data.model(run)
        mine = m[m["observer"] == model].set_index("condition")
        hum = m[m["observer"] == T.HUMANS].set_index("condition")["value"]
        exp = data.experiment(run, ds)
        facts = (exp.conditions_table().set_index("condition") if hasattr(exp, "conditions_table")
                 else pd.DataFrame(index=mine.index))
        if "spectrum" not in facts.columns:          # F0 limens of another design (transposed tones)
            continue
        parts.append(pd.DataFrame({
            "model": model, "condition": mine.index, "threshold_percent": mine["value"].to_numpy(float),
            "status": mine["status"].to_numpy(), "human_f0dl_percent": hum.reindex(mine.index).to_numpy(float),
            **{c: facts[c].reindex(mine.index).to_numpy() for c in ("spectrum", "phase", "f0_hz", "lowest_harmonic")
               if c in facts.columns}}))
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


PITCH_SHIFT_COLUMNS = ["observer", "kind", "condition", "f0_hz", "centre_harmonic", "shift_percent", "value",
                       "ci_low", "ci_high"]


def pitch_shifts(data: Runs) -> pd.DataFrame:
    """Pitch shifts of frequency-shifted complexes per (run, condition): each run's model
    (``kind`` model, with its item interval), the listeners (``humans``) and de Boer's rule
    (``baseline``), once each; columns :data:`PITCH_SHIFT_COLUMNS`."""
    from psychobench.consistency.hearing import DEBOER

    parts, seen = [], set()
    for run, ds in runs_with_metric(data, "pitch_shift_percent"):
        m = data.run_metrics(run)
        m = m[(m["dataset"] == ds) & (m["metric"] == "pitch_shift_percent")]
        facts = data.experiment(run, ds).conditions_table().set_index("condition")
        for obs, g in m.groupby("observer"):
            kind = "humans" if obs == T.HUMANS else "baseline" if obs == DEBOER else "model"
            if kind != "model":
                g = g[~g["condition"].isin({c for k, c in seen if k == obs})]
                seen |= {(obs, c) for c in g["condition"]}
            f = facts.reindex(g["condition"])
            parts.append(pd.DataFrame({
                "observer": obs, "kind": kind, "condition": g["condition"].to_numpy(),
                "f0_hz": f["f0_hz"].to_numpy(float), "centre_harmonic": f["centre_harmonic"].to_numpy(int),
                "shift_percent": f["shift_percent"].to_numpy(float), "value": g["value"].to_numpy(float),
                "ci_low": g["value_ci_low"].to_numpy(float), "ci_high": g["value_ci_high"].to_numpy(float)}))
    return pd.concat(parts, ignore_index=True)[PITCH_SHIFT_COLUMNS] if parts else pd.DataFrame(columns=PITCH_SHIFT_COLUMNS)


def audio_headlines(data: Runs) -> pd.DataFrame:
    """Each hearing run's headline metrics (as its experiment names them) with the listeners'
    value of the same metric where there is one, the ceiling, the value relative to it and the
    row's status (why a value is missing: ``undefined``, ``not_reached``, ...)."""
    rows = []
    for run in data.runs["run"]:
        s = data.summaries.get(run, {})
        model = data.model(run)
        m = data.run_metrics(run)
        m = m[m["condition"] == ""]
        for ds, metrics in (s.get("headline") or {}).items():
            exp = data.experiment(run, ds)
            if exp is None or exp.modality != "audio":
                continue
            for metric in metrics:
                mine = m[(m["dataset"] == ds) & (m["metric"] == metric) & (m["observer"] == model)]
                hum = m[(m["dataset"] == ds) & (m["metric"] == metric) & (m["observer"] == T.HUMANS)]
                if mine.empty:
                    continue
                r = mine.iloc[0]
                rows.append((run, model, ds, metric, r["value"], hum["value"].iloc[0] if len(hum) else np.nan,
                             r["ceiling"], r["normalized"], r["status"]))
    df = pd.DataFrame(rows, columns=HEADLINE_COLUMNS)
    for c in ("value", "human", "ceiling", "normalized"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


# ---------------------------------------------------------------- like-for-like aggregates

def like_for_like(cells: pd.DataFrame, keys: list[str], value: str = "value",
                  by: str = "model") -> tuple[pd.DataFrame, list[tuple]]:
    """Each ``by`` group's mean of ``value`` over the cells (``keys`` tuples) that every group has
    a finite value for, so that no mean covers other data sets or metrics than another's.

    Returns (per group: ``by``, mean, n_common, n_own, n_all, missing: the cells of the union
    this group lacks, as ``"a/b"`` strings) and the list of common cells.  ``mean`` is NaN when no
    cell is common to all groups."""
    c = cells[np.isfinite(cells[value].to_numpy(float))]
    c = c.drop_duplicates([by, *keys], keep="last")
    groups = list(dict.fromkeys(cells[by]))
    own = {g: set(map(tuple, c.loc[c[by] == g, keys].to_numpy().tolist())) for g in groups}
    union = set().union(*own.values()) if own else set()
    common = set.intersection(*own.values()) if own else set()
    order = [t for t in map(tuple, c[keys].drop_duplicates().to_numpy().tolist()) if t in common]
    rows = []
    for g in groups:
        mine = c[c[by] == g]
        hit = np.array([tuple(t) in common for t in mine[keys].to_numpy().tolist()], bool)
        v = mine[value].to_numpy(float)[hit] if len(mine) else np.array([])
        rows.append({by: g, "mean": float(v.mean()) if v.size else np.nan, "n_common": len(common),
                     "n_own": len(own[g]), "n_all": len(union),
                     "missing": ", ".join("/".join(map(str, t)) for t in sorted(union - own[g]))})
    return pd.DataFrame(rows, columns=[by, "mean", "n_common", "n_own", "n_all", "missing"]), order


def coverage_note(table: pd.DataFrame, by: str = "model", what: str = "(data set, metric) cells") -> str:
    """One sentence per group that lacks cells the others have (from :func:`like_for_like`'s
    columns), and what the means cover; empty when every group has every cell."""
    if table.empty:
        return ""
    common = "n_common" if "n_common" in table else "n_scores"          # the leaderboard's name
    n_common, n_all = int(table[common].iloc[0]), int(table["n_all"].iloc[0])
    if n_common == n_all:
        return f"Every {by} has all {n_all} {what}; each mean covers all of them."
    lines = [f"Means cover only the {n_common} of {n_all} {what} that every {by} has."
             if n_common else f"None of the {n_all} {what} is shared by every {by}: no mean is comparable, none is shown."]
    for r in table.itertuples(index=False):
        if r.missing:
            lines.append(f"{getattr(r, by)} lacks {r.n_all - r.n_own}: {r.missing}.")
    return " ".join(lines)


# ---------------------------------------------------------------- model-vs-human benchmark

BENCHMARK_METRICS = ("ood_accuracy", "accuracy_difference", "observed_consistency", "error_consistency")
#: Which way is closer to people (the bar plots sort the best first).
HIGHER_IS_BETTER = {"ood_accuracy": True, "accuracy_difference": False, "observed_consistency": True,
                    "error_consistency": True, "shape_bias": True}
BENCHMARK_COLUMNS = ["metric", "observer", "kind", "value", "n_sets", "sets", "missing"]


def _benchmark_rows(data: Runs, metrics) -> pd.DataFrame:
    """Whole-set rows of ``metrics`` on image data sets: each model's (latest run) and the
    humans' reference (once per data set); column ``who`` is the model's name or ``humans``."""
    m = _without_coordinates(data.metrics)
    m = m[(m["condition"] == "") & (m["dataset"] != T.AGGREGATE) & m["metric"].isin(list(metrics))]
    m = m[(m["observer"] == m["model"]) | (m["observer"] == T.HUMANS)]
    if m.empty:
        return m.assign(who=pd.Series(dtype=str))
    keep = [getattr(data.experiment(run, ds), "modality", "image") == "image"
            for run, ds in zip(m["run"], m["dataset"])]
    m = m[np.asarray(keep, bool)]
    m = m.assign(who=np.where(m["observer"] == T.HUMANS, T.HUMANS, m["model"]))
    return m.drop_duplicates(["who", "dataset", "metric"], keep="last")


def benchmark_table(data: Runs) -> pd.DataFrame:
    """model-vs-human's benchmark numbers (Geirhos et al. 2021; definitions in the metric
    glossary): per metric, each model's mean over the data sets that every model has a finite
    value for (the runs' per-data-set rows; unweighted, as model-vs-human averages its 17 sets)
    and the humans' reference over the same sets; shape bias per cue-conflict data set.
    Columns: metric, observer, kind, value, n_sets, sets (those averaged), missing (the sets a
    model lacks that another has)."""
    m = _benchmark_rows(data, BENCHMARK_METRICS + ("shape_bias",))
    parts = []
    for metric in BENCHMARK_METRICS:
        g = m[m["metric"] == metric]
        models = g[g["who"] != T.HUMANS]
        if models.empty:
            continue
        per, common = like_for_like(models, ["dataset"], "value", by="who")
        sets = [t[0] for t in common]
        hum = g[(g["who"] == T.HUMANS) & g["dataset"].isin(sets)]
        h = hum["value"].to_numpy(float)
        rows = [{"observer": r.who, "kind": "model", "value": r.mean, "missing": r.missing}
                for r in per.itertuples(index=False)]
        if len(sets) and len(hum) == len(sets) and np.isfinite(h).all():
            rows.append({"observer": T.HUMANS, "kind": "humans", "value": float(h.mean()), "missing": ""})
        parts.append(pd.DataFrame(rows).assign(metric=metric, n_sets=len(sets), sets=", ".join(sets)))
    for ds, g in m[m["metric"] == "shape_bias"].groupby("dataset", sort=False):
        parts.append(pd.DataFrame({"observer": g["who"].to_numpy(),
                                   "kind": np.where(g["who"] == T.HUMANS, "humans", "model"),
                                   "value": g["value"].to_numpy(float), "missing": ""}).assign(
            metric="shape_bias", n_sets=1, sets=ds))
    if not parts:
        return pd.DataFrame(columns=BENCHMARK_COLUMNS)
    return pd.concat(parts, ignore_index=True)[BENCHMARK_COLUMNS]


SCATTER_COLUMNS = ["dataset", "observer", "kind", "ood_accuracy", "observed_consistency", "error_consistency"]


def consistency_vs_accuracy(data: Runs) -> pd.DataFrame:
    """Per image data set compared item by item, each model's and the humans' OOD accuracy beside
    their observed and error consistency with people (the humans': between pairs of people)."""
    m = _benchmark_rows(data, ("ood_accuracy", "observed_consistency", "error_consistency"))
    if m.empty:
        return pd.DataFrame(columns=SCATTER_COLUMNS)
    w = m.pivot_table(index=["dataset", "who"], columns="metric", values="value", aggfunc="last").reset_index()
    for c in SCATTER_COLUMNS[3:]:
        if c not in w:
            w[c] = np.nan
    w = w.dropna(subset=["ood_accuracy", "error_consistency"], how="any")
    w = w.rename(columns={"who": "observer"}).assign(
        kind=lambda d: np.where(d["observer"] == T.HUMANS, "humans", "model"))
    w.columns.name = None
    return w[SCATTER_COLUMNS].reset_index(drop=True)


# ---------------------------------------------------------------- accuracy and kappa per condition

CONDITION_COLUMNS = ["dataset", "observer", "kind", "condition", "level", "x", "accuracy",
                     "error_consistency", "parameter", "transform", "item_level"]


def _kappa_per_condition(a: np.ndarray, h: np.ndarray, cond: np.ndarray, conditions, exclude_self=False) -> dict:
    """Mean kappa over humans per condition of observers ``a`` against humans ``h`` (then over
    observers), by model-vs-human's aggregation (:func:`benchmark.pairwise_metrics`, one
    condition at a time)."""
    from psychobench.consistency import benchmark

    out = {}
    for i, c in enumerate(conditions):
        used = np.zeros(len(conditions), bool)
        used[i] = True
        out[str(c)] = benchmark.pairwise_metrics(a, h, cond, used, exclude_self=exclude_self)["error_consistency"]
    return out


def condition_curves(data: Runs) -> pd.DataFrame:
    """Accuracy and error consistency against condition on every parametric image experiment:
    accuracy from :func:`psychometric_points`; error consistency (kappa with each person per
    condition, mean over people) where the model saw the images people saw (the run compared
    it item by item), and the people's own (mean over pairs of people) from their trials.
    ``item_level`` is False for a model compared per condition only (error consistency NaN)."""
    from psychobench.consistency import benchmark
    from psychobench.experiments.vision import as_scored

    pts = psychometric_points(data)
    if pts.empty:
        return pd.DataFrame(columns=CONDITION_COLUMNS)
    lv_cond = {}
    kappas, item = {}, {}
    m = data.metrics
    for (run, ds), g in m[m["dataset"].isin(pts["dataset"].unique())].groupby(["run", "dataset"], sort=False):
        exp = data.experiment(run, ds)
        model = data.model(run)
        levels = exp.conditions.levels(g.loc[g["condition"] != "", "condition"].unique())
        lv_cond.update({(ds, v): c for c, v in levels.items()})
        h = human_trials(data, run, ds)
        if h.empty:
            continue
        if (ds, T.HUMANS) not in kappas:
            p = benchmark.pair(h, h, ds)
            kappas[(ds, T.HUMANS)] = _kappa_per_condition(p.human, p.human, p.cond, p.conditions, exclude_self=True)
            item[(ds, T.HUMANS)] = True
        is_item = bool(((g["metric"] == "error_consistency") & (g["observer"] == model)).any())
        item[(ds, model)] = is_item
        if is_item:
            t = data.trials(run)
            t = as_scored(t[t["experiment"] == ds].assign(subject=model))
            p = benchmark.pair(t, h, ds)
            kappas[(ds, model)] = _kappa_per_condition(p.model, p.human, p.cond, p.conditions)
    df = pts.copy()
    df["condition"] = [lv_cond.get((d, v), "") for d, v in zip(df["dataset"], df["level"])]
    df["error_consistency"] = [kappas.get((d, o), {}).get(c, np.nan)
                               for d, o, c in zip(df["dataset"], df["observer"], df["condition"])]
    df["item_level"] = [item.get((d, o), False) for d, o in zip(df["dataset"], df["observer"])]
    return df[CONDITION_COLUMNS].reset_index(drop=True)


# ---------------------------------------------------------------- confusion matrices

CONFUSION_COLUMNS = ["dataset", "observer", "kind", "category", "response", "count", "rate"]
OTHER_RESPONSE = "other"


def confusion_table(trials: pd.DataFrame, categories=None) -> pd.DataFrame:
    """Object-level confusion of a trial table: per true category (rows) the count and share of
    each response (columns; answers outside ``categories``, e.g. people's "na", pooled as
    ``other``), counted by :func:`psychobench.consistency.metrics.confusion_matrix`."""
    from psychobench.consistency.metrics import confusion_matrix
    from psychobench.data.categories import CATEGORIES

    cats = list(categories or CATEGORIES)
    idx = pd.Index(cats)
    truth = idx.get_indexer(trials["category"].astype(str))
    if (truth < 0).any():
        bad = trials["category"].astype(str)[truth < 0].iloc[0]
        raise ValueError(f"confusion table: true category {bad!r} is not one of {len(cats)} categories")
    resp = idx.get_indexer(trials["response"].astype(str))
    conf = confusion_matrix(truth, np.where(resp < 0, len(cats), resp), len(cats), len(cats) + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = conf / conf.sum(axis=1, keepdims=True)
    cols = cats + [OTHER_RESPONSE]
    ti, ri = np.meshgrid(np.arange(len(cats)), np.arange(len(cols)), indexing="ij")
    return pd.DataFrame({"category": np.asarray(cats)[ti.ravel()], "response": np.asarray(cols)[ri.ravel()],
                         "count": conf.ravel(), "rate": rate.ravel()})


def confusion_matrices(data: Runs) -> pd.DataFrame:
    """The confusion matrix (true category x response, pooled over conditions) of every model
    on every image data set it answered with the 16 categories, and of the pooled people of that
    set (what the object-level metrics o2_offdiag and o2_dprime compare)."""
    from psychobench.data.categories import CATEGORIES

    parts, seen = [], set()
    for run in data.runs["run"]:
        t = data.trials(run)
        if t.empty or "response" not in t:
            continue
        model = data.model(run)
        for ds, g in t.groupby("experiment", sort=False):
            exp = data.experiment(run, ds)
            if getattr(exp, "modality", "image") != "image" or not g["category"].astype(str).isin(CATEGORIES).all():
                continue
            parts.append(confusion_table(g).assign(dataset=ds, observer=model, kind="model"))
            if ds not in seen:
                h = human_trials(data, run, ds)
                if len(h):
                    seen.add(ds)
                    parts.append(confusion_table(h).assign(dataset=ds, observer=T.HUMANS, kind="humans"))
    if not parts:
        return pd.DataFrame(columns=CONFUSION_COLUMNS)
    df = pd.concat(parts, ignore_index=True)
    return df.drop_duplicates(["dataset", "observer", "category", "response"], keep="last")[CONFUSION_COLUMNS]


# ---------------------------------------------------------------- glossary, hearing

def glossary(data: Runs | None = None) -> pd.DataFrame:
    """Every metric code the metric table can hold with its meaning (:data:`table.GLOSSARY`, the
    one source), and whether these runs hold it."""
    g = pd.DataFrame(list(T.GLOSSARY.items()), columns=["metric", "meaning"])
    if data is not None:
        g["in these runs"] = np.where(g["metric"].isin(set(data.metrics["metric"])), "yes", "")
    return g


def has_hearing(data: Runs) -> bool:
    """Whether any run holds a hearing (audio) experiment."""
    for run, sets in zip(data.runs["run"], data.runs["sets"]):
        for ds in str(sets).split(","):
            if getattr(data.experiment(run, ds), "modality", None) == "audio":
                return True
    return False


# ---------------------------------------------------------------- networks vs control observers

#: The consistency metrics of the networks-vs-controls comparison (Rajalingham et al. 2018;
#: Kell & McDermott 2019, Fig. 2a): two object-level and two image-level ones.  O1 and O2 are
#: the accuracy-based forms (per-category accuracy, off-diagonal confusion rates) of the 16-way
#: task: their d' forms (``o1_dprime``, ``o2_dprime``) often have no valid interval on these
#: small sets (infinite d' in bootstrap draws where a category is answered perfectly).
CONTROL_METRICS: dict[str, str] = {"o1_acc": "object", "o2_offdiag": "object",
                                   "i1n": "image", "error_consistency": "image"}
POOLED = "pooled"
CONTROL_COLUMNS = ["observer", "kind", "family", "readout", "dataset", "metric", "level", "value",
                   "ceiling", "normalized", "normalized_ci_low", "normalized_ci_high", "status", "sets"]


def _observer_facts(data: Runs, run: str) -> tuple[str, str, str]:
    """(kind, family, readout) of a run's observer: kind ``network`` for trained networks,
    ``control`` for the rest (random-weight twins, pixels, V1), from the run's summary."""
    obs = (data.summaries.get(run) or {}).get("observer") or {}
    family = str(obs.get("family") or "network")
    fitted = bool(obs.get("fitted"))
    readout = str(obs.get("readout") or "")
    return ("network" if family == "network" else "control", family,
            f"{readout} (fitted)" if fitted else
            ("fixed ImageNet mapping" if readout in ("auto", "imagenet", "imagenet16") else f"{readout} (fixed)"))


def controls_table(data: Runs, metrics=None, datasets=None) -> pd.DataFrame:
    """Ceiling-normalised consistency with people of every model in ``data`` on each data set
    and pooled over data sets, for the metrics of :data:`CONTROL_METRICS` (or ``metrics``).

    One row per (observer, dataset, metric): the latest run's whole-set row per data set (runs
    may hold different data sets: an edge + silhouette run and a cue-conflict run count
    together), and a ``pooled`` row per (observer, metric): the unweighted mean over the data
    sets that *every* observer in the table has (so that all are pooled over the same sets;
    they are listed in ``sets``), with its interval by the rule of the runs' own ``aggregate``
    rows (:func:`psychobench.consistency.scoring.aggregate`).  ``kind`` is ``network`` or
    ``control``; ``level`` ``object`` or ``image``.  Rows run networks first (fixed readout, then
    fitted), then random-weight twins, then the other controls.  Empty (with its columns) when no run has
    any of the metrics.
    """
    from psychobench.consistency.scoring import aggregate

    levels = dict(CONTROL_METRICS) if metrics is None else {m: CONTROL_METRICS.get(m, "") for m in metrics}
    m = data.metrics
    m = m[(m["observer"] == m["model"]) & (m["condition"] == "") & (m["dataset"] != T.AGGREGATE)
          & m["metric"].isin(list(levels))]
    if datasets is not None:
        m = m[m["dataset"].isin(list(datasets))]
    if m.empty:
        return pd.DataFrame(columns=CONTROL_COLUMNS)
    m = m.drop_duplicates(["model", "dataset", "metric"], keep="last").copy()
    facts = {r: _observer_facts(data, r) for r in m["run"].unique()}
    m["kind"], m["family"], m["readout"] = zip(*(facts[r] for r in m["run"]), strict=True)
    m["sets"] = m["dataset"]
    have = m.groupby("model")["dataset"].agg(lambda s: set(s))
    common = sorted(set.intersection(*have.to_list()))
    parts = [m]
    if common:
        pool = m[m["dataset"].isin(common)]
        agg = aggregate(pool[list(T.COLUMNS)], metrics=list(levels))
        agg = agg[agg["observer"] != T.HUMANS].rename(columns={"observer": "model"})
        who = pool.drop_duplicates("model").set_index("model")[["kind", "family", "readout"]]
        agg = agg.join(who, on="model").assign(dataset=POOLED, sets=",".join(common))
        # the aggregate rule builds an interval from the sets that have one; a pooled interval
        # here must cover every set pooled, else it is left out and the row says why
        ok = np.isfinite(pool[["normalized", "normalized_ci_low", "normalized_ci_high"]].to_numpy(float)).all(axis=1)
        full = pd.Series(ok, index=pool.index).groupby([pool["model"], pool["metric"]]).all()
        bad = ~full.reindex(pd.MultiIndex.from_frame(agg[["model", "metric"]])).fillna(False).to_numpy(bool)
        agg.loc[bad, ["normalized_ci_low", "normalized_ci_high"]] = np.nan
        agg.loc[bad & np.isfinite(agg["normalized"].to_numpy(float)), "status"] = "no_valid_interval"
        parts.append(agg)
    out = pd.concat([p.drop(columns="observer", errors="ignore") for p in parts],
                    ignore_index=True).rename(columns={"model": "observer"})
    out["level"] = out["metric"].map(levels)
    order = {k: i for i, k in enumerate(levels)}
    sets = [*sorted(m["dataset"].unique()), POOLED]
    out["_m"] = out["metric"].map(order)
    out["_d"] = out["dataset"].map({d: i for i, d in enumerate(sets)})
    # networks (fixed readout, then fitted), then random-weight twins, then the other controls
    out["_k"] = np.where(out["kind"] == "network", out["readout"].str.contains("fitted").astype(int),
                         np.where(out["family"] == "random", 2, 3))
    out = out.sort_values(["_d", "_m", "_k", "observer"]).reset_index(drop=True)
    return out[CONTROL_COLUMNS]


def controls_contrast(table: pd.DataFrame) -> pd.DataFrame:
    """Networks minus controls per (dataset, metric): the mean ceiling-normalised consistency of
    each group (``network_mean``, ``control_mean``), their difference, and a 95% interval of the
    difference (normal approximation: each observer's interval half-width gives its standard
    error ``(high - low) / (2 * 1.96)``, a group mean's is ``sqrt(sum SE^2) / k`` and the
    difference's ``sqrt(SE_n^2 + SE_c^2)``; the observers share one human data set, so this
    treats as independent what is not, and is a rough guide), and the best of each group.
    Networks read out by their fixed mapping and by a fitted readout are contrasted with the
    controls separately (``networks``: their readout)."""
    cols = ["dataset", "metric", "level", "networks", "n_networks", "n_controls", "network_mean",
            "control_mean", "difference", "difference_ci_low", "difference_ci_high", "best_network",
            "best_control"]
    rows = []
    t = table[np.isfinite(table["normalized"].to_numpy(float))]

    def mean_se(g):
        v = g["normalized"].to_numpy(float)
        se = (g["normalized_ci_high"].to_numpy(float) - g["normalized_ci_low"].to_numpy(float)) / (2 * Z95)
        se = se[np.isfinite(se)]
        return float(v.mean()), (float(np.sqrt((se ** 2).sum()) / len(se)) if len(se) == len(v) else np.nan)

    for (ds, met), g in t.groupby(["dataset", "metric"], sort=False):
        c = g[g["kind"] == "control"]
        if c.empty:
            continue
        cm, cse = mean_se(c)
        for ro, n in g[g["kind"] == "network"].groupby("readout", sort=False):
            nm, nse = mean_se(n)
            d, se = nm - cm, float(np.hypot(nse, cse))
            rows.append((ds, met, g["level"].iloc[0], ro, len(n), len(c), nm, cm, d, d - Z95 * se, d + Z95 * se,
                         float(n["normalized"].max()), float(c["normalized"].max())))
    return pd.DataFrame(rows, columns=cols)


def _with_depth(t: pd.DataFrame) -> pd.DataFrame:
    """``t`` with ``layer`` as text and ``depth``: each layer's position in its run's order of
    layers, 0 (first) to 1 (last)."""
    parts = []
    for _, g in t.groupby("run", sort=False):
        g = g.assign(layer=g["layer"].astype(str))
        order = list(dict.fromkeys(g["layer"]))
        parts.append(g.assign(depth=g["layer"].map({lay: i / max(len(order) - 1, 1) for i, lay in enumerate(order)})))
    return pd.concat(parts, ignore_index=True)


def layer_decoding_table(data: Runs) -> pd.DataFrame:
    """Layer-decoding rows of every run (``experiment=layer_decoding``): ``model, run, layer,
    depth`` (the layer's position in the run's order, 0 = first, 1 = last), ``metric, value,
    value_ci_low, value_ci_high``, plus ``trained`` (False for random-weight twins)."""
    m = data.metrics
    if "layer" not in m.columns:
        return pd.DataFrame()
    decoded = (m["metric"] == "category_accuracy") | m["metric"].astype(str).str.startswith("r2_")
    t = m[m["layer"].notna() & decoded & (m["dataset"] == "layer_decoding")]
    t = t[t["observer"] == t["model"]]
    if t.empty:
        return pd.DataFrame()
    out = _with_depth(t)
    out["trained"] = ~out["model"].astype(str).str.contains("random|untrained")
    return out[["model", "run", "layer", "depth", "trained", "metric", "value", "value_ci_low", "value_ci_high"]]


def shared_stages_table(data: Runs) -> pd.DataFrame:
    """Shared-stages rows of every run (``experiment=shared_stages``): ``model, run, k, metric,
    value, value_ci_low, value_ci_high`` for the two accuracies per k, and ``largest`` (the
    run's ``largest_shared_k``)."""
    m = data.metrics
    if "k" not in m.columns:
        return pd.DataFrame()
    t = m[(m["dataset"] == "shared_stages") & (m["observer"] == m["model"])]
    acc = t[t["metric"].isin(["word_accuracy", "talker_accuracy"])]
    if acc.empty:
        return pd.DataFrame()
    best = t[t["metric"] == "largest_shared_k"].set_index("run")["value"]
    out = acc.assign(k=acc["k"].astype(int), largest=acc["run"].map(best))
    return out[["model", "run", "k", "metric", "value", "value_ci_low", "value_ci_high", "largest"]]


def attention_gain_table(data: Runs) -> pd.DataFrame:
    """Attention-gain rows of every run (``experiment=attention_gain``): ``model, run, layer,
    depth`` (0 = the first layer attended, 1 = the last), ``beta, metric, value, value_ci_low,
    value_ci_high``."""
    m = data.metrics
    if not {"layer", "beta"} <= set(m.columns):
        return pd.DataFrame()
    t = m[(m["dataset"] == "attention_gain") & m["metric"].isin(["detection_dprime", "detection_accuracy"])
          & (m["observer"] == m["model"])]
    if t.empty:
        return pd.DataFrame()
    out = _with_depth(t).assign(beta=lambda d: d["beta"].astype(float))
    return out[["model", "run", "layer", "depth", "beta", "metric", "value", "value_ci_low", "value_ci_high"]]


CONDITION_VALUE_COLUMNS = ["observer", "kind", "condition", "value", "ci_low", "ci_high"]


def condition_values(data: Runs, metric: str, baselines: tuple[str, ...], facts: tuple[str, ...],
                     parse=None) -> pd.DataFrame:
    """Per-condition values of ``metric`` in every run that holds it: each run's model (``kind``
    model, with its interval), the listeners (``humans``) and the named baselines
    (``baseline``), the latter two once per condition; columns :data:`CONDITION_VALUE_COLUMNS` plus
    ``facts`` (read from the experiment's conditions table, or from ``parse(condition) -> dict``
    for conditions that are not rows of it)."""
    parts, seen = [], set()
    for run, ds in runs_with_metric(data, metric):
        m = data.run_metrics(run)
        m = m[(m["dataset"] == ds) & (m["metric"] == metric)]
        table = None if parse else data.experiment(run, ds).conditions_table().set_index("condition")
        for obs, g in m.groupby("observer"):
            kind = "humans" if obs == T.HUMANS else "baseline" if obs in baselines else "model"
            if kind != "model":
                g = g[~g["condition"].isin({c for k, c in seen if k == obs})]
                seen |= {(obs, c) for c in g["condition"]}
            if parse:
                f = pd.DataFrame([parse(c) for c in g["condition"]], columns=list(facts))
            else:                                    # a design without a fact column gives NaN there
                f = table.reindex(index=g["condition"], columns=list(facts))
            parts.append(pd.DataFrame({
                "observer": obs, "kind": kind, "condition": g["condition"].to_numpy(),
                **{c: f[c].to_numpy() for c in facts}, "value": g["value"].to_numpy(float),
                "ci_low": g["value_ci_low"].to_numpy(float), "ci_high": g["value_ci_high"].to_numpy(float)}))
    cols = CONDITION_VALUE_COLUMNS[:3] + list(facts) + CONDITION_VALUE_COLUMNS[3:]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def _weight_condition(c: str) -> dict:
    import re

    m = re.fullmatch(r"f0=([0-9.]+)-h(\d+)", c)
    return {"f0_hz": float(m.group(1)), "harmonic": int(m.group(2))} if m else {"f0_hz": np.nan, "harmonic": -1}


def harmonic_weights(data: Runs) -> pd.DataFrame:
    """Harmonic weights of every mistuned-harmonic run (:func:`condition_values`; facts
    ``f0_hz, harmonic``), beside the listeners' and the equal-weight baseline."""
    from psychobench.consistency.hearing import EQUAL_WEIGHTS

    return condition_values(data, "harmonic_weight", (EQUAL_WEIGHTS,), ("f0_hz", "harmonic"), _weight_condition)


def alt_phase_points(data: Runs) -> pd.DataFrame:
    """Alternating-phase 2F0-minus-F0 percentages of every run (facts ``filter_lower_hz,
    f0_hz``), beside the listeners' and the resolvability rule."""
    from psychobench.consistency.hearing import RESOLVABILITY_RULE

    return condition_values(data, "alt_phase_2f0_minus_f0", (RESOLVABILITY_RULE,), ("filter_lower_hz", "f0_hz"))


def transposed_thresholds(data: Runs) -> pd.DataFrame:
    """F0 difference limens of every transposed-tone run (facts ``carrier_hz, f0_hz``; the
    model rows keep their threshold ``status``)."""
    t = condition_values(data, "f0dl_percent", (), ("carrier_hz", "f0_hz"))
    if not len(t):
        return t.assign(status=pd.Series(dtype=object))
    t = t[t["carrier_hz"].notna()].copy()        # Bernstein & Oxenham runs have no carrier
    st = {}
    for run, ds in runs_with_metric(data, "f0dl_percent"):
        m = data.run_metrics(run)
        m = m[(m["dataset"] == ds) & (m["metric"] == "f0dl_percent") & (m["observer"] != T.HUMANS)]
        st.update({(o, c): s for o, c, s in zip(m["observer"], m["condition"], m["status"])})
    t["status"] = [st.get((o, c), "ok") if k == "model" else "ok"
                   for o, c, k in zip(t["observer"], t["condition"], t["kind"])]
    return t.reset_index(drop=True)

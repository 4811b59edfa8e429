"""Report analyses: run folders (and the human data they were scored against) -> tidy tables.

Every function returns a tidy DataFrame, empty (with its columns) when the runs hold nothing
for it, so that a report section can say "not available" instead of failing.  Nothing here
runs a network: model answers come from each run's ``trials.parquet`` and scores from its
``metrics.csv`` / ``summary.json``; human answers come from the registered data sets.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtri

from psychobench.consistency.agreement import kappa_from_rates
from psychobench.results import store

Z95 = float(ndtri(0.975))


@dataclass
class Runs:
    """The runs a report shows: ``runs`` (one row each, :data:`store.RUN_COLUMNS`),
    ``metrics`` (their tidy metric rows) and their summaries by run id."""

    root: Path
    runs: pd.DataFrame
    metrics: pd.DataFrame
    summaries: dict = field(default_factory=dict)

    def folder(self, run: str) -> Path:
        return self.root if (self.root / store.SUMMARY).is_file() else self.root / run

    def trials(self, run: str) -> pd.DataFrame:
        p = self.folder(run) / "trials.parquet"
        if p.is_file():
            return pd.read_parquet(p)
        return pd.DataFrame(columns=["experiment", "subject", "stimulus_id", "condition",
                                     "category", "response", "correct", "imagename"])

    def config(self, run: str) -> dict:
        import yaml

        p = self.folder(run) / "config.yaml"
        return yaml.safe_load(p.read_text()) if p.is_file() else {}


def load(results_dir, runs=None, models=None) -> Runs:
    """Trusted runs under ``results_dir`` (shell patterns ``runs`` / ``models`` select), the
    latest of each (model, stimulus sets) pair, i.e. repeated runs of one job count once."""
    root = Path(results_dir)
    info = store.runs(root)
    info = info[store._match(info["run"], runs).to_numpy() & store._match(info["model"], models).to_numpy()]
    info = info.drop_duplicates(["model", "sets"], keep="last").reset_index(drop=True)
    table = store.collect(root, write=False)
    table = table[table["run"].isin(info["run"])].reset_index(drop=True)
    summaries = {r: json.loads(((root if (root / store.SUMMARY).is_file() else root / r)
                                / store.SUMMARY).read_text()) for r in info["run"]}
    return Runs(root, info, table, summaries)


@functools.lru_cache(maxsize=32)
def human_trials(dataset: str) -> pd.DataFrame:
    """The human trial table of a model-vs-human data set (empty if it has none)."""
    from psychobench.data import registry
    from psychobench.data.trials import load_human_trials

    if dataset not in registry.MVH_DATASETS:
        return pd.DataFrame()
    return load_human_trials(dataset)


def wilson(k, n, z: float = Z95):
    """Wilson score interval of a binomial proportion; arrays ``k``, ``n`` -> (low, high)."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        den = 1 + z * z / n
        mid = (p + z * z / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return mid - half, mid + half


# ---------------------------------------------------------------- psychometric curves

POINT_COLUMNS = ["dataset", "observer", "kind", "level", "x", "n_correct", "n_trials",
                 "accuracy", "ci_low", "ci_high", "parameter", "transform"]


def psychometric_points(data: Runs) -> pd.DataFrame:
    """Accuracy per stimulus level of every model and of the pooled humans, with 95% Wilson
    intervals, on the parametric data sets (``LEVEL_INFO``): from the runs' ``condition_level``
    blocks (regenerated sets) and from their trials on published parametric sets.
    ``x`` is the level on the fitting scale (log10/log2 where the data set says so)."""
    from psychobench.consistency.psychometric import LEVEL_INFO, level_counts, level_map, \
        transform_levels

    parts = []
    for run, model in zip(data.runs["run"], data.runs["model"], strict=True):
        s = data.summaries.get(run, {})
        for ds, block in (s.get("condition_level") or {}).items():
            counts = pd.DataFrame(block.get("counts") or [])
            if counts.empty or ds not in LEVEL_INFO:
                continue
            counts["observer"] = counts["observer"].replace({"model": model})
            counts["kind"] = np.where(counts["observer"] == "humans", "humans", "model")
            parts.append(counts.assign(dataset=ds))
        trials = None
        for ds in (s.get("datasets") or {}):
            if ds not in LEVEL_INFO or ds in (s.get("condition_level") or {}):
                continue
            trials = data.trials(run) if trials is None else trials
            mt = trials[trials["experiment"] == ds]
            ht = human_trials(ds)
            if mt.empty or ht.empty:
                continue
            lv = level_map(ds, pd.concat([mt["condition"], ht["condition"]]).dropna().unique())
            parts.append(level_counts(mt, lv).assign(dataset=ds, observer=model, kind="model"))
            parts.append(level_counts(ht, lv).assign(dataset=ds, observer="humans", kind="humans"))
    if not parts:
        return pd.DataFrame(columns=POINT_COLUMNS)
    df = pd.concat(parts, ignore_index=True)
    df = df.drop_duplicates(["dataset", "observer", "level"], keep="last")
    df["accuracy"] = df["n_correct"] / df["n_trials"]
    df["ci_low"], df["ci_high"] = wilson(df["n_correct"], df["n_trials"])
    df["parameter"] = df["dataset"].map(lambda d: LEVEL_INFO[d][0])
    df["transform"] = df["dataset"].map(lambda d: LEVEL_INFO[d][2])
    df["x"] = df["level"].astype(float)
    for t, idx in df.groupby("transform").groups.items():        # log10 / log2: a few groups
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

SHAPE_COLUMNS = ["observer", "kind", "category", "shape_hits", "texture_hits", "shape_bias"]


def _shape_counts(t: pd.DataFrame) -> pd.DataFrame:
    from psychobench.data.trials import texture_of

    texture = t["texture"] if "texture" in t and t["texture"].notna().all() \
        else texture_of(t["imagename"].astype(str))
    keep = (t["category"].to_numpy() != texture.to_numpy())
    d = pd.DataFrame({"category": t["category"].to_numpy()[keep],
                      "shape_hits": (t["response"].to_numpy() == t["category"].to_numpy())[keep],
                      "texture_hits": (t["response"].to_numpy() == texture.to_numpy())[keep]})
    return d.groupby("category", as_index=False)[["shape_hits", "texture_hits"]].sum()


def shape_bias_by_category(data: Runs, dataset: str = "cue-conflict") -> pd.DataFrame:
    """Fraction of shape decisions among shape-or-texture decisions per shape category
    (Geirhos et al. 2019, Fig. 4), for every model with cue-conflict trials and the pooled
    humans; trials whose shape and texture categories agree are dropped."""
    parts = []
    for run, model in zip(data.runs["run"], data.runs["model"], strict=True):
        if dataset not in (data.runs.loc[data.runs["run"] == run, "sets"].iloc[0].split(",")):
            continue
        t = data.trials(run)
        t = t[t["experiment"] == dataset]
        if len(t):
            parts.append(_shape_counts(t).assign(observer=model, kind="model"))
    if not parts:
        return pd.DataFrame(columns=SHAPE_COLUMNS)
    h = human_trials(dataset)
    if len(h):
        parts.append(_shape_counts(h).assign(observer="humans", kind="humans"))
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
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(np.stack(per), axis=0)


def error_consistency_matrix(data: Runs, dataset: str) -> pd.DataFrame:
    """Tidy kappa matrix of the models that ran ``dataset`` and its human observers:
    dataset, a, b, kind_a, kind_b, kappa (models first, then subjects)."""
    cols = ["dataset", "a", "b", "kind_a", "kind_b", "kappa"]
    h = human_trials(dataset)
    if h.empty:
        return pd.DataFrame(columns=cols)
    tables = []
    for run, model in zip(data.runs["run"], data.runs["model"], strict=True):
        if dataset not in data.runs.loc[data.runs["run"] == run, "sets"].iloc[0].split(","):
            continue
        t = data.trials(run)
        t = t[t["experiment"] == dataset]
        if len(t):
            tables.append(t.assign(subject=model))
    if not tables:
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

CEILING_COLUMNS = ["dataset", "metric", "model", "value", "ceiling", "normalized", "ci_low",
                   "ci_high", "band_low", "band_high"]


def ceiling_table(data: Runs, n_boot: int = 200) -> pd.DataFrame:
    """Each model's consistency scores per data set beside the human noise ceiling.

    ``band_low``/``band_high``: the 95% interval of the ceiling.  Taken from the metric table
    when the runs recorded it (``ceiling_ci_low``/``ceiling_ci_high``), else computed from the
    human data with the run's split settings and ``n_boot`` bootstrap draws (0: no band, NaN).
    """
    m = data.metrics
    m = m[m["ceiling"].notna() & (m["observer"] != "humans") & (m["dataset"] != "aggregate")]
    if m.empty:
        return pd.DataFrame(columns=CEILING_COLUMNS)
    m = m.drop_duplicates(["model", "dataset", "metric"], keep="last").copy()
    if {"ceiling_ci_low", "ceiling_ci_high"} <= set(m.columns):
        m["band_low"], m["band_high"] = m["ceiling_ci_low"], m["ceiling_ci_high"]
    else:
        bands = []
        for ds, g in m.groupby("dataset", sort=False):
            bands.append(_ceiling_band(data, ds, g["run"].iloc[-1], n_boot))
        b = pd.concat(bands, ignore_index=True) if bands else pd.DataFrame(
            columns=["dataset", "metric", "band_low", "band_high"])
        m = m.merge(b, on=["dataset", "metric"], how="left")
    return m[CEILING_COLUMNS].reset_index(drop=True)


def _ceiling_band(data: Runs, dataset: str, run: str, n_boot: int) -> pd.DataFrame:
    cols = ["dataset", "metric", "band_low", "band_high"]
    h = human_trials(dataset)
    if n_boot <= 0 or h.empty:
        return pd.DataFrame(columns=cols)
    from psychobench.consistency.scores import human_ceilings
    from psychobench.results.scoring import used_conditions

    cfg = data.config(run)
    mc = cfg.get("metrics") or {}
    c = human_ceilings(h, n_splits=int(mc.get("n_splits") or 10), n_boot=n_boot,
                       seed=int(cfg.get("seed") or 0), split=str(mc.get("split") or "subjects"),
                       conditions=used_conditions(dataset, h))
    return pd.DataFrame({"dataset": dataset, "metric": c["metric"],
                         "band_low": c["ceiling_ci_low"], "band_high": c["ceiling_ci_high"]})


def leaderboard(data: Runs) -> pd.DataFrame:
    """Models ranked by their mean ceiling-normalised consistency: the mean of ``normalized``
    over every (data set, consistency metric) score the model has (finite values only), with
    the number of scores and the mean per metric.  Columns: rank, model, mean_normalized,
    n_scores, then one column per metric."""
    m = data.metrics
    m = m[m["ceiling"].notna() & (m["observer"] != "humans") & (m["dataset"] != "aggregate")
          & np.isfinite(m["normalized"].to_numpy(float))]
    if m.empty:
        return pd.DataFrame(columns=["rank", "model", "mean_normalized", "n_scores"])
    m = m.drop_duplicates(["model", "dataset", "metric"], keep="last")
    overall = m.groupby("model")["normalized"].agg(mean_normalized="mean", n_scores="count")
    per = m.pivot_table(index="model", columns="metric", values="normalized", aggfunc="mean")
    out = overall.join(per).sort_values("mean_normalized", ascending=False).reset_index()
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    out.columns.name = None
    return out


# ---------------------------------------------------------------- hearing

WORD_POINT_COLUMNS = ["observer", "kind", "background", "background_name", "snr_db", "accuracy",
                      "ci_low", "ci_high", "n"]
HEADLINE_COLUMNS = ["run", "model", "experiment", "metric", "value", "human", "ceiling", "normalized"]


def audio_runs(data: Runs, experiment: str) -> list[str]:
    """Runs whose summary names ``experiment`` (``words_in_noise``, ``english_ccc``,
    ``pitch_f0dl``, ``speech_detection``)."""
    return [r for r in data.runs["run"] if data.summaries.get(r, {}).get("experiment") == experiment]


def _run_metrics(data: Runs, run: str) -> pd.DataFrame:
    p = data.folder(run) / "metrics.csv"
    return pd.read_csv(p) if p.is_file() else pd.DataFrame()


def words_in_noise_points(data: Runs) -> pd.DataFrame:
    """Word accuracy per (background, SNR) of every words-in-noise run's model (95% Wilson
    intervals over its trials) and of the Saddler & McDermott (2024) listeners (mean over
    listeners, 95% normal interval over listeners).  Clean cells have ``snr_db`` = inf."""
    from psychobench.data.listeners import load_saddler2024_words
    from psychobench.stimuli.audio.maskers import SADDLER_BACKGROUNDS

    runs = audio_runs(data, "words_in_noise")
    if not runs:
        return pd.DataFrame(columns=WORD_POINT_COLUMNS)
    names = {k: v[0] for k, v in SADDLER_BACKGROUNDS.items()}
    parts = []
    for run in runs:
        t = data.trials(run)
        clean = t[t["background"] < 0]
        noisy = t[t["background"] >= 0]
        expanded = pd.concat([noisy] + [clean.assign(background=b) for b in sorted(noisy["background"].unique())])
        g = expanded.groupby(["background", "snr_db"])["correct"].agg(k="sum", n="size").reset_index()
        lo, hi = wilson(g["k"].to_numpy(float), g["n"].to_numpy(float))
        parts.append(pd.DataFrame({"observer": data.summaries[run].get("model", run), "kind": "model",
                                   "background": g["background"], "snr_db": g["snr_db"],
                                   "accuracy": g["k"] / g["n"], "ci_low": lo, "ci_high": hi, "n": g["n"]}))
    h = load_saddler2024_words()
    hg = h.groupby(["background", "snr_db"])["prop_correct"].agg(["mean", "std", "size"]).reset_index()
    half = Z95 * hg["std"] / np.sqrt(hg["size"])
    parts.append(pd.DataFrame({"observer": "humans", "kind": "humans", "background": hg["background"],
                               "snr_db": hg["snr_db"], "accuracy": hg["mean"],
                               "ci_low": (hg["mean"] - half).clip(0, 1), "ci_high": (hg["mean"] + half).clip(0, 1),
                               "n": hg["size"]}))
    df = pd.concat(parts, ignore_index=True)
    df["background_name"] = df["background"].map(names)
    return df[WORD_POINT_COLUMNS].sort_values(["background", "kind", "observer", "snr_db"]).reset_index(drop=True)


def words_in_noise_curves(data: Runs, n: int = 80) -> pd.DataFrame:
    """The logistic fits each words-in-noise run stored (``metrics.csv`` rows
    ``psychometric_fit``: model and pooled listeners per background), evaluated on ``n`` SNRs
    over the tested range: observer, kind, background, snr_db, p."""
    from psychobench.consistency.psychometric import psychometric_value

    cols = ["observer", "kind", "background", "snr_db", "p"]
    rows, seen_humans = [], set()
    for run in audio_runs(data, "words_in_noise"):
        m = _run_metrics(data, run)
        if m.empty or "fit_alpha" not in m:
            continue
        snr = m.loc[m["metric"] == "cell_accuracy", "snr_db"].astype(float)
        x = np.linspace(snr.min(), snr.max(), n)
        for f in m[m["metric"] == "psychometric_fit"].itertuples(index=False):
            human = f.observer == "human"
            if human and f.background in seen_humans:           # the listeners' fit: once
                continue
            seen_humans |= {f.background} if human else set()
            rows.append(pd.DataFrame({
                "observer": "humans" if human else data.summaries[run].get("model", run),
                "kind": "humans" if human else "model", "background": f.background, "snr_db": x,
                "p": psychometric_value("logistic", x, f.fit_alpha, f.fit_beta, f.fit_guess, f.fit_lapse)}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=cols)


def pitch_thresholds(data: Runs) -> pd.DataFrame:
    """F0 discrimination thresholds of every pitch run's model beside the listeners'
    (Bernstein & Oxenham 2005), one row per (run, condition): model, condition, spectrum,
    phase, f0_hz, lowest_harmonic, human_f0dl_percent, threshold_percent, status."""
    cols = ["model", "condition", "spectrum", "phase", "f0_hz", "lowest_harmonic",
            "human_f0dl_percent", "threshold_percent", "status"]
    parts = [m[cols] for r in audio_runs(data, "pitch_f0dl") if not (m := _run_metrics(data, r)).empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


def audio_headlines(data: Runs) -> pd.DataFrame:
    """Each hearing run's headline comparison with people: words in noise ``r2_cell_means``
    against the listeners' split-half ceiling; English CCC's four per-token rates against the
    leave-one-listener-out ceiling; pitch ``r_log_thresholds``; speech detection d' per SNR.
    ``human``: the listeners' own value where the metric has one (clean word accuracy);
    ``normalized`` = value / ceiling where both are positive (rates and r^2)."""
    rows = []
    for run in data.runs["run"]:
        s = data.summaries.get(run, {})
        exp, model = s.get("experiment"), s.get("model")
        if exp == "words_in_noise":
            rows.append((run, model, exp, "r2_cell_means", s.get("r2_cell_means"), None, s.get("ceiling")))
            rows.append((run, model, exp, "clean_accuracy", s.get("model_clean_accuracy"),
                         s.get("human_clean_accuracy"), None))
        elif exp == "english_ccc":
            m = _run_metrics(data, run)
            rows += [(run, model, exp, r.metric, r.value, None, r.ceiling) for r in m.itertuples(index=False)]
        elif exp == "pitch_f0dl":
            rows.append((run, model, exp, "r_log_thresholds", s.get("r_log_thresholds"), None, None))
            rows.append((run, model, exp, "conditions_with_threshold", s.get("n_conditions"), None, None))
        elif exp == "speech_detection":
            rows += [(run, model, exp, f"dprime_snr{k}", v, None, None)
                     for k, v in (s.get("dprime_by_snr") or {}).items()]
    df = pd.DataFrame(rows, columns=HEADLINE_COLUMNS[:-1])
    for c in ("value", "human", "ceiling"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    ok = (df["value"] >= 0) & (df["ceiling"] > 0)
    df["normalized"] = np.where(ok, df["value"] / df["ceiling"].where(ok, 1.0), np.nan)
    return df[HEADLINE_COLUMNS]

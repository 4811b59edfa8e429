"""Report figures.  Each function takes the tidy table of :mod:`psychobench.report.analyses`
and only draws; it returns the matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

HUMAN_COLOUR = "#d62728"


_OBSERVERS: list[str] = []


def use_observers(names) -> None:
    """Fix every observer's colour for all later figures (the report passes all its models), so
    that one observer has one colour throughout; people are always red."""
    _OBSERVERS[:] = sorted(n for n in dict.fromkeys(map(str, names)) if n != "humans")


def _palette(names) -> dict:
    """Colours by name: from :func:`use_observers`' list where it holds every name, else by the
    sorted names of this figure; people red."""
    names = sorted(n for n in dict.fromkeys(map(str, names)) if n != "humans")
    if names and set(names) <= set(_OBSERVERS):
        names = list(_OBSERVERS)
    tab = [c for i, c in enumerate(sns.color_palette("tab10", 10)) if i != 3]   # tab10 less its red
    cols = tab[:len(names)] if len(names) <= len(tab) else sns.color_palette("husl", len(names))
    return {**dict(zip(names, cols, strict=True)), "humans": HUMAN_COLOUR}


def psychometric(points: pd.DataFrame, curves: pd.DataFrame) -> plt.Figure:
    """Accuracy against level per data set: points with 95% intervals and fitted curves;
    humans in red, models in other colours; the chance level (1/16) dashed."""
    sets = list(dict.fromkeys(points["dataset"]))
    ncol = min(3, len(sets))
    nrow = int(np.ceil(len(sets) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol + 2.4, 3.4 * nrow), squeeze=False)
    pal = _palette(points["observer"])
    for ax, ds in zip(axes.ravel(), sets, strict=False):
        p = points[points["dataset"] == ds]
        for obs, g in p.groupby("observer", sort=False):
            g = g[np.isfinite(g["x"].to_numpy(float))]
            ax.errorbar(g["x"], g["accuracy"], yerr=[g["accuracy"] - g["ci_low"],
                                                    g["ci_high"] - g["accuracy"]],
                        fmt="o", ms=4, capsize=2, color=pal[obs], label=obs)
            c = curves[(curves["dataset"] == ds) & (curves["observer"] == obs)]
            ax.plot(c["x"], c["p"], color=pal[obs], lw=1.5)
        ax.axhline(1 / 16, color="grey", ls="--", lw=0.8)
        ax.text(1.0, 1 / 16, "chance ", transform=ax.get_yaxis_transform(), fontsize=7, color="grey",
                ha="right", va="bottom")
        t = p["transform"].iloc[0]
        ax.set(title=ds, ylim=(0, 1.02), ylabel="accuracy",
               xlabel=f"{p['parameter'].iloc[0]}" + (f" ({t})" if isinstance(t, str) else ""))
    for ax in axes.ravel()[len(sets):]:
        ax.set_visible(False)
    axes.ravel()[min(len(sets), ncol) - 1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
    fig.tight_layout()
    return fig


def shape_bias(table: pd.DataFrame) -> plt.Figure:
    """Per shape category, the fraction of shape decisions (bottom axis; texture decisions =
    1 - that, top axis) of every observer, with each observer's mean as a vertical line
    (the layout of Geirhos et al. 2019, Fig. 4)."""
    cats = sorted(table["category"].unique())
    pal = _palette(table["observer"])
    fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(cats) + 1.6))
    y = {c: i for i, c in enumerate(cats)}
    for obs, g in table.groupby("observer", sort=False):
        marker = "D" if obs == "humans" else "o"
        ax.scatter(g["shape_bias"], g["category"].map(y), color=pal[obs], marker=marker,
                   s=36, label=obs, zorder=3)
        overall = g["shape_hits"].sum() / (g["shape_hits"].sum() + g["texture_hits"].sum())
        ax.axvline(overall, color=pal[obs], lw=1, alpha=0.7)
    ax.set_yticks(range(len(cats)), cats)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("fraction of 'shape' decisions")
    top = ax.secondary_xaxis("top", functions=(lambda v: 1 - v, lambda v: 1 - v))
    top.set_xlabel("fraction of 'texture' decisions")
    ax.invert_yaxis()
    from matplotlib.lines import Line2D

    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="0.4", lw=1, label="vertical line: shape bias\nover all categories"))
    ax.legend(handles=handles, fontsize=7, loc="lower left", bbox_to_anchor=(1.01, 0))
    fig.tight_layout()
    return fig


def error_consistency(matrix: pd.DataFrame) -> plt.Figure:
    """Heat map of kappa between every pair of observers (models first, then humans)."""
    order = list(dict.fromkeys(matrix["a"]))
    wide = matrix.pivot(index="a", columns="b", values="kappa").reindex(index=order, columns=order)
    n = len(order)
    fig, ax = plt.subplots(figsize=(0.35 * n + 3, 0.35 * n + 2.2))
    sns.heatmap(wide, ax=ax, cmap="viridis", vmin=-0.2, vmax=1, square=True,
                cbar_kws={"label": "error consistency (kappa)"})
    n_models = int((matrix.drop_duplicates("a")["kind_a"] == "model").sum())
    if 0 < n_models < n:
        ax.axhline(n_models, color="white", lw=2)
        ax.axvline(n_models, color="white", lw=2)
    ax.set(xlabel="", ylabel="", title=str(matrix["dataset"].iloc[0]))
    blank = wide.isna().to_numpy().any()
    fig.tight_layout(rect=(0, 0.06 if blank else 0, 1, 1))
    if blank:
        fig.text(0.01, 0.005, "blank: kappa undefined (no shared trials, or an observer\nall right "
                 "or all wrong in every condition)", fontsize=7, color="0.35")
    return fig


def ceiling_bars(table: pd.DataFrame) -> plt.Figure:
    """Per data set and metric, each model's score as a bar (with its 95% interval) against the
    human noise ceiling: a grey band (the ceiling's 95% interval) and a black line (the
    estimate)."""
    sets = list(dict.fromkeys(table["dataset"]))
    metrics = list(dict.fromkeys(table["metric"]))
    models = list(dict.fromkeys(table["model"]))
    pal = _palette(models)
    fig, axes = plt.subplots(len(sets), 1, figsize=(max(6.0, 0.9 * len(metrics) * max(1, len(models)) * 0.6 + 3),
                                                     3.2 * len(sets)), squeeze=False)
    w = 0.8 / max(1, len(models))
    for ax, ds in zip(axes[:, 0], sets, strict=True):
        t = table[table["dataset"] == ds].set_index(["metric", "model"])
        for i, met in enumerate(metrics):
            if met not in t.index.get_level_values(0):
                continue
            r = t.loc[met]
            ceil = float(r["ceiling"].iloc[0])
            lo, hi = float(r["ceiling_ci_low"].iloc[0]), float(r["ceiling_ci_high"].iloc[0])
            if np.isfinite(lo) and np.isfinite(hi):
                ax.fill_between([i - 0.45, i + 0.45], lo, hi, color="0.75", alpha=0.6, lw=0, zorder=4,
                                label="ceiling 95% interval")
            else:
                ax.text(i, ceil, "no interval", fontsize=6, ha="center", va="bottom", zorder=5)
            ax.plot([i - 0.45, i + 0.45], [ceil, ceil], color="black", lw=1.2, zorder=5,
                    label="noise ceiling")
            for j, m in enumerate(models):
                if m not in r.index:
                    continue
                v = float(r.loc[m, "value"])
                x = i - 0.4 + w * (j + 0.5)
                if not np.isfinite(v):                      # say why a bar is absent
                    ax.text(x, 0, "n/a", fontsize=6, ha="center", va="bottom", rotation=90, color=pal[m])
                ax.bar(x, v if np.isfinite(v) else 0, width=w * 0.9, color=pal[m], zorder=3,
                       label=m if i == 0 or met == metrics[0] else None)
                cl, ch = float(r.loc[m, "value_ci_low"]), float(r.loc[m, "value_ci_high"])
                if np.isfinite(cl) and np.isfinite(ch) and np.isfinite(v):
                    ax.errorbar(x, v, yerr=[[max(v - cl, 0)], [max(ch - v, 0)]], color="black",
                                lw=0.8, capsize=2, zorder=4)
        ax.axhline(0, color="black", lw=0.5)
        ax.set_xticks(range(len(metrics)), metrics, rotation=30, ha="right")
        ax.set(title=ds, ylabel="consistency with humans")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=True))
    axes[0, 0].legend(uniq.values(), uniq.keys(), fontsize=7, loc="upper left",
                      bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def leaderboard(board: pd.DataFrame) -> plt.Figure:
    """Horizontal bars of mean ceiling-normalised consistency over the cells every model has,
    best model on top; 1 = the noise ceiling.  A model that lacks cells says how many beside its
    bar; the title gives the number of cells in each mean."""
    b = board[np.isfinite(board["mean_normalized"].to_numpy(float))]
    fig, ax = plt.subplots(figsize=(7.5, 0.4 * len(board) + 1.6))
    pal = _palette(board["model"])
    ax.barh(b["model"], b["mean_normalized"], color=[pal[m] for m in b["model"]])
    for y, r in enumerate(b.itertuples(index=False)):
        gap = f"  (lacks {r.n_all - r.n_own} of {r.n_all} cells)" if r.n_own < r.n_all else ""
        ax.text(max(r.mean_normalized, 0), y, f" {r.mean_normalized:.3f}{gap}", va="center", fontsize=7)
    ax.axvline(1.0, color="black", ls="--", lw=1)
    ax.text(1.0, 0.03, " noise ceiling", transform=ax.get_xaxis_transform(), fontsize=7, va="bottom")
    ax.invert_yaxis()
    ax.set_xlim(min(0.0, float(b["mean_normalized"].min()) if len(b) else 0.0), 1.6)
    n = int(board["n_scores"].iloc[0]) if len(board) else 0
    ax.set_xlabel("mean ceiling-normalised consistency")
    ax.set_title(f"mean over the {n} (data set, metric) cells every model has", fontsize=9)
    fig.tight_layout()
    return fig


def words_in_noise(points: pd.DataFrame, curves: pd.DataFrame) -> plt.Figure:
    """Word accuracy against SNR, one panel per background: listeners (red, 95% interval over
    listeners) and models (95% Wilson intervals), with the runs' logistic fits; the clean cell
    drawn to the right of the noisy SNRs."""
    bgs = list(dict.fromkeys(points.sort_values("background")["background"]))
    fig, axes = plt.subplots(1, len(bgs), figsize=(2.9 * len(bgs) + 0.6, 3.2), squeeze=False, sharey=True)
    pal = _palette(points["observer"])
    snr = points["snr_db"].to_numpy(float)
    top = float(np.max(snr[np.isfinite(snr)]))
    x_clean = top + 4.0
    for ax, bg in zip(axes[0], bgs, strict=True):
        p = points[points["background"] == bg]
        for obs, g in p.groupby("observer", sort=False):
            x = np.where(np.isfinite(g["snr_db"].to_numpy(float)), g["snr_db"], x_clean)
            ax.errorbar(x, g["accuracy"], yerr=[g["accuracy"] - g["ci_low"], g["ci_high"] - g["accuracy"]],
                        fmt="D" if obs == "humans" else "o", ms=4, capsize=2, color=pal[obs], label=obs, ls="none",
                        elinewidth=1)
            c = curves[(curves["background"] == bg) & (curves["observer"] == obs)]
            ax.plot(c["snr_db"], c["p"], color=pal[obs], lw=1.5)
        ticks = sorted(set(np.round(snr[np.isfinite(snr)], 1)))
        ax.set_xticks(ticks + [x_clean], [f"{t:g}" for t in ticks] + ["clean"])
        ax.axvline((top + x_clean) / 2, color="0.85", lw=0.8)
        ax.set(title=str(p["background_name"].iloc[0]), xlabel="SNR (dB)", ylim=(0, 1.02))
    axes[0, 0].set_ylabel("words correct")
    seen = {}                            # every observer once, whichever panel it appears in
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(lab, h)
    axes[0, -1].legend(seen.values(), seen.keys(), fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
    fig.tight_layout()
    return fig


def pitch_thresholds(table: pd.DataFrame) -> plt.Figure:
    """F0 discrimination thresholds against the lowest harmonic number, one panel per spectral
    region: listeners (red, filled) and each model (open markers), sine phase circles, random
    phase squares; conditions where a model reached no threshold are marked at the top."""
    regions = list(dict.fromkeys(table["spectrum"]))
    fig, axes = plt.subplots(1, len(regions), figsize=(4.4 * len(regions), 3.6), squeeze=False, sharey=True)
    models = list(dict.fromkeys(table["model"]))
    pal = _palette(models + ["humans"])
    marker = {"sine": "o", "random": "s"}
    vals = table[["human_f0dl_percent", "threshold_percent"]].to_numpy(float)
    vals = vals[np.isfinite(vals) & (vals > 0)]
    ymax = float(vals.max()) * 3 if vals.size else 100.0
    for ax, reg in zip(axes[0], regions, strict=True):
        t = table[table["spectrum"] == reg]
        hum = t.drop_duplicates("condition")
        for ph, g in hum.groupby("phase"):
            g = g.sort_values("lowest_harmonic")
            ax.plot(g["lowest_harmonic"], g["human_f0dl_percent"], marker=marker.get(ph, "o"),
                    color=HUMAN_COLOUR, label=f"humans, {ph} phase")
        for m in models:
            for ph, g in t[t["model"] == m].groupby("phase"):
                g = g.sort_values("lowest_harmonic")
                ok = np.isfinite(g["threshold_percent"].to_numpy(float))
                ax.plot(g["lowest_harmonic"][ok], g["threshold_percent"][ok], marker=marker.get(ph, "o"),
                        mfc="none", color=pal[m], ls="--", label=f"{m}, {ph} phase" if ok.any() else None)
                ax.scatter(g["lowest_harmonic"][~ok], np.full((~ok).sum(), ymax), marker="v", color=pal[m],
                           s=22, label=f"{m}: no threshold" if ph == "sine" else None)
        ax.set(xscale="log", yscale="log", title=f"{reg} spectral region", xlabel="lowest harmonic number")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    axes[0, 0].set_ylabel("F0 difference limen (%)")
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def pitch_shifts(table: pd.DataFrame) -> plt.Figure:
    """Pitch shift against component shift (both % of F0), one panel per centre harmonic of the
    spectral envelope: the listeners (red), each model (dashed, open markers; bars: the range of
    its per-F0 item intervals, averaged) and de Boer's rule (grey dotted), each point the mean over the
    F0s tested."""
    harmonics = sorted(table["centre_harmonic"].unique())
    fig, axes = plt.subplots(1, len(harmonics), figsize=(3.6 * len(harmonics), 3.4), squeeze=False, sharey=True)
    models = list(dict.fromkeys(table.loc[table["kind"] == "model", "observer"]))
    pal = _palette(models + ["humans"])
    # the y range follows the points, not the bars: one wide item interval (an octave error in
    # a few items) would otherwise flatten every curve; bars that leave the range are cut
    means = table.groupby(["observer", "centre_harmonic", "shift_percent"])["value"].mean().to_numpy(float)
    means = means[np.isfinite(means)]
    lo, hi = (min(float(means.min()), -1.0), max(float(means.max()), 8.0)) if means.size else (-1.0, 8.0)
    pad = 0.08 * (hi - lo)
    for ax, h in zip(axes[0], harmonics, strict=True):
        t = table[table["centre_harmonic"] == h]
        for obs, g in t.groupby("observer", sort=False):
            kind = g["kind"].iloc[0]
            mean = g.groupby("shift_percent")[["value", "ci_low", "ci_high"]].mean().sort_index()
            x = mean.index.to_numpy(float)
            if kind == "humans":
                ax.plot(x, mean["value"], marker="o", color=HUMAN_COLOUR, label="humans")
            elif kind == "baseline":
                ax.plot(x, mean["value"], ls=":", color="0.45", label="de Boer: shift / harmonic")
            else:
                err = np.abs(np.vstack([mean["value"] - mean["ci_low"], mean["ci_high"] - mean["value"]]))
                ax.errorbar(x, mean["value"], yerr=err, marker="s", mfc="none", ls="--", color=pal[obs], capsize=2,
                            label=obs)
        ax.axhline(0, color="0.8", lw=0.8, zorder=0)
        ax.set(title=f"centre harmonic {h}", xlabel="component shift (% of F0)",
               xticks=sorted(t["shift_percent"].unique()), ylim=(lo - pad, hi + pad))
    axes[0, 0].set_ylabel("pitch shift (% of F0)")
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def _condition_panels(table: pd.DataFrame, panel: str, x: str, titles, xlabel: str, ylabel: str,
                      baseline_label: str, *, logx: bool = False, logy: bool = False, ylim=None,
                      every_other_tick: bool = False) -> plt.Figure:
    """One panel per value of ``panel``: ``value`` against ``x`` for the listeners (red), each
    model (dashed, open markers, bars: its intervals) and the baseline (grey dotted)."""
    keys = sorted(table[panel].dropna().unique())
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.4), squeeze=False, sharey=True)
    models = list(dict.fromkeys(table.loc[table["kind"] == "model", "observer"]))
    pal = _palette(models + ["humans"])
    for ax, key in zip(axes[0], keys, strict=True):
        t = table[table[panel] == key]
        for obs, g in t.groupby("observer", sort=False):
            kind = g["kind"].iloc[0]
            g = g.groupby(x)[["value", "ci_low", "ci_high"]].mean().sort_index()
            xs = g.index.to_numpy(float)
            if kind == "humans":
                ax.plot(xs, g["value"], marker="o", color=HUMAN_COLOUR, label="humans")
            elif kind == "baseline":
                ax.plot(xs, g["value"], ls=":", color="0.45", label=baseline_label)
            else:
                err = np.abs(np.vstack([g["value"] - g["ci_low"], g["ci_high"] - g["value"]]))
                ax.errorbar(xs, g["value"], yerr=np.nan_to_num(err), marker="s", mfc="none", ls="--", color=pal[obs],
                            capsize=2, label=obs)
        ax.set_title(titles(key), fontsize=9)
        ax.set_xlabel(xlabel)
        if logx:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
            ticks = sorted(t[x].unique())
            ax.set_xticks(ticks[::2] if every_other_tick else ticks)     # (9 log-spaced labels overlap)
        if logy:
            ax.set_yscale("log")
        if ylim is not None:
            ax.set_ylim(*ylim)
    axes[0, 0].set_ylabel(ylabel)
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def harmonic_weights(table: pd.DataFrame) -> plt.Figure:
    """Weight of each harmonic in the pitch (slope of pitch shift on its mistuning) against
    harmonic number, one panel per F0: listeners, models (bars: item intervals), equal weights."""
    fig = _condition_panels(table, "f0_hz", "harmonic", lambda f: f"F0 {f:g} Hz", "mistuned harmonic",
                            "weight (% pitch shift per % mistuning)", "equal weights (1/12)")
    for ax in fig.axes:
        ax.axhline(0, color="0.8", lw=0.8, zorder=0)
    return fig


ALT_PHASE_BANDS = {125.0: "LOW band, 125-625 Hz", 1375.0: "MID band, 1375-1875 Hz", 3900.0: "HIGH band, 3900-5400 Hz"}


def alt_phase(table: pd.DataFrame) -> plt.Figure:
    """Share of pitch estimates at 2 F0 minus at F0 against F0, one panel per band: listeners,
    models (bars: item intervals), the resolvability rule."""
    fig = _condition_panels(table, "filter_lower_hz", "f0_hz", lambda b: ALT_PHASE_BANDS.get(float(b), f"{b:g} Hz"),
                            "F0 (Hz)", "% at 2 F0 minus % at F0", "rule: 2 F0 if lowest harmonic > 10",
                            logx=True, ylim=(-108, 108), every_other_tick=True)
    for ax in fig.axes:
        ax.axhline(0, color="0.8", lw=0.8, zorder=0)
    return fig


def transposed_thresholds(table: pd.DataFrame) -> plt.Figure:
    """F0 difference limens against rate, one panel per carrier (0: pure tones): listeners and
    models (bars: threshold intervals); conditions without a threshold are left out of a
    model's line and counted in the panel title."""
    t = table.copy()
    no = t[(t["kind"] == "model") & (t["status"] != "ok")].groupby("carrier_hz").size()

    def title(c):
        name = "pure tones" if c == 0 else f"transposed, {c / 1000:g}-kHz carrier"
        k = int(no[c]) if c in no.index else 0
        return name + (f"\nno model threshold in {k} condition{'s' if k > 1 else ''}" if k else "")

    return _condition_panels(t, "carrier_hz", "f0_hz", title, "F0 / rate (Hz)", "F0 difference limen (%)", "",
                             logx=True, logy=True)


BENCHMARK_TITLES = {"ood_accuracy": "OOD accuracy", "accuracy_difference": "accuracy difference",
                    "observed_consistency": "observed consistency", "error_consistency": "error consistency",
                    "shape_bias": "shape bias"}


def benchmark_bars(table: pd.DataFrame, higher_is_better: dict) -> plt.Figure:
    """model-vs-human's benchmark bar plots: one panel per metric (shape bias: per cue-conflict
    set), models sorted best first (``higher_is_better``), the humans' reference as a red bar
    and a dashed red line; the panel title says over which data sets the means run."""
    panels = list(dict.fromkeys(zip(table["metric"], table["sets"])))
    obs = list(dict.fromkeys(table["observer"]))
    pal = _palette(obs)
    ncol = min(3, len(panels))
    nrow = int(np.ceil(len(panels) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 0.32 * len(obs) * nrow + 1.9 * nrow),
                             squeeze=False)
    for ax, (metric, sets) in zip(axes.ravel(), panels, strict=False):
        t = table[(table["metric"] == metric) & (table["sets"] == sets)]
        t = t[np.isfinite(t["value"].to_numpy(float))]
        t = t.sort_values("value", ascending=not higher_is_better.get(metric, True))
        ax.barh(t["observer"], t["value"], color=[pal[o] for o in t["observer"]])
        for y, v in enumerate(t["value"]):
            ax.text(v, y, f" {v:.3f}", va="center", fontsize=7)
        hum = t.loc[t["kind"] == "humans", "value"]
        if len(hum):
            ax.axvline(float(hum.iloc[0]), color=HUMAN_COLOUR, ls="--", lw=1)
        ax.invert_yaxis()
        hi = float(max(t["value"].max(), 0)) if len(t) else 1.0
        ax.set_xlim(min(0.0, float(t["value"].min()) if len(t) else 0.0), hi * 1.25 + 1e-3)
        better = "higher" if higher_is_better.get(metric, True) else "lower"
        n = int(t["n_sets"].iloc[0]) if len(t) else 0
        where = sets if n <= 3 else f"{n} data sets"
        if metric == "shape_bias":
            ax.set_title(f"shape bias (1 = all shape, 0 = all texture)\n{where}", fontsize=9)
        else:
            ax.set_title(f"{BENCHMARK_TITLES.get(metric, metric)} ({better} is closer to people)\n"
                         f"mean over {where}", fontsize=9)
        ax.tick_params(axis="y", labelsize=8)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def condition_curves(table: pd.DataFrame) -> plt.Figure:
    """Per parametric data set, accuracy (left) and error consistency with people (right)
    against the condition level, one line per observer (people red; their error consistency is
    the mean over pairs of people).  A model compared only per condition has no error
    consistency; its absence is written in the panel."""
    sets = list(dict.fromkeys(table["dataset"]))
    pal = _palette(table["observer"])
    fig, axes = plt.subplots(len(sets), 2, figsize=(10.5, 3.3 * len(sets)), squeeze=False)
    for (a_acc, a_ec), ds in zip(axes, sets, strict=True):
        t = table[table["dataset"] == ds]
        lvl = t.drop_duplicates("x").sort_values("x")
        for obs, g in t.groupby("observer", sort=False):
            g = g.sort_values("x")
            style = dict(color=pal[obs], marker="D" if obs == "humans" else "o", ms=4, lw=1.4, label=obs)
            a_acc.plot(g["x"], g["accuracy"], **style)
            if g["item_level"].any():
                a_ec.plot(g["x"], g["error_consistency"], **style)
        a_acc.axhline(1 / 16, color="grey", ls=":", lw=0.8)
        a_acc.text(lvl["x"].iloc[-1], 1 / 16, "chance", fontsize=7, color="grey", ha="right", va="bottom")
        a_ec.axhline(0, color="grey", ls=":", lw=0.8)
        absent = sorted(set(t.loc[~t["item_level"], "observer"]))
        if absent:
            a_ec.text(0.02, 0.97, "no error consistency (saw other images than people,\ncompared per "
                      "condition only):\n" + "\n".join(absent), transform=a_ec.transAxes,
                      fontsize=7, va="top", color="0.35")
        xl = f"{t['parameter'].iloc[0]}" + (f" ({t['transform'].iloc[0]} scale)"
                                            if isinstance(t["transform"].iloc[0], str) else "")
        for ax in (a_acc, a_ec):
            ax.set_xticks(lvl["x"], [f"{v:g}" for v in lvl["level"]], fontsize=7)
            ax.set_xlabel(xl)
        a_acc.set(title=f"{ds}: accuracy", ylabel="accuracy", ylim=(0, 1.02))
        a_ec.set(title=f"{ds}: error consistency with people", ylabel="kappa", ylim=(-0.2, 1.0))
        a_ec.legend(*a_acc.get_legend_handles_labels(), fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
    fig.tight_layout()
    return fig


def consistency_vs_accuracy(table: pd.DataFrame) -> plt.Figure:
    """Observed consistency (left) and error consistency (right) with people against OOD
    accuracy, one point per observer and data set (marker: data set; colour: observer; people
    red, their consistency the mean over pairs of people)."""
    pal = _palette(table["observer"])
    sets = list(dict.fromkeys(table["dataset"]))
    marks = dict(zip(sets, "osD^vP*Xhp<>" * 2, strict=False))
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.0))
    for ax, col, lab in ((axes[0], "observed_consistency", "observed consistency"),
                         (axes[1], "error_consistency", "error consistency (kappa)")):
        for r in table.itertuples(index=False):
            ax.scatter(r.ood_accuracy, getattr(r, col), color=pal[r.observer], marker=marks[r.dataset],
                       s=40, edgecolor="black", lw=0.4, zorder=3)
        ax.set(xlabel="OOD accuracy", ylabel=lab, xlim=(0, 1))
        ax.grid(alpha=0.3)
    axes[1].axhline(0, color="grey", ls=":", lw=0.8)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    h_obs = [Patch(color=pal[o], label=o) for o in dict.fromkeys(table["observer"])]     # colour: observer
    h_set = [Line2D([], [], color="white", markeredgecolor="black", marker=marks[s], ls="none", label=s)
             for s in sets]                                                              # marker: data set
    axes[1].legend(handles=h_obs + h_set, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
    fig.tight_layout()
    return fig


def confusion_matrices(table: pd.DataFrame) -> plt.Figure:
    """Row-normalised confusion matrices (true category down, response across; "other": answers
    outside the 16 categories), one row of panels per data set, people first."""
    sets = list(dict.fromkeys(table["dataset"]))
    per = {ds: list(dict.fromkeys(table.loc[table["dataset"] == ds].sort_values(
        "kind", key=lambda k: k != "humans", kind="stable")["observer"])) for ds in sets}
    ncol = max(len(v) for v in per.values())
    fig, axes = plt.subplots(len(sets), ncol, figsize=(3.6 * ncol + 0.8, 3.9 * len(sets)), squeeze=False,
                             layout="constrained")
    cats = list(dict.fromkeys(table["category"]))
    resp = list(dict.fromkeys(table["response"]))
    im = None
    for row, ds in zip(axes, sets, strict=True):
        for ax, obs in zip(row, per[ds] + [None] * (ncol - len(per[ds])), strict=True):
            if obs is None:
                ax.set_visible(False)
                continue
            t = table[(table["dataset"] == ds) & (table["observer"] == obs)]
            w = t.pivot(index="category", columns="response", values="rate").reindex(index=cats, columns=resp)
            im = ax.imshow(w.to_numpy(float), cmap="magma_r", vmin=0, vmax=1, aspect="equal")
            ax.set_xticks(range(len(resp)), resp, rotation=90, fontsize=6)
            ax.set_yticks(range(len(cats)), cats, fontsize=6)
            ax.set_title(f"{ds}: {obs}", fontsize=8)
            ax.set_xlabel("response", fontsize=7)
            ax.set_ylabel("true category", fontsize=7)
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.5, label="share of the category's trials")
    return fig


CONTROL_TITLES = {"o1_acc": "O1 (object level, accuracy per category)", "o1_dprime": "O1 (object, d')", "o2_offdiag": "O2 (object level, confusions)",
                  "i1n": "I1n (image level, normalised)", "error_consistency": "error consistency (image level, kappa)"}


def short_observer_name(name: str) -> str:
    """A short axis label: ``tf_efficientnet_lite0`` -> ``Lite0``, ``-random`` -> `` random``,
    a readout suffix (``+logistic``) dropped (the bar colour says how it is read out)."""
    base, _, readout = str(name).partition("+")
    base = base.replace("tf_efficientnet_", "").replace("lite", "Lite").replace("-random", " random")
    return {"v1": "V1", "pixels": "pixels"}.get(base, base)
_SET_MARKERS = ("o", "s", "^", "D", "v", "P")


def controls_figure(table: pd.DataFrame, dataset: str = "pooled", show_sets: bool = True) -> plt.Figure:
    """Networks vs control observers in the layout of Kell & McDermott (2019, Fig. 2a): one panel
    per metric (object-level metrics first), a bar per observer with the ceiling-normalised
    consistency on ``dataset`` (default the mean over data sets) and its 95% interval; networks
    on the left in blue (read out by a fixed mapping: dark, by a fitted readout: light),
    controls on the right in grey, separated by a gap; the human noise ceiling (1) dashed.
    ``show_sets``: each data set's own value as a small open marker on the bar.  ``table``:
    :func:`psychobench.report.analyses.controls_table`."""
    t = table[table["dataset"] == dataset]
    if t.empty:
        raise ValueError(f"controls_figure: no rows for dataset {dataset!r}; "
                         f"the table has {sorted(table['dataset'].unique())}")
    metrics = list(dict.fromkeys(t["metric"]))
    who = t.drop_duplicates("observer")
    nets = who[who["kind"] == "network"]
    ctrl = who[who["kind"] != "network"]
    order = list(nets["observer"]) + list(ctrl["observer"])
    fitted_nets = set(nets.loc[nets["readout"].str.contains("fitted"), "observer"])
    # gaps: between networks and controls, and (half) between fixed and fitted network readouts
    x = {o: i + (1 if o in set(ctrl["observer"]) and len(nets) else 0)
         + (0.5 if fitted_nets and len(fitted_nets) < len(nets) and (o in fitted_nets or o in set(ctrl["observer"]))
            else 0) for i, o in enumerate(order)}
    label = {o: short_observer_name(o) + (" fit" if o in fitted_nets else "") for o in order}
    colour = {o: ("#9ecae1" if "fitted" in r else "#2166ac") for o, r in zip(nets["observer"], nets["readout"], strict=True)}
    colour |= {o: ("#969696" if f == "random" else "#525252") for o, f in zip(ctrl["observer"], ctrl["family"], strict=True)}
    pooled_sets = str(t["sets"].iloc[0]).split(",") if dataset == "pooled" and "sets" in t else []
    per_set = table[table["dataset"].isin(pooled_sets)] if show_sets else table.iloc[:0]
    sets = list(dict.fromkeys(per_set["dataset"]))
    ncol = min(len(metrics), 2)
    nrow = int(np.ceil(len(metrics) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(0.5 * len(x) * ncol + 1.6 * ncol, 3.6 * nrow + 1.0),
                             squeeze=False, sharey=True)
    for ax, met in zip(axes.ravel(), metrics, strict=False):
        r = t[t["metric"] == met].set_index("observer")
        for o in order:
            if o not in r.index:
                continue
            v, lo, hi = (float(r.loc[o, c]) for c in ("normalized", "normalized_ci_low", "normalized_ci_high"))
            if not np.isfinite(v):
                ax.text(x[o], 0.02, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
                continue
            ax.bar(x[o], v, width=0.8, color=colour[o], zorder=2)
            if np.isfinite(lo) and np.isfinite(hi):
                ax.errorbar(x[o], v, yerr=[[max(v - lo, 0)], [max(hi - v, 0)]], color="black", lw=1, capsize=2.5,
                            zorder=4)
        for k, ds in enumerate(sets):
            s = per_set[(per_set["dataset"] == ds) & (per_set["metric"] == met)]
            s = s[s["observer"].isin(order)]
            ax.scatter([x[o] + 0.22 * (k - (len(sets) - 1) / 2) for o in s["observer"]], s["normalized"], s=14,
                       marker=_SET_MARKERS[k % len(_SET_MARKERS)], facecolors="white", edgecolors="black",
                       linewidths=0.7, zorder=5, label=ds)
        ax.axhline(1.0, color=HUMAN_COLOUR, ls="--", lw=1, zorder=1, label="human noise ceiling")
        ax.axhline(0.0, color="black", lw=0.6, zorder=1)
        if len(nets) and len(ctrl):
            ax.axvline((max(x[o] for o in nets["observer"]) + min(x[o] for o in ctrl["observer"])) / 2,
                       color="0.8", lw=0.8, zorder=0)
        ax.set_xticks([x[o] for o in order], [label[o] for o in order], rotation=45, ha="right", fontsize=8)
        lvl = str(r["level"].iloc[0]) if "level" in r and len(r) else ""
        ax.set_title(CONTROL_TITLES.get(met, met) if met in CONTROL_TITLES else f"{met} ({lvl})", fontsize=10)
        ax.set_xlim(-0.7, max(x.values()) + 0.7)
        lows = t[["normalized", "normalized_ci_low"]].to_numpy(float)
        ax.set_ylim(min(-0.1, float(np.nanmin(lows)) - 0.05) if np.isfinite(lows).any() else -0.1, 1.15)
    for ax in axes.ravel()[len(metrics):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("consistency with humans / noise ceiling")
    from matplotlib.patches import Patch

    handles = [Patch(color="#2166ac", label="network, fixed ImageNet mapping")]
    if any("fitted" in r for r in nets["readout"]):
        handles.append(Patch(color="#9ecae1", label="network, fitted readout (fit)"))
    if (ctrl["family"] == "random").any():
        handles.append(Patch(color="#969696", label="random-weight twin, fitted readout"))
    if (ctrl["family"] != "random").any():
        handles.append(Patch(color="#525252", label="pixels / V1 control, fitted readout"))
    h, lab = axes.ravel()[0].get_legend_handles_labels()
    handles += list(dict(zip(lab, h, strict=True)).values())
    pooled_over = str(t["sets"].iloc[0]).replace(",", ", ") if "sets" in t else ""
    where = f"mean over {pooled_over}" if dataset == "pooled" and pooled_over else dataset
    fig.suptitle(f"Consistency with people, networks vs controls ({where}; bars: 95% intervals)", fontsize=11)
    fig.legend(handles=handles, loc="lower center", ncol=min(4, len(handles)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))
    return fig


DECODING_TITLES = {"category_accuracy": "category (accuracy; chance 1/9)", "r2_x_position": "horizontal position (r²)",
                   "r2_y_position": "vertical position (r²)", "r2_scale": "scale (r²)",
                   "r2_rotation_in_plane": "in-plane rotation (r²)", "r2_rotation_in_depth": "in-depth rotation (r²)"}


def layer_decoding(table: pd.DataFrame) -> plt.Figure:
    """In the style of Kell & McDermott (2019) Fig. 3c: one panel per decoded variable,
    decoding performance against relative layer depth, one line per network (solid: trained,
    dashed: random-weight twin), 95% intervals over objects as bands."""
    metrics = [m for m in DECODING_TITLES if m in set(table["metric"])]
    ncol = min(3, len(metrics))
    nrow = -(-len(metrics) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 2.9 * nrow + 0.6), sharex=True, squeeze=False)
    for ax in axes.ravel()[len(metrics):]:
        ax.set_visible(False)
    import re

    def base_of(name) -> str:                  # a twin shares its network's colour
        return re.sub(r"-(random|untrained).*$", "", str(name)).replace("random_", "")

    pal = _palette(sorted({base_of(m) for m in table["model"]}))
    for ax, metric in zip(axes.ravel(), metrics):
        sub = table[table["metric"] == metric]
        for (model, run), g in sub.groupby(["model", "run"], sort=False):
            g = g.sort_values("depth")
            base = base_of(model)
            trained = bool(g["trained"].iloc[0])
            colour = pal.get(base, "grey")
            ax.plot(g["depth"], g["value"], "-" if trained else "--", marker="o", ms=3, color=colour,
                    label=f"{base} (trained)" if trained else f"{base} (random weights, fitted readout)")
            ax.fill_between(g["depth"], g["value_ci_low"], g["value_ci_high"], color=colour, alpha=0.15, lw=0)
        ax.axhline(1 / 9 if metric == "category_accuracy" else 0.0, color="k", lw=0.6, ls=":")
        ax.set_title(DECODING_TITLES[metric], fontsize=9)
        ax.set_xlabel("relative layer depth", fontsize=8)
        ax.set_ylim(-0.2 if metric != "category_accuracy" else 0, 1.02)
    for row in axes:
        row[0].set_ylabel("cross-validated decoding")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=7, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def attention_gain(table: pd.DataFrame) -> plt.Figure:
    """Detection d' of the attended category against gain strength beta, one line per attended
    layer (darker: later), one panel per network; 95% grid-resample intervals as bars."""
    t = table[table["metric"] == "detection_dprime"]
    models = list(dict.fromkeys(t["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.4), squeeze=False, sharey=True)
    cmap = plt.get_cmap("viridis")
    for ax, model in zip(axes[0], models):
        g = t[t["model"] == model]
        for layer, h in g.groupby("layer", sort=False):
            h = h.sort_values("beta")
            colour = cmap(0.85 * (1 - float(h["depth"].iloc[0])))
            ax.errorbar(h["beta"], h["value"], yerr=[h["value"] - h["value_ci_low"], h["value_ci_high"] - h["value"]],
                        marker="o", ms=3, capsize=2, color=colour, label=layer)
        ax.set_title(str(model), fontsize=9)
        ax.set_xlabel("attention strength beta (0: none)", fontsize=8)
        ax.legend(title="attended layer", fontsize=7, title_fontsize=7, loc="best")
    axes[0, 0].set_ylabel("detection d' (mean over categories)")
    fig.tight_layout()
    return fig


def shared_stages(table: pd.DataFrame) -> plt.Figure:
    """In the style of Kell & McDermott (2019) Fig. 3b: accuracy of each task against the
    number of stages shared, one panel per task, 95% token-resample intervals as bars, the
    95% interval of the unshared networks (k = 0) as a band, chance as a dotted line and the
    largest k within that band marked."""
    tasks = [("word_accuracy", "word recognition (held-out talkers)", 1 / 64),
             ("talker_accuracy", "talker identification (held-out words)", 1 / 80)]
    fig, axes = plt.subplots(1, 2, figsize=(7.6, 3.3), sharey=True)
    pal = _palette(sorted({f"{m} ({r})" for m, r in zip(table["model"], table["run"])}))
    for ax, (metric, title, chance) in zip(axes, tasks):
        sub = table[table["metric"] == metric]
        for (model, run), g in sub.groupby(["model", "run"], sort=False):
            g = g.sort_values("k")
            colour = pal.get(f"{model} ({run})", "C0")
            ax.errorbar(g["k"], g["value"], yerr=[g["value"] - g["value_ci_low"], g["value_ci_high"] - g["value"]],
                        marker="o", ms=4, capsize=2, color=colour, label=str(run))
            ref = g[g["k"] == 0]
            if len(ref):
                ax.axhspan(float(ref["value_ci_low"].iloc[0]), float(ref["value_ci_high"].iloc[0]), color=colour,
                           alpha=0.12, lw=0)
            best = g["largest"].iloc[0]
            if np.isfinite(best):
                ax.axvline(float(best), color=colour, ls="--", lw=0.8)
        ax.axhline(chance, color="k", lw=0.6, ls=":")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("stages shared by the two tasks (k)", fontsize=8)
        ax.set_xticks(sorted(set(table["k"])))
        ax.set_ylim(0, 1.02)
    axes[0].set_ylabel("accuracy")
    if table["run"].nunique() > 1:
        axes[1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig

"""Report figures.  Each function takes the tidy table of :mod:`psychobench.report.analyses`
and only draws; it returns the matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import NullFormatter, ScalarFormatter

HUMAN_COLOUR = "#d62728"


def _palette(names) -> dict:
    names = [n for n in dict.fromkeys(names) if n != "humans"]
    cols = sns.color_palette("tab10" if len(names) <= 10 else "husl", len(names))
    return {**dict(zip(names, cols, strict=True)), "humans": HUMAN_COLOUR}


def psychometric(points: pd.DataFrame, curves: pd.DataFrame) -> plt.Figure:
    """Accuracy against level per data set: points with 95% intervals and fitted curves;
    humans in red, models in other colours; the chance level (1/16) dashed."""
    sets = list(dict.fromkeys(points["dataset"]))
    ncol = min(3, len(sets))
    nrow = int(np.ceil(len(sets) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.4 * nrow), squeeze=False)
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
        t = p["transform"].iloc[0]
        ax.set(title=ds, ylim=(0, 1.02), ylabel="accuracy",
               xlabel=f"{p['parameter'].iloc[0]}" + (f" ({t})" if isinstance(t, str) else ""))
    for ax in axes.ravel()[len(sets):]:
        ax.set_visible(False)
    axes.ravel()[0].legend(fontsize=7, loc="lower left")
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
        ax.axvline(np.nanmean(g["shape_bias"]), color=pal[obs], lw=1, alpha=0.7)
    ax.set_yticks(range(len(cats)), cats)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("fraction of 'shape' decisions")
    top = ax.secondary_xaxis("top", functions=(lambda v: 1 - v, lambda v: 1 - v))
    top.set_xlabel("fraction of 'texture' decisions")
    ax.invert_yaxis()
    ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(1.01, 0))
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
    fig.tight_layout()
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
                ax.fill_between([i - 0.45, i + 0.45], lo, hi, color="0.8", zorder=1)
            ax.plot([i - 0.45, i + 0.45], [ceil, ceil], color="black", lw=1.2, zorder=2)
            for j, m in enumerate(models):
                if m not in r.index:
                    continue
                v = float(r.loc[m, "value"])
                x = i - 0.4 + w * (j + 0.5)
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
    """Horizontal bars of mean ceiling-normalised consistency, best model on top; 1 = the
    noise ceiling."""
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(board) + 1.4))
    pal = _palette(board["model"])
    ax.barh(board["model"], board["mean_normalized"], color=[pal[m] for m in board["model"]])
    ax.axvline(1.0, color="black", ls="--", lw=1, label="noise ceiling")
    ax.invert_yaxis()
    ax.set_xlabel("mean ceiling-normalised consistency")
    ax.legend(fontsize=7, loc="lower right")
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
    axes[0, 0].legend(fontsize=7, loc="upper left")
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
                        mfc="none", color=pal[m], ls="--", label=f"{m}, {ph} phase")
                ax.scatter(g["lowest_harmonic"][~ok], np.full((~ok).sum(), ymax), marker="v", color=pal[m],
                           s=22, label=f"{m}: no threshold" if ph == "sine" else None)
        ax.set(xscale="log", yscale="log", title=f"{reg} spectral region", xlabel="lowest harmonic number")
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    axes[0, 0].set_ylabel("F0 difference limen (%)")
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
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

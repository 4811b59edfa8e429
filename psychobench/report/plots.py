"""Report figures.  Each function takes the tidy table of :mod:`psychobench.report.analyses`
and only draws; it returns the matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

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
    """Per data set and metric, each model's score as a bar (95% interval of the score from
    the normalised interval times the ceiling) against the human noise ceiling: a grey band
    (its 95% interval) and a black line (the estimate)."""
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
            lo, hi = float(r["band_low"].iloc[0]), float(r["band_high"].iloc[0])
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
                cl, ch = float(r.loc[m, "ci_low"]) * ceil, float(r.loc[m, "ci_high"]) * ceil
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

# %% [markdown]
# # Models and people
#
# Models compared with people on the same psychophysics experiments.  Every number comes from
# the run folders listed below (their `summary.json`, `metrics.csv` and `trials.parquet`) and
# from the human data they were scored against.

# %% tags=["parameters"]
results_dir = "results"
runs = None            # list of shell patterns of run ids, or None for all
models = None          # list of shell patterns of model names, or None for all
title = "psychobench report"

# %%
import warnings

warnings.filterwarnings("ignore", message=".*IProgress not found.*")
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from psychobench.report import analyses, plots

warnings.filterwarnings("ignore", category=RuntimeWarning)
pd.set_option("display.precision", 3)
pd.set_option("display.max_colwidth", None)
plt.rcParams.update({"figure.dpi": 96, "savefig.dpi": 96})


def show(fig):
    display(fig)
    plt.close(fig)


def missing(what):
    display(Markdown(f"*{what}: not available for these runs.*"))


data = analyses.load(results_dir, runs=runs, models=models)
plots.use_observers(data.runs["model"])
display(Markdown(f"{len(data.runs)} run(s) from `{results_dir}`"))
if len(data.runs):
    display(data.runs[["run", "model", "sets", "seed", "n_trials", "forward_passes"]])

# %% [markdown]
# ## Leaderboard
# Models ranked by their mean ceiling-normalised consistency: each consistency score divided
# by the human noise ceiling (1 = as consistent with people as people are with each other),
# averaged over the (data set, metric) cells that every model in the table has, so that every
# mean covers the same cells.  `n_scores`: cells in each mean; `n_own`: the model's cells;
# `n_all`: cells any model has; `missing`: the cells a model lacks (left out of everyone's mean).

# %%
board = analyses.leaderboard(data)
if board.empty:
    missing("Ceiling-normalised consistency scores")
else:
    display(board.set_index("rank"))
    display(Markdown(f"*{analyses.coverage_note(board)}*"))
    if board["mean_normalized"].notna().any():
        show(plots.leaderboard(board))

# %% [markdown]
# ## Benchmark: models and people (model-vs-human)
# The benchmark numbers of Geirhos et al. (2021): OOD accuracy, accuracy difference (squared,
# per condition), observed consistency and error consistency (both trial by trial with each
# person), each the mean over the data sets every model was compared on item by item; models
# sorted best first, people in red (bar and dashed line: the same numbers between pairs of
# people; OOD accuracy pooled over people).  Shape bias on cue-conflict images.

# %%
bench = analyses.benchmark_table(data)
if bench.empty:
    missing("Benchmark metrics (item-level comparisons)")
else:
    show(plots.benchmark_bars(bench, analyses.HIGHER_IS_BETTER))
    gaps = bench[bench["missing"] != ""]
    for r in gaps.itertuples(index=False):
        display(Markdown(f"*{r.metric}: {r.observer} lacks {r.missing}, left out of every mean.*"))

# %% [markdown]
# ## Consistency against accuracy
# Observed and error consistency with people against OOD accuracy, one point per observer and
# data set.  Observed consistency rises with accuracy by itself; error consistency (kappa)
# removes what two observers' accuracies alone would give.

# %%
scatter = analyses.consistency_vs_accuracy(data)
if scatter.empty:
    missing("Consistency against accuracy (item-level comparisons)")
else:
    show(plots.consistency_vs_accuracy(scatter))

# %% [markdown]
# ## Scores against the noise ceiling
# Each score as a bar (with its 95% bootstrap interval); the black line is the human noise
# ceiling and the grey band around it the ceiling's own 95% interval ("no interval" where the
# bootstrap gave none); "n/a" marks a score a model has none for (undefined, e.g. for constant
# answers), which is also why such a model lacks cells in the leaderboard; a bar without
# whiskers has no valid bootstrap interval (the run's `status` column says so).

# %%
ceil = analyses.ceiling_table(data)
if ceil.empty:
    missing("Consistency scores with noise ceilings")
else:
    show(plots.ceiling_bars(ceil))

# %% [markdown]
# ## Psychometric curves
# Accuracy against stimulus level for people (pooled, red) and models, with 95% Wilson
# intervals and logistic fits (guess 1/16); chance dashed.

# %%
points = analyses.psychometric_points(data)
if points.empty:
    missing("Psychometric curves (parametric stimulus sets)")
else:
    show(plots.psychometric(points, analyses.psychometric_curves(points)))

# %% [markdown]
# ## Accuracy and error consistency per condition
# Every parametric set: accuracy (left) and error consistency with people (right, mean kappa
# over people; people's own: mean over pairs of people) at each condition level.  A network
# that saw regenerated images (other images than people saw) has accuracy per condition only.

# %%
cond = analyses.condition_curves(data)
if cond.empty:
    missing("Accuracy and error consistency per condition (parametric stimulus sets)")
else:
    show(plots.condition_curves(cond))

# %% [markdown]
# ## Shape bias per category
# Cue-conflict images (shape of one category, texture of another): the fraction of decisions
# that follow the shape, per shape category, as in Geirhos et al. (2019), Fig. 4.

# %%
bias = analyses.shape_bias_by_category(data)
if bias.empty:
    missing("Shape bias (cue-conflict trials)")
else:
    show(plots.shape_bias(bias))
    display(bias.groupby("observer")[["shape_hits", "texture_hits"]].sum().assign(
        shape_bias=lambda d: d.shape_hits / (d.shape_hits + d.texture_hits)))

# %% [markdown]
# ## Error consistency
# Cohen's kappa between the trial-by-trial errors of every pair of observers (models and
# individual people), per condition then averaged (Geirhos et al. 2020).

# %%
shown = 0
for ds in analyses.item_level_sets(data):
    mat = analyses.error_consistency_matrix(data, ds)
    if len(mat):
        show(plots.error_consistency(mat))
        shown += 1
if not shown:
    missing("Error consistency (item-level human data)")

# %% [markdown]
# ## Confusion matrices
# Object level: for each true category (rows), the share of each response (columns), pooled
# over conditions; "other" collects answers outside the 16 categories (people's "na").  The
# object-level metrics (o2_offdiag, o2_dprime) correlate the off-diagonal of such matrices.

# %%
conf = analyses.confusion_matrices(data)
if conf.empty:
    missing("Confusion matrices (16-category trials)")
else:
    show(plots.confusion_matrices(conf))

# %%
# Layer decoding: shown only where layer-decoding runs exist.
decoding = analyses.layer_decoding_table(data)
if len(decoding):
    display(Markdown(
        "## Inside the networks: layer decoding\n"
        "Category (logistic) and category-orthogonal variables (ridge) decoded from each layer's "
        "features (mean over 3 x 3 cells), cross-validated; bands are 95% intervals from resampling "
        "the objects (Hong et al. 2016; Kell & McDermott 2019, Fig. 3c).  Dotted: chance (category "
        "1/9) and r² = 0.  `pre_logits` is pooled by the network's own head, so position cannot be "
        "read there by construction."))
    show(plots.layer_decoding(decoding))

# %%
# Attention gain: shown only where attention-gain runs exist.
attention = analyses.attention_gain_table(data)
if len(attention):
    display(Markdown(
        "## Inside the networks: feature-similarity attention\n"
        "Detection of the attended category in 2 x 2 object grids by a binary readout of the "
        "network's last features, when the units of one layer are scaled by 1 + beta x their "
        "tuning to that category (Lindsay & Miller 2018); beta 0 is no attention.  Bars: 95% "
        "intervals from resampling the grids."))
    show(plots.attention_gain(attention))

# %%
# Shared stages: shown only where shared-stages runs exist.
stages = analyses.shared_stages_table(data)
if len(stages):
    best = ", ".join(f"{r}: k = {v:g}" for r, v in stages.groupby("run")["largest"].first().items())
    display(Markdown(
        "## Inside the networks: shared stages\n"
        "Dual-task networks (word recognition + talker identification) trained with the first k of "
        "their 5 stages shared (Kell et al. 2018; Kell & McDermott 2019, Fig. 3b): word accuracy on "
        "talkers never heard in training, talker accuracy on words the talker never said in "
        "training.  Bars: 95% intervals from resampling the test tokens (one training seed per k); "
        "band: the interval of the unshared networks (k = 0); dashed line: the largest k whose "
        f"accuracy on both tasks is not below that band ({best}); dotted: chance."))
    show(plots.shared_stages(stages))

# %%
# Hearing: shown only where hearing runs exist.
if analyses.has_hearing(data):
    display(Markdown(
        "## Hearing: comparisons with listeners\n"
        "Each hearing run's headline comparison: words in noise, the squared correlation of model "
        "and listener accuracy over the noisy cells against the split-half ceiling of the listener "
        "mean; English CCC, the four per-token rates against the leave-one-listener-out ceiling; "
        "pitch, the correlation of log F0 difference limens with Bernstein & Oxenham (2005); speech "
        "detection, d'.  A dash is a number the comparison does not have (no listener value "
        "or ceiling for that metric); `status` says why a value itself is missing."))
    hearing = analyses.audio_headlines(data)
    if hearing.empty:
        display(Markdown("*No headline comparison among these hearing runs.*"))
    else:
        display(hearing.set_index(["experiment", "model", "run", "metric"]).style.format(precision=3, na_rep="-"))
    word_points = analyses.words_in_noise_points(data)
    if len(word_points):
        display(Markdown(
            "## Hearing: words in noise\n"
            "Words correct against SNR in each background: the 44 listeners of Saddler & McDermott "
            "(2024) (red: mean and 95% interval over listeners) and the models (95% Wilson "
            "intervals), with the logistic fits of each run (drawn in the backgrounds a run tested; "
            "the others show the listeners' points only).  The backgrounds are synthetic "
            "stand-ins for theirs (each run's `summary.json` says which)."))
        show(plots.words_in_noise(word_points, analyses.words_in_noise_curves(data)))
    pitch = analyses.pitch_thresholds(data)
    if len(pitch):
        display(Markdown(
            "## Hearing: pitch\n"
            "F0 difference limens against the lowest harmonic number (Bernstein & Oxenham 2005, two "
            "intervals, 70.7% correct); triangles at the top mark conditions where a model reached "
            "no threshold inside the tested differences."))
        show(plots.pitch_thresholds(pitch))
    shifts = analyses.pitch_shifts(data)
    if len(shifts):
        display(Markdown(
            "## Hearing: frequency-shifted complexes\n"
            "The pitch of a complex whose components are all shifted up by the same number of Hz "
            "(Moore & Moore 2003): with resolved components (envelope centred on harmonic 5) the "
            "listeners' pitch follows the shift, with unresolved ones (16) hardly at all.  Each "
            "point is the mean over the F0s tested; a model's bars span its item intervals; the "
            "dotted line is de Boer's rule (shift / centre harmonic), a baseline that knows only "
            "the place of the envelope."))
        show(plots.pitch_shifts(shifts))
    weights = analyses.harmonic_weights(data)
    if len(weights):
        display(Markdown(
            "## Hearing: mistuned harmonics\n"
            "How much one harmonic pulls the pitch of a 12-harmonic complex when it is mistuned "
            "(Moore, Glasberg & Peters 1985): the slope of pitch shift on mistuning up to 3 %.  The "
            "listeners' pitch is dominated by the low harmonics (1-4); the dotted line is the weight "
            "every harmonic would get if all counted alike (1/12)."))
        show(plots.harmonic_weights(weights))
    alt = analyses.alt_phase_points(data)
    if len(alt):
        display(Markdown(
            "## Hearing: alternating phase\n"
            "Alternating-phase complexes (odd harmonics in sine, even in cosine phase) have an "
            "envelope that repeats at 2 F0 (Shackleton & Carlyon 1994).  Listeners hear F0 when the "
            "harmonics are resolved (LOW band) and 2 F0 when they are not (HIGH band; MID at low F0). "
            "-100 = every estimate at F0, +100 = every one at 2 F0; the dotted line is a rule that "
            "knows only the lowest harmonic number in the band."))
        show(plots.alt_phase(alt))
    tt = analyses.transposed_thresholds(data)
    if len(tt):
        display(Markdown(
            "## Hearing: transposed tones\n"
            "F0 difference limens of pure tones and of transposed tones, which give a high-frequency "
            "place the envelope of a low tone (Oxenham, Bernstein & Penagos 2004): listeners "
            "discriminate transposed tones 2-8 times worse."))
        show(plots.transposed_thresholds(tt))

# %% [markdown]
# ## Glossary
# Every metric code a run's metric table can hold (`metrics.csv`, `psychobench-results`);
# "in these runs" marks those the runs above hold.

# %%
display(analyses.glossary(data).set_index("metric").style.set_properties(**{"text-align": "left"})
        .set_table_styles([{"selector": "th", "props": [("text-align", "left")]}]))

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
plt.rcParams.update({"figure.dpi": 96, "savefig.dpi": 96})


def show(fig):
    display(fig)
    plt.close(fig)


def missing(what):
    display(Markdown(f"*{what}: not available for these runs.*"))


data = analyses.load(results_dir, runs=runs, models=models)
display(Markdown(f"{len(data.runs)} run(s) from `{results_dir}`"))
if len(data.runs):
    display(data.runs[["run", "model", "sets", "seed", "n_trials", "forward_passes"]])

# %% [markdown]
# ## Leaderboard
# Models ranked by their mean ceiling-normalised consistency: each consistency score divided
# by the human noise ceiling (1 = as consistent with people as people are with each other),
# averaged over every data set and metric the model was scored on.

# %%
board = analyses.leaderboard(data)
if board.empty:
    missing("Ceiling-normalised consistency scores")
else:
    display(board.set_index("rank"))
    show(plots.leaderboard(board))

# %% [markdown]
# ## Scores against the noise ceiling
# Each score as a bar (with its 95% bootstrap interval); the black line is the human noise
# ceiling and the grey band its 95% interval.

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
# ## Hearing: comparisons with listeners
# Each hearing run's headline comparison: words in noise, the squared correlation of model and
# listener accuracy over the noisy cells against the split-half ceiling of the listener mean;
# English CCC, the four per-token rates against the leave-one-listener-out ceiling; pitch, the
# correlation of log F0 difference limens with Bernstein & Oxenham (2005); speech detection, d'.

# %%
hearing = analyses.audio_headlines(data)
if hearing.empty:
    display(Markdown("*No hearing runs among these runs.*"))
else:
    display(hearing.set_index(["experiment", "model", "run", "metric"]))

# %% [markdown]
# ## Hearing: words in noise
# Words correct against SNR in each background: the 44 listeners of Saddler & McDermott (2024)
# (red: mean and 95% interval over listeners) and the models (95% Wilson intervals), with the
# logistic fits of each run.  The backgrounds are synthetic stand-ins for theirs (each run's
# `summary.json` says which).

# %%
word_points = analyses.words_in_noise_points(data)
if word_points.empty:
    display(Markdown("*No words-in-noise runs among these runs.*"))
else:
    show(plots.words_in_noise(word_points, analyses.words_in_noise_curves(data)))

# %% [markdown]
# ## Hearing: pitch
# F0 difference limens against the lowest harmonic number (Bernstein & Oxenham 2005, two
# intervals, 70.7% correct); triangles at the top mark conditions where a model reached no
# threshold inside the tested differences.

# %%
pitch = analyses.pitch_thresholds(data)
if pitch.empty:
    display(Markdown("*No pitch runs among these runs.*"))
else:
    show(plots.pitch_thresholds(pitch))

"""Shared stages (Kell et al. 2018; Kell & McDermott 2019, Fig. 3b): how many stages a word
task and a talker task can share before either suffers.

:class:`SharedStages` trains the dual-task network of :mod:`psychobench.models.audio.dualnet`
once per number ``k`` of shared stages (0: two separate networks; 5: one network with two
heads), on the same inputs in the same order, and scores each on held-out data: word accuracy
on talkers never heard in training, talker accuracy on words each talker never said in
training.  Rows of its metric table carry the analysis coordinate ``k``.

Intervals are percentile intervals from resampling the test tokens, drawn once and shared by
every ``k`` (a paired comparison).  They bound what the test tokens leave uncertain about one
trained network per ``k``; they do not include the spread between training seeds (one seed per
``k``, as the 20-minute budget of the sweep allows; ``stimuli.seed`` gives another).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from psychobench.consistency import table as T
from psychobench.errors import SettingError
from psychobench.experiments.base import Experiment, ScoreSettings
from psychobench.stimuli.audio.words import VOCABULARY

log = logging.getLogger(__name__)

#: metric codes of a shared-stages table (coordinate ``k``, except ``largest_shared_k``)
STAGE_METRICS = ("word_accuracy", "talker_accuracy", "word_accuracy_change", "talker_accuracy_change")


def paired_accuracies(correct: dict[int, np.ndarray], *, n_boot: int = 2000, seed: int = 0,
                      reference: int | None = None) -> pd.DataFrame:
    """Accuracy of each network (``correct``: ``{k: per-token bool}``, the same tokens for every
    ``k``) and its change from the ``reference`` network (default: the smallest ``k``), with
    95% percentile intervals from ``n_boot`` resamples of the tokens, the same resamples for
    every ``k``.  Columns ``k, accuracy, lo, hi, change, change_lo, change_hi, n``."""
    ks = sorted(correct)
    ref = ks[0] if reference is None else reference
    c = np.stack([np.asarray(correct[k], float) for k in ks])          # (k, tokens)
    n = c.shape[1]
    if n == 0:
        raise ValueError("no test tokens")
    rng = np.random.default_rng([seed, 2018, 3])
    W = rng.multinomial(n, np.full(n, 1.0 / n), size=int(n_boot)) / n    # (boot, tokens)
    acc, boot = c.mean(1), W @ c.T                                       # (k,), (boot, k)
    j = ks.index(ref)
    lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
    dlo, dhi = np.percentile(boot - boot[:, [j]], [2.5, 97.5], axis=0)
    return pd.DataFrame({"k": ks, "accuracy": acc, "lo": lo, "hi": hi, "change": acc - acc[j],
                         "change_lo": dlo, "change_hi": dhi, "n": n})


def largest_shared_k(scores: dict[str, pd.DataFrame], reference: int = 0) -> int | None:
    """The largest ``k`` whose accuracy on every task (``scores``: task -> the table of
    :func:`paired_accuracies`) is not below the lower end of the reference network's 95%
    interval (above it counts: sharing that helps costs nothing).  None if no ``k`` besides
    the reference was trained."""
    ks = [k for k in scores[next(iter(scores))]["k"] if k != reference]
    ok = []
    for k in ks:
        good = True
        for t in scores.values():
            ref = t[t["k"] == reference].iloc[0]
            if float(t.loc[t["k"] == k, "accuracy"].iloc[0]) < float(ref["lo"]):
                good = False
        if good:
            ok.append(k)
    return max(ok) if ok else (reference if ks else None)


@dataclass
class SharedStages(Experiment):
    """The shared-stages sweep (see the module docstring): ``ks`` (default every ``k`` from 0
    to 5) dual-task networks of ``epochs`` epochs, width ``width``; ``held_words`` words per
    training talker held out for the talker test; ``n_copies`` noisy copies of each training
    token; ``n_boot`` token resamples per interval; ``corpus``: fields of the
    :class:`~psychobench.stimuli.audio.words.WordCorpus` (default: the word task's)."""

    modality = "audio"
    name: str = "shared_stages"
    comparison: str = "none"
    answers: object = VOCABULARY
    ks: tuple | None = None
    epochs: int = 12
    width: int = 16
    held_words: int = 8
    n_copies: int = 4
    batch_size: int = 64
    n_boot: int = 2000
    seed: int = 0
    corpus: dict | None = None

    features_analysis = True          # the pipeline calls analyse() instead of asking for answers

    def __post_init__(self):
        from psychobench.models.audio.dualnet import STAGES

        super().__post_init__()
        ks = list(range(len(STAGES) + 1)) if self.ks is None else self.ks
        try:
            ks = sorted({int(k) for k in ks})
        except (TypeError, ValueError):
            raise SettingError(f"{self.name}: stimuli.ks={list(ks)}: give whole numbers of shared stages") from None
        if not ks or any(not 0 <= k <= len(STAGES) for k in ks):
            raise SettingError(f"{self.name}: stimuli.ks={ks}: each k is 0..{len(STAGES)} ({', '.join(STAGES)})")
        if 0 not in ks:
            raise SettingError(f"{self.name}: stimuli.ks={ks} lacks k=0, the unshared networks every k is compared with")
        self.ks = tuple(ks)
        for key in ("epochs", "width", "n_copies", "batch_size", "n_boot"):
            if int(getattr(self, key)) < 1:
                raise SettingError(f"{self.name}: stimuli.{key} must be >= 1, got {getattr(self, key)}")
        self.headline = self.headline or ("largest_shared_k", "word_accuracy", "talker_accuracy")
        self.notes.setdefault("analysis", "dual-task networks (word + talker) with the first k of 5 stages shared "
                                          "(Kell et al. 2018); value_ci: 95% interval from resampling test tokens "
                                          "(paired across k; one training seed per k)")

    def configs(self) -> dict[int, object]:
        """The :class:`~psychobench.models.audio.dualnet.DualTaskConfig` of each ``k``."""
        from psychobench.models.audio.dualnet import DualTaskConfig
        from psychobench.stimuli.audio.words import WordCorpus

        try:
            fields = dict(self.corpus or {})
            if "words" in fields:
                fields["words"] = tuple(fields["words"])
            corpus = WordCorpus(**fields)
        except TypeError as e:
            raise SettingError(f"{self.name}: stimuli.corpus: {e}") from None
        try:
            return {k: DualTaskConfig(corpus=corpus, n_shared=k, epochs=int(self.epochs), width=int(self.width),
                                      held_words=int(self.held_words), n_copies=int(self.n_copies),
                                      batch_size=int(self.batch_size), seed=int(self.seed)) for k in self.ks}
        except ValueError as e:
            raise SettingError(f"{self.name}: {e}") from None

    def stimuli(self):
        raise SettingError(f"{self.name}: the shared-stages analysis trains and tests its own networks on the word "
                           "corpus; it has no stimulus set of its own")

    def score(self, trials: pd.DataFrame, settings: ScoreSettings, *, chance: float | None = None) -> pd.DataFrame:
        raise SettingError(f"{self.name}: the shared-stages analysis is scored from its networks, not answers")

    def analyse(self, model_cfg, predictor=None, *, use_cache: bool = True) -> tuple[pd.DataFrame, int, str]:
        """Train (or load, sealed) each ``k``'s network and score it; returns the metric table,
        the forward passes of testing and the observer name.  ``model_cfg`` must be the dual
        network's (``model=dualnet``, as the preset sets)."""
        from tqdm.auto import tqdm

        from psychobench.models.audio.dualnet import checkpoint_path, dual_task_data, load_dual_net, train_dual_net

        target = str(dict(model_cfg).get("_target_", ""))
        if not target.endswith("DualNetObserver"):
            raise SettingError(f"{self.name}: this analysis trains the dual-task network itself; run it with "
                               f"model=dualnet (got model={dict(model_cfg).get('name')})")
        name = str(dict(model_cfg).get("name", "dualnet"))
        cfgs = self.configs()
        correct: dict[str, dict[int, np.ndarray]] = {"word": {}, "talker": {}}
        passes = 0
        for k in tqdm(self.ks, desc="shared stages (k)", unit="network"):
            cfg = cfgs[k]
            t0 = time.perf_counter()
            trained = not (use_cache and checkpoint_path(cfg).is_file())
            if not use_cache:
                train_dual_net(cfg, force=True)
            module = load_dual_net(cfg)
            data = dual_task_data(cfg)
            correct["word"][k] = module.correct(data.word_test, data.word_test_label, "word")
            correct["talker"][k] = module.correct(data.talker_test, data.talker_test_label, "talker")
            passes += len(data.word_test) + len(data.talker_test)
            log.info("%s k=%d (%s, %.0f s): word %.3f, talker %.3f", name, k, "trained" if trained else "cached",
                     time.perf_counter() - t0, correct["word"][k].mean(), correct["talker"][k].mean())
        scores = {task: paired_accuracies(c, n_boot=int(self.n_boot), seed=int(self.seed))
                  for task, c in correct.items()}
        rows = []
        for task, metric, change in (("word", "word_accuracy", "word_accuracy_change"),
                                     ("talker", "talker_accuracy", "talker_accuracy_change")):
            for r in scores[task].itertuples(index=False):
                rows.append(T.row(self.name, metric, name, r.accuracy, value_ci=(r.lo, r.hi), n=r.n, k=int(r.k)))
                if r.k != 0:
                    rows.append(T.row(self.name, change, name, r.change, value_ci=(r.change_lo, r.change_hi), n=r.n,
                                      k=int(r.k)))
        best = largest_shared_k(scores)
        rows.append(T.row(self.name, "largest_shared_k", name, best, n=len(self.ks),
                          status=None if best is not None else "undefined"))
        data = dual_task_data(cfgs[0])
        self.notes["test_sets"] = data.notes
        self.notes["chance"] = {"word": 1 / len(data.words), "talker": 1 / len(data.talkers)}
        return T.metric_table(rows, f"{self.name}/{name}"), passes, name

    def identity(self) -> dict:
        return {**super().identity(), "ks": list(self.ks), "epochs": int(self.epochs), "width": int(self.width),
                "held_words": int(self.held_words), "n_copies": int(self.n_copies), "batch_size": int(self.batch_size), "n_boot": int(self.n_boot),
                "seed": int(self.seed), "corpus": dict(self.corpus or {})}

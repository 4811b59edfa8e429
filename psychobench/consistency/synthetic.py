"""Synthetic observer panels with a known truth, to check that intervals cover it.

A :class:`Population` is a 16-way categorisation experiment whose answers come from a
multinomial-logit observer model.  Per stimulus ``x`` of category ``t`` in condition ``c`` and
observer ``s`` the 16 response logits are

* correct answer: ``mu_c + b_t + u_x + a_s``;
* wrong answer ``r``: ``V[t, r] + e_{x,r} + beta_{s,r}``,

with category ease ``b`` and the category-level confusion pattern ``V`` fixed for the population,
stimulus ease ``u_x ~ N(0, stimulus_sd)`` and stimulus-specific confusions
``e ~ N(0, item_confusion_sd)`` drawn with every stimulus, and each observer's ability
``a_s ~ N(0, ability_sd)`` and response biases ``beta ~ N(0, bias_sd)`` drawn with every observer
(observers differ, as people do).  ``mu_c`` is set so that the population's mean accuracy in
condition ``c`` is ``accuracy[c]``.  Every observer sees every stimulus once.

The model is deterministic: its answer to a stimulus is one draw from the softmax of
``model_gain`` times the population-mean logits of that stimulus plus its own per-stimulus noise
``N(0, model_noise_sd)`` (drawn with the stimulus), so that it agrees with people partly.

A panel is a fresh stimulus set (stratified: the same number of stimuli per condition and
category), its model answers and ``n_subjects`` fresh observers.  :meth:`Population.truth` is the
population value at that design, by Monte Carlo over independent panels: for a correlation
metric the ceiling is ``sqrt(E corr(P, P'))`` for two independent panels ``P, P'`` of
``n_subjects`` observers on the same stimuli, the value ``E corr(m, P)`` and the normalised score
their ratio; for error consistency the value is ``E kappa(model, observer)`` and the ceiling
``E kappa(observer, observer')`` (each the mean over conditions), the normalised score their
ratio.  This is what split-half ceilings and noise-corrected consistency estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from psychobench.consistency import metrics as M
from psychobench.consistency.agreement import kappa_from_rates
from psychobench.data.categories import CATEGORIES

CORRELATION_METRICS = ("o1_acc", "o1_dprime", "o2_offdiag", "o2_dprime", "i1", "i1n")
METRICS = CORRELATION_METRICS + ("error_consistency",)


@dataclass(frozen=True)
class Design:
    """The shape of a panel and the population it is drawn from (see the module docstring)."""

    n_subjects: int
    n_stimuli: int
    accuracy: tuple[float, ...] = (0.75,)        # one entry per condition
    stimulus_sd: float = 2.0
    confusion_sd: float = 1.2
    item_confusion_sd: float = 0.8
    ability_sd: float = 0.4
    bias_sd: float = 0.3
    category_sd: float = 0.5
    model_gain: float = 0.8
    model_noise_sd: float = 1.5
    seed: int = 0                                  # the population's own parameters

    @property
    def n_conditions(self) -> int:
        return len(self.accuracy)


#: The (observers, stimuli) shapes of the 17 model-vs-human data sets, with the mean human
#: accuracy per condition of the set each stands for (conditions used in the benchmark means).
REAL_SHAPES: dict[str, Design] = {
    "4x480": Design(4, 480, accuracy=(0.80, 0.71, 0.41)),              # eidolonIII
    "4x960": Design(4, 960, accuracy=(0.80, 0.85, 0.84)),              # rotation
    "5x800": Design(5, 800, accuracy=(0.47,)),                         # stylized
    "7x800": Design(7, 800, accuracy=(0.92,)),                         # sketch
    "10x160": Design(10, 160, accuracy=(0.87,)),                       # edge
    "10x1280": Design(10, 1280, accuracy=(0.78,)),                     # cue-conflict
}


@dataclass
class Stimuli:
    """One drawn stimulus set: per stimulus its condition, category, the population-mean
    logits (N, T) without the condition's intercept, and the model's answer."""

    condition: np.ndarray
    target: np.ndarray
    logits: np.ndarray
    model_response: np.ndarray
    group_starts: np.ndarray = field(repr=False)


class Population:
    """A fixed population of stimuli and observers (see the module docstring)."""

    T = len(CATEGORIES)

    def __init__(self, design: Design):
        d = self.design = design
        T, C = self.T, d.n_conditions
        per = d.n_stimuli // (C * T)
        if per * C * T != d.n_stimuli or per < 2:
            raise ValueError(f"n_stimuli must be a multiple of {C * T} (conditions x categories), "
                             f"at least 2 per cell; got {d.n_stimuli}")
        self.per_cell = per
        rng = np.random.default_rng([d.seed, 7])
        self.b = rng.normal(0.0, d.category_sd, T)
        V = rng.normal(0.0, d.confusion_sd, (T, T))
        V[np.arange(T), np.arange(T)] = 0.0
        self.V = V
        self.model_bias = rng.normal(0.0, 0.3, T)
        self.mu = np.array([self._calibrate(a, np.random.default_rng([d.seed, 11, c]))
                            for c, a in enumerate(d.accuracy)])
        # stimulus layout: sorted by (condition, category), like the consistency engine's axis
        self._condition = np.repeat(np.arange(C), T * per)
        self._target = np.tile(np.repeat(np.arange(T), per), C)
        self._group_starts = np.arange(0, d.n_stimuli, per)

    # ---------------------------------------------------------------- drawing
    def _base_logits(self, target, rng, n):
        """(n, T) stimulus logits without the condition intercept (correct entry: b + u)."""
        d, T = self.design, self.T
        L = self.V[target] + rng.normal(0.0, d.item_confusion_sd, (n, T))
        L[np.arange(n), target] = self.b[target] + rng.normal(0.0, d.stimulus_sd, n)
        return L

    def _calibrate(self, accuracy: float, rng) -> float:
        """The intercept at which the population's mean accuracy is ``accuracy`` (bisection)."""
        n = 20000
        target = rng.integers(0, self.T, n)
        L = self._base_logits(target, rng, n)
        ability, bias = self._subject_logits(rng, n)
        L = L + bias
        L[np.arange(n), target] += ability
        onehot = np.eye(self.T, dtype=bool)[target]

        def acc(mu):
            z = np.where(onehot, L + mu, L)
            z = z - z.max(1, keepdims=True)
            e = np.exp(z)
            return float((e[onehot] / e.sum(1)).mean())

        lo, hi = -15.0, 15.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if acc(mid) < accuracy else (lo, mid)
        return 0.5 * (lo + hi)

    def _subject_logits(self, rng, n):
        d = self.design
        return rng.normal(0.0, d.ability_sd, n), rng.normal(0.0, d.bias_sd, (n, self.T))

    def stimuli(self, rng) -> Stimuli:
        """A fresh stratified stimulus set and the model's answers to it."""
        d = self.design
        target, cond = self._target, self._condition
        L = self._base_logits(target, rng, d.n_stimuli)
        full = L.copy()
        full[np.arange(d.n_stimuli), target] += self.mu[cond]
        zm = d.model_gain * full + self.model_bias + rng.normal(0.0, d.model_noise_sd, full.shape)
        model = _gumbel_argmax(zm, rng)
        return Stimuli(cond, target, L, model, self._group_starts)

    def responses(self, stim: Stimuli, n_subjects: int, rng) -> np.ndarray:
        """(n_subjects, N) response codes of fresh observers."""
        a, beta = self._subject_logits(rng, n_subjects)
        N = len(stim.target)
        L = stim.logits[None] + beta[:, None, :]                                  # (S, N, T)
        L[:, np.arange(N), stim.target] += self.mu[stim.condition][None] + a[:, None]
        return _gumbel_argmax(L, rng)

    def panel(self, rng) -> tuple[Stimuli, np.ndarray]:
        """(stimuli with the model's answers, (n_subjects, N) human responses)."""
        stim = self.stimuli(rng)
        return stim, self.responses(stim, self.design.n_subjects, rng)

    # ---------------------------------------------------------------- tables
    def trial_tables(self, stim: Stimuli, humans: np.ndarray, experiment: str = "synthetic"
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(model, humans) trial tables of a panel (psychobench's trial-table schema)."""
        cats = np.asarray(CATEGORIES)
        S, N = humans.shape
        ids = np.array([f"x{i:05d}" for i in range(N)])
        conds = np.array([f"c{c}" for c in range(self.design.n_conditions)])[stim.condition]

        def table(resp, subjects):
            n = resp.shape[0]
            r = resp.ravel()
            t = np.tile(stim.target, n)
            return pd.DataFrame({
                "experiment": experiment, "subject": np.repeat(subjects, N), "session": 1,
                "trial": np.tile(np.arange(1, N + 1), n), "stimulus_id": np.tile(ids, n),
                "condition": np.tile(conds, n), "category": cats[t], "response": cats[r],
                "correct": r == t, "rt": np.nan})

        return (table(stim.model_response[None], np.array(["model"])),
                table(humans, np.array([f"subject-{s + 1:02d}" for s in range(S)])))

    # ---------------------------------------------------------------- truth
    def truth(self, n_panels: int = 4000, seed: int = 12345) -> pd.DataFrame:
        """The population values at this design (module docstring): one row per metric with
        ``value``, ``ceiling``, ``normalized`` and their Monte Carlo standard errors."""
        rng = np.random.default_rng([self.design.seed, seed])
        S = self.design.n_subjects
        acc = {k: [] for k in ("hh", "mh", "ec_m", "ec_h")}
        for _ in range(n_panels):
            stim = self.stimuli(rng)
            both = self.responses(stim, 2 * S, rng)
            P, Q = both[:S], both[S:]
            vm = panel_vectors(stim, stim.model_response[None], self.T, model=True)
            vp, vq = (panel_vectors(stim, X, self.T) for X in (P, Q))
            acc["hh"].append([M.pearson(vp[k], vq[k]) for k in CORRELATION_METRICS])
            acc["mh"].append([0.5 * (M.pearson(vm[k], vp[k]) + M.pearson(vm[k], vq[k]))
                              for k in CORRELATION_METRICS])
            km, kh = _kappas(stim, both, S)
            acc["ec_m"].append(km)
            acc["ec_h"].append(kh)
        hh, mh = np.asarray(acc["hh"]), np.asarray(acc["mh"])
        rows = []
        for j, name in enumerate(CORRELATION_METRICS):
            r, v = _mean_se(hh[:, j]), _mean_se(mh[:, j])
            ceiling = np.sqrt(r[0])
            rows.append({"metric": name, "value": v[0], "ceiling": ceiling, "normalized": v[0] / ceiling,
                         "value_mc_se": v[1], "ceiling_mc_se": r[1] / (2 * ceiling),
                         "reliability": r[0]})
        v, c = _mean_se(np.asarray(acc["ec_m"])), _mean_se(np.asarray(acc["ec_h"]))
        rows.append({"metric": "error_consistency", "value": v[0], "ceiling": c[0],
                     "normalized": v[0] / c[0], "value_mc_se": v[1], "ceiling_mc_se": c[1],
                     "reliability": np.nan})
        return pd.DataFrame(rows)


def _mean_se(x):
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))


def _gumbel_argmax(logits, rng):
    return (logits + rng.gumbel(size=logits.shape)).argmax(-1)


def panel_vectors(stim: Stimuli, resp: np.ndarray, T: int, model: bool = False) -> dict[str, np.ndarray]:
    """The metric vectors of a panel's pooled answers ``resp`` (S, N): the definitions the
    consistency engine uses (:mod:`psychobench.consistency.metrics`)."""
    S, N = resp.shape
    R = T + 1
    code = np.broadcast_to(stim.target, resp.shape) * R + resp
    conf = np.bincount(code.ravel(), minlength=T * R).reshape(T, R).astype(float)
    correct = (resp == stim.target[None]).astype(float)
    i1 = correct.mean(0)
    return {"o1_acc": M.o1_accuracy(conf), "o1_dprime": M.o1_dprime(conf),
            "o2_offdiag": M.o2_offdiag(conf), "o2_dprime": M.o2_dprime(conf),
            "i1": i1, "i1n": M.normalize_by_group(i1, stim.group_starts)}


def _kappas(stim: Stimuli, both: np.ndarray, S: int):
    """Mean over conditions of kappa(model, observer) for every observer of ``both`` and of
    kappa(observer, observer') for the pairs inside each panel of ``S``."""
    correct = (both == stim.target[None]).astype(float)
    m = (stim.model_response == stim.target).astype(float)
    conds = np.unique(stim.condition)
    km, kh = [], []
    i, j = np.triu_indices(S, 1)
    for c in conds:
        sel = stim.condition == c
        a, mm = correct[:, sel], m[sel]
        pa, pm = a.mean(1), mm.mean()
        km.append(kappa_from_rates(pm, pa, (a == mm).mean(1)))
        pairs = []
        for X in (a[:S], a[S:]):
            p = X.mean(1)
            pairs.append(kappa_from_rates(p[i], p[j], (X[i] == X[j]).mean(1)))
        kh.append(np.concatenate(pairs))
    return np.nanmean(np.stack(km), 0).mean(), np.nanmean(np.stack(kh), 0).mean()

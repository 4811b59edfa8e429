"""model-vs-human's behavioural benchmark metrics, vectorised (Geirhos et al. 2021).

Definitions (model-vs-human ``modelvshuman/plotting/analyses.py``, Geirhos et al. 2021):

* trials pair by ``stimulus_id`` within a data set (every human saw the same list once);
* the benchmark means use only the conditions an experiment does not exclude (model-vs-human's
  ``EXCLUDE_CONDITIONS``: the unmanipulated condition and those where humans are below 20%);
* per (human s, condition c): accuracy difference ``(acc_m - acc_s)^2``, observed consistency
  and error consistency (kappa, NaN where undefined: excluded from means; model-vs-human returns
  1 there); mean over conditions, then over humans, then over data sets (unweighted);
* OOD accuracy: the model's accuracy pooled over the used conditions, then the mean over data
  sets; shape bias: cue-conflict only, all conditions, trials whose shape and texture category
  agree dropped, ``shape hits / (shape hits + texture hits)``.

Everything is array arithmetic over a (subjects x stimuli) correctness matrix and a
(stimuli x conditions) one-hot matrix: no loop over trials, subjects or conditions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from psychobench.consistency.agreement import kappa_from_rates
from psychobench.data.schema import TrialTableError
from psychobench.data.trials import texture_of

METRICS: tuple[str, ...] = ("ood_accuracy", "accuracy_difference", "observed_consistency",
                            "error_consistency", "shape_bias")
PAIRWISE: tuple[str, ...] = ("accuracy_difference", "observed_consistency", "error_consistency")


@dataclass(frozen=True)
class Paired:
    """Human and model answers of one data set on a common stimulus axis.

    ``human``: (n_subjects, n_stimuli) float correctness, NaN where a human has no trial;
    ``model``: (n_models, n_stimuli) the same for the model(s); ``cond``: (n_stimuli,) condition
    codes into ``conditions``; ``used``: (n_conditions,) bool, condition enters the means.
    """

    dataset: str
    stimulus_ids: np.ndarray
    conditions: np.ndarray
    cond: np.ndarray
    used: np.ndarray
    subjects: np.ndarray
    human: np.ndarray
    model: np.ndarray


def _arrow(col: pd.Series) -> pa.Array:
    arr = pa.array(col, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr if arr.type == pa.large_string() else arr.cast(pa.large_string())


def _encode(*cols: pd.Series) -> tuple[list[np.ndarray], np.ndarray]:
    """Integer codes of string columns over one shared dictionary (codes -1 = missing).

    Arrow's hash encoding: the string work is done once, in C++, for all columns together."""
    arrays = [_arrow(c) for c in cols]
    arr = arrays[0] if len(arrays) == 1 else pa.concat_arrays(arrays)
    enc = arr.dictionary_encode()
    idx = enc.indices
    if idx.null_count:
        idx = idx.fill_null(-1)
    codes = idx.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    bounds = np.cumsum([0] + [len(a) for a in arrays])
    return ([codes[a:b] for a, b in zip(bounds[:-1], bounds[1:])],
            enc.dictionary.to_numpy(zero_copy_only=False))


def _matrix(table: pd.DataFrame, x_code: np.ndarray, n_stimuli: int) -> tuple[np.ndarray, np.ndarray]:
    """(subjects, stimuli) correctness matrix of a trial table, given each trial's stimulus code."""
    (s_code,), subjects = _encode(table["subject"])
    mat = np.full((len(subjects), n_stimuli), np.nan)
    mat[s_code, x_code] = table["correct"].to_numpy(dtype=float)
    return subjects, mat


def pair(model: pd.DataFrame, humans: pd.DataFrame, dataset: str,
         excluded: frozenset[str] = frozenset()) -> Paired:
    """Put a model's and the humans' trials of ``dataset`` on one stimulus axis; ``excluded``:
    the conditions left out of the benchmark means.

    The condition of each stimulus is the humans'; a model trial whose own condition is given and
    disagrees is an error, as is a stimulus the model never answered or one the humans never saw.
    """
    same = model is humans
    cols = [humans["stimulus_id"]] if same else [humans["stimulus_id"], model["stimulus_id"]]
    codes, stim = _encode(*cols)
    h_code = codes[0]
    if not same and len(stim) > (n := int(h_code.max()) + 1):
        x_code = codes[1]
        unseen = x_code >= n
        missing = pd.unique(model["stimulus_id"].to_numpy()[unseen])[:5].tolist()
        raise TrialTableError(
            f"model trials of {dataset}: {int(unseen.sum())} trial(s) on stimuli the humans never "
            f"saw, e.g. {missing}")
    n = len(stim)
    first = np.empty(n, dtype=np.int64)
    first[h_code[::-1]] = np.arange(len(h_code))[::-1]          # first trial of each stimulus
    (c_all,), conditions = _encode(humans["condition"])
    cond = c_all[first]
    used = np.array([c not in excluded for c in conditions], dtype=bool)

    subjects, human = _matrix(humans, h_code, n)
    if same:
        return Paired(dataset, stim, conditions, cond, used, subjects, human, human)
    x_code = codes[1]
    _, mmat = _matrix(model, x_code, n)
    unanswered = np.isnan(mmat).all(axis=0)
    if unanswered.any():
        ids = stim[unanswered][:5].tolist()
        raise TrialTableError(
            f"model trials of {dataset}: {int(unanswered.sum())} stimuli the humans saw have no "
            f"model answer, e.g. {ids} (stimulus ids do not match?)")
    mcond = model["condition"]
    given = mcond.notna().to_numpy()
    if given.any():
        m_c = pc.index_in(_arrow(mcond[given]), value_set=pa.array(conditions, pa.large_string()))
        m_c = m_c.fill_null(-1).to_numpy(zero_copy_only=False)
        clash = m_c != cond[x_code[given]]
        if clash.any():
            i = int(np.flatnonzero(given)[np.flatnonzero(clash)[0]])
            raise TrialTableError(
                f"model trials of {dataset}: stimulus {model['stimulus_id'].iloc[i]!r} has condition "
                f"{mcond.iloc[i]!r}, the humans' is {conditions[cond[x_code[i]]]!r}")
    return Paired(dataset, stim, conditions, cond, used, subjects, human, mmat)


def _per_subject_condition(a: np.ndarray, h: np.ndarray, onehot: np.ndarray):
    """Pairwise statistics per (observer a_i, human s, condition c).

    ``a``: (A, X) correctness of the observers scored, ``h``: (S, X) humans, NaN = no trial;
    ``onehot``: (X, C).  Returns arrays of shape (A, S, C): n, acc_a, acc_h, c_obs.
    """
    va, vh = ~np.isnan(a), ~np.isnan(h)
    a0, h0 = np.nan_to_num(a), np.nan_to_num(h)
    both = va[:, None, :] & vh[None, :, :]                     # (A, S, X)
    n = both.astype(float) @ onehot                              # (A, S, C)
    sum_a = (both * a0[:, None, :]) @ onehot
    sum_h = (both * h0[None, :, :]) @ onehot
    agree = (both * (a0[:, None, :] == h0[None, :, :])) @ onehot
    with np.errstate(invalid="ignore", divide="ignore"):
        return n, sum_a / n, sum_h / n, agree / n


def pairwise_metrics(a: np.ndarray, h: np.ndarray, cond: np.ndarray, used: np.ndarray,
                     exclude_self: bool = False) -> dict[str, float]:
    """Accuracy difference, observed and error consistency of observers ``a`` against humans
    ``h``, aggregated as model-vs-human does (conditions, then humans; then observers).

    ``exclude_self``: ``a`` are the humans themselves; pairs (i, i) are left out.
    """
    onehot = np.eye(len(used))[cond][:, used]                    # only used conditions
    n, acc_a, acc_h, c_obs = _per_subject_condition(a, h, onehot)
    kappa = kappa_from_rates(acc_a, acc_h, c_obs)
    valid = n > 0
    if exclude_self:
        valid &= ~np.eye(a.shape[0], h.shape[0], dtype=bool)[:, :, None]
    vals = np.stack([(acc_a - acc_h) ** 2, c_obs, kappa])        # (3, A, S, C)
    vals = np.where(valid, vals, np.nan)
    with warnings.catch_warnings():                            # all-NaN slices are expected
        warnings.simplefilter("ignore", RuntimeWarning)
        per_obs = np.nanmean(np.nanmean(vals, axis=3), axis=2)  # conditions, then humans
        agg = np.nanmean(per_obs, axis=1)                       # then observers
    return dict(zip(PAIRWISE, map(float, agg)))


def ood_accuracy(p: Paired, observers: np.ndarray) -> float:
    """Accuracy pooled over all trials of the used conditions (``observers``: (A, X))."""
    keep = p.used[p.cond]
    vals = observers[:, keep]
    return float(np.nanmean(vals))


def shape_counts(table: pd.DataFrame) -> tuple[int, int]:
    """(shape hits, texture hits) of cue-conflict trials (pooled over the table's observers;
    trials whose shape and texture category agree are left out)."""
    if "texture" in table.columns and table["texture"].notna().all():
        texture = table["texture"].astype(str)
    else:
        names = table["imagename"] if "imagename" in table.columns else table["stimulus_id"]
        texture = texture_of(names.astype(str))
    shape = table["category"].astype(str)
    resp = table["response"].astype(str)
    keep = (shape != texture).to_numpy()
    return int(((resp == shape).to_numpy() & keep).sum()), int(((resp == texture).to_numpy() & keep).sum())


def shape_bias(table: pd.DataFrame) -> float:
    """Shape bias of cue-conflict trials (pooled over the table's observers)."""
    shape_hits, texture_hits = shape_counts(table)
    if shape_hits + texture_hits == 0:
        return float("nan")
    return shape_hits / (shape_hits + texture_hits)


def dataset_metrics(model: pd.DataFrame, humans: pd.DataFrame, dataset: str, *,
                    excluded: frozenset[str] = frozenset(), with_shape_bias: bool = False) -> dict[str, float]:
    """The benchmark metrics of one model on one data set (shape bias where the experiment has
    a texture cue per image)."""
    p = pair(model, humans, dataset, excluded)
    out = {"ood_accuracy": ood_accuracy(p, p.model)}
    out.update(pairwise_metrics(p.model, p.human, p.cond, p.used))
    if with_shape_bias:
        out["shape_bias"] = shape_bias(model)
    return out


def human_reference(humans: pd.DataFrame, dataset: str, *, excluded: frozenset[str] = frozenset(),
                    with_shape_bias: bool = False) -> dict[str, float]:
    """The "humans" row: every ordered pair of different humans, aggregated the same way;
    OOD accuracy and shape bias pooled over all human trials."""
    p = pair(humans, humans, dataset, excluded)       # model is humans: one pass
    out = {"ood_accuracy": ood_accuracy(p, p.human)}
    out.update(pairwise_metrics(p.human, p.human, p.cond, p.used, exclude_self=True))
    if with_shape_bias:
        out["shape_bias"] = shape_bias(humans)
    return out


# ---------------------------------------------------------------------------------- intervals

def _shape_texture(table: pd.DataFrame, p: Paired, stimulus_ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(observers, stimuli) shape and texture hits of a cue-conflict table on ``p``'s axis (0 on
    trials whose shape and texture agree, NaN where an observer has no trial)."""
    if "texture" in table.columns and table["texture"].notna().all():
        texture = table["texture"].astype(str)
    else:
        names = table["imagename"] if "imagename" in table.columns else table["stimulus_id"]
        texture = texture_of(names.astype(str))
    shape, resp = table["category"].astype(str), table["response"].astype(str)
    keep = (shape != texture).to_numpy()
    x = pd.Index(p.stimulus_ids).get_indexer(stimulus_ids.astype(str))
    (s_code,), subjects = _encode(table["subject"])
    out = []
    for hit in ((resp == shape).to_numpy() & keep, (resp == texture).to_numpy() & keep):
        mat = np.full((len(subjects), len(p.stimulus_ids)), np.nan)
        mat[s_code, x] = hit.astype(float)
        out.append(mat)
    return out[0], out[1]


def _pairwise_draws(a, h, onehot, w, mult_h, mult_a=None):
    """Accuracy difference, observed consistency, kappa of observers ``a`` (A, X) against humans
    ``h`` (S, X) under stimulus weights ``w`` (B, X) and human multiplicities ``mult_h`` (B, S),
    aggregated over the used conditions (``onehot`` (X, C)), then humans (weighted), then
    observers (``mult_a`` (B, A) weights; None: one observer, the model; given: ``a`` is ``h`` and
    pairs of one human with itself are left out).  Returns (3, B)."""
    va, vh = ~np.isnan(a), ~np.isnan(h)
    a0, h0 = np.nan_to_num(a), np.nan_to_num(h)
    both = (va[:, None, :] & vh[None, :, :]).astype(float)                       # (A, S, X)
    Wc = w[:, :, None] * onehot[None]                                              # (B, X, C)
    q = {k: np.einsum("asx,bxc->basc", both * f, Wc, optimize=True)
         for k, f in (("n", 1.0), ("sa", a0[:, None, :]), ("sh", h0[None, :, :]),
                      ("agree", (a0[:, None, :] == h0[None, :, :]).astype(float)))}
    with np.errstate(invalid="ignore", divide="ignore"):
        acc_a, acc_h, c_obs = q["sa"] / q["n"], q["sh"] / q["n"], q["agree"] / q["n"]
        vals = np.stack([(acc_a - acc_h) ** 2, c_obs, kappa_from_rates(acc_a, acc_h, c_obs)])
    vals = np.where(q["n"][None] > 0, vals, np.nan)                               # (3, B, A, S, C)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_pair = np.nanmean(vals, axis=-1)                                       # (3, B, A, S)
    ws = np.broadcast_to(mult_h[:, None, :], per_pair.shape[1:]).copy()
    if mult_a is not None:
        ws[:, np.arange(a.shape[0]), np.arange(a.shape[0])] = 0.0                  # no self pairs
    ok = np.isfinite(per_pair) & (ws[None] > 0)
    wv = np.where(ok, ws[None], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_obs = (np.where(ok, per_pair, 0.0) * wv).sum(-1) / wv.sum(-1)
    if mult_a is None:
        return per_obs[:, :, 0]
    wa = np.where(np.isfinite(per_obs), mult_a[None], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.nan_to_num(per_obs) * wa).sum(-1) / wa.sum(-1)


def dataset_intervals(model: pd.DataFrame, humans: pd.DataFrame, dataset: str, *,
                      excluded: frozenset[str] = frozenset(), with_shape_bias: bool = False,
                      n_boot: int = 1000, seed: int = 0, chunk: int = 100) -> dict[str, dict]:
    """95% intervals of the benchmark metrics of :func:`dataset_metrics` (``"model"``) and of
    :func:`human_reference` (``"humans"``), and of each observer's accuracy per condition
    (``"accuracy@<condition>"``): ``{observer: {metric: Interval}}``.

    Statistics of the model's answers alone are binomial proportions over stimuli: Wilson score
    intervals (OOD accuracy over the used trials, accuracy per condition, shape bias over the
    shape-or-texture decisions).  Everything that involves the humans (the pairwise metrics, the
    humans' pooled accuracy and shape bias, the human-to-human reference) varies with the
    stimuli and with the people: the crossed bootstrap of :func:`intervals.crossed` (stimuli
    resampled within condition, humans resampled, both; ``n_boot`` draws each; seeded)."""
    from psychobench.consistency import intervals as I

    p = pair(model, humans, dataset, excluded)
    X, S = len(p.stimulus_ids), p.human.shape[0]
    rng = np.random.default_rng([seed, 2021])
    C = len(p.conditions)
    w = np.zeros((n_boot, X))
    for c in range(C):                                     # stimuli resampled within condition
        w += _draws_within(rng, np.flatnonzero(p.cond == c), X, n_boot)
    mult = rng.multinomial(S, np.full(S, 1.0 / S), size=n_boot).astype(float)
    onehot_all = np.eye(C)[p.cond]
    onehot = onehot_all[:, p.used]
    used_x = p.used[p.cond].astype(float)
    out: dict[str, dict] = {"model": {}, "humans": {}}

    # the model's own proportions: Wilson
    m = p.model[0]
    mv = np.isfinite(m)
    k = np.nansum(m * used_x)
    n = float((mv * used_x).sum())
    lo, hi = I.wilson(k, n)
    out["model"]["ood_accuracy"] = I.Interval(float(lo), float(hi), np.nan)
    for c, name in enumerate(p.conditions):
        sel = (p.cond == c) & mv
        lo, hi = I.wilson(m[sel].sum(), sel.sum())
        out["model"][f"accuracy@{name}"] = I.Interval(float(lo), float(hi), np.nan)
    if with_shape_bias:
        sm, tm = _shape_texture(model, p, model["stimulus_id"])
        ks, kt = np.nansum(sm), np.nansum(tm)
        lo, hi = I.wilson(ks, ks + kt)
        out["model"]["shape_bias"] = I.Interval(float(lo), float(hi), np.nan)
        sh, th = _shape_texture(humans, p, humans["stimulus_id"])
    else:
        sh = th = None
    sets = {"stimuli": (w, np.ones((n_boot, S))), "observers": (np.ones((n_boot, X)), mult), "both": (w, mult)}
    draws: dict[str, dict[str, list]] = {k: {} for k in sets}
    for key, (ww, mm) in sets.items():
        d = draws[key]
        for st in range(0, n_boot, chunk):                # chunks of draws, each vectorised
            sl = slice(st, st + chunk)
            pm = _pairwise_draws(p.model, p.human, onehot, ww[sl], mm[sl])
            for j, name in enumerate(PAIRWISE):
                d.setdefault(("model", name), []).append(pm[j])
    for key, per in _human_draws(p, onehot, used_x, sets, sh, th, chunk).items():
        for name, v in per.items():
            draws[key][("humans", name)] = [v]
    point_m = dataset_metrics(model, humans, dataset, excluded=excluded, with_shape_bias=with_shape_bias)
    point_h = human_reference(humans, dataset, excluded=excluded, with_shape_bias=with_shape_bias)
    hc = humans.groupby(humans["condition"].astype(str))["correct"].mean()
    for (who, name) in draws["stimuli"]:
        if who == "model":
            point = point_m[name]
        elif name.startswith("accuracy@"):
            point = float(hc.get(name.split("@", 1)[1], np.nan))
        else:
            point = point_h[name]
        per = [np.concatenate(draws[k][(who, name)]) for k in ("stimuli", "observers", "both")]
        out[who][name] = I.crossed(point, *per, transform="log" if name == "accuracy_difference" else "identity")
    return out


_HUMAN_DRAWS_VERSION = 1


def _human_draws(p: Paired, onehot, used_x, sets, sh, th, chunk) -> dict[str, dict[str, np.ndarray]]:
    """Bootstrap draws of the human reference (pairwise metrics over pairs of humans, the
    humans' pooled accuracy, per condition, and shape bias) for each set of draws ``sets``
    (name -> (stimulus weights (B, X), human multiplicities (B, S))): ``{set: {metric: (B,)}}``.

    They do not depend on the model, and they cost S times the model's share (pairs of humans
    against one observer), so they are cached by content: the key hashes the humans' answers,
    the conditions and every draw's weights, so the same human data and seed give the cached
    draws and anything else misses.  The entry is sealed and checked on every read."""
    import hashlib

    from psychobench.data.io import cache_dir, check_seal, write_sealed

    h = hashlib.sha256(f"human-draws/v{_HUMAN_DRAWS_VERSION}/".encode())
    for a in (p.human, onehot, used_x, *(x for x in (sh, th) if x is not None),
              *(np.ascontiguousarray(m) for k in sets for m in sets[k])):
        a = np.ascontiguousarray(a, dtype=float)
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    h.update(repr((sorted(sets), sh is not None)).encode())
    path = cache_dir() / "human_draws" / f"{h.hexdigest()}.npz"
    if check_seal(path, "cached human bootstrap draws"):
        try:
            with np.load(path, allow_pickle=False) as z:
                out: dict[str, dict[str, np.ndarray]] = {k: {} for k in sets}
                for name in z.files:
                    k, metric = name.split("|", 1)
                    out[k][metric] = z[name]
            if all(len(v) == len(sets[k][0]) for k in out for v in out[k].values()) and all(out.values()):
                return out
        except (OSError, ValueError, KeyError):
            pass
        path.unlink(missing_ok=True)              # sealed but not ours (a format change)

    hv = np.isfinite(p.human)
    h0 = np.nan_to_num(p.human)
    out = {k: {} for k in sets}
    for key, (ww, mm) in sets.items():
        d: dict[str, list] = {}
        for st in range(0, len(ww), chunk):
            sl = slice(st, st + chunk)
            wb, mb = ww[sl], mm[sl]
            ph = _pairwise_draws(p.human, p.human, onehot, wb, mb, mult_a=mb)
            for j, name in enumerate(PAIRWISE):
                d.setdefault(name, []).append(ph[j])
            num = np.einsum("bs,sx,bx->bx", mb, h0, wb)
            den = np.einsum("bs,sx,bx->bx", mb, hv.astype(float), wb)
            with np.errstate(invalid="ignore", divide="ignore"):
                d.setdefault("ood_accuracy", []).append((num * used_x).sum(-1) / (den * used_x).sum(-1))
                for c, name in enumerate(p.conditions):
                    sel = (p.cond == c).astype(float)
                    d.setdefault(f"accuracy@{name}", []).append((num * sel).sum(-1) / (den * sel).sum(-1))
                if sh is not None:
                    a_ = np.einsum("bs,sx,bx->b", mb, np.nan_to_num(sh), wb)
                    b_ = np.einsum("bs,sx,bx->b", mb, np.nan_to_num(th), wb)
                    d.setdefault("shape_bias", []).append(a_ / (a_ + b_))
        out[key] = {name: np.concatenate(v) for name, v in d.items()}

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **{f"{k}|{name}": v for k, per in out.items() for name, v in per.items()})
    write_sealed(path, write)
    return out


def _draws_within(rng, idx: np.ndarray, X: int, B: int) -> np.ndarray:
    """(B, X) multiplicities of the stimuli ``idx`` resampled among themselves (zero elsewhere)."""
    out = np.zeros((B, X))
    if idx.size:
        pick = idx[rng.integers(0, idx.size, size=(B, idx.size))]
        np.add.at(out, (np.repeat(np.arange(B), idx.size), pick.ravel()), 1.0)
    return out

"""Audio experiment runners for the Hydra app: stimuli -> observer (Lightning) -> trial table ->
comparison with people -> ``trials.parquet``, ``trials.csv``, ``metrics.csv`` in the run folder.

Each runner is called as ``runner(cfg=cfg, run_dir=Path)`` (a ``_partial_`` Hydra target) and
returns the run's summary dict (with ``n_trials``, ``forward_passes`` and ``seconds``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from psychobench.data.schema import CORE_COLUMNS

from psychobench.lightning.waveforms import predict_answers
from psychobench.stimuli.audio.maskers import SADDLER_BACKGROUNDS, build_masker_bank
from psychobench.stimuli.audio.signal import mix_at_snr

CLEAN = float("inf")


def _write_atomic(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if path.suffix == ".parquet":
        df.to_parquet(tmp, index=False)
    else:
        df.to_csv(tmp, index=False)
    os.replace(tmp, path)


def write_run_tables(run_dir: Path, trials: pd.DataFrame, metrics: pd.DataFrame) -> None:
    """``trials.parquet``, ``trials.csv`` and ``metrics.csv`` in ``run_dir``, each atomically."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(trials, run_dir / "trials.parquet")
    _write_atomic(trials, run_dir / "trials.csv")
    _write_atomic(metrics, run_dir / "metrics.csv")


def trial_table(experiment: str, subject: str, stim: pd.DataFrame, answers: pd.DataFrame) -> pd.DataFrame:
    """Trial table in the project schema from a stimulus table (``stimulus_id, condition,
    category`` + extras) and the observer's answers (``response`` [, ``p_true``])."""
    from psychobench.data.trials import as_trial_table, validate_trials
    n = len(stim)
    df = pd.DataFrame({
        "experiment": experiment, "subject": subject, "session": 1, "trial": np.arange(1, n + 1),
        "stimulus_id": stim["stimulus_id"].to_numpy(), "condition": stim["condition"].to_numpy(),
        "category": stim["category"].to_numpy(), "response": answers["response"].astype(str).to_numpy(),
    })
    df["correct"] = df["response"] == df["category"]
    df["rt"] = np.nan
    for c in answers.columns.drop("response"):
        df[c] = answers[c].to_numpy()
    for c in stim.columns:
        if c not in df.columns and c not in CORE_COLUMNS:
            df[c] = stim[c].to_numpy()
    df = as_trial_table(df)
    return validate_trials(df, f"{experiment}/{subject}")


# --------------------------------------------------------------------------------------------
# words in noise


def words_in_noise_stimuli(n_per_cell: int = 20, backgrounds: tuple[int, ...] = (0, 1, 2, 3, 4),
                           snrs: tuple[float, ...] = (-9.0, -6.0, -3.0, 0.0, 3.0), n_clean: int = 64,
                           seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    """Held-out-voice words mixed with the test maskers at each (background, SNR) cell, plus a
    clean cell.  Returns ``(waves (n, samples) float32, table)``; table columns ``stimulus_id,
    condition, category, background, background_name, masker, snr_db, voice``.
    The SNR is set over the word's own samples; output level -20 dBFS; 10-ms ramps.
    """
    from psychobench.stimuli.audio.words import WordCorpus, load_corpus
    cfg = WordCorpus()
    waves, labels, regions, voices = load_corpus(cfg, "test")
    bank = build_masker_bank(cfg.fs, seed=1000 + cfg.seed)
    rng = np.random.default_rng(seed)
    cells = [(b, s) for b in backgrounds for s in snrs]
    n_noisy = n_per_cell * len(cells)
    bg = np.concatenate([np.repeat([c[0] for c in cells], n_per_cell), np.full(n_clean, -1)])
    snr = np.concatenate([np.repeat([c[1] for c in cells], n_per_cell), np.full(n_clean, CLEAN)])
    tok = rng.integers(0, len(labels), n_noisy + n_clean)
    masker = np.zeros((len(tok), waves.shape[1]))
    for b in backgrounds:
        sel = bg == b
        masker[sel] = bank.draw(SADDLER_BACKGROUNDS[b][0], int(sel.sum()), waves.shape[1], rng)
    masker[bg == -1] = bank.draw("ssn", int((bg == -1).sum()), waves.shape[1], rng)  # scaled to 0
    mix, _, _ = mix_at_snr(waves[tok], masker, snr, target_region=regions[tok], fs=cfg.fs)
    name = np.array([SADDLER_BACKGROUNDS[b][0] if b >= 0 else "clean" for b in bg], dtype=object)
    cond = np.where(np.isfinite(snr), [f"{n}_snr{s:+g}" for n, s in zip(name, snr)], "clean")
    table = pd.DataFrame({
        "stimulus_id": [f"win-{i:05d}" for i in range(len(tok))], "condition": cond,
        "category": np.asarray(cfg.words, dtype=object)[labels[tok]], "background": bg,
        "background_name": name, "masker": name, "snr_db": snr, "voice": [voices[t].name for t in tok],
    })
    return mix.astype(np.float32), table


def _expand_clean(trials: pd.DataFrame, backgrounds) -> pd.DataFrame:
    """The clean cell belongs to every background (as in the human data)."""
    clean = trials[trials["background"] == -1]
    parts = [trials[trials["background"] >= 0]] + [clean.assign(background=b) for b in backgrounds]
    return pd.concat(parts, ignore_index=True)


def run_words_in_noise(cfg=None, run_dir: str | os.PathLike = ".", *, model=None, n_per_cell: int = 20,
                       n_clean: int = 64, backgrounds=(0, 1, 2, 3, 4), snrs=(-9.0, -6.0, -3.0, 0.0, 3.0),
                       batch_size: int = 64, n_splits: int = 100, n_boot: int = 1000, seed: int = 0,
                       srt_criterion: float = 0.5, saddler_csv: str | None = None) -> dict:
    """Words in noise vs Saddler & McDermott 2024 (Kell et al. 2018 design). ``model``: an observer
    (default: the trained word network)."""
    from psychobench.consistency.hearing import words_in_noise_comparison
    from psychobench.data.listeners import load_saddler2024_words
    from psychobench.models.audio.observers import WordNetObserver
    t0 = time.time()
    run_dir = Path(run_dir)
    model = model or WordNetObserver()
    backgrounds, snrs = tuple(int(b) for b in backgrounds), tuple(float(s) for s in snrs)
    waves, stim = words_in_noise_stimuli(n_per_cell, backgrounds, snrs, n_clean, seed)
    answers, passes = predict_answers(model, waves, list(stim["category"]), batch_size)
    trials = trial_table("words_in_noise", model.name, stim, answers)
    vocab = getattr(model, "vocabulary", None)
    gamma = 1.0 / len(vocab) if vocab is not None and getattr(model, "mode", "closed") != "open" else 0.0
    humans = load_saddler2024_words(saddler_csv)
    summary, metrics = words_in_noise_comparison(_expand_clean(trials, backgrounds), humans, gamma_model=gamma,
                                                 srt_criterion=srt_criterion, n_splits=n_splits,
                                                 n_boot=n_boot, seed=seed)
    metrics.insert(0, "model", model.name)
    write_run_tables(run_dir, trials, metrics)
    summary.update({
        "experiment": "words_in_noise", "model": model.name, "chance": gamma,
        "maskers_note": "Maskers differ from Saddler & McDermott (2024): their natural scenes, babble "
                        "and music recordings are not public, so each background is a synthetic "
                        "stand-in: " + "; ".join(f"{k} = {v[1]}" for k, v in SADDLER_BACKGROUNDS.items()
                                                  if k in backgrounds)
                        + ". Targets are synthetic words of held-out voices (espeak-ng variants never heard "
                          "in training, and piper talkers at new rate/shift combinations), not their "
                          "speech corpus.",
        "cite": "Saddler & McDermott (2024) Nat Commun, doi:10.1038/s41467-024-54700-5; "
                "Kell et al. (2018) Neuron 98:630",
        "n_trials": int(len(trials)), "forward_passes": int(passes), "seconds": round(time.time() - t0, 2),
    })
    return summary


# --------------------------------------------------------------------------------------------
# English CCC (item level)


def run_ccc(cfg=None, run_dir: str | os.PathLike = ".", *, model=None, speech_dir: str | None = None,
            n_tokens: int | None = 40, maskers: tuple[str, ...] = ("SSN", "BMN3", "BAB4"),
            snr_db: float | None = None, batch_size: int = 8, seed: int = 0, alpha: float = 0.5) -> dict:
    """English CCC item level: rebuild each token at its recorded SNR (or ``snr_db``), run the
    observer (open set by default), score against the listeners' answers.

    speech_dir: folder of upstream stereo ``T_<ID>.wav`` or speech-only ``T_<ID>_speech.flac``
    (None: the chosen tokens' stimuli are downloaded, see :func:`~.humans.fetch_ccc_stimuli`).
    n_tokens: random subset (None: all 3207).
    """
    from psychobench.consistency.hearing import ccc_item_rates, ccc_leave_one_listener_out
    from psychobench.data.listeners import fetch_ccc_stimuli, load_ccc
    from psychobench.models.audio.observers import WhisperObserver
    from psychobench.stimuli.audio.ccc import ccc_mix, load_ccc_masker, load_ccc_speech
    t0 = time.time()
    run_dir = Path(run_dir)
    model = model or WhisperObserver(mode="open")
    table = load_ccc()
    table = table[table["Masker"].isin(maskers)]
    if n_tokens is not None and n_tokens < len(table):
        table = table.sample(n=n_tokens, random_state=seed)
    table = table.sort_values("ID").reset_index(drop=True)
    if speech_dir is None:
        speech_dir = fetch_ccc_stimuli(table["ID"].to_numpy())
    speech = load_ccc_speech(table["ID"].to_numpy(), speech_dir)
    mk = {m: load_ccc_masker(m) for m in table["Masker"].unique()}
    mixes, real = ccc_mix(speech, table, mk, snr_db)
    answers, passes = predict_answers(model, mixes, list(table["Target"]), batch_size)
    stim = pd.DataFrame({
        "stimulus_id": "ccc-" + table["ID"].astype(str), "condition": table["Masker"] + "_snr" + pd.Series(real).round(2).astype(str),
        "category": table["Target"], "snr_db": real, "masker": table["Masker"],
    })
    trials = trial_table("english_ccc", model.name, stim, answers)
    rates = ccc_item_rates(list(table["answers"]), table["Target"].to_numpy(), table["Confusion"].to_numpy(),
                           trials["response"].to_numpy(object), alpha)
    for c in rates.columns:
        trials[f"ccc_{c}"] = rates[c].to_numpy()
    ceiling = ccc_leave_one_listener_out(list(table["answers"]), table["Target"].to_numpy(), alpha)
    model_rates = {c: float(rates[c].mean()) for c in rates.columns}
    metrics = pd.DataFrame([{"model": model.name, "metric": k, "value": model_rates[k], "ceiling": ceiling[k]}
                            for k in model_rates])
    write_run_tables(run_dir, trials, metrics)
    return {
        "experiment": "english_ccc", "model": model.name,
        "rates": model_rates, "ceiling": ceiling, "ceiling_kind": "leave-one-listener-out",
        "snr_db": "recorded" if snr_db is None else snr_db, "n_tokens": int(len(table)),
        "logprob_smoothing_alpha": alpha,
        "cite": "Marxer et al. (2016) JASA-EL 140(5):EL458 (English CCC v1.2, CC-BY-4.0)",
        "n_trials": int(len(trials)), "forward_passes": int(passes), "seconds": round(time.time() - t0, 2),
    }


# --------------------------------------------------------------------------------------------
# pitch


def run_pitch(cfg=None, run_dir: str | os.PathLike = ".", *, model=None,
              deltas_pct=(0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6), n_per_level: int = 6,
              spectra=("low", "high"), phases=("sine", "random"), dur_s: float = 0.2,
              component_db_sl: float = 15.0, ten: bool = True, criterion: float = 0.707, n_boot: int = 200,
              batch_size: int = 256, seed: int = 0) -> dict:
    """F0 discrimination (two intervals) in the Bernstein & Oxenham (2005) conditions
    (:data:`~psychobench.stimuli.audio.pitch.BERNOX_DESIGN`): method of constant stimuli at ``deltas_pct``
    (``n_per_level`` trials per condition and delta), per-condition logistic fits and thresholds
    at ``criterion`` (:func:`~psychobench.consistency.hearing.f0dl_thresholds`), correlation of log
    thresholds with the listeners'.  ``model``: a pitch observer with ``respond_2i`` (CREPE)."""
    from psychobench.consistency.hearing import f0dl_thresholds, pitch_comparison
    from psychobench.models.audio.observers import CrepeObserver
    from psychobench.stimuli.audio.pitch import BERNOX_DESIGN, bernstein_oxenham_conditions, render_intervals, two_interval_trials
    t0 = time.time()
    run_dir = Path(run_dir)
    model = model or CrepeObserver()
    conds = bernstein_oxenham_conditions(tuple(spectra), tuple(phases))
    trials_df = two_interval_trials(conds, np.asarray(deltas_pct, float), n_per_level, seed)
    first, second = render_intervals(trials_df, dur_s=dur_s, seed=seed, component_db_sl=component_db_sl, ten=ten)
    pair = np.stack([first, second], 1)                      # (n, 2, samples)
    answers, passes = predict_answers(_TwoInterval(model), pair, None, batch_size=batch_size)
    stim = trials_df.assign(category=trials_df["answer"], level=trials_df["delta_pct"])
    trials = trial_table("pitch_f0dl", model.name, stim[["stimulus_id", "condition", "category", "level",
                                                            "delta_pct", "f0_hz", "f0_1", "f0_2", "phase",
                                                            "spectrum", "lowest_harmonic"]], answers)
    th = f0dl_thresholds(trials, criterion, n_boot=n_boot, seed=seed)
    metrics = conds[["condition", "spectrum", "phase", "f0_hz", "lowest_harmonic", "human_f0dl_percent"]].merge(
        th, on="condition", how="left")
    if {"f0_1_est", "f0_2_est"} <= set(trials.columns):
        # what the observer hears: estimated / true F0 over both intervals (1 = tracks F0)
        est = pd.concat([trials["f0_1_est"] / trials["f0_1"], trials["f0_2_est"] / trials["f0_2"]])
        cond = pd.concat([trials["condition"], trials["condition"]])
        ratio = est.groupby(cond.to_numpy()).median()
        metrics["f0_estimate_ratio"] = metrics["condition"].map(ratio).to_numpy(float)
    metrics.insert(0, "model", model.name)
    write_run_tables(run_dir, trials, metrics)
    summary = pitch_comparison(metrics)
    if "f0_estimate_ratio" in metrics.columns:
        summary["f0_estimate_ratio_median"] = {
            c: (float(r) if np.isfinite(r) else None) for c, r in zip(metrics["condition"], metrics["f0_estimate_ratio"])}
    summary.update({
        "experiment": "pitch_f0dl", "model": model.name, "criterion": criterion,
        "thresholds": {c: (float(t) if np.isfinite(t) else None)
                       for c, t in zip(metrics["condition"], metrics["threshold_percent"])},
        "threshold_status": dict(zip(metrics["condition"], metrics["status"])),
        "n_below_range": int((metrics["status"] == "below_range").sum()),
        "design": BERNOX_DESIGN,
        "cite": "Bernstein & Oxenham (2005) JASA 117:3816, digitised by Saddler, Gonzalez & McDermott "
                "(2021) Nat Commun 12:7278",
        "n_trials": int(len(trials)), "forward_passes": int(2 * passes), "seconds": round(time.time() - t0, 2),
    })
    return summary


class _TwoInterval:
    """Adapter: a batch of ``(2, samples)`` trials -> the pitch observer's two-interval answer."""

    def __init__(self, observer):
        self.observer, self.name = observer, observer.name

    def respond(self, waves, targets=None):
        x = np.stack(waves)
        out = self.observer.respond_2i(x[:, 0], x[:, 1])
        return out


# --------------------------------------------------------------------------------------------
# speech detection (silero-vad)


def vad_stimuli(n_per_cell: int = 40, snrs=(-15.0, -10.0, -5.0, 0.0, 5.0, 10.0), masker: str = "ssn",
                seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    """Yes/no speech detection: per SNR, ``n_per_cell`` held-out-voice words in ``masker`` and
    ``n_per_cell`` masker-only stimuli (same masker, fresh segments); every stimulus at -20 dBFS
    with 10-ms ramps.  Returns ``(waves (n, samples) float32, table)``; table columns
    ``stimulus_id, condition, category (speech/noise), snr_db, word, masker``."""
    from psychobench.stimuli.audio.signal import OUTPUT_DBFS, ramp, set_level
    from psychobench.stimuli.audio.words import WordCorpus, load_corpus
    cfg = WordCorpus()
    waves, labels, regions, _ = load_corpus(cfg, "test")
    bank = build_masker_bank(cfg.fs, seed=1000 + cfg.seed)
    rng = np.random.default_rng(seed)
    snrs = np.asarray(snrs, float)
    snr = np.repeat(snrs, 2 * n_per_cell)
    speech = np.tile(np.r_[np.ones(n_per_cell, bool), np.zeros(n_per_cell, bool)], len(snrs))
    tok = rng.integers(0, len(labels), len(snr))
    noise = bank.draw(masker, len(snr), waves.shape[1], rng).astype(np.float64)
    mix, _, _ = mix_at_snr(waves[tok[speech]], noise[speech], snr[speech], target_region=regions[tok[speech]], fs=cfg.fs)
    out = np.empty_like(noise)
    out[speech] = mix
    out[~speech] = set_level(noise[~speech] * ramp(noise.shape[1], int(0.01 * cfg.fs)), OUTPUT_DBFS)
    cat = np.where(speech, "speech", "noise")
    table = pd.DataFrame({
        "stimulus_id": [f"vad-{i:05d}" for i in range(len(snr))],
        "condition": [f"{c}_snr{s:+g}" for c, s in zip(cat, snr)], "category": cat, "snr_db": snr,
        "word": np.where(speech, np.asarray(cfg.words, dtype=object)[labels[tok]], ""), "masker": masker,
    })
    return out.astype(np.float32), table


def run_vad(cfg=None, run_dir: str | os.PathLike = ".", *, model=None, n_per_cell: int = 40,
            snrs=(-15.0, -10.0, -5.0, 0.0, 5.0, 10.0), masker: str = "ssn", batch_size: int = 64,
            seed: int = 0) -> dict:
    """"Is there speech?" on words in noise vs noise alone at each SNR, answered by a speech
    detector (default silero-vad); detection d' per SNR (:func:`~psychobench.consistency.hearing.detection_dprime`)."""
    from psychobench.consistency.hearing import detection_dprime
    from psychobench.models.audio.observers import SileroVADObserver
    t0 = time.time()
    run_dir = Path(run_dir)
    model = model or SileroVADObserver()
    waves, stim = vad_stimuli(n_per_cell, snrs, masker, seed)
    answers, passes = predict_answers(model, waves, list(stim["category"]), batch_size)
    answers["response"] = np.where(answers["response"].astype(str) == "speech", "speech", "noise")
    trials = trial_table("speech_detection", model.name, stim, answers)
    d = detection_dprime(trials)
    metrics = d.assign(model=model.name)
    write_run_tables(run_dir, trials, metrics)
    return {
        "experiment": "speech_detection", "model": model.name, "masker": masker,
        "dprime_by_snr": {f"{s:+g}": (float(v) if np.isfinite(v) else None) for s, v in zip(d["snr_db"], d["dprime"])},
        "hit_rate_by_snr": {f"{s:+g}": float(v) for s, v in zip(d["snr_db"], d["hit_rate"])},
        "fa_rate_by_snr": {f"{s:+g}": float(v) for s, v in zip(d["snr_db"], d["fa_rate"])},
        "dprime_correction": "log-linear (k + 0.5) / (n + 1) rates (Hautus 1995)",
        "n_trials": int(len(trials)), "forward_passes": int(passes), "seconds": round(time.time() - t0, 2),
    }

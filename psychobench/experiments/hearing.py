"""Hearing experiments: words in noise, the English Consistent Confusion Corpus, pitch
discrimination and speech detection, each an :class:`~psychobench.experiments.base.Experiment`
of modality ``audio`` on the same spine as vision (stimuli -> observer -> trial table -> metric
table).

* :class:`WordsInNoise`: words of held-out synthetic talkers in 5 backgrounds x SNR and clean,
  against the 44 listeners of Saddler & McDermott (2024; the Kell et al. 2018 design), condition
  level (the backgrounds are synthetic stand-ins; the notes say so per background);
* :class:`EnglishCCC`: the corpus tokens rebuilt exactly, against each token's listeners, item
  level (Marxer et al. 2016);
* :class:`PitchDiscrimination`: two-interval F0 discrimination in the 24 conditions of
  Bernstein & Oxenham (2005), thresholds against theirs;
* :class:`PitchShift`, :class:`MistunedHarmonics`, :class:`AlternatingPhase`: the pitch of
  frequency-shifted complexes (Moore & Moore 2003), of complexes with one mistuned harmonic
  (Moore et al. 1985) and of alternating-phase complexes (Shackleton & Carlyon 1994), read from
  the observer's F0 estimates;
* :class:`TransposedTones`: F0 discrimination of pure and transposed tones (Oxenham et al. 2004);
* :class:`SpeechDetection`: speech in noise vs noise alone, detection d' per SNR (no human data).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from psychobench.errors import SettingError
from psychobench.experiments.base import Experiment, ScoreSettings, cached
from psychobench.stimuli.audio.maskers import SADDLER_BACKGROUNDS, build_masker_bank
from psychobench.stimuli.audio.signal import mix_at_snr
from psychobench.stimuli.audio.words import VOCABULARY

CLEAN = float("inf")
FS = 16000


def _numbers(experiment: str, key: str, values, kind: type, what: str) -> tuple:
    """``stimuli.<key>`` as a tuple of ``kind``; a value that is not one is a one-line error
    naming the setting and the value (``stimuli.snrs=[-9, 'abc']``)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        values = [values]
    out = []
    for v in values:
        try:
            if isinstance(v, bool):
                raise ValueError
            x = kind(float(v)) if kind is int else kind(v)
            if kind is int and float(v) != x:
                raise ValueError
        except (TypeError, ValueError):
            raise SettingError(f"{experiment}: stimuli.{key}={list(values)}: {v!r} is not a number; "
                               f"give {what}") from None
        out.append(x)
    return tuple(out)


# --------------------------------------------------------------------------------------------
# words in noise


def words_in_noise_stimuli(n_per_cell: int = 20, backgrounds: tuple[int, ...] = (0, 1, 2, 3, 4),
                           snrs: tuple[float, ...] = (-9.0, -6.0, -3.0, 0.0, 3.0), n_clean: int = 64,
                           seed: int = 0, bank=None) -> tuple[np.ndarray, pd.DataFrame]:
    """Held-out-voice words mixed with the test maskers at each (background, SNR) cell, plus a
    clean cell.  Returns ``(waves (n, samples) float32, table)``; table columns ``stimulus_id,
    condition, category, background, background_name, masker, snr_db, voice, source_id`` (the
    held-out token mixed: a token may recur in several cells).
    The SNR is set over the word's own samples; output level -20 dBFS; 10-ms ramps.
    ``bank``: the test maskers (default: the synthetic bank, seed 1000).
    """
    from psychobench.stimuli.audio.words import WordCorpus, load_corpus
    cfg = WordCorpus()
    waves, labels, regions, voices = load_corpus(cfg, "test")
    bank = build_masker_bank(cfg.fs, seed=1000 + cfg.seed) if bank is None else bank
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
        "source_id": [f"token-{t}" for t in tok],       # the clean word token (shared across cells)
    })
    return mix.astype(np.float32), table


def _expand_clean(trials: pd.DataFrame, backgrounds) -> pd.DataFrame:
    """The clean cell belongs to every background (as in the human data)."""
    clean = trials[trials["background"] == -1]
    parts = [trials[trials["background"] >= 0]] + [clean.assign(background=b) for b in backgrounds]
    return pd.concat(parts, ignore_index=True)



@dataclass
class WordsInNoise(Experiment):
    """Word recognition in 5 backgrounds x SNR (-9..+3 dB) and clean (``n_per_cell`` words per
    cell, ``n_clean`` clean words), compared with the 44 listeners of Saddler & McDermott
    (2024): r^2 of cell means against the listeners' split-half ceiling, speech reception
    thresholds per background (SNR at ``srt_criterion`` words correct, ``n_boot`` draws), with
    ``n_splits`` split halves of the listeners.  ``saddler_csv``: a local copy of their CSV."""

    modality = "audio"
    name: str = "words_in_noise"
    comparison: str = "condition"
    answers: object = VOCABULARY
    n_per_cell: int = 40
    n_clean: int = 128
    backgrounds: tuple = (0, 1, 2, 3, 4)
    snrs: tuple = (-9.0, -6.0, -3.0, 0.0, 3.0)
    n_splits: int = 100
    n_boot: int = 1000
    srt_criterion: float = 0.5
    saddler_csv: str | None = None
    speech: str = "synthetic"
    speech_dir: str | None = None
    seed: int = 0

    def __post_init__(self):
        if self.speech not in ("synthetic", "ccc"):
            raise SettingError(f"{self.name}: stimuli.speech must be 'synthetic' or 'ccc', got {self.speech!r}")
        if self.speech == "ccc" and not self.speech_dir:
            raise SettingError(f"{self.name}: stimuli.speech=ccc builds the speech maskers from the English CCC's "
                               "speech: give stimuli.speech_dir (or PSYCHOBENCH_CCC_SPEECH), a folder of its "
                               "T_<ID>_speech.flac or T_<ID>.wav files")
        codes = ", ".join(f"{k} {v[0]}" for k, v in sorted(SADDLER_BACKGROUNDS.items()))
        self.backgrounds = _numbers(self.name, "backgrounds", self.backgrounds, int,
                                    f"Saddler & McDermott's background codes ({codes})")
        self.snrs = _numbers(self.name, "snrs", self.snrs, float, "SNRs in dB")
        unknown = [b for b in self.backgrounds if b not in SADDLER_BACKGROUNDS]
        if unknown:
            raise SettingError(f"{self.name}: stimuli.backgrounds={list(self.backgrounds)}: {unknown} unknown; "
                               f"Saddler & McDermott's codes are "
                               f"{sorted(SADDLER_BACKGROUNDS)} ({', '.join(v[0] for v in SADDLER_BACKGROUNDS.values())})")
        if self.saddler_csv is not None and not Path(self.saddler_csv).expanduser().is_file():
            raise SettingError(f"{self.name}: stimuli.saddler_csv={self.saddler_csv}: no such file (give a "
                               "local copy of Saddler & McDermott's CSV, or leave it null for the registered one)")
        self.headline = self.headline or ("r_background_pattern", "r2_cell_means", "r2_snr_only", "srt_delta_db")
        from psychobench.stimuli.audio.maskers import CCC_SPEECH_BACKGROUNDS

        if self.speech == "ccc":
            maskers = ("Maskers differ from Saddler & McDermott (2024): their natural scenes, babble and music "
                       "recordings are not public; the speech-derived backgrounds are built from the English CCC's "
                       "real speech, the others are synthetic stand-ins: "
                       + "; ".join(f"{SADDLER_BACKGROUNDS[b][0]} = {CCC_SPEECH_BACKGROUNDS[SADDLER_BACKGROUNDS[b][0]]}"
                                   for b in self.backgrounds))
        else:
            maskers = ("Maskers differ from Saddler & McDermott (2024): their natural scenes, babble "
                       "and music recordings are not public, so each background is a synthetic "
                       "stand-in: " + "; ".join(f"{SADDLER_BACKGROUNDS[b][0]} = {SADDLER_BACKGROUNDS[b][1]} [stand-in]"
                                                for b in self.backgrounds))
        self.notes = {"maskers": maskers,
                      "background_source": {SADDLER_BACKGROUNDS[b][0]: (
                          CCC_SPEECH_BACKGROUNDS[SADDLER_BACKGROUNDS[b][0]].rsplit("[", 1)[1].rstrip("]")
                          if self.speech == "ccc" else "stand-in") for b in self.backgrounds},
                      "talkers": "Targets are synthetic words of held-out voices (espeak-ng variants never heard "
                                 "in training, and piper talkers at new rate/shift combinations), not their "
                                 "speech corpus.",
                      "cite": "Saddler & McDermott (2024) Nat Commun, doi:10.1038/s41467-024-54700-5; "
                              "Kell et al. (2018) Neuron 98:630", **self.notes}
        super().__post_init__()

    @cached
    def stimuli(self):
        from psychobench.stimuli.waveforms import WaveformSet

        bank = None
        if self.speech == "ccc":
            from psychobench.stimuli.audio.maskers import build_ccc_masker_bank

            bank = build_ccc_masker_bank(self.speech_dir, FS, seed=1000)
        waves, table = words_in_noise_stimuli(self.n_per_cell, self.backgrounds, self.snrs, self.n_clean, self.seed,
                                              bank=bank)
        return WaveformSet(self.name, table, waves, FS)

    @cached
    def humans(self) -> pd.DataFrame:
        from psychobench.data.listeners import load_saddler2024_words

        return load_saddler2024_words(self.saddler_csv)

    def validate(self) -> None:
        """Every requested cell (background x SNR) must have listener data: a cell the
        listeners never heard would be measured in the model and then silently left out of the
        comparison, so it is refused before anything runs."""
        h = self.humans()
        heard = h[np.isfinite(h["snr_db"].to_numpy(float))]
        cells = set(zip(heard["background"].astype(int), heard["snr_db"].astype(float)))
        missing = [(b, s) for b in self.backgrounds for s in self.snrs if (b, s) not in cells]
        if missing:
            levels = sorted({s for _, s in cells})
            shown = ", ".join(f"{SADDLER_BACKGROUNDS[b][0]} at {s:+g} dB" for b, s in missing[:6])
            more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
            raise SettingError(f"{self.name}: stimuli.snrs/backgrounds ask for cells without listener data "
                               f"({shown}{more}); the listeners heard {', '.join(f'{v:+g}' for v in levels)} dB "
                               "and clean")

    def score(self, trials: pd.DataFrame, settings: ScoreSettings, *, chance: float | None = None) -> pd.DataFrame:
        gamma = self.answers.chance if chance is None else chance
        names = {b: v[0] for b, v in SADDLER_BACKGROUNDS.items()}
        from psychobench.consistency import hearing as H

        return H.words_in_noise_table(_expand_clean(trials, self.backgrounds), self.humans(), dataset=self.name,
                                      background_names=names, gamma_model=gamma, srt_criterion=self.srt_criterion,
                                      n_splits=self.n_splits, n_boot=self.n_boot, seed=self.seed)

    def identity(self) -> dict:
        from psychobench.data.io import sha256_file

        return {**super().identity(), "stimuli": self.stimuli().content_key(), "n_splits": self.n_splits,
                "n_boot": self.n_boot, "srt_criterion": self.srt_criterion,
                "humans": sha256_file(self.saddler_csv) if self.saddler_csv else "registered"}


# --------------------------------------------------------------------------------------------
# English CCC (item level)


@dataclass
class EnglishCCC(Experiment):
    """English CCC item level: each token rebuilt at its recorded SNR (or ``snr_db``) with its
    masker, scored against the listeners' answers (the four per-token rates of
    :func:`~psychobench.consistency.hearing.ccc_item_rates` beside the leave-one-listener-out
    ceiling).  ``speech_dir``: a folder of upstream stereo ``T_<ID>.wav`` or speech-only
    ``T_<ID>_speech.flac`` (None: the chosen tokens' stimuli are downloaded); ``n_tokens``: a
    random subset of the 3207 tokens (None: all); ``alpha``: additive smoothing of the
    listeners' answer distribution.

    ``answers``: ``"ccc"`` (default) is the corpus's response vocabulary (every word listeners
    typed, plus the targets: :func:`~psychobench.data.listeners.ccc_vocabulary`), the closed set
    of closed-set recognisers; open-set recognisers answer freely and are scored the same way.
    ``targets``: keep only the tokens whose target is in this word list, ``"word_task"`` for the
    words of psychobench's word network (whose answers are then those words), or None (all):
    a recogniser that knows only some words is scored, and its ceiling computed, on the tokens
    it could get right."""

    modality = "audio"
    name: str = "english_ccc"
    comparison: str = "item"
    answers: object = "ccc"
    targets: object = None
    speech_dir: str | None = None
    n_tokens: int | None = 40
    maskers: tuple = ("SSN", "BMN3", "BAB4")
    snr_db: float | None = None
    alpha: float = 0.5
    n_boot: int = 2000
    seed: int = 0

    def __post_init__(self):
        from psychobench.data.listeners import CCC_MASKERS

        self.maskers = tuple(str(m) for m in self.maskers)
        bad = [m for m in self.maskers if m not in CCC_MASKERS]
        if bad:
            raise SettingError(f"{self.name}: stimuli.maskers: {bad} unknown; the corpus has {list(CCC_MASKERS)}")
        if self.n_tokens is not None and int(self.n_tokens) < 1:
            raise SettingError(f"{self.name}: stimuli.n_tokens must be >= 1 or null (all), got {self.n_tokens}")
        if isinstance(self.targets, str):
            if self.targets != "word_task":
                raise SettingError(f"{self.name}: stimuli.targets must be a list of words, 'word_task' or null, "
                                   f"got {self.targets!r}")
            self.targets = VOCABULARY
            if isinstance(self.answers, str) and self.answers == "ccc":
                self.answers = VOCABULARY
        elif self.targets is not None:
            self.targets = tuple(str(w).strip().lower() for w in self.targets)
        if isinstance(self.answers, str) and self.answers == "ccc":
            from psychobench.data.listeners import ccc_vocabulary

            self.answers = ccc_vocabulary()
        self.headline = self.headline or ("correct", "in_answers", "dominant", "logprob")
        self.notes = {"ceiling": "leave-one-listener-out", "snr_db": "recorded" if self.snr_db is None else self.snr_db,
                      "logprob_smoothing_alpha": self.alpha,
                      "cite": "Marxer et al. (2016) JASA-EL 140(5):EL458 (English CCC v1.2, CC-BY-4.0)", **self.notes}
        super().__post_init__()

    @cached
    def tokens(self) -> pd.DataFrame:
        from psychobench.data.listeners import load_ccc

        table = load_ccc()
        table = table[table["Masker"].isin(self.maskers)]
        if self.targets is not None:
            table = table[table["Target"].isin(self.targets)]
            if table.empty:
                raise SettingError(f"{self.name}: no token of maskers {list(self.maskers)} has its target among "
                                   f"stimuli.targets ({len(self.targets)} words)")
        if self.n_tokens is not None and int(self.n_tokens) < len(table):
            table = table.sample(n=int(self.n_tokens), random_state=self.seed)
        return table.sort_values("ID").reset_index(drop=True)

    @cached
    def stimuli(self):
        from psychobench.data.listeners import fetch_ccc_stimuli
        from psychobench.stimuli.audio.ccc import ccc_mix, load_ccc_masker, load_ccc_speech
        from psychobench.stimuli.waveforms import WaveformSet

        table = self.tokens()
        folder = self.speech_dir if self.speech_dir is not None else fetch_ccc_stimuli(table["ID"].to_numpy())
        speech = load_ccc_speech(table["ID"].to_numpy(), folder)
        mk = {m: load_ccc_masker(m) for m in table["Masker"].unique()}
        mixes, real = ccc_mix(speech, table, mk, self.snr_db)
        man = pd.DataFrame({
            "stimulus_id": "ccc-" + table["ID"].astype(str),
            "condition": table["Masker"] + "_snr" + pd.Series(real).round(2).astype(str),
            "category": table["Target"], "snr_db": real, "masker": table["Masker"],
            "ccc_confusion": table["Confusion"]})
        return WaveformSet(self.name, man, [np.asarray(m, np.float32) for m in mixes], FS)

    def humans(self) -> pd.DataFrame:
        from psychobench.data.listeners import ccc_listener_trials

        return ccc_listener_trials(self.tokens())

    def trials(self, answers: pd.DataFrame, subject: str) -> pd.DataFrame:
        from psychobench.consistency import hearing as H

        t = super().trials(answers, subject)
        table = self.tokens()
        rates = H.ccc_item_rates(list(table["answers"]), table["Target"].to_numpy(), table["Confusion"].to_numpy(),
                                 t["response"].to_numpy(object), self.alpha)
        for c in rates.columns:
            t[f"ccc_{c}"] = rates[c].to_numpy()
        return t

    def score(self, trials: pd.DataFrame, settings: ScoreSettings, *, chance: float | None = None) -> pd.DataFrame:
        from psychobench.consistency import hearing as H

        return H.ccc_table(trials, list(self.tokens()["answers"]), dataset=self.name, alpha=self.alpha,
                           n_boot=self.n_boot, seed=self.seed)

    def identity(self) -> dict:
        return {**super().identity(), "stimuli": self.stimuli().content_key(), "alpha": self.alpha,
                "n_boot": self.n_boot}


# --------------------------------------------------------------------------------------------
# pitch


def _in_ten(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Tones ``x`` (one per row) in fresh threshold-equalising noise gated with them, the tone
    ``snr_db`` dB above the noise (RMS), the mixture at -20 dBFS RMS."""
    from psychobench.stimuli.audio.pitch import ten_noise
    from psychobench.stimuli.audio.signal import ramp, rms, set_level

    noise = ten_noise(x.shape, FS, rng) * ramp(x.shape[1], int(0.01 * FS), "cos2")
    x = x + noise * (rms(x) / rms(noise) * 10 ** (-snr_db / 20))[:, None]
    return set_level(x, -20.0)


def _jittered_items(conds: pd.DataFrame, n_items: int, jitter_pct: float, rng: np.random.Generator) -> pd.DataFrame:
    """``n_items`` rows per condition (column ``item``), each with an F0 ``f0_true`` drawn
    log-uniform within +-``jitter_pct`` % of the condition's ``f0_hz``."""
    t = conds.loc[conds.index.repeat(int(n_items))].reset_index(drop=True)
    t["item"] = np.tile(np.arange(int(n_items)), len(conds))
    j = jitter_pct / 100
    t["f0_true"] = t["f0_hz"] * np.exp(rng.uniform(np.log1p(-j), np.log1p(j), len(t)))
    return t


def _check_items(experiment: str, n_items) -> None:
    if int(n_items) < 2:
        raise SettingError(f"{experiment}: stimuli.n_items must be >= 2 (the interval is over items), got {n_items}")


@dataclass
class PitchDiscrimination(Experiment):
    """F0 discrimination (two intervals) in the Bernstein & Oxenham (2005) conditions
    (:data:`~psychobench.stimuli.audio.pitch.BERNOX_DESIGN`): method of constant stimuli at
    ``deltas_pct`` (``n_per_level`` trials per condition and delta), per-condition logistic fits
    and thresholds at ``criterion``, correlation of log thresholds with the listeners'."""

    modality = "audio"
    name: str = "pitch_f0dl"
    comparison: str = "condition"
    answers: object = ("first", "second")
    deltas_pct: tuple = (0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6)
    n_per_level: int = 6
    spectra: tuple = ("low", "high")
    phases: tuple = ("sine", "random")
    dur_s: float = 0.2
    component_db_sl: float = 15.0
    ten: bool = True
    criterion: float = 0.707
    n_boot: int = 200
    seed: int = 0

    def __post_init__(self):
        from psychobench.stimuli.audio.pitch import BERNOX_DESIGN

        self.deltas_pct = _numbers(self.name, "deltas_pct", self.deltas_pct, float, "F0 differences in % of F0")
        if any(d <= 0 for d in self.deltas_pct):
            raise SettingError(f"{self.name}: stimuli.deltas_pct must be > 0, got {list(self.deltas_pct)}")
        self.spectra, self.phases = tuple(self.spectra), tuple(self.phases)
        bad = [s for s in self.spectra if s not in ("low", "high")] + [p for p in self.phases if p not in ("sine", "random")]
        if bad:
            raise SettingError(f"{self.name}: stimuli.spectra/phases: {bad} unknown; spectra are low/high, "
                               "phases sine/random")
        self.headline = self.headline or ("r_log_thresholds", "n_thresholds_reached")
        self.notes = {"design": BERNOX_DESIGN,
                      "cite": "Bernstein & Oxenham (2005) JASA 117:3816, digitised by Saddler, Gonzalez & McDermott "
                              "(2021) Nat Commun 12:7278", **self.notes}
        super().__post_init__()

    @cached
    def conditions_table(self) -> pd.DataFrame:
        """The conditions with the listeners' thresholds (``human_f0dl_percent``)."""
        from psychobench.stimuli.audio.pitch import bernstein_oxenham_conditions

        return bernstein_oxenham_conditions(self.spectra, self.phases)

    @cached
    def stimuli(self):
        from psychobench.stimuli.audio.pitch import render_intervals, two_interval_trials
        from psychobench.stimuli.waveforms import WaveformSet

        conds = self.conditions_table()
        trials = two_interval_trials(conds, np.asarray(self.deltas_pct, float), self.n_per_level, self.seed)
        first, second = render_intervals(trials, dur_s=self.dur_s, seed=self.seed,
                                         component_db_sl=self.component_db_sl, ten=self.ten)
        man = trials.assign(category=trials["answer"], level=trials["delta_pct"])[
            ["stimulus_id", "condition", "category", "level", "delta_pct", "f0_hz", "f0_1", "f0_2", "phase",
             "spectrum", "lowest_harmonic"]]
        return WaveformSet(self.name, man, np.stack([first, second], 1).astype(np.float32), FS)

    def humans(self) -> pd.DataFrame:
        return self.conditions_table()[["condition", "human_f0dl_percent"]]

    def score(self, trials: pd.DataFrame, settings: ScoreSettings, *, chance: float | None = None) -> pd.DataFrame:
        from psychobench.consistency import hearing as H

        return H.pitch_table(trials, self.humans(), dataset=self.name, criterion=self.criterion,
                             n_boot=self.n_boot, seed=self.seed)

    def identity(self) -> dict:
        return {**super().identity(), "stimuli": self.stimuli().content_key(), "criterion": self.criterion,
                "n_boot": self.n_boot}


@dataclass
class PitchShift(Experiment):
    """The pitch of frequency-shifted complexes (Moore & Moore 2003;
    :data:`~psychobench.stimuli.audio.pitch.MOORE2003_DESIGN`): every component of a complex is
    shifted up by ``shifts_pct`` % of F0 under a spectral envelope centred on harmonic 5, 11 or
    16.  Each trial's first interval is the unshifted complex, its second the shifted one; the
    observer's F0 estimate of the second over the true F0 is the pitch shift.  Needs an observer
    that reports F0 estimates (``f0_1_est, f0_2_est``: model=pitchnet, model=crepe).  Headline:
    r of the 36 condition pitch shifts with the listeners' (``r_pitch_shift``), with the slope of
    pitch shift on component shift per centre harmonic beside the listeners'."""

    modality = "audio"
    name: str = "pitch_shift"
    comparison: str = "condition"
    answers: object = ("first", "second")
    f0s_hz: tuple = (100.0, 200.0, 400.0)
    centre_harmonics: tuple = (5, 11, 16)
    shifts_pct: tuple = (0.0, 8.0, 16.0, 24.0)
    n_items: int = 12
    f0_jitter_pct: float = 4.0
    snr_db: float = 20.0
    dur_s: float = 0.15
    n_boot: int = 1000
    seed: int = 0

    def __post_init__(self):
        from psychobench.stimuli.audio.pitch import MOORE2003_DESIGN, MOORE2003_FLAT_HARMONICS

        self.f0s_hz = _numbers(self.name, "f0s_hz", self.f0s_hz, float, "F0s in Hz")
        self.shifts_pct = _numbers(self.name, "shifts_pct", self.shifts_pct, float, "component shifts in % of F0")
        self.centre_harmonics = _numbers(self.name, "centre_harmonics", self.centre_harmonics, int,
                                         "centre harmonics of the spectral envelope")
        bad = [c for c in self.centre_harmonics if c not in MOORE2003_FLAT_HARMONICS]
        if bad:
            raise SettingError(f"{self.name}: stimuli.centre_harmonics {bad} unknown; the experiment has "
                               f"{sorted(MOORE2003_FLAT_HARMONICS)}")
        _check_items(self.name, self.n_items)
        self.headline = self.headline or ("r_pitch_shift",)
        self.notes = {"design": MOORE2003_DESIGN,
                      "cite": "Moore & Moore (2003) JASA 113:977, digitised by Saddler, Gonzalez & McDermott "
                              "(2021) Nat Commun 12:7278", **self.notes}
        super().__post_init__()

    @cached
    def conditions_table(self) -> pd.DataFrame:
        """The conditions of this run with the listeners' pitch shift where the human table has
        one (``human_pitch_shift_percent``, NaN elsewhere)."""
        from psychobench.data.listeners import moore_moore_2003

        grid = pd.MultiIndex.from_product([self.f0s_hz, self.centre_harmonics, self.shifts_pct],
                                          names=["f0_hz", "centre_harmonic", "shift_percent"]).to_frame(index=False)
        h = moore_moore_2003().rename(columns={"pitch_shift_percent": "human_pitch_shift_percent"})
        grid = grid.merge(h, on=["f0_hz", "centre_harmonic", "shift_percent"], how="left")
        grid.insert(0, "condition", [f"f0={f:g}-h{c}-shift={s:g}" for f, c, s in
                                     zip(grid["f0_hz"], grid["centre_harmonic"], grid["shift_percent"])])
        return grid

    @cached
    def stimuli(self):
        from psychobench.stimuli.audio.pitch import shifted_complex
        from psychobench.stimuli.waveforms import WaveformSet

        conds = self.conditions_table()
        rng = np.random.default_rng([self.seed, 2003])
        t = _jittered_items(conds, self.n_items, self.f0_jitter_pct, rng)
        f0, c = t["f0_true"].to_numpy(float), t["centre_harmonic"].to_numpy(int)
        waves = [_in_ten(shifted_complex(f0, shift, c, FS, self.dur_s, level_dbfs=0.0), self.snr_db, rng)
                 for shift in (np.zeros(len(t)), t["shift_percent"].to_numpy(float))]
        t["f0_1"] = t["f0_2"] = t["f0_true"]
        t["category"] = "second"          # the pitch of the shifted complex is higher for listeners
        t["stimulus_id"] = [f"pshift-{i:05d}" for i in range(len(t))]
        man = t[["stimulus_id", "condition", "category", "f0_hz", "f0_true", "f0_1", "f0_2", "centre_harmonic",
                 "shift_percent", "item"]]
        return WaveformSet(self.name, man, np.stack(waves, 1).astype(np.float32), FS)

    def humans(self) -> pd.DataFrame:
        return self.conditions_table()[["condition", "human_pitch_shift_percent"]]

    def score(self, trials: pd.DataFrame, settings: ScoreSettings, *, chance: float | None = None) -> pd.DataFrame:
        from psychobench.consistency import hearing as H

        return H.pitch_shift_table(trials, self.conditions_table(), dataset=self.name, n_boot=self.n_boot,
                                   seed=self.seed)

    def identity(self) -> dict:
        return {**super().identity(), "stimuli": self.stimuli().content_key(), "n_boot": self.n_boot}


@dataclass
class MistunedHarmonics(Experiment):
    """The pitch of a complex with one mistuned harmonic (Moore, Glasberg & Peters 1985;
    :data:`~psychobench.stimuli.audio.pitch.MOORE1985_DESIGN`): 12 equal-amplitude harmonics,
    one of ``harmonics`` moved up by ``mistunings_pct`` %.  Interval 1 is the tuned complex,
    interval 2 the mistuned one; the observer's F0 estimate of 2 over its estimate of 1 is the
    pitch shift.  Needs an observer that reports F0 estimates.  Headline: r of the condition
    pitch shifts with the listeners' (``r_mistuned_shift``); per F0 and harmonic, the harmonic's
    weight (slope of pitch shift on mistuning up to ``weight_max_mistuning_pct``), which shows
    which harmonics dominate the pitch (the listeners': harmonics 1-4 at 100-400 Hz)."""

    modality = "audio"
    name: str = "mistuned_harmonics"
    comparison: str = "condition"
    answers: object = ("first", "second")
    f0s_hz: tuple = (100.0, 200.0, 400.0)
    harmonics: tuple = (1, 2, 3, 4, 5, 6)
    mistunings_pct: tuple = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
    n_harmonics: int = 12
    n_items: int = 8
    f0_jitter_pct: float = 4.0
    snr_db: float = 20.0
    dur_s: float = 0.15
    weight_max_mistuning_pct: float = 3.0
    n_boot: int = 1000
    seed: int = 0

    def __post_init__(self):
        from psychobench.stimuli.audio.pitch import MOORE1985_DESIGN

        self.f0s_hz = _numbers(self.name, "f0s_hz", self.f0s_hz, float, "F0s in Hz")
        self.harmonics = _numbers(self.name, "harmonics", self.harmonics, int, "harmonic numbers to mistune")
        self.mistunings_pct = _numbers(self.name, "mistunings_pct", self.mistunings_pct, float,
                                       "mistunings in % of the harmonic's frequency")
        bad = [h for h in self.harmonics if not 1 <= h <= int(self.n_harmonics)]
        if bad:
            raise SettingError(f"{self.name}: stimuli.harmonics {bad} outside 1..n_harmonics={self.n_harmonics}")
        top = max(self.f0s_hz) * int(self.n_harmonics) * (1 + max(self.mistunings_pct) / 100)
        if top >= 0.95 * FS / 2:
            raise SettingError(f"{self.name}: the highest component ({top:.0f} Hz: F0 {max(self.f0s_hz):g} x "
                               f"{self.n_harmonics} harmonics) is above 0.95 x Nyquist at {FS} Hz")
        _check_items(self.name, self.n_items)
        self.headline = self.headline or ("r_mistuned_shift",)
        self.notes = {"design": MOORE1985_DESIGN,
                      "cite": "Moore, Glasberg & Peters (1985) JASA 77:1853, digitised by Saddler, Gonzalez & "
                              "McDermott (2021) Nat Commun 12:7278", **self.notes}
        super().__post_init__()

    @cached
    def conditions_table(self) -> pd.DataFrame:
        """The conditions of this run with the listeners' pitch shift where the human table has
        one (``human_pitch_shift_percent``, NaN elsewhere)."""
        from psychobench.data.listeners import moore_etal_1985

        grid = pd.MultiIndex.from_product([self.f0s_hz, self.harmonics, self.mistunings_pct],
                                          names=["f0_hz", "harmonic", "mistuning_percent"]).to_frame(index=False)
        h = moore_etal_1985()[["f0_hz", "harmonic", "mistuning_percent", "pitch_shift_percent"]]
        grid = grid.merge(h.rename(columns={"pitch_shift_percent": "human_pitch_shift_percent"}),
                          on=["f0_hz", "harmonic", "mistuning_percent"], how="left")
        grid.insert(0, "condition", [f"f0={f:g}-h{h}-mistuned={m:g}" for f, h, m in
                                     zip(grid["f0_hz"], grid["harmonic"], grid["mistuning_percent"])])
        return grid

    @cached
    def stimuli(self):
        from psychobench.stimuli.audio.pitch import mistuned_complex
        from psychobench.stimuli.waveforms import WaveformSet

        rng = np.random.default_rng([self.seed, 1985])
        t = _jittered_items(self.conditions_table(), self.n_items, self.f0_jitter_pct, rng)
        f0, h = t["f0_true"].to_numpy(float), t["harmonic"].to_numpy(int)
        waves = [_in_ten(mistuned_complex(f0, h, m, FS, self.dur_s, self.n_harmonics, level_dbfs=0.0), self.snr_db, rng)
                 for m in (0.0, t["mistuning_percent"].to_numpy(float))]
        t["f0_1"] = t["f0_2"] = t["f0_true"]
        t["category"] = "second"          # a mistuned-up harmonic raises the pitch for listeners
        t["stimulus_id"] = [f"mistuned-{i:05d}" for i in range(len(t))]
        man = t[["stimulus_id", "condition", "category", "f0_hz", "f0_true", "f0_1", "f0_2", "harmonic",
                 "mistuning_percent", "item"]]
        return WaveformSet(self.name, man, np.stack(waves, 1).astype(np.float32), FS)

    def humans(self) -> pd.DataFrame:
        return self.conditions_table()[["condition", "human_pitch_shift_percent"]]

    def score(self, trials: pd.DataFrame, settings: ScoreSettings, *, chance: float | None = None) -> pd.DataFrame:
        from psychobench.consistency import hearing as H

        return H.mistuned_table(trials, self.conditions_table(), dataset=self.name, n_harmonics=int(self.n_harmonics),
                                weight_max_mistuning_pct=self.weight_max_mistuning_pct, n_boot=self.n_boot,
                                seed=self.seed)

    def identity(self) -> dict:
        return {**super().identity(), "stimuli": self.stimuli().content_key(), "n_boot": self.n_boot,
                "weight_max_mistuning_pct": self.weight_max_mistuning_pct}


@dataclass
class AlternatingPhase(Experiment):
    """The pitch of alternating-phase complexes (Shackleton & Carlyon 1994;
    :data:`~psychobench.stimuli.audio.pitch.SHACKLETON1994_DESIGN`): harmonics of F0 in one of
    three bands (``bands``: lower cut-offs 125, 1375, 3900 Hz), odd harmonics in sine and even in
    cosine phase, so that the envelope repeats at 2 F0.  Listeners hear F0 when the harmonics are
    resolved and 2 F0 when they are not.  Per condition: the share of the observer's F0
    estimates at 2 F0 minus at F0, in % (``alt_phase_2f0_minus_f0``).  Headline: r with the
    listeners over the 27 conditions (``r_alt_phase``), beside a resolvability rule (2 F0 when
    the band's lowest harmonic is above 10, else F0)."""

    modality = "audio"
    name: str = "alt_phase"
    comparison: str = "condition"
    answers: object = ("first", "second")
    bands: tuple = (125.0, 1375.0, 3900.0)
    f0s_hz: tuple = (62.5, 74.3, 88.4, 105.1, 125.0, 148.7, 176.8, 210.2, 250.0)
    n_items: int = 8
    f0_jitter_pct: float = 4.0
    snr_db: float = 20.0
    dur_s: float = 0.15
    resolvability_harmonic: float = 10.0
    n_boot: int = 1000
    seed: int = 0

    def __post_init__(self):
        from psychobench.data.listeners import SHACKLETON_CARLYON_BANDS
        from psychobench.stimuli.audio.pitch import SHACKLETON1994_DESIGN

        self.bands = _numbers(self.name, "bands", self.bands, float, "lower filter cut-offs in Hz")
        self.f0s_hz = _numbers(self.name, "f0s_hz", self.f0s_hz, float, "F0s in Hz")
        bad = [b for b in self.bands if b not in SHACKLETON_CARLYON_BANDS]
        if bad:
            raise SettingError(f"{self.name}: stimuli.bands {bad} unknown; the experiment's bands start at "
                               f"{sorted(SHACKLETON_CARLYON_BANDS)} Hz")
        _check_items(self.name, self.n_items)
        self.headline = self.headline or ("r_alt_phase",)
        self.notes = {"design": SHACKLETON1994_DESIGN,
                      "cite": "Shackleton & Carlyon (1994) JASA 95:3529, digitised by Saddler, Gonzalez & "
                              "McDermott (2021) Nat Commun 12:7278", **self.notes}
        super().__post_init__()

    @cached
    def conditions_table(self) -> pd.DataFrame:
        """The conditions (band x F0) with the band edges and the listeners' value where the
        human table has one (``human_2f0_minus_f0``, NaN elsewhere)."""
        from psychobench.data.listeners import SHACKLETON_CARLYON_BANDS, shackleton_carlyon_1994

        grid = pd.MultiIndex.from_product([self.bands, self.f0s_hz], names=["filter_lower_hz", "f0_hz"]
                                          ).to_frame(index=False)
        grid["filter_upper_hz"] = grid["filter_lower_hz"].map(lambda b: SHACKLETON_CARLYON_BANDS[b][1])
        h = shackleton_carlyon_1994().rename(columns={"pct_2f0_minus_f0": "human_2f0_minus_f0"})
        grid = grid.merge(h, on=["filter_lower_hz", "f0_hz"], how="left")
        grid["lowest_harmonic"] = grid["filter_lower_hz"] / grid["f0_hz"]
        grid.insert(0, "condition", [f"band={b:g}-f0={f:g}" for b, f in zip(grid["filter_lower_hz"], grid["f0_hz"])])
        return grid

    @cached
    def stimuli(self):
        from psychobench.stimuli.audio.pitch import harmonic_complex
        from psychobench.stimuli.waveforms import WaveformSet

        rng = np.random.default_rng([self.seed, 1994])
        t = _jittered_items(self.conditions_table(), self.n_items, self.f0_jitter_pct, rng)
        f0 = t["f0_true"].to_numpy(float)
        lo, hi = t["filter_lower_hz"].to_numpy(float), t["filter_upper_hz"].to_numpy(float)
        waves = [_in_ten(harmonic_complex(f0, FS, self.dur_s, f_lo=lo, f_hi=hi, phase=ph, level_dbfs=0.0),
                         self.snr_db, rng) for ph in ("sine", "alternating")]
        t["f0_1"] = t["f0_2"] = t["f0_true"]
        # the answer the resolvability rule predicts: 2 F0 ("second" higher) when unresolved
        t["category"] = np.where(t["lowest_harmonic"] > self.resolvability_harmonic, "second", "first")
        t["stimulus_id"] = [f"altphase-{i:05d}" for i in range(len(t))]
        man = t[["stimulus_id", "condition", "category", "f0_hz", "f0_true", "f0_1", "f0_2", "filter_lower_hz",
                 "filter_upper_hz", "lowest_harmonic", "item"]]
        return WaveformSet(self.name, man, np.stack(waves, 1).astype(np.float32), FS)

    def humans(self) -> pd.DataFrame:
        return self.conditions_table()[["condition", "human_2f0_minus_f0"]]

    def score(self, trials: pd.DataFrame, settings: ScoreSettings, *, chance: float | None = None) -> pd.DataFrame:
        from psychobench.consistency import hearing as H

        return H.alt_phase_table(trials, self.conditions_table(), dataset=self.name,
                                 resolvability_harmonic=self.resolvability_harmonic, n_boot=self.n_boot,
                                 seed=self.seed)

    def identity(self) -> dict:
        return {**super().identity(), "stimuli": self.stimuli().content_key(), "n_boot": self.n_boot,
                "resolvability_harmonic": self.resolvability_harmonic}


@dataclass
class TransposedTones(Experiment):
    """F0 discrimination of pure tones and transposed tones (Oxenham, Bernstein & Penagos 2004;
    :data:`~psychobench.stimuli.audio.pitch.OXENHAM2004_DESIGN`): two intervals, method of
    constant stimuli at ``deltas_pct``, per-condition thresholds as in experiment=pitch.  A
    transposed tone gives a high-frequency place the temporal envelope of a low pure tone;
    listeners discriminate its rate 2-8 times worse, so temporal cues alone do not give a
    pure tone's pitch.  Headline: r of log thresholds with the listeners'
    (``r_log_thresholds``) and ``n_thresholds_reached``; ``carrier_hz`` 0 is the pure tone."""

    modality = "audio"
    name: str = "transposed_tones"
    comparison: str = "condition"
    answers: object = ("first", "second")
    carriers_hz: tuple = (0.0, 4000.0, 6350.0)
    f0s_hz: tuple = (55.6, 80.62, 125.44, 200.77, 320.0)
    deltas_pct: tuple = (0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6)
    n_per_level: int = 10
    snr_db: float = 20.0
    dur_s: float = 0.2
    criterion: float = 0.707
    n_boot: int = 200
    seed: int = 0

    def __post_init__(self):
        from psychobench.stimuli.audio.pitch import OXENHAM2004_DESIGN

        self.carriers_hz = _numbers(self.name, "carriers_hz", self.carriers_hz, float, "carriers in Hz (0: pure tone)")
        self.f0s_hz = _numbers(self.name, "f0s_hz", self.f0s_hz, float, "rates in Hz")
        self.deltas_pct = _numbers(self.name, "deltas_pct", self.deltas_pct, float, "F0 differences in % of F0")
        if any(d <= 0 for d in self.deltas_pct):
            raise SettingError(f"{self.name}: stimuli.deltas_pct must be > 0, got {list(self.deltas_pct)}")
        bad = [c for c in self.carriers_hz if c != 0 and c * 1.2 >= FS / 2]
        if bad:
            raise SettingError(f"{self.name}: stimuli.carriers_hz {bad}: a transposed tone's sidebands reach 1.2 x its "
                               f"carrier, above the Nyquist frequency at {FS} Hz (the 10.08-kHz carrier of the "
                               "experiment cannot be made here)")
        self.headline = self.headline or ("r_log_thresholds", "n_thresholds_reached")
        self.notes = {"design": OXENHAM2004_DESIGN,
                      "cite": "Oxenham, Bernstein & Penagos (2004) PNAS 101:1421, digitised by Saddler, Gonzalez & "
                              "McDermott (2021) Nat Commun 12:7278", **self.notes}
        super().__post_init__()

    @cached
    def conditions_table(self) -> pd.DataFrame:
        """The conditions with the listeners' thresholds (``human_f0dl_percent``, NaN where the
        human table has none)."""
        from psychobench.data.listeners import oxenham_etal_2004

        grid = pd.MultiIndex.from_product([self.carriers_hz, self.f0s_hz], names=["carrier_hz", "f0_hz"]
                                          ).to_frame(index=False)
        h = oxenham_etal_2004().rename(columns={"f0dl_percent": "human_f0dl_percent"})
        grid = grid.merge(h, on=["carrier_hz", "f0_hz"], how="left")
        grid.insert(0, "condition", [("pure" if c == 0 else f"transposed-{c:g}") + f"-f0={f:g}"
                                     for c, f in zip(grid["carrier_hz"], grid["f0_hz"])])
        return grid

    @cached
    def stimuli(self):
        from psychobench.stimuli.audio.pitch import pure_tone, transposed_tone, two_interval_trials
        from psychobench.stimuli.waveforms import WaveformSet

        trials = two_interval_trials(self.conditions_table(), np.asarray(self.deltas_pct, float), self.n_per_level,
                                     self.seed)
        rng = np.random.default_rng([self.seed, 2004])
        carrier = trials["carrier_hz"].to_numpy(float)
        waves = []
        for col in ("f0_1", "f0_2"):
            f = trials[col].to_numpy(float)
            x = np.empty((len(trials), int(round(self.dur_s * FS))))
            pure = carrier == 0
            if pure.any():
                x[pure] = pure_tone(f[pure], FS, self.dur_s, level_dbfs=0.0)
            if (~pure).any():
                x[~pure] = transposed_tone(f[~pure], carrier[~pure], FS, self.dur_s, level_dbfs=0.0)
            waves.append(_in_ten(x, self.snr_db, rng))
        man = trials.assign(category=trials["answer"], level=trials["delta_pct"])[
            ["stimulus_id", "condition", "category", "level", "delta_pct", "f0_hz", "f0_1", "f0_2", "carrier_hz"]]
        return WaveformSet(self.name, man, np.stack(waves, 1).astype(np.float32), FS)

    def humans(self) -> pd.DataFrame:
        return self.conditions_table()[["condition", "human_f0dl_percent"]]

    def score(self, trials: pd.DataFrame, settings: ScoreSettings, *, chance: float | None = None) -> pd.DataFrame:
        from psychobench.consistency import hearing as H

        return H.pitch_table(trials, self.humans(), dataset=self.name, criterion=self.criterion,
                             n_boot=self.n_boot, seed=self.seed)

    def identity(self) -> dict:
        return {**super().identity(), "stimuli": self.stimuli().content_key(), "criterion": self.criterion,
                "n_boot": self.n_boot}


# --------------------------------------------------------------------------------------------
# speech detection


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



@dataclass
class SpeechDetection(Experiment):
    """"Is there speech?": per SNR, ``n_per_cell`` held-out-voice words in ``masker`` and as many
    masker-only stimuli; detection d' per SNR (log-linear corrected rates, Hautus 1995).  No human
    data: the result describes the observer."""

    modality = "audio"
    name: str = "speech_detection"
    comparison: str = "none"
    answers: object = ("speech", "noise")
    n_per_cell: int = 40
    snrs: tuple = (-15.0, -10.0, -5.0, 0.0, 5.0, 10.0)
    masker: str = "ssn"
    seed: int = 0

    def __post_init__(self):
        self.snrs = _numbers(self.name, "snrs", self.snrs, float, "SNRs in dB")
        self.headline = self.headline or ("dprime",)
        self.notes = {"dprime_correction": "log-linear (k + 0.5) / (n + 1) rates (Hautus 1995)", **self.notes}
        super().__post_init__()

    @cached
    def stimuli(self):
        from psychobench.stimuli.waveforms import WaveformSet

        waves, table = vad_stimuli(self.n_per_cell, self.snrs, self.masker, self.seed)
        return WaveformSet(self.name, table, waves, FS)

    def score(self, trials: pd.DataFrame, settings: ScoreSettings, *, chance: float | None = None) -> pd.DataFrame:
        from psychobench.consistency import hearing as H

        return H.detection_table(trials, dataset=self.name)

    def identity(self) -> dict:
        return {**super().identity(), "stimuli": self.stimuli().content_key()}


__all__ = ["WordsInNoise", "EnglishCCC", "PitchDiscrimination", "PitchShift", "MistunedHarmonics", "AlternatingPhase",
           "TransposedTones",
           "SpeechDetection", "words_in_noise_stimuli",
           "vad_stimuli"]

"""Listener data of the hearing experiments, loaded through the project's registry.

* Saddler & McDermott (2024), word recognition in 5 backgrounds x SNR (the Kell et al. 2018
  design), 44 listeners, proportion correct per listener and cell (data set ``audio/saddler2024``).
* English Consistent Confusion Corpus v1.2 (Marxer et al. 2016): 3207 word tokens in noise with
  the answers of 12-17 listeners each, plus the three maskers (``audio/english-ccc``).
* Bernstein & Oxenham (2005) F0 discrimination thresholds against lowest harmonic number and
  phase (J. Acoust. Soc. Am. 117, 3816, Fig. 1), as digitised in Saddler, Gonzalez & McDermott
  (2021, Nat. Commun. 12:7278; github.com/msaddler/pitchnet, assets_psychophysics); the numbers are
  carried in :data:`BERNSTEIN_OXENHAM_2005`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from psychobench.data.schema import TrialTableError, show


SADDLER_DATASET = "audio/saddler2024"
SADDLER_WORDS_FILE = "data/human/spkr_word_recognition/word_recognition_as_function_of_snr_and_noise_condition.csv"
CCC_DATASET = "audio/english-ccc"
CCC_CSV = "confusionCorpus_v1.2.csv"
CCC_MASKERS = ("SSN", "BMN3", "BAB4")
#: Saddler & McDermott (2024) background codes and what the listeners heard.
SADDLER_BACKGROUND_NAMES: dict[int, str] = {0: "auditory scenes", 1: "8-speaker babble",
                                            2: "instrumental music", 3: "stationary speech-shaped noise",
                                            4: "modulated noise"}


def fetch_file(dataset: str, rel: str) -> Path:
    from psychobench.data.registry import fetch_dataset
    return fetch_dataset(dataset, only=rel, progress=False) / rel


# --------------------------------------------------------------------------------------------
# Saddler & McDermott 2024: word recognition in noise

def load_saddler2024_words(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Per-listener proportion correct: columns ``subject, background, snr_db,
    prop_correct`` (snr_db = inf for clean; 44 listeners x 5 backgrounds x 6 levels).

    path: a local copy of the upstream CSV (default: fetched through the registry).
    """
    path = Path(path) if path is not None else fetch_file(SADDLER_DATASET, SADDLER_WORDS_FILE)
    df = read_listener_csv(path)
    need = {"background_condition", "correct_word", "fn_eval", "snr", "tag_expt"}
    missing = need - set(df.columns)
    if missing:
        raise TrialTableError(f"{path}: missing column(s) {sorted(missing)}")
    df = df[df["tag_expt"] == "kell_like"]           # the index keeps each row's place in the file
    bad = ~df["background_condition"].isin(list(SADDLER_BACKGROUND_NAMES))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise TrialTableError(f"{path}: line {int(df.index[i]) + 2}, column 'background_condition': unknown code "
                              f"{show(df['background_condition'].iloc[i])}")
    p = pd.to_numeric(df["correct_word"], errors="coerce").to_numpy(float)
    if not np.all((p >= 0) & (p <= 1)):
        i = int(np.flatnonzero(~((p >= 0) & (p <= 1)))[0])
        raise TrialTableError(f"{path}: line {int(df.index[i]) + 2}, column 'correct_word': "
                              f"{show(df['correct_word'].iloc[i])} is not a proportion")
    out = pd.DataFrame({
        "subject": "saddler2024-" + df["fn_eval"].astype(str).str.zfill(4),
        "background": df["background_condition"].to_numpy(int),
                "snr_db": df["snr"].to_numpy(float),
        "prop_correct": p,
    })
    return out.reset_index(drop=True)


def read_listener_csv(path: Path, **kw) -> pd.DataFrame:
    """A listener CSV, or an error naming the file (and the line, for a malformed row)."""
    try:
        return pd.read_csv(path, **kw)
    except FileNotFoundError:
        raise TrialTableError(f"{path}: no such file") from None
    except UnicodeDecodeError as e:
        raise TrialTableError(f"{path}: not UTF-8 text (byte {e.start}); save the file as UTF-8") from None
    except pd.errors.EmptyDataError:
        raise TrialTableError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as e:                  # "... in line 12, saw 9"
        raise TrialTableError(f"{path}: {str(e).strip().splitlines()[-1]}") from None


# --------------------------------------------------------------------------------------------
# English CCC

def load_ccc(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The CCC table with the listeners' answers as lists: adds ``answers`` (list of str, one per
    listener) to the upstream columns (ID, Length, Masker, Onset, SNR, Target, Confusion, ...)."""
    path = Path(path) if path is not None else fetch_file(CCC_DATASET, CCC_CSV)
    df = read_listener_csv(path, keep_default_na=False)
    need = ["ID", "Length", "Masker", "Onset", "SNR", "Target", "Raw", "N-Listeners", "Confusion"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise TrialTableError(f"{path}: missing column(s) {missing}")
    df["Target"] = df["Target"].str.strip().str.lower()
    df["Confusion"] = df["Confusion"].str.strip().str.lower()
    df["answers"] = df["Raw"].str.lower().str.split("|").map(lambda a: [w.strip() for w in a])
    n = df["answers"].map(len).to_numpy()
    bad = n != df["N-Listeners"].to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise TrialTableError(f"{path}: line {i + 2}, column 'Raw': {n[i]} answers but N-Listeners = "
                              f"{df['N-Listeners'].iloc[i]}")
    return df


def ccc_vocabulary(table: pd.DataFrame | None = None) -> tuple[str, ...]:
    """The English CCC response vocabulary: every word a listener typed for any token, and every
    target (6946 words in v1.2), sorted: the answer space of closed-set recognisers on CCC."""
    table = load_ccc() if table is None else table
    words = set(table["Target"].astype(str))
    for a in table["answers"]:
        words.update(a)
    words.discard("")
    return tuple(sorted(words))


def ccc_listener_trials(table: pd.DataFrame) -> pd.DataFrame:
    """The listeners' answers of CCC tokens (:func:`load_ccc` rows) as a trial table: one trial
    per (token, listener).  The corpus gives each token's answers without listener ids, so
    ``subject`` is the answer's position (``listener-01`` ...), not a person."""
    from psychobench.data.trials import as_trial_table, validate_trials

    sizes = table["answers"].map(len).to_numpy()
    tok = np.repeat(np.arange(len(table)), sizes)
    pos = np.concatenate([np.arange(n) for n in sizes]) if len(sizes) else np.zeros(0, int)
    resp = np.concatenate([np.asarray(a, dtype=object) for a in table["answers"]]) if len(sizes) else np.zeros(0, object)
    target = table["Target"].to_numpy(object)[tok]
    t = pd.DataFrame({
        "experiment": "english_ccc", "subject": [f"listener-{k + 1:02d}" for k in pos], "session": 1,
        "trial": np.arange(1, len(tok) + 1), "stimulus_id": ("ccc-" + table["ID"].astype(str)).to_numpy()[tok],
        "condition": (table["Masker"] + "_snr" + table["SNR"].round(2).astype(str)).to_numpy()[tok],
        "category": target, "response": resp, "correct": resp == target, "rt": np.nan})
    return validate_trials(as_trial_table(t), "english_ccc listeners")


def fetch_ccc_stimuli(ids: np.ndarray | list[int], progress: bool = True) -> Path:
    """Download the corpus stimuli ``confusionWavs/T_<ID>.wav`` of ``ids`` (upstream stereo
    files, left = speech) through the mirror-aware downloader into the data set's cache folder
    and return that folder.  Their checksums are not pinned: each file's sha256 is recorded on
    first download and enforced afterwards (``known_hashes.json``)."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm

    from psychobench.data import download
    from psychobench.data.registry import dataset_dir, get
    base = get(CCC_DATASET).base_url + "confusionWavs/"
    folder = dataset_dir(CCC_DATASET) / "confusionWavs"
    ids = [int(i) for i in ids]

    def one(i: int) -> Path:
        return download.fetch(base + f"T_{i}.wav", None, dest=folder / f"T_{i}.wav", progress=False)

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(tqdm(pool.map(one, ids), total=len(ids), desc="fetch CCC stimuli",
                      disable=not progress or len(ids) < 2, leave=False))
    except (download.DownloadError, OSError) as e:
        raise download.DownloadError(
            f"{e}\nCCC stimuli could not be fetched; pass a local copy of confusionWavs/ (or "
            "T_<ID>_speech.flac files) as stimuli.speech_dir") from e
    return folder


# --------------------------------------------------------------------------------------------
# Bernstein & Oxenham 2005 F0 discrimination thresholds

#: (spectrum, f0_hz, lowest_harmonic, phase, f0dl_percent, sd_percent). Bernstein & Oxenham (2005)
#: Fig. 1 as digitised by Saddler et al. (2021); lowest harmonic = 1560/F0 (low spectrum) or
#: 3280/F0 (high spectrum), as there.
BERNSTEIN_OXENHAM_2005: tuple[tuple[str, float, float, str, float, float], ...] = (
    ("low", 50, 31.2, "sine", 6.011, 2.2342), ("low", 75, 20.8, "sine", 4.6697, 0.90965),
    ("low", 100, 15.6, "sine", 4.519, 1.5508), ("low", 150, 10.4, "sine", 1.4067, 0.68285),
    ("low", 200, 7.8, "sine", 0.66728, 0.247), ("low", 300, 5.2, "sine", 0.40106, 0.13572),
    ("low", 50, 31.2, "random", 12.77, 4.7473), ("low", 75, 20.8, "random", 10.0439, 3.2346),
    ("low", 100, 15.6, "random", 8.8367, 2.477), ("low", 150, 10.4, "random", 1.6546, 0.85577),
    ("low", 200, 7.8, "random", 0.68939, 0.2126), ("low", 300, 5.2, "random", 0.515, 0.19908),
    ("high", 100, 32.8, "sine", 5.5257, 2.0004), ("high", 150, 21.8667, "sine", 5.7834, 1.4445),
    ("high", 200, 16.4, "sine", 4.0372, 1.1155), ("high", 300, 10.9333, "sine", 1.7769, 1.0503),
    ("high", 400, 8.2, "sine", 0.88999, 0.26636), ("high", 600, 5.4667, "sine", 0.585, 0.16206),
    ("high", 100, 32.8, "random", 13.4933, 3.4807), ("high", 150, 21.8667, "random", 12.0717, 2.3967),
    ("high", 200, 16.4, "random", 11.5717, 2.3512), ("high", 300, 10.9333, "random", 6.1242, 3.2997),
    ("high", 400, 8.2, "random", 0.94167, 0.37501), ("high", 600, 5.4667, "random", 0.53161, 0.24618),
)


def bernstein_oxenham_2005() -> pd.DataFrame:
    """F0DL table: ``spectrum, f0_hz, lowest_harmonic, phase, f0dl_percent, sd_percent``."""
    return pd.DataFrame(BERNSTEIN_OXENHAM_2005,
                        columns=["spectrum", "f0_hz", "lowest_harmonic", "phase", "f0dl_percent", "sd_percent"])


# --------------------------------------------------------------------------------------------
# Moore & Moore 2003 frequency-shifted complexes

#: (f0_hz, spectral envelope centred on harmonic, component shift % of F0, pitch shift % of F0).
#: Moore & Moore (2003, JASA 113:977), the listeners' mean pitch matches, as digitised by
#: Saddler, Gonzalez & McDermott (2021, Nat Commun 12:7278; github.com/msaddler/pitchnet): the
#: pitch of a complex whose every component is shifted up by the same number of Hz moves with
#: the shift when the components are resolved (envelope centred on harmonic 5), less for harmonic
#: 11, and hardly at all for harmonic 16 (unresolved: the envelope repetition rate stays at F0).
MOORE_MOORE_2003: tuple[tuple[float, int, float, float], ...] = (
    (400, 5, 0.0, 0.8029), (400, 5, 8.0, 3.3982), (400, 5, 16.0, 5.9931), (400, 5, 24.0, 6.5373),
    (400, 11, 0.0, 0.1196), (400, 11, 8.0, 0.6211), (400, 11, 16.0, 1.3791), (400, 11, 24.0, 1.9231),
    (400, 16, 0.0, -0.73), (400, 16, 8.0, -1.17), (400, 16, 16.0, -0.244), (400, 16, 24.0, -0.00058),
    (200, 5, 0.0, 0.6951), (200, 5, 8.0, 3.4079), (200, 5, 16.0, 5.6098), (200, 5, 24.0, 6.9581),
    (200, 11, 0.0, 0.0566), (200, 11, 8.0, 0.8515), (200, 11, 16.0, 1.8173), (200, 11, 24.0, 2.7402),
    (200, 16, 0.0, -0.029), (200, 16, 8.0, 0.1271), (200, 16, 16.0, 0.6242), (200, 16, 24.0, 0.2688),
    (100, 5, 0.0, 1.3547), (100, 5, 8.0, 3.5363), (100, 5, 16.0, 5.161), (100, 5, 24.0, 6.6987),
    (100, 11, 0.0, 0.1967), (100, 11, 8.0, 0.9196), (100, 11, 16.0, 2.0293), (100, 11, 24.0, 2.7524),
    (100, 16, 0.0, 1.226), (100, 16, 8.0, 1.0914), (100, 16, 16.0, 0.914), (100, 16, 24.0, 1.3366),
)


def moore_moore_2003() -> pd.DataFrame:
    """Pitch shifts of frequency-shifted complexes: ``f0_hz, centre_harmonic, shift_percent,
    pitch_shift_percent``."""
    return pd.DataFrame(MOORE_MOORE_2003, columns=["f0_hz", "centre_harmonic", "shift_percent",
                                                   "pitch_shift_percent"])


# --------------------------------------------------------------------------------------------
# Moore, Glasberg & Peters 1985 mistuned harmonics

MOORE1985_DATASET = "audio/saddler2021-pitch"
MOORE1985_FILE = "assets_psychophysics/human_data_moore_etal_1985.json"


def moore_etal_1985(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Pitch shifts of a 12-harmonic complex when one harmonic is mistuned (Moore, Glasberg &
    Peters 1985, JASA 77:1853), the listeners' mean matches as digitised by Saddler, Gonzalez &
    McDermott (2021): columns ``f0_hz, harmonic, mistuning_percent, pitch_shift_percent,
    sem_percent`` (3 F0s x harmonics 1-6 x 7 mistunings, 0-8 %; the shift at 0 % is 0 by
    construction: matches are relative to the tuned complex).  The file's harmonics 7-12, zero
    at every mistuning, are placeholders (not measured) and are left out.

    path: a local copy of the upstream JSON (default: fetched through the registry, data set
    ``audio/saddler2021-pitch``)."""
    import json

    path = Path(path) if path is not None else fetch_file(MOORE1985_DATASET, MOORE1985_FILE)
    try:
        d = json.loads(Path(path).read_text())
        by_f0 = d["f0_ref"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise TrialTableError(f"{path}: not the Moore et al. 1985 JSON (f0_ref -> mistuned_harm -> ...): {e}") from e
    rows = []
    for f0, v in by_f0.items():
        for h, x in v.get("mistuned_harm", {}).items():
            where = f"{path}: f0_ref {f0}, mistuned_harm {h}"
            try:
                m, s, e = (np.asarray(x[k], float) for k in ("mistuned_pct", "f0_pred_pct_mean",
                                                             "f0_pred_pct_mean_err"))
            except (KeyError, TypeError, ValueError) as err:
                raise TrialTableError(f"{where}: {err}") from err
            if not (len(m) == len(s) == len(e)) or not np.isfinite(np.r_[m, s, e]).all():
                raise TrialTableError(f"{where}: mistuned_pct, f0_pred_pct_mean and f0_pred_pct_mean_err must "
                                      "be finite lists of one length")
            rows += [(float(f0), int(h), mi, si, ei) for mi, si, ei in zip(m, s, e)]
    if not rows:
        raise TrialTableError(f"{path}: no conditions")
    out = pd.DataFrame(rows, columns=["f0_hz", "harmonic", "mistuning_percent", "pitch_shift_percent",
                                      "sem_percent"])
    # the file fills harmonics 7-12 with zeros at every mistuning: Moore et al. mistuned
    # harmonics 1-6 only, so a harmonic whose shifts are all zero is a placeholder
    measured = out.groupby(["f0_hz", "harmonic"])["pitch_shift_percent"].transform(lambda v: bool((v != 0).any()))
    out = out[measured.astype(bool)]
    return out.sort_values(["f0_hz", "harmonic", "mistuning_percent"]).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Shackleton & Carlyon 1994 alternating phase

#: Lower filter cut-off (Hz) -> the pass band of Shackleton & Carlyon (1994, JASA 95:3529):
#: LOW 125-625 Hz, MID 1375-1875 Hz, HIGH 3900-5400 Hz.
SHACKLETON_CARLYON_BANDS: dict[float, tuple[float, float]] = {125.0: (125.0, 625.0), 1375.0: (1375.0, 1875.0),
                                                               3900.0: (3900.0, 5400.0)}
#: (lower cut-off Hz, F0 bin centre Hz, % matches at 2 F0 minus % at F0) for alternating-phase
#: complexes: the mean of the 4 listeners (TS, JS, SD, RB) of Shackleton & Carlyon (1994), as
#: digitised by Saddler, Gonzalez & McDermott (2021; github.com/msaddler/pitchnet): matched at F0
#: when the harmonics are resolved (LOW band; MID at high F0), at the envelope rate 2 F0 when they
#: are not (HIGH band; MID at low F0).
SHACKLETON_CARLYON_1994: tuple[tuple[float, float, float], ...] = (
    (125, 62.5, -64.63), (125, 74.3, -84.12), (125, 88.4, -93.58), (125, 105.1, -98.94), (125, 125.0, -98.30),
    (125, 148.7, -96.78), (125, 176.8, -98.77), (125, 210.2, -97.24), (125, 250.0, -91.62),
    (1375, 62.5, 98.24), (1375, 74.3, 96.59), (1375, 88.4, 97.05), (1375, 105.1, 58.71), (1375, 125.0, 16.16),
    (1375, 148.7, -49.55), (1375, 176.8, -82.83), (1375, 210.2, -92.39), (1375, 250.0, -98.72),
    (3900, 62.5, 98.94), (3900, 74.3, 97.97), (3900, 88.4, 97.82), (3900, 105.1, 98.23), (3900, 125.0, 98.91),
    (3900, 148.7, 98.00), (3900, 176.8, 95.19), (3900, 210.2, 95.71), (3900, 250.0, 92.73),
)


def shackleton_carlyon_1994() -> pd.DataFrame:
    """Alternating-phase pitch matches: ``filter_lower_hz, f0_hz, pct_2f0_minus_f0``."""
    return pd.DataFrame(SHACKLETON_CARLYON_1994, columns=["filter_lower_hz", "f0_hz", "pct_2f0_minus_f0"]
                        ).astype(float)


# --------------------------------------------------------------------------------------------
# Oxenham, Bernstein & Penagos 2004 transposed tones

#: (carrier Hz, 0 = pure tone; F0 / modulation rate Hz; F0 difference limen %): Oxenham,
#: Bernstein & Penagos (2004, PNAS 101:1421, Fig. 2B), mean listeners, as digitised by Saddler,
#: Gonzalez & McDermott (2021; github.com/msaddler/pitchnet).  Pure tones at the rate give the
#: reference; transposed tones carry the same temporal envelope to a high-frequency place and
#: are discriminated far worse.
OXENHAM_2004: tuple[tuple[float, float, float], ...] = (
    (0, 55.6, 6.0), (0, 80.62, 4.11), (0, 125.44, 2.36), (0, 200.77, 1.52), (0, 320.0, 1.37),
    (4000, 55.6, 13.35), (4000, 80.62, 11.53), (4000, 125.44, 9.21), (4000, 200.77, 5.32), (4000, 320.0, 2.43),
    (6350, 55.6, 18.6), (6350, 80.62, 13.14), (6350, 125.44, 13.74), (6350, 200.77, 7.53), (6350, 320.0, 4.92),
    (10080, 55.6, 20.55), (10080, 80.62, 18.58), (10080, 125.44, 13.53), (10080, 200.77, 10.73),
    (10080, 320.0, 8.77),
)


def oxenham_etal_2004() -> pd.DataFrame:
    """Transposed-tone F0 difference limens: ``carrier_hz`` (0 = pure tone), ``f0_hz``,
    ``f0dl_percent``."""
    return pd.DataFrame(OXENHAM_2004, columns=["carrier_hz", "f0_hz", "f0dl_percent"]).astype(float)

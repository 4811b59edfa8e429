"""Comparisons with people: CCC rebuild and item rates, ceilings, psychometric fits, humans' loaders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psychobench.consistency import hearing as compare
from psychobench.stimuli.audio.signal import snr_db

SHARED = Path(__file__).resolve().parents[2] / "shared/data"
MIRROR = SHARED / "mirror"
CCC_SPEECH = SHARED / "derived/english_ccc_speech"
needs_mirror = pytest.mark.skipif(not MIRROR.is_dir(), reason="no data mirror")


@pytest.fixture
def mirror_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PSYCHOBENCH_MIRROR", str(MIRROR))
    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))


def test_srt_fits_recover_known_parameters():
    # worked example E6 counts (alpha=-4, beta=0.8, lambda=0.02, gamma=0.5), plus a curve with
    # guess 0 and a large lapse (upper asymptote 0.8, as words in noise): one batched call each
    x = np.array([-12, -9, -6, -3, 0, 3, 6.0])
    k1 = np.array([50, 51, 58, 83, 96, 98, 98.0])
    p2 = 0.8 / (1 + np.exp(-0.5 * (x + 2)))
    k = np.vstack([k1, np.round(p2 * 4000)])
    n = np.vstack([np.full(7, 100.0), np.full(7, 4000.0)])
    a, b, lam, srt = compare.srt_fits(x, k, n, guess=np.array([0.5, 0.0]), criterion=0.75, lapse_max=0.3)
    assert a[0] == pytest.approx(-3.98, abs=0.1) and b[0] == pytest.approx(0.79, abs=0.08)
    assert srt[0] == pytest.approx(-3.88, abs=0.1)
    assert lam[1] == pytest.approx(0.2, abs=0.01) and b[1] == pytest.approx(0.5, abs=0.03)
    # psi = 0.75 for the second curve: 0.8 F = 0.75 -> F = 15/16 -> x = -2 + ln(15) / 0.5
    assert srt[1] == pytest.approx(-2 + np.log(15) / 0.5, abs=0.1)
    _, _, _, none = compare.srt_fits(x, k, n, guess=np.array([0.5, 0.0]), criterion=0.99, lapse_max=0.3)
    assert np.isnan(none).all()                       # criterion above both upper asymptotes


def test_split_half_reliability_known_cases():
    from psychobench.consistency.ceiling import estimate_from_halves
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 1, 25)
    for S, lo, hi in ((truth + rng.normal(0, 0.05, (40, 25)), 0.98, 1.0),   # reliable listeners
                      (rng.normal(0, 1, (40, 25)), -1.0, 0.3)):             # no shared signal
        a, b, na, nb = compare.split_halves(S, 50)
        assert a.shape == b.shape == (50, 25) and na + nb == 40
        np.testing.assert_allclose((a * na + b * nb) / 40, np.broadcast_to(S.mean(0), a.shape))
        rel = estimate_from_halves(S.mean(0), S.mean(0), a, b, n_a=na, n_b=nb)["reliability"]
        assert lo < rel <= hi


def test_words_in_noise_comparison_identical_model_scores_high():
    rng = np.random.default_rng(1)
    bgs, snrs = [0, 1], [-9.0, -6.0, -3.0, 0.0, 3.0]
    p = {(b, s): 1 / (1 + np.exp(-(s + 3 * b) / 2)) for b in bgs for s in snrs}
    humans = pd.DataFrame([{"subject": f"s{i}", "background": b, "background_name": str(b), "snr_db": s,
                            "prop_correct": np.clip(p[b, s] + rng.normal(0, 0.03), 0, 1)}
                           for i in range(20) for b in bgs for s in snrs])
    n = 400                                           # model trials drawn from the same function
    model = pd.DataFrame({"background": np.repeat(bgs, len(snrs) * n), "snr_db": np.tile(np.repeat(snrs, n), 2)})
    model["correct"] = rng.random(len(model)) < [p[b, s] for b, s in zip(model["background"], model["snr_db"])]
    summary, metrics = compare.words_in_noise_comparison(model, humans, gamma_model=0.0, n_splits=20, n_boot=100)
    assert summary["r2_cell_means"] > 0.95 and summary["ceiling"] > 0.95 and summary["n_cells"] == 10
    # SRT at 50%: the functions cross 50% at s = -3 b; intervals contain the estimates
    s0, s1 = summary["srt"]["0"], summary["srt"]["1"]
    assert s0["human_srt_db"] == pytest.approx(0.0, abs=0.5) and s1["model_srt_db"] == pytest.approx(-3.0, abs=0.5)
    for s in (s0, s1):
        assert s["model_ci"][0] <= s["model_srt_db"] <= s["model_ci"][1]
        assert s["human_ci"][0] <= s["human_srt_db"] <= s["human_ci"][1]
        assert s["delta_ci"][0] < 0 < s["delta_ci"][1]        # same function: no difference
        assert abs(s["model_z_vs_listeners"]) < 3
    assert set(metrics["metric"]) == {"psychometric_fit", "cell_accuracy"}
    shuffled = model.assign(correct=rng.random(len(model)) < 0.5)
    s2, _ = compare.words_in_noise_comparison(shuffled, humans, gamma_model=0.0, n_splits=20, n_boot=20)
    assert s2["r2_cell_means"] < 0.5
    flat = model.assign(correct=False)                # constant accuracy: r undefined, said so
    s3, _ = compare.words_in_noise_comparison(flat, humans, gamma_model=0.0, n_splits=5, n_boot=5)
    assert s3["r2_cell_means"] is None and "undefined" in s3["r_undefined"]


def test_f0dl_thresholds_recover_known_threshold():
    # P(correct) = 0.5 + 0.5 / (1 + exp(-4 (log10 d - log10 2))): 70.7% at log10 d = log10 2 + ln(0.414/0.586)/4
    rng = np.random.default_rng(0)
    d = np.repeat(2.0 ** np.arange(-3, 6), 400)
    cond = np.r_[np.full(len(d), "a"), np.full(len(d), "b")]
    dd = np.r_[d, d]
    p = np.where(cond == "a", 0.5 + 0.5 / (1 + np.exp(-4 * (np.log10(dd) - np.log10(2)))), 1.0)
    t = compare.f0dl_thresholds(pd.DataFrame({"condition": cond, "delta_pct": dd,
                                              "correct": rng.random(len(dd)) < p}), n_boot=50)
    a = t.set_index("condition").loc["a"]
    q = (0.707 - 0.5) / 0.5
    want = 10 ** (np.log10(2) + np.log(q / (1 - q)) / 4)
    assert a["status"] == "ok" and a["threshold_percent"] == pytest.approx(want, rel=0.1)
    assert a["ci_low"] < want < a["ci_high"] and a["n_trials"] == 9 * 400
    assert t.set_index("condition").loc["b", "status"] == "below_range"     # perfect everywhere


def test_detection_dprime():
    # 100 speech and 100 noise trials per SNR; hits 84/100 and false alarms 16/100 -> d' about 2
    snr = np.repeat([-6.0, 0.0], 200)
    cat = np.tile(np.repeat(["speech", "noise"], 100), 2)
    yes = np.tile(np.r_[np.arange(100) < 84, np.arange(100) < 16], 2)
    yes[:100] = np.arange(100) < 50                          # -6 dB: hits at 50%
    t = pd.DataFrame({"snr_db": snr, "category": cat, "response": np.where(yes, "speech", "noise")})
    out = compare.detection_dprime(t).set_index("snr_db")
    assert out.loc[0.0, "hit_rate"] == 0.84 and out.loc[0.0, "fa_rate"] == 0.16
    from scipy.stats import norm
    assert out.loc[0.0, "dprime"] == pytest.approx(norm.ppf(84.5 / 101) - norm.ppf(16.5 / 101))
    assert out.loc[-6.0, "dprime"] < out.loc[0.0, "dprime"]
    with pytest.raises(ValueError, match="both speech and noise"):
        compare.detection_dprime(t[t["category"] == "speech"])


def test_ccc_item_rates_and_leave_one_out():
    answers = [["cat", "cat", "hat", "cat"], ["dog", "bog", "bog", "fog"]]
    targets = np.array(["hat", "dog"])
    conf = np.array(["cat", "bog"])
    r = compare.ccc_item_rates(answers, targets, conf, np.array(["cat", "dog"]))
    assert r["correct"].tolist() == [False, True] and r["in_answers"].tolist() == [True, True]
    assert r["dominant"].tolist() == [True, False]
    # P(cat) = (3 + .5) / (4 + .5 * 3); P(dog) = (1 + .5) / (4 + .5 * 4)
    np.testing.assert_allclose(r["logprob"], np.log([3.5 / 5.5, 1.5 / 6.0]))
    lo = compare.ccc_leave_one_listener_out(answers, targets)
    # token 1: held-out cat x3 (others' dominant error: cat) -> correct 0, in 3/4, dominant 3/4
    # token 2: dog (others: bog,bog,fog; dominant bog) ; bog x2 -> in, dominant; fog -> not in
    assert lo["correct"] == pytest.approx((1 / 4 + 1 / 4) / 2)
    assert lo["in_answers"] == pytest.approx((3 / 4 + 2 / 4) / 2)
    assert lo["dominant"] == pytest.approx((3 / 4 + 2 / 4) / 2)


def _lolo_reference(answers, targets, alpha=0.5):
    """Leave-one-listener-out by its definition, one listener at a time."""
    sums = np.zeros(4)
    for a, t in zip(answers, targets):
        a = np.asarray(a, dtype=object)
        acc = np.zeros(4)
        for j in range(len(a)):
            rest = np.delete(a, j)
            wrong = rest[rest != t]
            if len(wrong):
                vals, counts = np.unique(wrong, return_counts=True)
                dom = vals[np.argmax(counts)]                      # first of the ties: alphabetical
            else:
                dom = None
            k = len(np.unique(rest))
            acc += (a[j] == t, a[j] in set(rest), a[j] == dom,
                    np.log((np.sum(rest == a[j]) + alpha) / (len(rest) + alpha * (k + 1))))
        sums += acc / len(a)
    return sums / len(answers)


def test_ccc_leave_one_out_vectorised_equals_definition():
    rng = np.random.default_rng(5)
    vocab = np.array(["bad", "bat", "cat", "dad", "hat", "mat", "pat"])
    answers, targets = [], []
    for i in range(300):                                       # many ties, all-correct, all-wrong
        n = int(rng.integers(2, 18))
        pool = vocab[: int(rng.integers(1, len(vocab) + 1))]
        answers.append(list(rng.choice(pool, n)))
        targets.append(str(rng.choice(vocab)))
    got = compare.ccc_leave_one_listener_out(answers, np.array(targets))
    want = _lolo_reference(answers, targets)
    np.testing.assert_allclose([got["correct"], got["in_answers"], got["dominant"], got["logprob"]], want,
                               rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="token 1"):
        compare.ccc_leave_one_listener_out([["a", "b"], ["a"]], np.array(["a", "a"]))


def test_ccc_table_intervals_over_tokens():
    """The four rates' intervals come from resampling tokens: they hold the point estimate,
    their width is that of a mean of per-token rates (about 2 x 1.96 SD / sqrt(n)), the
    ceiling's interval bounds the per-token leave-one-listener-out mean, and an empty answer
    counts as wrong."""
    rng = np.random.default_rng(11)
    vocab = np.array(["bad", "bat", "cat", "dad", "hat", "mat"])
    n = 400
    targets = rng.choice(vocab, n)
    answers = [list(np.where(rng.random(12) < 0.6, t, rng.choice(vocab, 12))) for t in targets]
    conf = np.array([compare._mode(np.array([a for a in ans if a != t] or ["-"])) for ans, t in zip(answers, targets)])
    response = np.where(rng.random(n) < 0.5, targets, "").astype(object)        # half right, half silent
    trials = pd.DataFrame({"subject": "m", "category": targets, "ccc_confusion": conf, "response": response})
    t = compare.ccc_table(trials, answers, dataset="ccc", n_boot=2000).set_index("metric")
    c = t.loc["correct"]
    assert c["value"] == pytest.approx((response == targets).mean())
    assert c["value_ci_low"] < c["value"] < c["value_ci_high"]
    half = 1.96 * np.sqrt(c["value"] * (1 - c["value"]) / n)
    assert c["value_ci_high"] - c["value_ci_low"] == pytest.approx(2 * half, rel=0.15)
    per_token = compare.ccc_leave_one_listener_out(answers, targets, per_token=True)
    assert c["ceiling"] == pytest.approx(per_token["correct"].mean())
    assert c["ceiling_ci_low"] < c["ceiling"] < c["ceiling_ci_high"]
    assert c["normalized_ci_low"] < c["normalized"] < c["normalized_ci_high"]
    assert t.loc["in_answers", "value"] == pytest.approx(c["value"])      # silent answers are never in
    lp = t.loc["logprob"]
    assert np.isnan(lp["normalized"]) and lp["value_ci_low"] < lp["value"] < lp["value_ci_high"]


@needs_mirror
def test_saddler_loader(mirror_env):
    from psychobench.data.listeners import load_saddler2024_words
    h = load_saddler2024_words()
    assert h["subject"].nunique() == 44 and len(h) == 44 * 30
    clean = h[~np.isfinite(h["snr_db"])].groupby("subject")["prop_correct"].nunique()
    assert (clean == 1).all()                      # the clean column is shared by all backgrounds


@needs_mirror
@pytest.mark.skipif(not CCC_SPEECH.is_dir(), reason="no CCC speech folder")
def test_ccc_rebuilt_at_recorded_snr_and_other_snr(mirror_env):
    from psychobench.data.listeners import load_ccc
    from psychobench.stimuli.audio.ccc import ccc_mix, load_ccc_masker, load_ccc_speech
    t = load_ccc()
    assert len(t) == 3207
    sub = t.groupby("Masker").head(2).reset_index(drop=True)
    speech = load_ccc_speech(sub["ID"].to_numpy(), CCC_SPEECH)
    mk = {m: load_ccc_masker(m) for m in sub["Masker"].unique()}
    mixes, real = ccc_mix(speech, sub, mk)
    np.testing.assert_allclose(real, sub["SNR"], atol=1e-9)
    # recompute from the mixture: masker = mix - speech, SNR over the target, before the ramps
    for s, m, L, snr in zip(speech, mixes, sub["Length"], sub["SNR"]):
        assert snr_db(s, m - s, slice(3200, 3200 + int(L))) == pytest.approx(snr, abs=0.01)
    _, real0 = ccc_mix(speech, sub, mk, snr_db=0.0)
    np.testing.assert_allclose(real0, 0.0, atol=1e-9)
    with pytest.raises(FileNotFoundError, match="T_1_speech.flac"):
        load_ccc_speech([1], CCC_SPEECH)


@needs_mirror
@pytest.mark.skipif(not CCC_SPEECH.is_dir(), reason="no CCC speech folder")
def test_ccc_stimuli_fetched_over_loopback_http(tmp_path, monkeypatch):
    """The corpus stimuli are downloaded through the mirror-aware downloader: here a loopback
    HTTP mirror holding three upstream-layout stereo files (left = the speech channel)."""
    import functools
    import http.server
    import json
    import threading

    import soundfile as sf

    from psychobench.data.listeners import fetch_ccc_stimuli
    from psychobench.stimuli.audio.ccc import load_ccc_speech
    from psychobench.data import download
    from psychobench.data.registry import get

    ids = sorted(int(p.name[2:-12]) for p in CCC_SPEECH.glob("T_*_speech.flac"))[:3]
    url = get("audio/english-ccc").base_url + "confusionWavs/"
    parts = url.split("://", 1)[1]
    served = tmp_path / "served" / parts
    served.mkdir(parents=True)
    for i in ids:
        s, fs = sf.read(CCC_SPEECH / f"T_{i}_speech.flac", dtype="int16")
        sf.write(served / f"T_{i}.wav", np.stack([s, s // 3], 1), fs, subtype="PCM_16")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "served"))
    handler.log_message = lambda *a, **k: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("PSYCHOBENCH_MIRROR", f"http://127.0.0.1:{srv.server_address[1]}")
        monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))
        folder = fetch_ccc_stimuli(ids, progress=False)
        got = load_ccc_speech(ids, folder)                       # left channel of the stereo files
        want = load_ccc_speech(ids, CCC_SPEECH)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
        table = json.loads((tmp_path / "cache" / "known_hashes.json").read_text())
        assert {url + f"T_{i}.wav" for i in ids} <= set(table)  # hashes recorded on first use
        # a changed file upstream is refused (hash enforced) and the cached copy is kept
        (folder / f"T_{ids[0]}.wav").unlink()
        sf.write(served / f"T_{ids[0]}.wav", np.zeros((100, 2), np.int16), 16000, subtype="PCM_16")
        with pytest.raises(download.DownloadError, match=f"T_{ids[0]}.wav"):
            fetch_ccc_stimuli(ids[:1], progress=False)
        assert not (folder / f"T_{ids[0]}.wav").exists()
        with pytest.raises(download.DownloadError, match="stimuli.speech_dir"):
            fetch_ccc_stimuli([1], progress=False)               # not on the mirror
    finally:
        srv.shutdown()
        srv.server_close()


def test_per_snr_centring_known_values():
    snrs = np.array([-3.0, -3.0, 0.0, 0.0])
    x = np.array([0.2, 0.4, 0.6, 1.0])
    np.testing.assert_allclose(compare.per_snr_centred(x, snrs), [-0.1, 0.1, -0.2, 0.2])
    np.testing.assert_allclose(compare.per_snr_means(x, snrs), [0.3, 0.3, 0.8, 0.8])


def test_background_pattern_and_snr_only_baseline():
    rng = np.random.default_rng(3)
    snrs = np.repeat([-9.0, -6.0, -3.0, 0.0, 3.0], 4)                    # 5 SNRs x 4 backgrounds
    bg_effect = np.tile([-0.1, 0.0, 0.05, 0.05], 5)
    truth = np.clip(1 / (1 + np.exp(-(snrs + 3) / 3)) + bg_effect, 0.01, 0.99)
    S = np.clip(truth + rng.normal(0, 0.02, (44, truth.size)), 0, 1)      # 44 listeners
    n = np.full(truth.size, 2000.0)
    same = compare.cell_pattern_stats(rng.binomial(2000, truth).astype(float), n, S, snrs, n_boot=300)
    # the listeners' cell means are mostly SNR: the baseline is high, and a model with the same
    # background effects matches the pattern too
    assert same["r2_snr_only"] > 0.8 and same["r_background_pattern"] > 0.9
    for k in ("r2_cell_means", "r2_snr_only", "r_background_pattern"):
        lo, hi = same[f"{k}_ci"]
        assert lo <= same[k] <= hi
    # a model that knows SNR only, with the backgrounds' order reversed, fits the cell means as
    # well as SNR alone does, while its background pattern is anti-correlated
    flipped = np.clip(1 / (1 + np.exp(-(snrs + 3) / 3)) - bg_effect, 0.01, 0.99)
    rev = compare.cell_pattern_stats(rng.binomial(2000, flipped).astype(float), n, S, snrs, n_boot=300)
    assert rev["r2_cell_means"] > 0.7 and rev["r_background_pattern"] < -0.8
    assert rev["r_background_pattern_ci"][1] < 0


@needs_mirror
def test_saddler_models_reference(mirror_env):
    from psychobench.data.listeners import load_saddler2024_words
    ref = compare.saddler_model_cells()
    assert set(ref["model"]) == {"saddler2024-ihc50hz", "saddler2024-ihc320hz", "saddler2024-ihc1000hz",
                                 "saddler2024-ihc3000hz"}
    assert set(ref["background"]) == {0, 1, 2, 3}
    rows = pd.DataFrame(compare.saddler_reference_rows(load_saddler2024_words(), "words_in_noise"))
    r2 = rows[(rows["metric"] == "r2_cell_means")].set_index("observer")["value"]
    assert r2["saddler2024-ihc3000hz"] > 0.9            # their networks on the real stimuli
    assert (rows["n"] == 20).all()                     # 4 backgrounds x 5 SNRs


@needs_mirror
def test_ccc_answer_space_and_known_targets(mirror_env):
    """CCC's closed answer space is every word listeners typed plus the targets; with
    ``targets="word_task"`` only tokens whose target the word network knows are kept, and its
    answers are those words; a bad setting names the field."""
    from psychobench.data.listeners import ccc_vocabulary, load_ccc
    from psychobench.errors import SettingError
    from psychobench.experiments.hearing import EnglishCCC
    from psychobench.stimuli.audio.words import VOCABULARY

    table = load_ccc()
    vocab = ccc_vocabulary(table)
    assert set(table["Target"]) <= set(vocab) and all(w in vocab for a in table["answers"] for w in a)
    assert list(vocab) == sorted(set(vocab)) and "" not in vocab
    e = EnglishCCC(n_tokens=None)
    assert e.answers.labels == vocab
    known = EnglishCCC(n_tokens=None, targets="word_task")
    toks = known.tokens()
    assert len(toks) > 0 and set(toks["Target"]) <= set(VOCABULARY)
    assert len(toks) == int(table["Target"].isin(VOCABULARY).sum())       # all three maskers
    assert known.answers.labels == tuple(VOCABULARY)
    with pytest.raises(SettingError, match="stimuli.targets"):
        EnglishCCC(targets="wordnet")
    with pytest.raises(SettingError, match="no token"):
        EnglishCCC(targets=["zzzz"]).tokens()


@needs_mirror
@pytest.mark.skipif(not CCC_SPEECH.is_dir(), reason="no CCC speech folder")
def test_speech_maskers_from_real_ccc_speech(mirror_env):
    """stimuli.speech=ccc: speech-shaped noise follows the long-term spectrum of the CCC's real
    speech, babble is made of its talkers' words, music and scenes stay the synthetic stand-ins,
    and the notes say which background is which."""
    from psychobench.errors import SettingError
    from psychobench.experiments.hearing import WordsInNoise
    from psychobench.stimuli.audio.maskers import (build_ccc_masker_bank, build_masker_bank, ccc_streams,
                                                   long_term_spectrum)

    bank = build_ccc_masker_bank(CCC_SPEECH, seconds=4.0, seed=3)
    synth = build_masker_bank(seconds=4.0, seed=3)
    assert set(bank.waves) == {"ssn", "modulated", "babble8", "babble2", "music", "scene"}
    np.testing.assert_array_equal(bank.waves["music"], synth.waves["music"].astype(np.float32))
    streams = ccc_streams(CCC_SPEECH, seconds=4.0, seed=3)
    assert len(streams) == 8
    ref = np.log(long_term_spectrum(streams)[5:400])
    real = np.corrcoef(np.log(long_term_spectrum([bank.waves["ssn"]])[5:400]), ref)[0, 1]
    other = np.corrcoef(np.log(long_term_spectrum([synth.waves["ssn"]])[5:400]), ref)[0, 1]
    assert real > 0.95 and real > other
    assert not np.allclose(bank.waves["babble8"], synth.waves["babble8"][: len(bank.waves["babble8"])])
    e = WordsInNoise(speech="ccc", speech_dir=str(CCC_SPEECH))
    assert e.notes["background_source"]["babble8"].startswith("real speech")
    assert e.notes["background_source"]["music"] == "stand-in"
    assert WordsInNoise().notes["background_source"]["ssn"] == "stand-in"
    with pytest.raises(SettingError, match="speech_dir"):
        WordsInNoise(speech="ccc")


def test_pitch_headline_draws_bound_the_count_and_r():
    # 6 conditions with known thresholds 0.5..16 % (log-linear in the "human" values, so r = 1
    # in the limit) and 2 at chance: the count is 6 and r is near 1, and both intervals hold them
    rng = np.random.default_rng(3)
    deltas = 2.0 ** np.arange(-3, 6)
    thr = {f"c{i}": 0.5 * 2.0 ** i for i in range(6)}
    rows = []
    for c, t0 in {**thr, "flat1": None, "flat2": None}.items():
        d = np.repeat(deltas, 40)
        p = 0.5 if t0 is None else 0.5 + 0.5 / (1 + np.exp(-3 * (np.log10(d) - np.log10(t0))))
        rows.append(pd.DataFrame({"condition": c, "delta_pct": d, "correct": rng.random(len(d)) < p}))
    trials = pd.concat(rows, ignore_index=True)
    conds = pd.DataFrame({"condition": list(thr) + ["flat1", "flat2"],
                          "human_f0dl_percent": [3 * v for v in thr.values()] + [1.0, 1.0]})
    th = compare.f0dl_thresholds(trials, n_boot=20).set_index("condition")
    assert (th.loc[list(thr), "status"] == "ok").all() and (th.loc[["flat1", "flat2"], "status"] == "at_chance").all()
    draws = compare.pitch_headline_draws(trials, conds, n_boot=100, seed=0)
    n_draws, r_draws = draws["n_thresholds_reached"], draws["r_log_thresholds"]
    assert n_draws.shape == r_draws.shape == (100,)
    assert np.median(n_draws) == 6 and n_draws.max() <= 8
    r_hat = compare.pitch_comparison(conds.merge(th.reset_index(), on="condition"))["r_log_thresholds"]
    assert r_hat > 0.9 and np.nanmedian(r_draws) > 0.8
    lo, hi = compare.draws_interval(n_draws, 6)
    assert lo <= 6 <= hi
    lo, hi = compare.draws_interval(r_draws, r_hat)
    assert 0.6 < lo < r_hat < hi <= 1.0
    # too few defined draws: no interval rather than one conditioned on the lucky draws
    assert compare.draws_interval(np.r_[np.full(50, np.nan), np.ones(50)], 1.0) == (None, None)


def test_pitch_shift_table_recovers_planted_shifts_and_de_boer_baseline():
    from psychobench.consistency.table import HUMANS
    from psychobench.experiments.hearing import PitchShift

    exp = PitchShift(n_items=8, n_boot=200)
    conds = exp.conditions_table()
    assert len(conds) == 36 and conds["human_pitch_shift_percent"].notna().all()
    # an observer whose pitch follows de Boer's rule exactly, with 0.2% estimate noise per item
    rng = np.random.default_rng(0)
    t = conds.loc[conds.index.repeat(8)].reset_index(drop=True)
    t["f0_true"] = t["f0_hz"] * rng.uniform(0.97, 1.03, len(t))
    planted = t["shift_percent"] / t["centre_harmonic"]
    t["f0_2_est"] = t["f0_true"] * (1 + planted / 100) * np.exp(rng.normal(0, 0.002, len(t)))
    t["subject"], t["stimulus_id"] = "deboer-like", [f"s{i}" for i in range(len(t))]
    m = compare.pitch_shift_table(t, conds, dataset="pitch_shift", n_boot=200)
    mine = m[(m.observer == "deboer-like")].set_index(["metric", "condition"])
    base = m[(m.observer == compare.DEBOER)].set_index(["metric", "condition"])
    ps = mine.loc["pitch_shift_percent"]
    want = (conds["shift_percent"] / conds["centre_harmonic"]).to_numpy()
    np.testing.assert_allclose(ps.loc[conds["condition"], "value"], want, atol=0.2)
    assert ((ps["value_ci_low"] <= ps["value"]) & (ps["value"] <= ps["value_ci_high"])).all()
    for c in (5, 11, 16):                                  # slope 1/N, inside its interval
        row = mine.loc[("pitch_shift_slope", f"h{c}")]
        assert row["value"] == pytest.approx(1 / c, abs=0.01)
        assert row["value_ci_low"] <= row["value"] <= row["value_ci_high"]
        assert base.loc[("pitch_shift_slope", f"h{c}"), "value"] == pytest.approx(1 / c)
    r = mine.loc[("r_pitch_shift", "")]
    assert r["value"] == pytest.approx(base.loc[("r_pitch_shift", ""), "value"], abs=0.02)
    assert r["value_ci_low"] <= r["value"] <= r["value_ci_high"] and r["n"] == 36
    hum = m[(m.observer == HUMANS) & (m.metric == "pitch_shift_slope")].set_index("condition")["value"]
    assert hum["h5"] > hum["h11"] > hum["h16"]             # the listeners' resolvability pattern
    # an observer without F0 estimates is refused by name; a missing estimate names its trial
    with pytest.raises(ValueError, match="no F0 estimates"):
        compare.pitch_shift_table(t.drop(columns="f0_2_est"), conds, dataset="pitch_shift")
    with pytest.raises(ValueError, match="s3"):
        compare.pitch_shift_table(t.assign(f0_2_est=np.where(t.index == 3, np.nan, t["f0_2_est"])), conds,
                                  dataset="pitch_shift")

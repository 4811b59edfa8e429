"""Comparisons with people: CCC rebuild and item rates, ceilings, psychometric fits, humans' loaders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psychobench.audio import compare
from psychobench.audio.signal import snr_db

SHARED = Path(__file__).resolve().parents[2] / "shared/data"
MIRROR = SHARED / "mirror"
CCC_SPEECH = SHARED / "derived/english_ccc_speech"
needs_mirror = pytest.mark.skipif(not MIRROR.is_dir(), reason="no data mirror")


@pytest.fixture
def mirror_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PSYCHOBENCH_MIRROR", str(MIRROR))
    monkeypatch.setenv("PSYCHOBENCH_CACHE", str(tmp_path / "cache"))


def test_logistic_fit_recovers_known_parameters():
    # metrics-reference E6: counts from alpha=-4, beta=0.8, lambda=0.02, gamma=0.5
    x = np.array([-12, -9, -6, -3, 0, 3, 6.0])
    k = np.array([50, 51, 58, 83, 96, 98, 98.0])
    fit = compare.fit_logistic(x, k, np.full(7, 100.0), gamma=0.5, lam_max=0.06)
    assert fit["alpha"] == pytest.approx(-3.98, abs=0.05) and fit["beta"] == pytest.approx(0.79, abs=0.05)
    assert compare.logistic_threshold(fit, 0.75) == pytest.approx(-3.88, abs=0.05)
    assert np.isnan(compare.logistic_threshold(fit, 0.999))


def test_split_half_ceiling_known_cases():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 1, 25)
    S = truth + rng.normal(0, 0.05, (40, 25))        # reliable listeners -> ceiling near 1
    assert compare.split_half_ceiling(S, 50)["ceiling_r2"] > 0.98
    noise = rng.normal(0, 1, (40, 25))                # no shared signal -> ceiling near 0
    assert compare.split_half_ceiling(noise, 50)["ceiling_r2"] < 0.3


def test_words_in_noise_comparison_identical_model_scores_high():
    rng = np.random.default_rng(1)
    bgs, snrs = [0, 1], [-9.0, -6.0, -3.0, 0.0, 3.0]
    p = {(b, s): 1 / (1 + np.exp(-(s + 3 * b) / 2)) for b in bgs for s in snrs}
    humans = pd.DataFrame([{"subject": f"s{i}", "background": b, "background_name": str(b), "snr_db": s,
                            "prop_correct": np.clip(p[b, s] + rng.normal(0, 0.03), 0, 1)}
                           for i in range(20) for b in bgs for s in snrs])
    n = 400                                           # model trials drawn from the same function
    model = pd.DataFrame([{"background": b, "snr_db": s, "correct": rng.random() < p[b, s]}
                          for b in bgs for s in snrs for _ in range(n)])
    summary, metrics = compare.words_in_noise_comparison(model, humans, gamma_model=0.0, n_splits=20)
    assert summary["r2_cell_means"] > 0.95 and summary["ceiling"] > 0.95 and summary["n_cells"] == 10
    # SRT at 50%: the functions cross 50% at s = -3 b
    assert summary["srt"]["0"]["human_srt_db"] == pytest.approx(0.0, abs=0.5)
    assert summary["srt"]["1"]["model_srt_db"] == pytest.approx(-3.0, abs=0.5)
    shuffled = model.assign(correct=rng.random(len(model)) < 0.5)
    s2, _ = compare.words_in_noise_comparison(shuffled, humans, gamma_model=0.0, n_splits=20)
    assert s2["r2_cell_means"] < 0.5


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


@needs_mirror
def test_saddler_loader(mirror_env):
    from psychobench.audio.humans import load_saddler2024_words
    h = load_saddler2024_words()
    assert h["subject"].nunique() == 44 and len(h) == 44 * 30
    clean = h[~np.isfinite(h["snr_db"])].groupby("subject")["prop_correct"].nunique()
    assert (clean == 1).all()                      # the clean column is shared by all backgrounds


@needs_mirror
@pytest.mark.skipif(not CCC_SPEECH.is_dir(), reason="no CCC speech folder")
def test_ccc_rebuilt_at_recorded_snr_and_other_snr(mirror_env):
    from psychobench.audio.humans import ccc_mix, load_ccc, load_ccc_masker, load_ccc_speech
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

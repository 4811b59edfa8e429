"""The word network psychobench trains: >= 50 words, >= 80% on clean words of held-out voices,
accuracy falling with SNR; its untrained twin at chance.  Training takes a few minutes on a CPU the
first time; the checkpoint is then cached in the test session's cache.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")]


@pytest.fixture(scope="module")
def nets():
    from psychobench.models.audio.wordnet import WordTaskConfig, evaluate_word_net, load_word_net

    cfg = WordTaskConfig()
    trained, twin = load_word_net(cfg, trained=True), load_word_net(cfg, trained=False)
    acc_t = evaluate_word_net(trained, cfg, snrs=(np.inf, 6.0, 0.0, -6.0))
    acc_u = evaluate_word_net(twin, cfg, snrs=(np.inf, 0.0))
    again = load_word_net(cfg, trained=True, train_if_missing=False)
    return cfg, trained, twin, acc_t, acc_u, again


def test_vocabulary_and_twin_architecture(nets):
    cfg, trained, twin, _, _, _ = nets
    assert len(cfg.words) >= 50 and len(set(cfg.words)) == len(cfg.words)
    a, b = trained.state_dict(), twin.state_dict()
    assert a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a)
    assert not all(np.allclose(a[k].numpy(), b[k].numpy()) for k in a if a[k].is_floating_point())


def test_trained_net_recognises_held_out_voices_and_degrades_with_snr(nets):
    cfg, _, _, acc, _, _ = nets
    assert acc[np.inf] >= 0.80
    assert acc[np.inf] > acc[6.0] > acc[0.0] > acc[-6.0]


def test_untrained_twin_at_chance(nets):
    cfg, _, _, _, acc, _ = nets
    chance, n = 1 / len(cfg.words), (cfg.corpus.n_test_voices + cfg.corpus.n_test_piper_voices) * len(cfg.words)
    bound = chance + 3 * np.sqrt(chance * (1 - chance) / n) + 0.02
    assert acc[np.inf] <= bound and acc[0.0] <= bound


def test_checkpoint_reloads_identically(nets):
    cfg, trained, _, _, _, again = nets
    x = np.random.default_rng(0).standard_normal((4, int(cfg.clip_s * cfg.fs))).astype(np.float32) * 0.1
    np.testing.assert_allclose(trained.posteriors(x), again.posteriors(x), atol=1e-6)

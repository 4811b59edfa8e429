"""PocketSphinx, the non-deep control recogniser: a one-word grammar over the experiment's words,
its decoder settings, forced answers where the search ends off the grammar, and worker
processes that change nothing but the time."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from psychobench.models.audio.observers import PocketSphinxObserver, _ps_decode, _ps_decoder
from psychobench.models.base import ObserverError

WORDS = ("umbrella", "table", "horse", "window", "seven")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


@pytest.fixture(scope="module")
def spoken():
    from psychobench.stimuli.audio.synth import espeak

    rng = np.random.default_rng(0)
    out = []
    for w in WORDS:
        x = np.concatenate([np.zeros(4000, np.float32), espeak(w), np.zeros(4000, np.float32)])
        out.append(x + rng.normal(0, 1e-4, len(x)).astype(np.float32))   # a dither: no digital silence
    return out


@needs_espeak
def test_clear_words_are_recognised_in_one_process_and_in_two(spoken):
    one = PocketSphinxObserver(vocabulary=WORDS).respond(spoken)
    assert one["response"].tolist() == list(WORDS) and one["ps_complete"].all()
    two = PocketSphinxObserver(vocabulary=WORDS, workers=2).respond(spoken)
    assert two["response"].tolist() == one["response"].tolist()
    np.testing.assert_array_equal(two["ps_complete"], one["ps_complete"])


def test_decoder_options_reach_the_decoder_and_the_identity():
    d, missing = _ps_decoder(WORDS + ("qzxv",), {"maxhmmpf": 3000, "beam": 1e-30}, "ps")
    assert d.config["maxhmmpf"] == 3000 and d.config["beam"] == pytest.approx(1e-30)
    assert missing == ["qzxv"]                                       # no pronunciation: not in the grammar
    plain = PocketSphinxObserver(vocabulary=WORDS).identity()
    tuned = PocketSphinxObserver(vocabulary=WORDS, decoder_options={"maxhmmpf": 3000}).identity()
    assert plain != tuned and tuned["decoder_options"] == {"maxhmmpf": 3000}
    assert PocketSphinxObserver(vocabulary=WORDS, forced=False).identity() != plain
    assert PocketSphinxObserver(vocabulary=WORDS, workers=2).identity() == plain      # time only


def test_bad_settings_name_the_setting():
    with pytest.raises(ObserverError, match=r"decoder_options=\{'nonsense': 3\}: PocketSphinx refused"):
        _ps_decoder(WORDS, {"nonsense": 3}, "pocketsphinx")
    with pytest.raises(ObserverError, match="model.workers must be >= 1"):
        PocketSphinxObserver(workers=0)
    with pytest.raises(ObserverError, match="model.forced must be true or false"):
        PocketSphinxObserver(forced="yes")
    with pytest.raises(ObserverError, match="model.decoder_options.beam must be a number"):
        PocketSphinxObserver(decoder_options={"beam": [1, 2]})
    with pytest.raises(ObserverError, match="none of the 2 words is in the PocketSphinx dictionary"):
        _ps_decoder(("qzxv", "vvqz"), {}, "pocketsphinx")


class _Hyp:
    def __init__(self, s):
        self.hypstr = s


class _Decoder:
    """The calls :func:`_ps_decode` makes, with a partial hypothesis before the utterance ends
    and a final one (or none) after."""

    def __init__(self, partial, final):
        self.partial, self.final, self.ended = partial, final, False

    def start_utt(self):
        self.ended = False

    def process_raw(self, pcm, full_utt):
        assert full_utt

    def end_utt(self):
        self.ended = True

    def hyp(self):
        h = self.final if self.ended else self.partial
        return None if h is None else _Hyp(h)


@pytest.mark.parametrize("partial, final, forced, want", [
    ("table", "horse", True, ("horse", True)),       # a complete hypothesis wins
    ("table", None, True, ("table", False)),         # off the grammar's final state: the best partial
    ("table", None, False, ("na", False)),           # ... or nothing, unforced
    ("table", "", True, ("table", False)),           # a final path of silence alone is no answer
    (None, None, True, ("na", False)),               # no word ever ended
])
def test_forced_answers(partial, final, forced, want):
    assert _ps_decode(_Decoder(partial, final), b"", forced) == want


CCC_SPEECH = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared/data/derived/english_ccc_speech"


@pytest.mark.skipif(not CCC_SPEECH.is_dir(), reason="no CCC speech folder")
def test_an_answer_does_not_depend_on_the_tokens_decoded_before_it(mirror):
    # PocketSphinx carries its cepstral mean and noise statistics across utterances; on these CCC
    # tokens that changed an answer with the order (seen: "invited" forward, "italy" reversed)
    from psychobench.experiments.hearing import EnglishCCC
    from psychobench.models.audio.observers import _ps_pcm

    exp = EnglishCCC(n_tokens=10, speech_dir=str(CCC_SPEECH), seed=5)
    st = exp.stimuli()
    pcms = [_ps_pcm(st.wave(i)) for i in range(4)]
    opts = {"maxhmmpf": 3000}

    def run(order, reset):
        d, _ = _ps_decoder(exp.answers.labels, opts, "ps")
        cmn = d.get_cmn() if reset else None
        got = {i: _ps_decode(d, pcms[i], True, cmn)[0] for i in order}
        return [got[i] for i in range(len(pcms))]

    forward, backward = run([0, 1, 2, 3], True), run([3, 2, 1, 0], True)
    assert forward == backward
    d, _ = _ps_decoder(exp.answers.labels, opts, "ps")
    cmn = d.get_cmn()
    assert [_ps_decode(_ps_decoder(exp.answers.labels, opts, "ps")[0], p, True, cmn)[0] for p in pcms[2:3]] \
        == forward[2:3]                                                 # = a fresh decoder's answer
    assert run([0, 1, 2, 3], False) != run([3, 2, 1, 0], False)        # without the reset, it does depend

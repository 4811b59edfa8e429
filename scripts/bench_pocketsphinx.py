"""PocketSphinx on CCC tokens: its default search against narrower ones, side by side.

    python scripts/bench_pocketsphinx.py [--n-tokens 16] [--seed 1] [--maxhmmpf 3000 1000]

Each setting gets its own decoder over the CCC response vocabulary's one-word grammar (the
6751 words PocketSphinx can pronounce); every token is decoded by every setting in turn, so
the times are measured side by side under the same load.  Prints seconds per token (decoder
build excluded, reported apart), the share of tokens whose search reached the grammar's final
state, and how often each narrower setting answers what the default answers.
"""

from __future__ import annotations

import argparse
import os
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-tokens", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--maxhmmpf", type=int, nargs="+", default=[3000, 1000],
                    help="narrower searches to compare with the default (30000)")
    ap.add_argument("--speech-dir", default=os.environ.get("PSYCHOBENCH_CCC_SPEECH"))
    a = ap.parse_args(argv)

    import numpy as np

    from psychobench.experiments.hearing import EnglishCCC
    from psychobench.models.audio.observers import _ps_decode, _ps_decoder, _ps_pcm

    exp = EnglishCCC(n_tokens=a.n_tokens, speech_dir=a.speech_dir, seed=a.seed)
    st = exp.stimuli()
    settings = {"default": {}, **{f"maxhmmpf={m}": {"maxhmmpf": m} for m in a.maxhmmpf}}
    decoders, build = {}, {}
    for name, opts in settings.items():
        t = time.perf_counter()
        decoders[name] = _ps_decoder(exp.answers.labels, opts, "pocketsphinx")[0]
        build[name] = time.perf_counter() - t
    answers = {k: [] for k in settings}
    complete = {k: [] for k in settings}
    seconds = {k: 0.0 for k in settings}
    for i in range(len(st)):
        pcm = _ps_pcm(st.wave(i))
        for name, d in decoders.items():
            t = time.perf_counter()
            ans, done = _ps_decode(d, pcm, True)
            seconds[name] += time.perf_counter() - t
            answers[name].append(ans)
            complete[name].append(done)
    n = len(st)
    ref = np.array(answers["default"], dtype=object)
    print(f"{n} CCC tokens (seed {a.seed}), {len(exp.answers.labels)}-word answer space")
    print(f"{'setting':<16} {'build s':>8} {'s/token':>8} {'speed-up':>9} {'complete':>9} {'same as default':>16}")
    for name in settings:
        same = np.mean(np.array(answers[name], dtype=object) == ref)
        print(f"{name:<16} {build[name]:8.1f} {seconds[name] / n:8.2f} {seconds['default'] / seconds[name]:8.1f}x "
              f"{np.mean(complete[name]):9.2f} {same:16.2f}")
    targets = st.manifest["category"].tolist()
    for name in settings:
        print(f"{name}: correct {np.mean(np.array(answers[name], dtype=object) == np.array(targets, dtype=object)):.3f}; "
              f"answers {answers[name]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

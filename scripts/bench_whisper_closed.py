"""Whisper's closed set on real English CCC tokens, old and new scorers side by side in one run.

    python scripts/bench_whisper_closed.py [--n-tokens 8] [--speech-dir DIR]

For ``--n-tokens`` CCC tokens (the experiment's own stimuli, over its 6946-word response
vocabulary) it measures, per token:

* the encoder: CTranslate2 at int8 (the open set's type) and at float32 (the closed set's);
* the decoder, per scored spelling: CTranslate2's teacher-forced ``generate`` (cross-attention
  recomputed for every row: the closed set's scorer until now) against psychobench's PyTorch
  decoder (cross-attention once per stimulus), on the same float32 encoder output and the same
  spellings, and their largest difference;
* int8 against float32 end to end (CTranslate2 encoder and decoder at each type), in nats per
  spelling: what quantisation does to the scores;
* the whole closed-set search per token (:meth:`WhisperObserver.closed_set_logprobs`) and how
  many spellings it scored.

Prints JSON.  The machine is shared: ratios are measured side by side on the same tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-tokens", type=int, default=8)
    ap.add_argument("--spellings", type=int, default=48, help="spellings per token for the decoder comparison")
    ap.add_argument("--speech-dir", default=os.environ.get("PSYCHOBENCH_CCC_SPEECH"))
    a = ap.parse_args(argv)

    from psychobench.experiments.hearing import EnglishCCC
    from psychobench.models.audio.observers import WhisperObserver

    exp = EnglishCCC(n_tokens=a.n_tokens, speech_dir=a.speech_dir)
    ws = exp.stimuli()
    waves = [ws.wave(i) for i in range(len(ws))]
    targets = list(exp.tokens()["Target"])
    vocab = tuple(exp.answers.labels)
    f32 = WhisperObserver(mode="closed", vocabulary=vocab)                      # float32 (the default)
    i8 = WhisperObserver(mode="closed", vocabulary=vocab, compute_type="int8")
    seqs, owner, ends, prompt = f32._candidates()
    rng = np.random.default_rng(0)
    pick = rng.choice(len(seqs), a.spellings, replace=False)
    rows = [seqs[c] for c in pick]
    f32.encode(waves[:1]), i8.encode(waves[:1]), f32.text_decoder()            # load outside the timing

    out: dict = {"tokens": len(waves), "vocabulary": len(vocab), "spellings": len(seqs)}
    t = time.perf_counter()
    enc8 = i8.encode(waves)
    out["encoder_int8_s_per_token"] = (time.perf_counter() - t) / len(waves)
    t = time.perf_counter()
    enc32 = f32.encode(waves)
    out["encoder_float32_s_per_token"] = (time.perf_counter() - t) / len(waves)

    def ct2_scores(obs, enc):
        lps = obs.ct2_teacher_forced(np.repeat(enc[None], len(rows), 0), [prompt + q for q in rows])
        return np.array([lp[np.arange(len(q)), q].sum() + np.logaddexp.reduce(lp[len(q), ends]) for q, lp in zip(rows, lps)])

    ct2_s = torch_s = 0.0
    diff_impl, diff_quant = [], []
    dec = f32.text_decoder()
    for i in range(len(waves)):
        t = time.perf_counter()
        ref = ct2_scores(f32, enc32[i])
        ct2_s += time.perf_counter() - t
        t = time.perf_counter()
        mine = dec.score(prompt, rows, ends, dec.cross_kv(enc32[i]))
        torch_s += time.perf_counter() - t
        diff_impl.append(np.abs(mine - ref).max())
        diff_quant.append(np.abs(ct2_scores(i8, enc8[i]) - ref))
    n_rows = len(waves) * len(rows)
    out["decoder_ctranslate2_ms_per_spelling"] = 1000 * ct2_s / n_rows
    out["decoder_torch_ms_per_spelling"] = 1000 * torch_s / n_rows
    out["decoder_speedup"] = ct2_s / torch_s
    out["torch_vs_ctranslate2_float32_max_abs_nats"] = float(max(diff_impl))
    q = np.concatenate(diff_quant)
    out["int8_vs_float32_nats"] = {k: float(f"{v:.4g}") for k, v in
                                   {"median": np.median(q), "p95": np.percentile(q, 95), "max": q.max()}.items()}

    t = time.perf_counter()
    lp, gap = f32.closed_set_logprobs(waves, targets)
    out["closed_set_search_s_per_token"] = (time.perf_counter() - t) / len(waves)
    out["spellings_scored_per_token"] = {"median": float(np.median(f32.last_n_scored)), "max": int(f32.last_n_scored.max())}
    out["posterior_gap_median"] = float(np.median(gap))
    lp8, _ = i8.closed_set_logprobs(waves, targets)
    out["answers_changed_by_int8"] = int((lp.argmax(1) != lp8.argmax(1)).sum())
    print(json.dumps({k: (float(f"{v:.4g}") if isinstance(v, float) else v) for k, v in out.items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

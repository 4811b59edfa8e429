"""Train psychobench's word-recognition network (cached in the user cache) and report its accuracy
on held-out voices at several SNRs.

    python scripts/train_word_net.py [--epochs N] [--force]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from psychobench.models.audio.wordnet import WordTaskConfig, evaluate_word_net, load_word_net, train_word_net


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=WordTaskConfig.epochs)
    ap.add_argument("--force", action="store_true", help="retrain even if a checkpoint is cached")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    cfg = dataclasses.replace(WordTaskConfig(), epochs=a.epochs)
    t = time.time()
    path = train_word_net(cfg, force=a.force, verbose=a.verbose)
    out = {"checkpoint": str(path), "train_seconds": round(time.time() - t, 1)}
    for trained in (True, False):
        net = load_word_net(cfg, trained=trained)
        key = "trained" if trained else "untrained"
        out[key] = {str(k): v for k, v in evaluate_word_net(net, cfg).items()}
        for engine in ("espeak", "piper"):
            if engine == "piper" and not cfg.corpus.n_test_piper_voices:
                continue
            acc = evaluate_word_net(net, cfg, engine=engine)
            out[f"{key}_{engine}_voices"] = {str(k): v for k, v in acc.items()}
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()

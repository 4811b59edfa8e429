"""Train psychobench's pitch network (cached in the user cache) and report its F0 error on held-out
sounds of its training distribution (a fresh seed), beside its untrained twin.

    python scripts/train_pitch_net.py [--n-test 1500] [--force] [--set NAME=VALUE ...]

``--set`` changes a setting of the task (:class:`PitchTaskConfig`, e.g. ``--set internal_noise=0.4``
``--set n_channels=32``; a list as JSON, ``--set 'envelope_shares=[0.35,0.3,0.3,0.05]'``): the
network of those settings, the one ``model.NAME=VALUE`` gives ``experiment=pitch``.

Prints JSON: the checkpoint, the training time, and per network the median absolute error in
cents, the share of estimates within 50 cents and the share of octave errors (an estimate within
100 cents of half or double the true F0).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np

from psychobench.models.audio.pitchnet import PitchTaskConfig, load_pitch_net, train_pitch_net, training_set


def errors(est_log2: np.ndarray, f0: np.ndarray) -> dict:
    cents = 1200 * (est_log2 - np.log2(f0))
    octave = (np.abs(np.abs(cents) - 1200) < 100)
    return {"median_abs_cents": round(float(np.median(np.abs(cents))), 2),
            "within_50_cents": round(float(np.mean(np.abs(cents) < 50)), 4),
            "octave_errors": round(float(np.mean(octave)), 4)}


def with_settings(cfg: PitchTaskConfig, pairs: list[str]) -> PitchTaskConfig:
    """``cfg`` with the settings ``NAME=VALUE`` (a JSON value; lists become tuples)."""
    fields = {f.name for f in dataclasses.fields(cfg)}
    change = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or name not in fields:
            raise SystemExit(f"--set {pair!r}: expected NAME=VALUE with NAME one of {sorted(fields)}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as e:
            raise SystemExit(f"--set {pair!r}: the value is not JSON ({e})") from None
        change[name] = tuple(value) if isinstance(value, list) else value
    return dataclasses.replace(cfg, **change)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-test", type=int, default=1500, help="held-out sounds (default 1500)")
    ap.add_argument("--force", action="store_true", help="retrain even if a checkpoint is cached")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a task setting (repeatable)")
    a = ap.parse_args(argv)
    cfg = with_settings(PitchTaskConfig(), a.set)
    t = time.time()
    path = train_pitch_net(cfg, force=a.force, verbose=True)
    out = {"settings": {k: v for k, v in dataclasses.asdict(cfg).items() if v != getattr(PitchTaskConfig(), k)},
           "checkpoint": str(path), "train_seconds": round(time.time() - t, 1), "n_test": a.n_test}
    # a seed training never used; the speech excerpts come from the word task's held-out talkers
    waves, f0 = training_set(cfg, n=a.n_test, seed=cfg.seed + 1000, speech="test")
    # the training excerpts are 50 ms; held-out sounds are read through the same windows
    for trained in (True, False):
        net = load_pitch_net(cfg, trained=trained)
        out["trained" if trained else "untrained"] = errors(net.log_f0(waves), f0)
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()

"""The English CCC comparison with every recogniser: one run each of Whisper tiny.en closed-set
(over the CCC response vocabulary), Whisper tiny.en open-set (one word per answer), PocketSphinx
(grammar over the same vocabulary) and psychobench's word network (on the tokens whose target
it knows), then a table of the four rates with their intervals beside the leave-one-listener-out
ceiling, and the wall time of each run.

    python scripts/ccc_flagship.py [--n-tokens N | --all] [--out ccc_flagship] [--speech-dir DIR]
                                   [--models whisper_closed,...] [--workers N] [--ps-maxhmmpf N]

``--all`` runs the 3207 tokens (about an hour per Whisper mode on 2 CPU cores).  The runs are
ordinary psychobench runs (answer cache and run memo apply); the table is written as
``OUT/ccc_flagship.csv`` and ``OUT/ccc_flagship.md`` and printed.  ``run_seconds`` is the wall
time of each command; a run whose answers came from the cache (``forward_passes`` 0) takes
seconds, so time a fresh cache (``PSYCHOBENCH_CACHE=$(mktemp -d)``) for the cost of recognition.
PocketSphinx decodes in ``--workers`` processes (default: one per CPU core), with its own
search settings unless ``--ps-maxhmmpf`` narrows it (3000: 3-5x faster, the same answer as the
default on 79 of 88 tokens: ``scripts/bench_pocketsphinx.py``); a long run is
checkpointed (``trainer.checkpoint_every``), so a killed one resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RECOGNISERS = {
    "whisper_closed": [],
    "whisper_open": [],
    "pocketsphinx": [],
    "wordnet": ["stimuli.targets=word_task"],
}


def run(name: str, extra: list[str], n_tokens: str, out: Path, speech_dir: str | None) -> tuple[dict, float]:
    folder = out / name
    cmd = [sys.executable, "-m", "psychobench.cli.main", "experiment=ccc", f"model={name}",
           f"stimuli.n_tokens={n_tokens}", f"results_dir={out}", f"hydra.run.dir={folder}",
           "trainer.progress_bar=false", *extra]
    if speech_dir:
        cmd.append(f"stimuli.speech_dir={speech_dir}")
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
    dt = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(f"{name}: psychobench failed (exit {res.returncode}):\n{res.stderr[-3000:]}")
    return json.loads((folder / "summary.json").read_text()), dt


def _ci(entry: dict, key: str) -> str:
    v, ci = entry.get(key), entry.get(f"{key}_ci")
    if v is None:
        return "-"
    return f"{v:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci and None not in ci else f"{v:.3f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--n-tokens", type=int, default=200, help="random subset of tokens (seeded; default 200)")
    g.add_argument("--all", action="store_true", help="all 3207 tokens")
    ap.add_argument("--out", type=Path, default=Path("ccc_flagship"))
    ap.add_argument("--speech-dir", default=os.environ.get("PSYCHOBENCH_CCC_SPEECH"),
                    help="local CCC speech channels or stereo WAVs (default $PSYCHOBENCH_CCC_SPEECH)")
    ap.add_argument("--models", default=",".join(RECOGNISERS), help="comma-separated subset")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="PocketSphinx decoding processes (default: one per CPU core)")
    ap.add_argument("--ps-maxhmmpf", type=int, default=None,
                    help="PocketSphinx's cap on active HMMs per frame (default: its own, 30000)")
    a = ap.parse_args(argv)
    RECOGNISERS["pocketsphinx"] = [f"model.workers={a.workers}"] + (
        [f"+model.decoder_options.maxhmmpf={a.ps_maxhmmpf}"] if a.ps_maxhmmpf else [])
    n = "null" if a.all else str(a.n_tokens)
    import pandas as pd

    rows = []
    for name in a.models.split(","):
        summary, seconds = run(name, RECOGNISERS[name], n, a.out, a.speech_dir)
        c = summary["datasets"]["english_ccc"]["consistency"]
        n_tok = summary.get("n_trials")
        for rate in ("correct", "in_answers", "dominant", "logprob"):
            e = c[rate]
            rows.append({"recogniser": summary["model"], "tokens": n_tok, "rate": rate, "value": _ci(e, "value"),
                         "ceiling (leave one listener out)": _ci(e, "ceiling"),
                         "normalised": _ci(e, "normalized") if rate != "logprob" else "-",
                         "run_seconds": round(seconds, 1),
                         "forward_passes": summary.get("forward_passes")})
    table = pd.DataFrame(rows)
    a.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(a.out / "ccc_flagship.csv", index=False)
    md = table.to_markdown(index=False) if _has_tabulate() else table.to_string(index=False)
    (a.out / "ccc_flagship.md").write_text(md + "\n")
    print(md)
    return 0


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())

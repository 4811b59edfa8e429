"""``psychobench``: the Hydra app.  ``psychobench`` runs the default experiment;
``psychobench -m model=tf_efficientnet_lite0,tf_efficientnet_lite1`` sweeps."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("psychobench")

#: Config groups that no longer exist, and what replaces them.
RETIRED = {"audio_model": "audio_model was merged into the model group: write model=NAME "
                          "(wordnet, wordnet_untrained, whisper_open, whisper_closed, pocketsphinx, "
                          "silero_vad, crepe) and set its options as model.OPTION=VALUE",
           "runner": "runner.* settings moved to the experiment: write stimuli.OPTION=VALUE (for "
                     "experiment=words_in_noise, ccc, pitch or vad) or experiments.NAME.OPTION=VALUE"}


def config_dir() -> str:
    """The ``conf/`` folder: ``$PSYCHOBENCH_CONF``, else the one beside the package source."""
    env = os.environ.get("PSYCHOBENCH_CONF")
    if env:
        return str(Path(env).resolve())
    here = Path(__file__).resolve().parents[2] / "conf"
    if not here.is_dir():
        raise FileNotFoundError(
            f"no Hydra config folder at {here}; install psychobench from its source tree "
            "(pip install -e .) or set PSYCHOBENCH_CONF")
    return str(here)


def retired_override(overrides) -> str | None:
    """The message for the first override that uses a retired config group, or None."""
    for o in overrides:
        key = str(o).lstrip("+~").split("=", 1)[0].split("/", 1)[0].split(".", 1)[0]
        if key in RETIRED:
            return f"{o}: {RETIRED[key]}"
    return None


def run(cfg: DictConfig) -> dict:
    """Run one job: resolve the config, run it (or recall it from the run memo), write the run
    folder, summary.json last."""
    from psychobench.consistency import table as T
    from psychobench.consistency.scoring import format_table
    from psychobench.results.run_folder import RunFolder
    from psychobench.results.store import run_job

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    folder = RunFolder(run_dir)
    folder.write_config(OmegaConf.to_yaml(cfg, resolve=True))
    summary = run_job(cfg, run_dir)          # recalled from the run memo, or run
    folder.write_summary(summary)            # last: its presence marks a complete run
    print(f"\nrun folder: {run_dir}")
    print(format_table(T.read(run_dir / "metrics.csv"), summary["model"], summary.get("headline")))
    return summary


def main() -> None:
    msg = retired_override(sys.argv[1:])
    if msg:
        print(f"psychobench: error: {msg}", file=sys.stderr)
        raise SystemExit(2)
    hydra.main(config_path=config_dir(), config_name="config", version_base="1.3")(run)()


if __name__ == "__main__":
    main()

"""``psychobench``: the Hydra app.  ``psychobench`` runs the default experiment;
``psychobench -m model=tf_efficientnet_lite0,tf_efficientnet_lite1`` sweeps."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from psychobench.data.io import atomic_write_text

log = logging.getLogger("psychobench")


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


def run(cfg: DictConfig) -> dict:
    """Run one job: resolve the config, call the runner, write the run folder."""
    from psychobench.data.io import write_json
    from psychobench.results.store import run_job
    from psychobench.results.scoring import format_scores

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    summary = run_job(cfg, run_dir)          # recalled from the run memo, or run
    write_json(run_dir / "summary.json", summary)  # last: its presence marks a complete run
    print(f"\nrun folder: {run_dir}")
    if "aggregate" in summary:
        print(format_scores(summary))
    return summary


def main() -> None:
    hydra.main(config_path=config_dir(), config_name="config", version_base="1.3")(run)()


if __name__ == "__main__":
    main()

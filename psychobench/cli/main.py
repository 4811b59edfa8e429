"""``psychobench``: the Hydra app.  ``psychobench`` runs the default experiment;
``psychobench -m model=tf_efficientnet_lite0,tf_efficientnet_lite1`` sweeps."""

from __future__ import annotations

import logging
import os
import re
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


_GROUP_CHOICE = re.compile(r"^(?P<pre>[+~]*)(?P<group>[A-Za-z_]+(?:/[A-Za-z_]+)?)=(?P<value>[A-Za-z0-9_,.-]+)$")


def spell_choices(overrides: list[str], conf: str | Path) -> list[str]:
    """Overrides with config-group choices in either spelling: ``stimuli=high-pass`` (the data
    set's name) chooses ``conf/stimuli/high_pass.yaml``, in sweeps too (``stimuli=edge,high-pass``).
    A choice that names no file in either spelling is left for Hydra to report."""
    conf = Path(conf)
    out = []
    for o in overrides:
        m = _GROUP_CHOICE.match(o)
        group = m and conf / m["group"]
        if not m or not group.is_dir():
            out.append(o)
            continue
        names = {f.stem.lower(): f.stem for f in group.glob("*.yaml")}
        items = []
        for v in m["value"].split(","):
            known = (group / f"{v}.yaml").is_file()
            items.append(v if known else names.get(v.replace("-", "_").lower(), v))
        out.append(f"{m['pre']}{m['group']}={','.join(items)}")
    return out


def run(cfg: DictConfig) -> dict:
    """Run one job: resolve the config, run it (or recall it from the run memo), write the run
    folder, summary.json last."""
    from psychobench.consistency import table as T
    from psychobench.consistency.scoring import format_table
    from psychobench.results.run_folder import RunFolder
    from psychobench.results.store import run_job

    from psychobench.errors import one_line, user_error

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    folder = RunFolder(run_dir)
    try:
        from psychobench.results.pipeline import check_settings

        check_settings(cfg)                  # before anything is written
        folder.write_config(OmegaConf.to_yaml(cfg, resolve=True))
        summary = run_job(cfg, run_dir)      # recalled from the run memo, or run
    except Exception as e:
        err = user_error(e)
        if err is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        # a problem the user fixes: one line, no traceback, exit status 2 (a sweep stops here)
        print(f"psychobench: error: {one_line(err)}", file=sys.stderr)
        raise SystemExit(2) from None
    folder.write_summary(summary)            # last: its presence marks a complete run
    print(f"\nrun folder: {run_dir}")
    print(format_table(T.read(run_dir / "metrics.csv"), summary["model"], summary.get("headline")))
    return summary


def main() -> None:
    if "--version" in sys.argv[1:]:
        from psychobench.cli.common import version
        print(f"{version()} (Hydra {hydra.__version__})")
        return
    msg = retired_override(sys.argv[1:])
    if msg:
        print(f"psychobench: error: {msg}", file=sys.stderr)
        raise SystemExit(2)
    conf = config_dir()
    sys.argv[1:] = spell_choices(sys.argv[1:], conf)
    hydra.main(config_path=conf, config_name="config", version_base="1.3")(run)()


if __name__ == "__main__":
    main()

"""``psychobench-data``: list, fetch and verify the registered data sets.

  psychobench-data list [--tag humans]
  psychobench-data fetch NAME [NAME ...] | --all
  psychobench-data verify NAME [NAME ...] | --all
  psychobench-data build wordnet dualnet pitchnet [--force]   # train the networks psychobench trains, ahead of time
"""

from __future__ import annotations

import sys

from psychobench.cli.common import command, parser
from psychobench.data import registry
from psychobench.data.download import DownloadError


def _name(name: str) -> str:
    """A registered data-set name in either spelling (``uniform_noise`` for ``uniform-noise``)."""
    if name in registry.DATASETS:
        return name
    for known in registry.DATASETS:
        if known.replace("_", "-").lower() == name.replace("_", "-").lower():
            return known
    return name          # unknown: the registry's error lists the known names


def _build_wordnet(force: bool = False) -> str:
    """Synthesise the word corpus and train the word network with a progress bar (the same
    checkpoint a hearing run would train on first use); prints where it is and how long it took."""
    import time

    from psychobench.data.io import check_seal
    from psychobench.models.audio.wordnet import WordTaskConfig, checkpoint_path, train_word_net

    cfg = WordTaskConfig()
    if not force and check_seal(checkpoint_path(cfg), "trained word network"):
        return f"{checkpoint_path(cfg)} (cached, digest checked)"
    t = time.perf_counter()
    path = train_word_net(cfg, force=force, verbose=True)
    return f"{path} (trained in {time.perf_counter() - t:.0f} s)"


def _build_dualnet(force: bool = False) -> str:
    """Train the dual-task networks of ``experiment=shared_stages`` (every k, the preset's
    settings) with a progress bar over k; prints where they are and how long they took."""
    import time

    from tqdm.auto import tqdm

    from psychobench.data.io import check_seal
    from psychobench.experiments.stages import SharedStages
    from psychobench.models.audio.dualnet import checkpoint_path, train_dual_net

    t, made = time.perf_counter(), []
    for k, cfg in tqdm(SharedStages().configs().items(), desc="dual-task networks (k)", unit="network"):
        if force or not check_seal(checkpoint_path(cfg), "trained dual-task network"):
            made.append(k)
        train_dual_net(cfg, force=force)
    where = checkpoint_path(SharedStages().configs()[0]).parent
    return (f"{where}/dualnet_*.ckpt: k={made} trained in {time.perf_counter() - t:.0f} s" if made
            else f"{where}/dualnet_*.ckpt (all cached, digests checked)")


def _build_pitchnet(force: bool = False) -> str:
    """Synthesise the pitch training set and train the pitch network with a progress bar."""
    import time

    from psychobench.data.io import check_seal
    from psychobench.models.audio.pitchnet import PitchTaskConfig, checkpoint_path, train_pitch_net

    cfg = PitchTaskConfig()
    if not force and check_seal(checkpoint_path(cfg), "trained pitch network"):
        return f"{checkpoint_path(cfg)} (cached, digest checked)"
    t = time.perf_counter()
    path = train_pitch_net(cfg, force=force, verbose=True)
    return f"{path} (trained in {time.perf_counter() - t:.0f} s)"


#: networks ``psychobench-data build`` makes ahead of time
BUILDERS = {"wordnet": _build_wordnet, "dualnet": _build_dualnet, "pitchnet": _build_pitchnet}


@command("psychobench-data")
def main(argv: list[str] | None = None) -> int:
    p = parser("psychobench-data", "Registered data sets.")
    sub = p.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list", help="list data sets")
    ls.add_argument("--tag", help="only data sets with this tag (humans, stimuli, audio, ...)")
    for name in ("fetch", "verify"):
        sp = sub.add_parser(name, help=f"{name} data sets")
        sp.add_argument("names", nargs="*")
        sp.add_argument("--all", action="store_true", help="every file data set (not releases)")
    bd = sub.add_parser("build", help="train the networks psychobench trains (cached by content, sealed; always on "
                                      "2 CPU threads, since the thread count changes the weights)")
    bd.add_argument("networks", nargs="+", choices=sorted(BUILDERS))
    bd.add_argument("--force", action="store_true", help="train again even where a sealed checkpoint exists")
    args = p.parse_args(argv)

    if args.cmd == "build":
        for name in args.networks:
            print(f"{name}: {BUILDERS[name](force=args.force)}")
        return 0
    if args.cmd == "list":
        files = registry.files_of()
        print(f"{'name':<30}{'files':>6}{'MB':>9}  {'cached':<7}description")
        for spec in registry.DATASETS.values():
            if args.tag and args.tag not in spec.tags:
                continue
            entries = files.get(spec.name, ())
            mb = sum(e.size for e in entries) / 1e6
            root = registry.dataset_dir(spec.name)
            present = (all((root / e.relpath).is_file() for e in entries) if spec.kind == "files"
                       else (root / ".complete").is_file())
            cached = "yes" if present and root.is_dir() else "no"
            n = len(entries) if spec.kind == "files" else 1
            print(f"{spec.name:<30}{n:>6}{mb:>9.1f}  {cached:<7}{spec.description}")
        return 0

    names = ([s.name for s in registry.DATASETS.values() if s.kind == "files"] if args.all
             else [_name(n) for n in args.names])
    if not names:
        p.error("name at least one data set, or --all")
    status = 0
    for name in names:
        try:
            if args.cmd == "fetch":
                print(f"{name}: {registry.fetch_dataset(name)}")
            else:
                bad = registry.verify_dataset(name)
                print(f"{name}: {'ok' if not bad else f'{len(bad)} bad file(s): ' + ', '.join(bad[:5])}")
                status |= bool(bad)
        except (KeyError, DownloadError) as e:
            print(f"psychobench-data: error: {name}: {e}", file=sys.stderr)
            status = 2
    return status


if __name__ == "__main__":
    sys.exit(main())

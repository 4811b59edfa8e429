"""``psychobench-data``: list, fetch and verify the registered data sets.

  psychobench-data list [--tag humans]
  psychobench-data fetch NAME [NAME ...] | --all
  psychobench-data verify NAME [NAME ...] | --all
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
    args = p.parse_args(argv)

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

"""What every ``psychobench-*`` command shares: its parser (``--version``, help text without
reST markup, one spelling of the shared options) and its exit path (one-line errors, exit 2; quiet
on a closed pipe such as ``| head``)."""

from __future__ import annotations

import argparse
import functools
import os
import re
import sys
from typing import Callable

_MARKUP = [
    (re.compile(r":[a-z]+:`~?([^`]+)`"), r"\1"),        # :func:`name`, :class:`~a.b`
    (re.compile(r"``([^`]+)``"), r"\1"),                # ``literal``
    (re.compile(r"`([^`]+)`"), r"\1"),                  # `name`
]


def plain(text: str | None) -> str | None:
    """``text`` without reST markup, for ``--help``."""
    if text is None:
        return None
    for pat, rep in _MARKUP:
        text = pat.sub(rep, text)
    return text


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as v
    try:
        return f"psychobench {v('psychobench')}"
    except PackageNotFoundError:       # run from a source tree that is not installed
        return "psychobench (not installed)"


def parser(prog: str, description: str | None = None, **kw) -> argparse.ArgumentParser:
    """An ArgumentParser named ``prog`` with ``--version`` and a plain-text description."""
    p = argparse.ArgumentParser(prog=prog, description=plain(description), **kw)
    p.add_argument("--version", action="version", version=version())
    return p


def add_format(p: argparse.ArgumentParser, choices=("text", "csv", "json"), default="text",
               json_alias: bool = False) -> None:
    """``--format {text,csv,json[,md]}``; ``--json`` as a short form where ``json_alias``."""
    p.add_argument("--format", choices=choices, default=default,
                   help=f"output format (default {default})")
    if json_alias:
        p.add_argument("--json", action="store_const", const="json", dest="format",
                       help="same as --format json")


def add_resampling(p: argparse.ArgumentParser, n_boot: int, n_splits: int = 10) -> None:
    """``--n-boot`` and ``--n-splits`` (old spellings ``--boot``, ``--splits`` still accepted)."""
    p.add_argument("--n-boot", "--boot", dest="n_boot", type=int, default=n_boot,
                   help=f"bootstrap draws for the 95%% intervals (default {n_boot}; 0: none)")
    p.add_argument("--n-splits", "--splits", dest="n_splits", type=int, default=n_splits,
                   help=f"split halves for the ceilings (default {n_splits})")


def fail(prog: str, message: str, code: int = 2) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def command(prog: str) -> Callable:
    """Decorate a ``main(argv=None) -> int``: psychobench's own errors (and a missing file) end
    in one line on stderr and exit status 2 (``HYDRA_FULL_ERROR=1`` or ``PSYCHOBENCH_TRACEBACK=1``
    shows the traceback); a closed output pipe ends quietly."""
    from psychobench.errors import PsychobenchError, one_line, user_error

    def wrap(main: Callable) -> Callable:
        @functools.wraps(main)
        def run(argv=None) -> int:
            try:
                return main(argv)
            except BrokenPipeError:
                devnull = os.open(os.devnull, os.O_WRONLY)      # no second error at exit
                os.dup2(devnull, sys.stdout.fileno())
                return 0
            except (PsychobenchError, FileNotFoundError, NotADirectoryError, IsADirectoryError) as e:
                if os.environ.get("PSYCHOBENCH_TRACEBACK") == "1":
                    raise
                err = user_error(e) or e
                return fail(prog, one_line(err))
        return run
    return wrap

"""The errors a user fixes: a bad setting, a bad file, a missing tool.

Each is raised with a message that says what is wrong and where (file, line and column; the
setting and its allowed values; the program to install), and the command-line tools print that
message in one line (``psychobench: error: ...``, exit status 2) instead of a traceback.  Every
error class of psychobench derives from :class:`PsychobenchError` and from the built-in class
that fits it (mostly ``ValueError``), so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class PsychobenchError(Exception):
    """A problem in the user's input, settings or machine, with a message that says how to fix it."""


class SettingError(PsychobenchError, ValueError):
    """A configuration value that cannot work (``trainer.batch_size=0``, ``stimuli.snrs=[abc]``)."""


class MissingToolError(PsychobenchError, FileNotFoundError):
    """A program or file psychobench needs is not installed; the message says what to install."""


class UnknownNameError(PsychobenchError, KeyError):
    """A name (data set, model, metric) that is not known; the message lists the known ones."""

    def __str__(self) -> str:          # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


def user_error(exc: BaseException) -> PsychobenchError | None:
    """The :class:`PsychobenchError` behind ``exc`` (itself, or one it was raised from, as
    Hydra's instantiate wraps errors of the objects it builds), or None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, PsychobenchError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def one_line(exc: BaseException) -> str:
    """An error message on one line (a multi-line message keeps its first line)."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0] if "\n" in text else text


__all__ = ["MissingToolError", "PsychobenchError", "SettingError", "UnknownNameError", "one_line",
           "user_error"]

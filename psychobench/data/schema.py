"""The trial table: the one table that flows through psychobench.

A trial table is a :class:`pandas.DataFrame`, one row per trial, humans and models alike.
Core columns (always present, in this order):

========== ======== =============================================================
column     dtype    meaning
========== ======== =============================================================
experiment str      data-set / experiment name, e.g. ``"cue-conflict"``
subject    str      observer id (``"subject-01"``, or the model's name)
session    int64    session number (1-based)
trial      int64    trial number within the session (1-based)
stimulus_id str     id of the stimulus, unique within an experiment
condition  str      canonical condition string (model-vs-human's parsed form)
category   str      true category of the stimulus
response   str      the observer's answer (``"na"`` = no answer, counts as wrong)
correct    bool     ``response == category``
rt         float64  reaction time in s; NaN for models
========== ======== =============================================================

Optional columns a task may add: ``imagename`` (the file name as the experiment saved it),
``condition_raw`` (the condition exactly as the source CSV wrote it; kept for lossless export),
``p_true`` (the model's probability of the true category), ``distractor`` (2AFC), ``snr_db``,
``level`` (numeric stimulus level of the condition), ``texture`` (cue-conflict texture category).
"""

from __future__ import annotations

from psychobench.errors import PsychobenchError

CORE_COLUMNS: tuple[str, ...] = (
    "experiment", "subject", "session", "trial", "stimulus_id",
    "condition", "category", "response", "correct", "rt",
)

CORE_DTYPES: dict[str, str] = {
    "experiment": "str", "subject": "str", "session": "int64", "trial": "int64",
    "stimulus_id": "str", "condition": "str", "category": "str",
    "response": "str", "correct": "bool", "rt": "float64",
}

OPTIONAL_COLUMNS: tuple[str, ...] = (
    "imagename", "condition_raw", "p_true", "distractor", "snr_db", "level", "texture",
)

#: model-vs-human's raw-data CSV header, in order.
MVH_COLUMNS: tuple[str, ...] = (
    "subj", "session", "trial", "rt", "object_response", "category", "condition", "imagename",
)


class TrialTableError(PsychobenchError, ValueError):
    """Bad input in a trial file or table; the message names file, row and column."""


def show(value, limit: int = 80) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters (a 2 MB bad value is
    not echoed whole)."""
    r = repr(value)
    if len(r) <= limit:
        return r
    return f"{r[:limit - 1]}… ({len(str(value))} characters)"

"""psychobench: does a deep network behave like a person on the same psychophysics experiment?

The package is a spine of parts that pass two tables: the trial table
(:mod:`psychobench.data.trials`), from stimuli through observers to scoring, and the metric table
(:mod:`psychobench.consistency.table`), from scoring to everything that reads scores.  Imports
point down this list: cli/report -> results -> lightning -> experiments -> models, stimuli ->
consistency -> data.

The Python API (``import psychobench as pb``): :func:`read_trials`, :func:`score`, :func:`run`.
"""

__version__ = "0.2.0"

__all__ = ["read_trials", "score", "run", "__version__"]


def __getattr__(name):          # lazy: importing psychobench loads no torch
    if name in ("read_trials", "score", "run"):
        from psychobench import api

        return getattr(api, name)
    raise AttributeError(f"module 'psychobench' has no attribute {name!r}")

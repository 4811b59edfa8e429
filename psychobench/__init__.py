"""psychobench: does a deep network behave like a person on the same psychophysics experiment?

The package is a spine of parts that pass one table, the trial table
(:mod:`psychobench.data.trials`), from stimuli to report.  Imports point down this list:
cli/report -> results -> lightning -> models, stimuli -> consistency -> data.
"""

__version__ = "0.1.0"

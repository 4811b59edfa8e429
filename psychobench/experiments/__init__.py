"""Experiments: everything true of one experiment (stimuli, human data, conditions, answers, scoring) in one object."""

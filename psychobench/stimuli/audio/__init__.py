"""Hearing stimuli: signal helpers, synthetic talkers and words, maskers, pitch stimuli and the English CCC tokens."""

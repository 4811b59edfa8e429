"""Audio side of psychobench: speech-in-noise and pitch stimuli, audio networks and decision rules,
Lightning modules, human data (Saddler 2024, English CCC, Bernstein & Oxenham 2005) and comparisons."""

"""Reports: tidy analyses of run folders (:mod:`.analyses`), figures drawn from them
(:mod:`.plots`) and the notebook template that ``psychobench-report`` executes
(``templates/report.py``).  Report code reads results; it never runs a network."""

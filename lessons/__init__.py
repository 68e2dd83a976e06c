"""Lessons: every claim of the series as an experiment with a verdict across seeds, and paired ablations.

definitions (the lessons, as data), metrics (--metric), stats (paired bootstrap and verdict rules),
runner (plan, reuse, launch, wait, evaluate), launch (the injected launch function), ablate, events,
report (sentences and JSON).
"""

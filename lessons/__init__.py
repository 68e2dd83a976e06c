"""Lessons: every claim of the series as an experiment with a verdict across seeds, and paired ablations.

definitions (the lessons, as data), metrics (--metric), stats (paired bootstrap and verdict rules),
runner (plan, reuse, launch, wait, evaluate), launch (the injected launch function), ablate, report
(sentences and JSON). Event notes live in storage/events.py (the job path records them at a run's end).
"""

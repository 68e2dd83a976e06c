"""Looking inside a network while it learns: probe batch, snapshot views and their schedule (pure NumPy).

`Inspector(model, loss, data).compute(epoch, big=...)` returns `Snapshot(kind, name, value)` records;
`plan_schedule` decides at which epochs, within a byte budget. Storing them is storage's job.
"""

from .inspector import BIG_KINDS, Inspector, Snapshot, compact
from .probe import PROBE_SEED, Probe, select_probe
from .schedule import ByteBudget, SnapshotPlan, log_epochs, plan_schedule

__all__ = ["BIG_KINDS", "PROBE_SEED", "ByteBudget", "Inspector", "Probe", "Snapshot", "SnapshotPlan", "compact", "log_epochs",
           "plan_schedule", "select_probe"]

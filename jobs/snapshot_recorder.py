"""SnapshotRecorder: the training callback that stores a run's inside-the-network views.

At the start it records the probe batch and the untrained model's views (epoch 0; a resumed or
forked run: the views of the state it starts from, at that epoch), measures their size and plans the
epochs left to record within the run's byte budget (engine.inspect.plan_schedule).
After each planned epoch it computes the views on the probe batch and writes them in one
transaction; the budget is checked before every write, so a run never stores more than its budget.
If training stops before the planned last epoch, the epoch it stopped at is recorded in full.

Snapshot time is kept under 5% of the run's time, and a run may always spend a quarter of a second on
them, so a short run keeps every epoch (engine.inspect.schedule.TimeBudget): planned epochs are skipped
while over it, except the last one.
The run's time is measured as the run sees it, from one epoch end to the next (training, evaluation,
metric logging), without the recorder's own time.

In production (`strict=False`) a failure inside the recorder never fails the run: it is logged,
stored as a 'note' snapshot, and snapshots stop for that run. Tests use `strict=True` to see errors.
"""

from __future__ import annotations

import logging
import time
import traceback

from engine.inspect import BIG_KINDS, ByteBudget, Inspector, Snapshot, plan_schedule
from engine.inspect.schedule import MB, TimeBudget
from engine.train import EpochRecord, TrainSummary
from storage.snapshots import encode_snapshot, snapshot_bytes, write_encoded

from .threads import limit_threads

log = logging.getLogger(__name__)
DEFAULT_BUDGET_MB = 4.0
NOTE_KIND = "note"


def write_note(engine, run_id: int, epoch: int, name: str, text: str) -> None:
    """Store a short message about a run's snapshots (outside the budget: notes are tiny); best effort."""
    try:
        write_encoded(engine, run_id, epoch, [(NOTE_KIND, name, encode_snapshot({"text": text}))])
    except Exception:
        log.warning("could not store snapshot note for run %s", run_id, exc_info=True)


class SnapshotRecorder:
    """Engine callback: snapshots of `run_id` at planned epochs, within `budget_mb` megabytes (10^6 bytes)."""

    def __init__(self, engine, run_id: int, *, budget_mb: float = DEFAULT_BUDGET_MB,
                 strict: bool = False, time_budget: TimeBudget | None = None) -> None:
        self.engine, self.run_id, self.strict = engine, run_id, strict
        self.budget = ByteBudget(int(budget_mb * MB))
        self.time = time_budget or TimeBudget()
        self.inspector: Inspector | None = None
        self.plan = None
        self.recorded: dict[int, set[str]] = {}  # epoch -> {"small", "big"}
        self.seconds = 0.0   # time spent computing and writing snapshots
        self.disabled = False
        self._budget_noted = False
        self._mark = time.perf_counter()  # the last epoch end (or the start), after our own work
        self._cost = {False: 0.0, True: 0.0}  # the last measured snapshot time without / with big views
        self._epochs = 0  # planned epochs of the run
        self._first = 0   # the epoch training starts from: > 0 for a resumed or forked run

    # --- callback protocol -------------------------------------------------------------------
    def on_train_start(self, context: dict) -> None:
        self._first = int(context.get("start_epoch") or 0)
        self._guarded(self._first, self._start, context)
        self._mark = time.perf_counter()

    def on_epoch_end(self, record: EpochRecord) -> None:
        """Record the planned views of this epoch, if the time budget allows."""
        if self.plan is None:
            return
        self.time.add_training(time.perf_counter() - self._mark)
        small, big = self.plan.wants(record.epoch - self._first)
        reserve = self._cost[True] if record.epoch < self._epochs else 0.0  # for the last epoch's full views
        if (small or big) and self.time.allows(self._cost[big], reserve):
            self._guarded(record.epoch, self._record, record.epoch, big)
        self._mark = time.perf_counter()

    def on_train_end(self, summary: TrainSummary) -> None:
        last = summary.epochs_run
        if self.plan is not None and last > 0 and "big" not in self.recorded.get(last, set()):
            self._guarded(last, self._record, last, True)
        if self.time.skipped and not self.disabled:
            self._note(0, "time", f"snapshots skipped on {self.time.skipped} planned epochs to keep them under "
                                  f"{self.time.fraction:.0%} of the training time")

    # --- work ----------------------------------------------------------------------------------
    def _start(self, context: dict) -> None:
        """Probe record, the views of the model training starts from (epoch 0, or the epoch a resumed or
        forked run starts at) and the plan of the epochs to come. A resumed run's stored views count
        against its budget."""
        t0, first = time.perf_counter(), self._first
        model, data = context["model"], context["data"]
        self.inspector = Inspector(model, context["trainer"].loss, data)
        probe = [self._encode(s) for s in self.inspector.probe_record()]
        fixed = sum(len(enc["data"]) for _, _, enc in probe)
        if first:  # a resumed run: what it stored before counts against its budget
            fixed = max(fixed, snapshot_bytes(self.engine, self.run_id))
        if not self.budget.take(fixed):
            self._note(first, "budget", f"the probe batch alone ({fixed} bytes) exceeds the snapshot budget "
                                        f"({self.budget.limit} bytes): no snapshots recorded")
            self.disabled = True
            return
        write_encoded(self.engine, self.run_id, 0, probe)  # the same batch again for a resumed run
        t_views = time.perf_counter()
        with limit_threads(1, "blas"):
            views = [self._encode(s) for s in self.inspector.compute(first, big=True)]
        t_views = time.perf_counter() - t_views
        small_b = sum(len(e["data"]) for k, _, e in views if k not in BIG_KINDS)
        big_b = sum(len(e["data"]) for k, _, e in views if k in BIG_KINDS)
        self._epochs = int(context.get("epochs") or 0)
        self.plan = plan_schedule(max(self._epochs - first, 0), small_b, big_b, self.budget.limit,
                                  fixed_bytes=fixed)
        for note in self.plan.notes:
            self._note(first, "schedule", note)
        small, big = self.plan.wants(0)
        if small:
            self._write(first, [v for v in views if big or v[0] not in BIG_KINDS], big)
        spent = time.perf_counter() - t0
        self.seconds += spent
        self.time.spend(spent)
        self._cost[True] = spent  # the first views were big: the first estimate for later ones
        # A run whose every planned epoch costs, by epoch 0's measure, less than the time every run may
        # spend keeps them all, decided once: identical runs then keep identical epochs, whatever the noise.
        if spent + len(self.plan.small | self.plan.big) * t_views <= self.time.floor_s:
            self.time.floor_s = float("inf")

    def _record(self, epoch: int, big: bool) -> None:
        t0 = time.perf_counter()
        with limit_threads(1, "blas"):
            views = [self._encode(s) for s in self.inspector.compute(epoch, big=big)]
        self._write(epoch, views, big)
        spent = time.perf_counter() - t0
        self.seconds += spent
        self.time.spend(spent)
        self._cost[big] = spent

    def _write(self, epoch: int, views: list, big: bool) -> None:
        """Write an epoch's views if they fit the budget; else its small views alone; else nothing."""
        size = sum(len(e["data"]) for _, _, e in views)
        if big and not self.budget.fits(size):
            views = [v for v in views if v[0] not in BIG_KINDS]
            size, big = sum(len(e["data"]) for _, _, e in views), False
        if not self.budget.take(size):
            if not self._budget_noted:
                self._budget_noted = True
                self._note(epoch, "budget", f"snapshot budget of {self.budget.limit} bytes reached at epoch {epoch}; "
                                            f"later epochs are recorded only while they fit")
            return
        write_encoded(self.engine, self.run_id, epoch, views)
        self.recorded.setdefault(epoch, set()).update({"small", "big"} if big else {"small"})

    def _encode(self, snap: Snapshot) -> tuple[str, str, dict]:
        return snap.kind, snap.name, encode_snapshot(snap.value)

    def _note(self, epoch: int, name: str, text: str) -> None:
        write_note(self.engine, self.run_id, epoch, name, text)

    def _guarded(self, epoch: int, fn, *args) -> None:
        if self.disabled:
            return
        if self.strict:
            fn(*args)
            return
        try:
            fn(*args)
        except Exception as exc:
            self.disabled = True
            log.warning("snapshots of run %s failed at epoch %s; training continues", self.run_id, epoch,
                        exc_info=True)
            self._note(epoch, "error", f"snapshots stopped at epoch {epoch}: {type(exc).__name__}: {exc}\n"
                                       + traceback.format_exc(limit=3))

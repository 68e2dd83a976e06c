"""Event notes on a run's curves, computed from its stored epochs: divergence, plateau, overfitting onset.

`detect_events` is pure (histories in, (epoch, kind, message) out): the job path's recorder calls it, and
`writes.finish_run` stores what it found in the transaction that ends the run. The verbs: `get_events`,
`replace_events`, `runs_without_events`, and `backfill_events(db)`, which computes them on demand for runs
stored before events were recorded (the Run page and the lesson runner call it for the runs they show).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import Engine, select

from . import reads
from .db import read_tx, write_tx
from .models import Event, Run
from .writes import write_events

Points = Sequence[tuple[int, float]]

DIVERGE_FACTOR = 3.0       # a loss this many times its minimum so far (and 1.0 above it) has diverged
PLATEAU_MIN_EPOCHS = 5     # a plateau is max(5, a tenth of the planned epochs) epochs without improvement
OVERFIT_RISE = 0.05        # validation loss 5% above its minimum...
OVERFIT_MIN_EPOCHS = 3     # ... at least this many epochs after it, while the training loss kept falling


def _divergence(train: Points, val: Points) -> tuple[int, str, str] | None:
    for key, points in (("training loss", train), ("validation loss", val)):
        low = math.inf
        for epoch, v in points:
            if v is None or not math.isfinite(v):
                return (epoch, "divergence", f"The {key} became {'NaN' if v is None or math.isnan(v) else 'infinite'}"
                        f" at epoch {epoch}: training blew up (a learning rate too high is the usual cause).")
            if low < math.inf and v > DIVERGE_FACTOR * low and v > low + 1.0:
                return (epoch, "divergence", f"The {key} jumped to {v:.3g} at epoch {epoch}, far above its best "
                        f"{low:.3g}: training is diverging (try a smaller learning rate or clipping).")
            low = min(low, v)
    return None


def _plateaus(points: Points, key: str, patience: int) -> list[tuple[int, str, str]]:
    """One event per stretch of `patience` epochs without a new best of `key` (not once it is perfect)."""
    higher = not key.endswith("loss")
    out, best, best_epoch, reported = [], None, None, False
    for epoch, v in points:
        if v is None or not math.isfinite(v):
            break
        if best is None or (v > best + 1e-9 if higher else v < best - 1e-9):
            best, best_epoch, reported = v, epoch, False
        elif not reported and epoch - best_epoch >= patience and not (higher and best >= 1.0):
            out.append((epoch, "plateau", f"No better {key} for {epoch - best_epoch} epochs (best {best:.4g} at "
                        f"epoch {best_epoch}): learning has stalled here."))
            reported = True
    return out


def _overfitting(train: Points, val: Points) -> tuple[int, str, str] | None:
    finite = [(e, v) for e, v in val if v is not None and math.isfinite(v)]
    if len(finite) < OVERFIT_MIN_EPOCHS + 2:
        return None
    best_epoch, best = min(finite, key=lambda p: p[1])
    last_epoch, last = finite[-1]
    tr = dict((e, v) for e, v in train if v is not None and math.isfinite(v))
    if best_epoch not in tr or last_epoch not in tr or last_epoch - best_epoch < OVERFIT_MIN_EPOCHS:
        return None
    if last > best * (1 + OVERFIT_RISE) and tr[last_epoch] < tr[best_epoch]:
        return (best_epoch, "overfitting", f"Validation loss was lowest at epoch {best_epoch} ({best:.3g}) and rose to "
                f"{last:.3g} by epoch {last_epoch} while training loss kept falling ({tr[best_epoch]:.3g} to "
                f"{tr[last_epoch]:.3g}): the network started memorising its training set.")
    return None


def detect_events(history: Mapping[str, Points], epochs_planned: int = 0) -> list[tuple[int, str, str]]:
    """[(epoch, kind, message)] for one run's histories ({key: [(epoch, value)]}), ordered by epoch."""
    train, val = history.get("train_loss") or [], history.get("val_loss") or []
    events = []
    div = _divergence(train, val)
    if div:
        events.append(div)
    key = "val_accuracy" if history.get("val_accuracy") else "val_loss"
    n = max(epochs_planned, len(history.get(key) or []))
    events += _plateaus(history.get(key) or [], key, max(PLATEAU_MIN_EPOCHS, n // 10))
    if not div:
        over = _overfitting(train, val)
        if over:
            events.append(over)
    return sorted(events, key=lambda e: (e[0], e[1]))


def replace_events(engine: Engine, run_id: int, events: Iterable[tuple[int, str, str]]) -> int:
    """Store a run's events ((epoch, kind, message), ...), replacing any it had; returns how many."""
    with write_tx(engine) as conn:
        return write_events(conn, run_id, events)


def get_events(engine: Engine, run_ids: Iterable[int]) -> dict[int, list[dict]]:
    """{run_id: [{"epoch", "kind", "message"}, ...]} ordered by epoch."""
    ids = [int(i) for i in run_ids]
    out: dict[int, list[dict]] = {i: [] for i in ids}
    if not ids:
        return out
    stmt = (select(Event.run_id, Event.epoch, Event.kind, Event.message).where(Event.run_id.in_(ids))
            .order_by(Event.run_id, Event.epoch, Event.kind))
    with read_tx(engine) as conn:
        for r in conn.execute(stmt):
            out[r.run_id].append({"epoch": r.epoch, "kind": r.kind, "message": r.message})
    return out


def runs_without_events(engine: Engine, statuses: Iterable[str] = ("completed", "cancelled", "failed", "crashed"),
                        run_ids: Iterable[int] | None = None) -> list[int]:
    """Finished runs with no stored event (never computed, or nothing to note), ascending."""
    has = select(Event.run_id).where(Event.run_id == Run.id).exists()
    stmt = select(Run.id).where(Run.status.in_(list(statuses)), ~has).order_by(Run.id)
    if run_ids is not None:
        stmt = stmt.where(Run.id.in_([int(i) for i in run_ids]))
    with read_tx(engine) as conn:
        return list(conn.scalars(stmt))


def record_events(db, run_id: int) -> int:
    """Compute a run's events from its stored epochs and store them (replacing old ones); returns how many.
    Safe to repeat."""
    run = reads.get_run(db, run_id)
    if run is None:
        return 0
    history = reads.get_metric_history(db, run_id, ["train_loss", "val_loss", "val_accuracy"])
    return replace_events(db, run_id, detect_events(history, run.epochs_planned))


def backfill_events(db, run_ids=None) -> int:
    """record_events for every finished run without stored events (or only `run_ids`); returns runs done."""
    todo = runs_without_events(db, run_ids=run_ids)
    for run_id in todo:
        record_events(db, run_id)
    return len(todo)

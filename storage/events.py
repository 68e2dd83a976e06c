"""Event notes on a run's curves, computed from its stored epochs: divergence, plateau, overfitting onset.

`detect_events` is pure (histories in, (epoch, kind, message) out); `record_events(db, run_id)` is the one
call a run's end needs (the job path, after finish_run), and `backfill_events(db)` computes them on demand
for runs stored before (the Run page and the lesson runner call it for the runs they show).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

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


def write_events(conn, run_id: int, events) -> int:
    """Store a run's events [(epoch, kind, message)] inside the caller's write transaction, replacing any
    it had; returns how many."""
    from sqlalchemy import delete

    from .models import Event

    rows = [{"run_id": int(run_id), "epoch": int(e), "kind": k, "message": m} for e, k, m in events]
    conn.execute(delete(Event).where(Event.run_id == run_id))
    if rows:
        conn.execute(Event.__table__.insert(), rows)
    return len(rows)


def record_events(db, run_id: int) -> int:
    """Compute a run's events from its stored epochs and store them (replacing old ones); returns how many.

    The call for the end of a run (the job path), safe to repeat."""
    from . import reads
    from .lessons import replace_events

    run = reads.get_run(db, run_id)
    if run is None:
        return 0
    history = reads.get_metric_history(db, run_id, ["train_loss", "val_loss", "val_accuracy"])
    return replace_events(db, run_id, detect_events(history, run.epochs_planned))


def backfill_events(db, run_ids=None) -> int:
    """record_events for every finished run without stored events (or only `run_ids`); returns runs done."""
    from .lessons import runs_without_events

    todo = runs_without_events(db, run_ids=run_ids)
    for run_id in todo:
        record_events(db, run_id)
    return len(todo)

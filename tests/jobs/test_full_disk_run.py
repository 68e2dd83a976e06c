"""A run whose store fills up mid-run: it ends failed with that cause (now if the store takes the status,
else once space is back), and every epoch committed before keeps its place.

The database sits on a 2 MB tmpfs that the test fills; mounting needs root, so the test skips, saying
why, where the machine does not allow it.
"""

from __future__ import annotations

import storage as s
from jobs.run import record_failure, run_experiment


def test_a_full_disk_fails_the_run_with_its_cause_and_keeps_the_epochs_before(small_disk):
    url = f"sqlite:///{small_disk / 'nnlab.db'}"
    filler = small_disk / "filler"

    def fill_at_epoch_3(record, _total):
        if record.epoch == 3:
            with open(filler, "wb") as f:
                try:
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
                except OSError:
                    pass

    result = run_experiment({"dataset": "xor", "hidden": "4", "epochs": 100000, "snapshots": False}, url,
                            on_progress=fill_at_epoch_3)
    assert result.status == "failed" and "full" in result.error
    engine = s.open_db(url)
    if not result.recorded:  # not even the status fitted: it is written once space is back
        filler.unlink()
        assert record_failure(engine, result.run_id, result.error)
    run = s.get_run(engine, result.run_id)
    assert run.status == "failed" and "full" in run.error
    steps = [st for st, _ in s.get_metric_history(engine, result.run_id, ["val_loss"])["val_loss"]]
    assert steps and steps == list(range(1, len(steps) + 1)) and len(steps) < 100000  # committed ones kept

"""SnapshotRecorder and the inside-view snapshot helpers: what a run stores, within its budget."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jobs.run import run_experiment
from storage import reads, writes
from storage.db import open_db
from jobs.snapshot_recorder import SnapshotRecorder
from storage.snapshots import list_snapshots, read_snapshot
from storage.snapshots import (
    encode_snapshot,
    export_snapshots,
    nearest_epoch,
    read_kind,
    read_kind_near,
    snapshot_bytes,
    snapshot_index,
    write_encoded,
)

XOR = {"model": "mlp", "dataset": "xor", "hidden": "4", "lr": 0.05, "batch_size": 4}


def _new_run(engine) -> int:
    return writes.create_run(engine, {}, {}, status="running")


def test_write_encoded_index_and_nearest_read_round_trip(engine):
    run_id = _new_run(engine)
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    for epoch in (0, 4):
        write_encoded(engine, run_id, epoch, [("boundary", "proba", encode_snapshot(a + epoch)),
                                              ("stats", "probe", encode_snapshot({"loss": 1.0 / (epoch + 1)}))])
    write_encoded(engine, run_id, 2, [("stats", "probe", encode_snapshot({"loss": 0.3}))])
    assert snapshot_index(engine, run_id) == {"boundary": [0, 4], "stats": [0, 2, 4]}
    at, got = read_kind_near(engine, run_id, "boundary", 3)
    assert at == 0 and got["proba"].dtype == np.float16
    np.testing.assert_array_equal(got["proba"], a)
    assert read_kind(engine, run_id, "stats", 2) == {"probe": {"loss": 0.3}}
    assert snapshot_bytes(engine, run_id) == sum(r["nbytes"] for r in list_snapshots(engine, run_id))
    writes.delete_runs(engine, [run_id])
    assert snapshot_index(engine, run_id) == {}


def test_nearest_epoch_takes_the_latest_recorded_at_or_before():
    assert nearest_epoch([0, 1, 2, 4, 8], 7) == 4
    assert nearest_epoch([2, 4], 1) == 2
    assert nearest_epoch([], 3) is None


def test_a_run_records_probe_untrained_and_planned_epochs(sqlite_url):
    result = run_experiment({**XOR, "epochs": 10}, sqlite_url)
    engine = open_db(sqlite_url)
    index = snapshot_index(engine, result.run_id)
    assert index["probe"] == [0]
    assert index["stats"] == list(range(11))          # small views every epoch
    assert index["histograms"] == [0, 1, 2, 4, 8, 10]  # big views log-spaced, and the last
    assert index["boundary"] == list(range(11))
    x = read_snapshot(engine, result.run_id, "probe", "x", 0)
    index = read_snapshot(engine, result.run_id, "probe", "index", 0)
    assert sorted(index.tolist()) == [0, 1, 2, 3]  # XOR's four points, in the probe's order
    np.testing.assert_array_equal(x, np.array([[0, 0], [0, 1], [1, 0], [1, 1]])[index])
    meta = read_snapshot(engine, result.run_id, "probe", "meta", 0)
    assert meta["plane"] and meta["grid_res"] == 40


def test_snapshots_off_records_nothing(sqlite_url):
    result = run_experiment({**XOR, "epochs": 3, "snapshots": False}, sqlite_url)
    assert list_snapshots(open_db(sqlite_url), result.run_id) == []


def test_byte_budget_holds_on_a_long_run_and_keeps_the_last_epoch(sqlite_url):
    budget_mb = 0.06
    result = run_experiment({**XOR, "epochs": 400, "snapshot_budget_mb": budget_mb}, sqlite_url)
    engine = open_db(sqlite_url)
    notes = read_kind(engine, result.run_id, "note", 0)
    data_bytes = sum(r["nbytes"] for r in list_snapshots(engine, result.run_id) if r["kind"] != "note")
    assert result.status == "completed"
    assert data_bytes <= budget_mb * 1_000_000
    index = snapshot_index(engine, result.run_id)
    assert 400 in index["stats"] and 400 in index["boundary"]
    assert 0 < len(index["stats"]) < 401  # thinned, and the thinning is stated
    assert any("small views on" in n["text"] for n in notes.values())


def test_a_run_stopped_early_records_its_last_epoch_in_full(sqlite_url):
    done = []
    result = run_experiment({**XOR, "epochs": 50}, sqlite_url, on_progress=lambda rec, n: done.append(rec.epoch),
                            should_stop=lambda: len(done) >= 5)
    engine = open_db(sqlite_url)
    assert reads.get_run(engine, result.run_id).epochs_done == 5
    assert snapshot_index(engine, result.run_id)["histograms"] == [0, 1, 2, 4, 5]


def test_a_failing_snapshot_never_fails_the_run_and_leaves_a_note(sqlite_url, monkeypatch):
    from engine.inspect import Inspector

    real = Inspector.compute

    def broken(self, epoch, *, big):
        if epoch == 2:
            raise RuntimeError("probe exploded")
        return real(self, epoch, big=big)

    from engine.experiment import prepare, run_training
    from engine.spec import parse_spec

    monkeypatch.setattr(Inspector, "compute", broken)  # in this process: the recorder runs here, not in a writer
    engine = open_db(sqlite_url)
    run_id = _new_run(engine)
    summary = run_training(prepare(parse_spec({**XOR, "epochs": 5})), [SnapshotRecorder(engine, run_id)])
    assert summary.outcome == "completed" and summary.epochs_run == 5
    assert snapshot_index(engine, run_id)["stats"] == [0, 1]  # stopped after the failure
    note = read_snapshot(engine, run_id, "note", "error", 2)
    assert "probe exploded" in note["text"]


def test_strict_recorder_lets_errors_surface(sqlite_url):
    from engine.experiment import prepare, run_training
    from engine.spec import parse_spec

    engine = open_db(sqlite_url)
    rec = SnapshotRecorder(engine, _new_run(engine), strict=True)
    exp = prepare(parse_spec({**XOR, "epochs": 1}))
    exp.model.forward = None  # the probe pass cannot run
    with pytest.raises(TypeError):
        run_training(exp, [rec])


def test_export_writes_npy_and_json_files(sqlite_url, tmp_path):
    result = run_experiment({**XOR, "epochs": 2}, sqlite_url)
    engine = open_db(sqlite_url)
    n = export_snapshots(engine, result.run_id, str(tmp_path / "out"))
    root = tmp_path / "out" / f"run-{result.run_id}"
    assert n == len(list_snapshots(engine, result.run_id)) == len(list(root.rglob("*.*")))
    grid = np.load(root / "boundary" / "00002-proba.npy")
    np.testing.assert_array_equal(grid, read_snapshot(engine, result.run_id, "boundary", "proba", 2))
    stats = json.loads((root / "stats" / "00001-params.json").read_text())
    assert [r["name"] for r in stats["rows"]] == ["layers.0.W", "layers.0.b", "layers.2.W", "layers.2.b"]


def test_cli_show_snapshots_json_lists_kind_epoch_and_shape(sqlite_url, capsys):
    from cli.main import main

    result = run_experiment({**XOR, "epochs": 2}, sqlite_url)
    assert main(["show", str(result.run_id), "--snapshots", "--json", "--db", sqlite_url]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"kind", "epoch", "shape"} <= set(rows[0])
    assert {"kind": "boundary", "epoch": 2, "shape": [40, 40]} in [
        {k: r[k] for k in ("kind", "epoch", "shape")} for r in rows]
    assert len(rows) == len(list_snapshots(open_db(sqlite_url), result.run_id))


def test_cli_export_snapshots_writes_a_folder_per_run(sqlite_url, tmp_path, capsys):
    from cli.main import main

    ids = [run_experiment({**XOR, "epochs": 1, "seed": s}, sqlite_url).run_id for s in (0, 1)]
    out = tmp_path / "snaps"
    assert main(["export", "--snapshots", str(out), "--out", str(tmp_path / "m.csv"), "--db", sqlite_url]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"run-{i}" for i in ids]
    assert (out / f"run-{ids[0]}" / "probe" / "00000-x.npy").exists()


def test_slow_snapshots_are_skipped_except_the_last_epoch_and_the_run_says_so(sqlite_url):
    from engine.experiment import prepare, run_training
    from engine.inspect.schedule import TimeBudget
    from engine.spec import parse_spec

    engine = open_db(sqlite_url)
    run_id = _new_run(engine)
    rec = SnapshotRecorder(engine, run_id, strict=True, time_budget=TimeBudget(fraction=0.0, floor_s=0.0))
    run_training(prepare(parse_spec({**XOR, "epochs": 12})), [rec])
    index = snapshot_index(engine, run_id)
    assert index["stats"] == index["histograms"] == [0, 12]  # the untrained and the last epoch only
    assert "skipped on 12 planned epochs" in read_snapshot(engine, run_id, "note", "time", 0)["text"]


def test_a_run_trains_identically_with_and_without_snapshots(sqlite_url):
    spec = {"model": "mlp", "dataset": "moons", "hidden": "16", "dropout": 0.2, "epochs": 4, "n_samples": 300}
    on = run_experiment({**spec, "snapshots": True}, sqlite_url)
    off = run_experiment({**spec, "snapshots": False}, sqlite_url)
    assert on.final["val_loss"] == off.final["val_loss"] and on.final["train_loss"] == off.final["train_loss"]


def test_cli_show_snapshots_table_summarises_kinds_and_epochs(sqlite_url, capsys):
    from cli.main import main
    from storage.snapshots import epoch_ranges

    assert epoch_ranges([0, 1, 2, 3, 4, 8, 10, 11]) == "0-4, 8, 10-11"
    result = run_experiment({**XOR, "epochs": 3}, sqlite_url)
    assert main(["show", str(result.run_id), "--snapshots", "--db", sqlite_url]) == 0
    out = capsys.readouterr().out
    stats = next(line for line in out.splitlines() if line.startswith("stats"))
    assert stats.split()[:3] == ["stats", "3", "0-3"]  # three names (params, layers, probe), epochs 0 to 3


def test_the_time_cap_keeps_room_for_the_last_epochs_full_views(sqlite_url, monkeypatch):
    """On a fake clock (epochs 0.1 s, small views 0.01 s, big views 0.02 s), the whole run's snapshot
    time, the always-recorded last epoch included, stays within 5% of its epochs."""
    from engine.experiment import prepare, run_training
    from engine.inspect.schedule import TimeBudget
    from engine.spec import parse_spec
    from jobs import snapshot_recorder as module

    clock = {"now": 0.0}
    monkeypatch.setattr(module.time, "perf_counter", lambda: clock["now"])

    class TimedInspector(module.Inspector):
        def compute(self, epoch, big=False):
            clock["now"] += 0.02 if big else 0.01
            return super().compute(epoch, big=big)

    class SlowEpochs:  # runs before the recorder: each epoch "takes" 0.1 s
        def on_train_start(self, context):
            pass

        def on_epoch_end(self, record):
            clock["now"] += 0.1

        def on_train_end(self, summary):
            pass

    monkeypatch.setattr(module, "Inspector", TimedInspector)
    engine = open_db(sqlite_url)
    run_id = _new_run(engine)
    rec = SnapshotRecorder(engine, run_id, strict=True, time_budget=TimeBudget(fraction=0.05, floor_s=0.0))
    run_training(prepare(parse_spec({**XOR, "epochs": 40})), [SlowEpochs(), rec])
    assert rec.time.train_s == pytest.approx(4.0)
    assert 0 < rec.time.skipped < 40
    assert "big" in rec.recorded[40]  # the last epoch in full
    assert rec.time.spent_s <= 0.05 * rec.time.train_s + 1e-9
    assert rec.time.spent_s >= 0.05 * rec.time.train_s - 0.02  # and the allowance is used, not wasted

"""Snapshots: arrays (float16 by default) and JSON values per run, epoch, kind and name."""

from __future__ import annotations

import numpy as np
import pytest

import storage as s


def test_float_arrays_are_stored_as_float16_unless_asked_otherwise(sqlite_engine):
    rng = np.random.default_rng(0)
    run_id = s.create_run(sqlite_engine, {}, {})
    weights = rng.normal(size=(16, 8))
    s.write_snapshot(sqlite_engine, run_id, 1, "weights", "layers.0.W", weights)
    s.write_snapshot(sqlite_engine, run_id, 1, "weights", "exact", weights, float_dtype=None)
    s.write_snapshot(sqlite_engine, run_id, 2, "labels", "y", np.arange(10, dtype=np.int64))
    half = s.read_snapshot(sqlite_engine, run_id, "weights", "layers.0.W", 1)
    assert half.dtype == np.float16 and half.shape == (16, 8)
    np.testing.assert_allclose(half, weights, rtol=1e-3, atol=1e-3)
    np.testing.assert_array_equal(s.read_snapshot(sqlite_engine, run_id, "weights", "exact", 1), weights)
    np.testing.assert_array_equal(s.read_snapshot(sqlite_engine, run_id, "labels", "y", 2), np.arange(10))


def test_json_values_round_trip_and_listing_describes_without_data(engine):
    run_id = s.create_run(engine, {}, {})
    value = {"confusion": [[5, 1], [0, 4]], "note": "ünï", "ok": True}
    s.write_snapshot(engine, run_id, 3, "metrics", "confusion", value)
    s.write_snapshot(engine, run_id, 3, "weights", "W", np.ones((2, 3)))
    s.write_snapshot(engine, run_id, 3, "weights", "W", np.zeros((2, 3)))  # same key: replaced
    assert s.read_snapshot(engine, run_id, "metrics", "confusion", 3) == value
    assert not s.read_snapshot(engine, run_id, "weights", "W", 3).any()
    listing = s.list_snapshots(engine, run_id)
    assert [(x["kind"], x["name"], x["epoch"], x["shape"]) for x in listing] == [
        ("metrics", "confusion", 3, ()), ("weights", "W", 3, (2, 3))]
    assert all(x["nbytes"] > 0 for x in listing)
    with pytest.raises(KeyError):
        s.read_snapshot(engine, run_id, "weights", "W", 4)

"""The single-BLAS-thread context around a snapshot (jobs.threads.limit_threads(1, "blas")): one thread
inside, the caller's count restored after, and blas_threads reading the count in force."""

from __future__ import annotations

import numpy as np  # noqa: F401  (loads NumPy's BLAS, so threadpoolctl can find it)
import pytest
import threadpoolctl

from jobs.threads import blas_threads, limit_threads


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


def test_real_blas_is_limited_and_restored_even_when_the_snapshot_fails():
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        if not before:
            pytest.skip("threadpoolctl sees no BLAS library in this NumPy")
        assert blas_threads() == max(before)
        with limit_threads(1, "blas"):
            inside = _blas_threads()
            assert blas_threads() == 1
        after = _blas_threads()
        with pytest.raises(ZeroDivisionError):
            with limit_threads(1, "blas"):
                1 / 0
        after_failure = _blas_threads()
    assert inside == [1] * len(before)
    assert after == before == after_failure

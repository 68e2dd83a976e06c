"""The single-BLAS-thread context around a snapshot: one thread inside, the caller's count restored after."""

from __future__ import annotations

import numpy as np  # noqa: F401  (loads NumPy's BLAS, so threadpoolctl can find it)
import pytest
import threadpoolctl

from storage.snapshot_recorder import _one_blas_thread


class FakeLibrary:
    """A BLAS library as threadpoolctl's controller presents it, recording every set_num_threads."""

    def __init__(self, threads: int | None) -> None:
        self.threads, self.calls = threads, []

    def get_num_threads(self):
        return self.threads

    def set_num_threads(self, n: int) -> None:
        self.calls.append(n)
        self.threads = n


@pytest.fixture
def libraries(monkeypatch):
    """Three fake BLAS libraries (4 threads, already 1, count unknown) in place of the real ones."""
    libs = [FakeLibrary(4), FakeLibrary(1), FakeLibrary(None)]

    class Controller:
        def select(self, **kwargs):
            assert kwargs == {"user_api": "blas"}
            return type("Selection", (), {"lib_controllers": libs})()

    monkeypatch.setattr(threadpoolctl, "ThreadpoolController", Controller)
    return libs


def test_blas_runs_one_thread_inside_and_the_callers_count_comes_back(libraries):
    single = _one_blas_thread()
    for _ in range(2):  # the context is reused for every snapshot of a run
        with single():
            assert [lib.threads for lib in libraries] == [1, 1, None]
        assert [lib.threads for lib in libraries] == [4, 1, None]
    many, one, unknown = libraries
    assert many.calls == [1, 4, 1, 4]
    assert one.calls == [] and unknown.calls == []  # nothing to change: no call at all


def test_the_thread_count_comes_back_when_the_snapshot_fails(libraries):
    with pytest.raises(ZeroDivisionError):
        with _one_blas_thread()():
            1 / 0
    assert [lib.threads for lib in libraries] == [4, 1, None]


def test_real_blas_is_limited_and_restored():
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        if not before:
            pytest.skip("threadpoolctl sees no BLAS library in this NumPy")
        with _one_blas_thread()():
            inside = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        after = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert inside == [1] * len(before)
    assert after == before

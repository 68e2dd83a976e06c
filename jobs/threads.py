"""Split the machine's cores between concurrent training jobs (no BLAS oversubscription)."""

from __future__ import annotations

import contextlib
import os

BLAS_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def cpu_count() -> int:
    """Cores this process may use (respects CPU affinity, e.g. in containers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def default_max_running() -> int:
    """How many runs may train at once by default: one per core, overridable by $NNLAB_MAX_RUNNING."""
    value = os.environ.get("NNLAB_MAX_RUNNING")
    return max(1, int(value)) if value else cpu_count()


def threads_per_job(max_running: int) -> int:
    """BLAS threads each of `max_running` concurrent jobs gets so their sum never exceeds the cores."""
    return max(1, cpu_count() // max(1, max_running))


def blas_env(threads: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment with every BLAS/OpenMP thread count set to `threads`."""
    env = dict(os.environ if base is None else base)
    for var in BLAS_ENV_VARS:
        env[var] = str(threads)
    return env


def _controller():
    """This process's threadpoolctl controller: the BLAS libraries are found once (a scan of every loaded
    library), their thread counts are read and set on each use."""
    global _CONTROLLER
    if _CONTROLLER is None:
        import numpy  # noqa: F401  (loads NumPy's BLAS before the scan)
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


_CONTROLLER = None


def limit_threads(threads: int | None, user_api: str | None = None):
    """A context limiting this running process's BLAS/OpenMP threads to `threads` (all, or `user_api`'s);
    None leaves them as they are (a run with no recorded thread count)."""
    if not threads:
        return contextlib.nullcontext()
    return _controller().limit(limits=threads, user_api=user_api)


def blas_threads() -> int | None:
    """BLAS threads this process uses now (after any limit); None when no BLAS library is loaded."""
    counts = [lib.num_threads for lib in _controller().lib_controllers if lib.user_api == "blas"]
    return max(counts) if counts else None

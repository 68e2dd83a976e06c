"""Warm workers: one process per job slot claims a queued run, trains it, and claims the next.

A worker keeps its imports and the data sets it loaded (a bounded cache keyed by everything that
determines the data), so a run it trains starts at once. Idle, it checks the runs table every
POLL_S and exits after `idle_s` without work.

Who owns a worker's lifetime: the worker itself. `ensure_workers` (called by the dashboard's job
slot, by `nnlab sweep` and by `nnlab serve` at start) starts one for each free slot of a database,
detached in a session of its own, so that nothing that kills its starter (Dash SIGKILLs a
background job on re-trigger) can kill it. A slot is a lock file that its worker holds while it
lives (flock, released by the kernel when the process dies, however it dies), so at most one
worker serves each slot and a free slot is one whose lock can be taken. Cancel goes through the
database, never through a signal: it stops the run, not the worker. BLAS threads are fixed through
the environment before NumPy loads (cores / slots each).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from pathlib import Path

IDLE_S = 600.0   # a worker with nothing to do for this long exits ($NNLAB_WORKER_IDLE_S)
POLL_S = 0.1     # how often an idle worker looks for queued runs
SWEEP_S = 10.0   # how often an idle worker marks runs whose trainer died as crashed
CACHE_BYTES = 1 << 30  # data sets a worker keeps loaded, at most (least recently used go first)


# --- slots -------------------------------------------------------------------------------------------

def slot_dir(db_url: str) -> Path:
    """The folder of one database's slot locks and worker logs (per user, under the temp folder)."""
    digest = hashlib.sha256(absolute_db_url(db_url).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"nnlab-workers-{os.getuid()}" / digest
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def absolute_db_url(db_url: str) -> str:
    """The URL with a relative SQLite path made absolute, so every process means the same file."""
    from storage.db import normalize_url

    url = normalize_url(db_url)
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url[len(prefix):] not in ("", ":memory:"):
        return prefix + os.path.abspath(url[len(prefix):])
    return url


def _try_lock(path: Path) -> int | None:
    """An open descriptor holding an exclusive lock on `path`, or None if another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def ensure_workers(db_url: str, max_running: int, wanted: int | None = None) -> list[int]:
    """Start a worker for up to `wanted` (default: every) free slot among `max_running`; returns the
    slots started. Safe from a forked or threaded process: it only takes locks and starts processes.

    The slot's lock is taken here and handed to the worker (an inherited descriptor shares the lock),
    so two callers can never start two workers for one slot."""
    from .threads import blas_env, threads_per_job

    url = absolute_db_url(db_url)
    folder = slot_dir(url)
    env = blas_env(threads_per_job(max_running))
    env["NNLAB_DB"] = url  # the URL travels in the environment, not on the command line `ps` shows
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [project_root(), env.get("PYTHONPATH", "")]))
    started = []
    for slot in range(max_running):
        if wanted is not None and len(started) >= wanted:
            break
        fd = _try_lock(folder / f"slot-{slot}.lock")
        if fd is None:
            continue
        try:
            cmd = [sys.executable, "-m", "jobs.worker", "--slot", str(slot), "--max-running", str(max_running),
                   "--lock-fd", str(fd), "--idle", os.environ.get("NNLAB_WORKER_IDLE_S", str(IDLE_S))]
            # A launcher that starts the worker in a new session and exits at once: the worker is then
            # nobody's child (no job runner that kills its children can reach it) and leaves no zombie.
            subprocess.run([sys.executable, "-c", _LAUNCH, str(fd), str(folder / f"slot-{slot}.log"), *cmd],
                           env=env, stdin=subprocess.DEVNULL, pass_fds=(fd,), check=True, timeout=30)
        finally:
            os.close(fd)
        started.append(slot)
    return started


_LAUNCH = ("import subprocess, sys; log = open(sys.argv[2], 'ab'); "
           "subprocess.Popen(sys.argv[3:], stdin=subprocess.DEVNULL, stdout=log, stderr=log, "
           "start_new_session=True, pass_fds=(int(sys.argv[1]),))")


def busy_slots(db_url: str, max_running: int) -> int:
    """How many of the slots 0..max_running-1 of `db_url` a live worker holds."""
    folder, busy = slot_dir(db_url), 0
    for slot in range(max_running):
        fd = _try_lock(folder / f"slot-{slot}.lock")
        if fd is None:
            busy += 1
        else:
            os.close(fd)
    return busy


def project_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- the data cache ----------------------------------------------------------------------------------

class DataCache:
    """Data sets already loaded, by `engine.data.data_key`; least recently used dropped past `max_bytes`."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, tuple[object, int]] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, spec):
        from engine.data import data_key, load_dataset

        key = data_key(spec)
        if key in self._items:
            self._items.move_to_end(key)
            self.hits += 1
            return self._items[key][0]
        self.misses += 1
        data = load_dataset(spec)
        size = sum(a.nbytes for a in (data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test)
                   if a is not None)
        self._items[key] = (data, size)
        while len(self._items) > 1 and sum(s for _, s in self._items.values()) > self.max_bytes:
            self._items.popitem(last=False)
        return data


# --- the worker loop ---------------------------------------------------------------------------------

def serve_queue(db_url: str, *, max_running: int, idle_s: float = IDLE_S, poll_s: float = POLL_S,
                cache: DataCache | None = None) -> int:
    """Claim and train queued runs until none has come for `idle_s`; returns how many were trained."""
    from engine.spec import parse_spec
    from storage import reads, writes
    from storage.db import open_db

    from .run import record_failure, run_experiment

    db = open_db(db_url)
    served = _database_file(db_url)
    cache = cache or DataCache()
    pid, host = os.getpid(), socket.gethostname()
    trained, idle_since, swept = 0, time.monotonic(), 0.0
    unrecorded: dict[int, str] = {}  # runs that failed while the store could not be written: cause kept
    while True:
        if unrecorded and time.monotonic() - swept >= SWEEP_S:  # the store may be writable again
            unrecorded = {i: e for i, e in unrecorded.items() if not record_failure(db, i, e)}
        run_id = None
        try:
            if reads.has_queued_runs(db):  # a read first: claiming takes the write lock
                run_id = writes.claim_next_run(db, max_running=max_running, pid=pid, host=host,
                                                worker=f"{host}:{pid}")
        except Exception as exc:  # the store is unreachable or full: wait for it (as long as an idle worker waits)
            print(f"worker {pid}: the store failed ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                  f"retrying", flush=True)
            if time.monotonic() - idle_since >= idle_s or _database_file(db_url) != served:
                return trained
            time.sleep(max(poll_s, 1.0))
            continue
        if run_id is None:
            now = time.monotonic()
            if (now - idle_since >= idle_s and not unrecorded) or _database_file(db_url) != served:
                return trained
            if now - swept >= SWEEP_S:
                try:
                    writes.mark_crashed_runs(db)
                except Exception:  # a full disk: marking waits for space
                    pass
                swept = now
            time.sleep(poll_s)
            continue
        run = reads.get_run(db, run_id)
        try:
            spec = parse_spec(run.spec)
            data = cache.get(spec)
        except Exception as exc:  # an unreadable spec or missing data files: the run fails, the worker goes on
            writes.finish_run(db, run_id, "failed", error=f"{type(exc).__name__}: {exc}")
            continue
        result = run_experiment(spec, db_url, run_id=run_id, data=data)
        if not result.recorded:
            unrecorded[run_id] = result.error
        trained += 1
        idle_since = time.monotonic()


def _database_file(db_url: str) -> tuple[int, int] | None:
    """The identity (device, inode) of a SQLite URL's file, None when there is no such file; () for a
    server database. A worker whose file is deleted or replaced (a test's temporary folder; `rm lab.db`
    and a new sweep) stops serving it: nothing more will come to the file it has open."""
    prefix = "sqlite:///"
    if not db_url.startswith(prefix):
        return ()
    try:
        st = os.stat(db_url[len(prefix):].split("?")[0])
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="SQLAlchemy URL of the results database (default: $NNLAB_DB)")
    parser.add_argument("--slot", type=int, required=True, help="the job slot this worker serves")
    parser.add_argument("--max-running", type=int, default=1, help="runs training at once on this database")
    parser.add_argument("--idle", type=float, default=IDLE_S, help="seconds without work before exiting")
    parser.add_argument("--lock-fd", type=int, help="the slot's lock, already taken by ensure_workers")
    args = parser.parse_args(argv)
    db_url = absolute_db_url(args.db or os.environ["NNLAB_DB"])
    if args.lock_fd is None and _try_lock(slot_dir(db_url) / f"slot-{args.slot}.lock") is None:
        return 0  # another worker already serves this slot
    print(f"worker {os.getpid()} serves slot {args.slot} ({time.strftime('%Y-%m-%d %H:%M:%S')})", flush=True)
    trained = serve_queue(db_url, max_running=args.max_running, idle_s=args.idle)
    print(f"worker {os.getpid()} exits after {trained} runs", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Scale out: `nnlab worker` processes on any machine train the run queue, woken through a Celery broker.

The runs table is the queue: `storage.writes.claim_next_run` takes a run atomically, so a run is
trained at most once at a time whatever the broker does. The broker (Redis) carries no run, only
'wake up' messages (`nnlab.wake`, no payload, no result; and the dashboard's job slot, below): any
worker may take one. A worker is a Celery worker whose prefork pool processes are warm trainers
(imports and a data cache kept between runs); a wake makes one of them claim one queued run and train
it, then wake the workers again while runs wait.

Lost or extra messages cost time, never runs: a wake that finds no queued run does nothing, and each
worker's main process checks the store every CHECK_S (`Watch`): it marks crashed the runs whose
trainer died (on any host), and wakes itself when runs wait while one of its pool processes is idle
(a broker restarted, a message lost, a worker killed with the wakes it had prefetched).

`nnlab sweep` queues runs in the database and publishes wakes by task name. The dashboard's job slot
is a Dash background callback that Dash's CeleryManager sends to the workers (callbacks/jobs.py): the
worker registers that one task besides the wake (`register_tasks`, from cli/worker.py), so the Celery
apps of the workers and of the dashboard store results in the broker's Redis; the wake stores none.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time

from storage.db import mask_url

log = logging.getLogger(__name__)
WAKE_TASK = "nnlab.wake"
CHECK_S = 5.0        # how often a worker's main process marks crashed runs and looks for unserved ones
MAX_WAKES = 1000     # wakes sent at once, at most (each trains at most one run; more come as runs end)
QUICK_RETRY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1}
_state: dict = {}    # a pool process's warm state: the data cache (kept between tasks)


# --- names and URLs ----------------------------------------------------------------------------------

def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_name() -> str:
    """In a worker's process, its --name (what runs record)."""
    return os.environ.get("NNLAB_WORKER_NAME") or default_worker_name()


# --- the Celery app (no Dash) ---------------------------------------------------------------------

def make_celery(broker_url: str, *, results: bool = False):
    """The Celery app of the workers and of whoever wakes them. With `results`, the broker's Redis is
    also the result backend, which Dash's CeleryManager needs (the workers and the dashboard); the wake
    task never stores a result, so a publisher of wakes needs none."""
    from celery import Celery

    app = Celery("nnlab", broker=broker_url, backend=broker_url if results else None, set_as_current=False)
    app.conf.update(
        task_ignore_result=not results,
        task_default_queue="nnlab",
        worker_prefetch_multiplier=1,       # a busy worker holds at most one wake per pool process
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a restarted broker is reconnected to, however long it takes
        worker_cancel_long_running_tasks_on_connection_loss=False,  # training goes on while the broker is away
        worker_hijack_root_logger=False,
        broker_transport_options={"socket_connect_timeout": 3},
        # With the broker away, a wake or the dashboard's job slot fails within seconds rather than hold
        # a request thread (the runs wait in the database, and the workers' checks find them).
        task_publish_retry_policy=QUICK_RETRY,
        result_backend_transport_options={"retry_policy": QUICK_RETRY},
    )
    app.task(name=WAKE_TASK, ignore_result=True)(_wake_task)
    return app


def wake(broker_url: str, n: int) -> int:
    """Send `n` wake messages (at most MAX_WAKES); returns how many were sent. A broker that cannot be
    reached is logged, not raised: the workers' own checks find the queued runs within CHECK_S."""
    app = _publisher(broker_url)
    sent = 0
    try:
        for _ in range(max(0, min(int(n), MAX_WAKES))):
            app.send_task(WAKE_TASK, retry=True)
            sent += 1
    except Exception as exc:  # the broker is down: the runs wait in the database, nothing is lost
        log.warning("could not wake the workers through %s: %s", mask_url(broker_url), exc)
    return sent


def broker_problem(broker_url: str, timeout_s: float = 1.0) -> str | None:
    """Why the broker cannot be reached right now (one line), or None when it answers within `timeout_s`."""
    from kombu import Connection

    try:
        with Connection(broker_url, connect_timeout=timeout_s) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout_s)
    except Exception as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


_publishers: dict[str, object] = {}


def _publisher(broker_url: str):
    # No result backend: a publisher with one would subscribe to each wake's (never sent) result.
    key = f"{os.getpid()}:{broker_url}"  # a forked child never reuses its parent's broker connection
    if key not in _publishers:
        _publishers[key] = make_celery(broker_url)
    return _publishers[key]


# --- in a pool process: train one run -------------------------------------------------------------

def _wake_task() -> int | None:
    """Claim the oldest queued run and train it here; wake the workers again if more runs wait."""
    from storage import reads

    db_url, broker_url = os.environ["NNLAB_DB"], os.environ["NNLAB_BROKER"]
    run_id = train_one(db_url, worker_name())
    if run_id is not None and reads.has_queued_runs(_db(db_url)):
        wake(broker_url, 1)
    return run_id


def _db(db_url: str):
    from storage.db import open_db

    return open_db(db_url)


def train_one(db_url: str, worker: str) -> int | None:
    """Claim one queued run for `worker` (no global cap) and train it in this process; its id or None."""
    from engine.spec import parse_spec
    from storage import reads, writes

    from .run import run_experiment
    from .worker import DataCache

    db = _db(db_url)
    if not reads.has_queued_runs(db):  # a read first: claiming takes the write lock
        return None
    run_id = writes.claim_next_run(db, max_running=None, pid=os.getpid(), host=socket.gethostname(), worker=worker)
    if run_id is None:
        return None
    log.info("worker %s trains run %s (pid %s)", worker, run_id, os.getpid())
    cache = _state.setdefault("cache", DataCache())
    try:
        spec = parse_spec(reads.get_run(db, run_id).spec)
        data = cache.get(spec)
    except Exception as exc:  # an unreadable spec or missing data files: the run fails, the worker goes on
        writes.finish_run(db, run_id, "failed", error=f"{type(exc).__name__}: {exc}")
        return run_id
    result = run_experiment(spec, db_url, run_id=run_id, data=data)
    if result.status == "failed":
        record_failure(db, run_id, result.error or "failed")
    log.info("worker %s: run %s %s", worker, run_id, result.status)
    return run_id


def record_failure(db, run_id: int, error: str, *, retry_s: float = 2.0, give_up_s: float = 3600.0) -> bool:
    """Make sure a failed run says so: a run that failed because the database went away could not
    record it then (and its trainer, alive and serving other runs, never looks crashed). Retried every
    `retry_s` until the database is back (this pool process waits; there is nothing to train without
    it). True once the run has a final status."""
    from storage import reads, writes

    deadline = time.monotonic() + give_up_s
    while True:
        try:
            if reads.run_statuses(db, [run_id]).get(run_id) in ("queued", "running"):
                writes.finish_run(db, run_id, "failed", error=error)
            return True
        except Exception as exc:
            if time.monotonic() > deadline:
                log.error("run %s: could not record its failure: %s", run_id, exc)
                return False
            time.sleep(retry_s)


# --- in the main process: the watch ---------------------------------------------------------------

AUTO_RESUMED = "auto-resumed"  # the tag a run gets when a watch resumed it: once, and visible in the grid and SQL


def resume_crashed(db, run_ids: list[int]) -> list[int]:
    """Put the runs a watch has just marked crashed back in the queue from their last checkpoint, or from
    their start when they crashed before their first (the warm workers continue them, exactly:
    jobs/lineage.py), once per run: a resumed run is tagged AUTO_RESUMED and never resumed automatically
    again. Runs that prepare_resume refuses (an unreadable checkpoint) stay crashed. Returns the runs
    re-queued."""
    from storage import reads, writes

    from .lineage import Refused, prepare_resume

    resumed = []
    for run_id in run_ids:
        run = reads.get_run(db, run_id)
        if run is None or AUTO_RESUMED in run.tags:
            continue
        try:
            epoch = prepare_resume(db, run_id)
        except Refused as e:
            log.warning("run %s stays crashed: %s", run_id, e)
            continue
        writes.tag_run(db, run_id, AUTO_RESUMED)
        log.warning("run %s resumed automatically %s", run_id,
                    f"from its checkpoint at epoch {epoch}" if epoch else "from its start (no checkpoint yet)")
        resumed.append(run_id)
    return resumed


class Watch:
    """The worker main process's thread: every CHECK_S, mark crashed runs (and hand them to
    resume_crashed) and wake this worker while runs wait and one of its pool processes is idle."""

    def __init__(self, db_url: str, broker_url: str, name: str, concurrency: int, check_s: float = CHECK_S):
        self.db_url, self.broker_url, self.name = db_url, broker_url, name
        self.concurrency, self.check_s = concurrency, check_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="nnlab-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.check_s):
            try:
                self.check()
            except Exception as exc:  # the database is away: try again next time
                log.warning("worker %s: check failed: %s", self.name, str(exc).splitlines()[0][:200])

    def check(self) -> None:
        from storage import reads, writes

        db = _db(self.db_url)
        crashed = writes.mark_crashed_runs(db, by=f"worker {self.name}")
        if crashed:
            log.warning("worker %s marked runs %s crashed", self.name, crashed)
            resume_crashed(db, crashed)
        if self.concurrency < 1 or not reads.has_queued_runs(db):
            return
        # Busy pool processes, from the runs table (Celery's own bookkeeping drifts when the broker goes away).
        idle = self.concurrency - reads.count_runs(db, status="running", worker=self.name)
        if idle > 0:
            log.info("worker %s: runs wait and %d pool processes are idle: waking them", self.name, idle)
            wake(self.broker_url, idle)


# --- the worker's main process: what `nnlab worker` runs (cli/worker.py) ------------------------

def check_database(db_url: str, timeout_s: int = 5) -> str | None:
    """None if the database answers (and is migrated); otherwise a one-line reason."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    try:
        if make_url(db_url).get_backend_name() == "postgresql":
            probe = create_engine(db_url, connect_args={"connect_timeout": timeout_s})
            try:
                with probe.connect() as conn:
                    conn.execute(text("SELECT 1"))
            finally:
                probe.dispose()
        _db(db_url)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return first.replace(db_url, mask_url(db_url))[:300]
    return None


def run_worker(db_url: str, broker_url: str, *, concurrency: int, name: str, loglevel: str = "INFO",
               register_tasks=None) -> int:
    """Start the Celery worker (blocks until it is stopped); 2 if the database is unreachable.
    `register_tasks(celery_app)` adds the tasks it serves besides the wake (the dashboard's job slot)
    before the pool processes fork."""
    reason = check_database(db_url)
    if reason is not None:
        print(f"nnlab worker: error: database {mask_url(db_url)} unreachable: {reason}", file=sys.stderr)
        return 2
    from celery import signals

    from storage.db import close_all

    close_all()  # pool processes are forked next: none may inherit a connection
    os.environ.update({"NNLAB_DB": db_url, "NNLAB_BROKER": broker_url, "NNLAB_WORKER_NAME": name})
    app = make_celery(broker_url, results=True)
    if register_tasks is not None:
        register_tasks(app)
    watch = Watch(db_url, broker_url, name, concurrency)
    signals.worker_ready.connect(lambda **_: watch.start(), weak=False)
    signals.worker_shutdown.connect(lambda **_: watch.stop(), weak=False)
    logging.basicConfig(level=loglevel, format="[%(asctime)s %(levelname)s %(processName)s] %(message)s")
    tasks = ", ".join(sorted(t for t in app.tasks if not t.startswith("celery.")))
    print(f"nnlab worker {name}: {concurrency} pool processes, results {mask_url(db_url)}, "
          f"broker {mask_url(broker_url)}, tasks {tasks}", flush=True)
    node = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    app.worker_main(["worker", f"--concurrency={concurrency}", "--pool=prefork", f"--hostname={node}@%h",
                     f"--loglevel={loglevel}", "--without-gossip", "--without-mingle", "--queues=nnlab"])
    return 0

"""WriterProcess: a run's database writes, done by a process of its own, fed through a pipe.

Why a process: logging an epoch in line costs the training loop 0.5-0.9 ms (measured inside a
digits-MLP run: training leaves SQLite's pages and code cold, so a transaction costs twice what it does
in a tight loop), which is 5-7% of that model's 11-13 ms epoch. A thread does not help: the writer
needs the GIL back after every SQLite call, and each hand-off stalls the training thread (measured:
+24% per epoch). Sending the epoch down a pipe costs the training thread a few tens of microseconds,
and the writer process commits it on the other core, one transaction per epoch as before.
The same goes for the inside-the-network views: the trainer sends the model's state after each
epoch and the writer computes and stores the views (storage/snapshot_replay.py).
The CPU cost does not vanish: it moves to the writer (bench/storage.py and bench/snapshots.py print it).

- Order is kept: one pipe, one writer, first in first out; each epoch is one transaction, and one
  epoch's snapshots another.
- At most `max_pending` (256) writes are in flight; past that the trainer waits for the writer, so a
  slow disk slows training instead of piling epochs up in memory without end.
- The writer answers each epoch with the run's Cancel flag (read back by the epoch's own UPDATE).
- Durability: everything sent is written even if the trainer dies (SIGKILL included): the writer
  reads the pipe to its end before it exits. Only a writer killed outright loses the writes in flight.
- Errors: an epoch that fails to write stops the run's epoch writes (later ones would land out of
  order) and is raised in the trainer at its next write or at `flush`, with the writer's traceback.
  A snapshot failure stops the run's snapshots and leaves a note (`snapshot_error`); the run goes on.

The writer is a fresh interpreter (`python -c "...writer_process import main..."`, not a fork, nor
multiprocessing's spawn, which would re-run a user's script that lacks a main guard) that opens its
own connections, so no SQLite state crosses a fork. It takes about a second to start (imports),
overlapped with the run's data preparation; epochs sent meanwhile wait in the pipe. The database URL
goes down the pipe, not on the command line, where `ps` would show a password.
"""

from __future__ import annotations

import os
import pickle
import queue
import select
import struct
import subprocess
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path

MAX_PENDING = 256  # messages sent and not answered yet: the writer holds them (see _read_pipe)
NAP_S, IDLE_S = 0.002, 1.0  # the writer's pipe check while epochs arrive often (see serve)
SEND_EVERY_S = 0.002  # epochs shorter than this travel several to a pipe write (see _send)
PIPE_BYTES = 1 << 20  # the trainer-to-writer pipe's buffer (Linux's default limit for a user)
EPOCH, SNAPSHOTS_START, STATE, SNAPSHOTS_END = "epoch", "snapshots-start", "state", "snapshots-end"


class WriterFailed(RuntimeError):
    """The writer process could not write an epoch (the message holds its traceback)."""


class WriterProcess:
    """The trainer's end: `write_epoch`, `write_snapshots`, `flush`, `close`; see the module docstring."""

    def __init__(self, db_url: str, run_id: int, *, max_pending: int = MAX_PENDING) -> None:
        child_reads, parent_writes = os.pipe()
        parent_reads, child_writes = os.pipe()
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]),
                                                            os.environ.get("PYTHONPATH")]))}
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", f"from storage.writer_process import main; main({child_reads}, {child_writes})"],
                pass_fds=(child_reads, child_writes), stdin=subprocess.DEVNULL, env=env)
        finally:
            os.close(child_reads)
            os.close(child_writes)
        self._out = parent_writes  # written with _write: multiprocessing's framing, without its overhead
        _widen(self._out)
        self._in = Connection(parent_reads, writable=False)
        self._ready = select.poll()  # polled without waiting after every epoch: one syscall
        self._ready.register(parent_reads, select.POLLIN)
        self._write((db_url, int(run_id)))
        self.run_id, self.max_pending = int(run_id), max(1, int(max_pending))
        self._hold_max = min(32, max(1, self.max_pending // 2))  # messages held before a write is due
        self.pending = 0          # writes sent and not answered yet
        self.committed = 0        # the last epoch the writer committed
        self.cancelled = False    # Cancel was requested (seen by an epoch's write)
        self.snapshot_error: str | None = None
        self.writer_cpu_s = 0.0   # CPU seconds the writer spent after starting (known after close)
        self._error: str | None = None
        self._closed = False
        self._held: list[tuple] = []  # epochs' metrics and states not sent yet (see _send)
        self._last_sent = 0.0
        self.sent = 0  # the last epoch whose metrics went down the pipe

    # --- writes ------------------------------------------------------------------------------------
    def write_epoch(self, step: int, metrics: dict) -> None:
        """Queue one epoch's metrics (one transaction in the writer)."""
        self._send((EPOCH, int(step), dict(metrics)))

    # --- snapshots: the writer computes the views from the model states it is sent (snapshot_replay.py)
    def start_snapshots(self, spec: dict, budget_mb: float, epochs: int, state: dict) -> None:
        """Rebuild the run's experiment in the writer and record the untrained model's views."""
        self._send((SNAPSHOTS_START, 0, (spec, budget_mb, epochs, state)))

    def send_state(self, epoch: int, run_seconds: float, state: dict) -> None:
        """The model's state after an epoch, and the epoch's time as the run saw it."""
        self._send((STATE, int(epoch), (int(epoch), run_seconds, state)))

    def end_snapshots(self, summary, state: dict) -> None:
        """The final state (early stopping may have restored earlier weights): the last epoch's views."""
        self._send((SNAPSHOTS_END, int(summary.epochs_run), (summary, state)))

    def _send(self, message: tuple) -> None:
        """Send `message`, or hold it a moment. An epoch's metrics and state are held until 2 ms
        (SEND_EVERY_S) has passed since the last pipe write, then go together, in one write with one
        answer: an epoch of 2 ms or more is sent at its end (at its state, or at the trainer's stop
        check, which polls), while the epochs of a tiny run (the perceptron's take 0.2 ms) travel ten
        at a time, so the training loop pays one pipe write per 2 ms, not per epoch."""
        if self._error is not None or self._closed:
            self.raise_error()
            raise WriterFailed("the run's writer is closed")
        held = self._held
        held.append(message)
        if message[0] not in (EPOCH, STATE) or self._due() or len(held) >= self._hold_max:
            self._transmit()

    def _due(self) -> bool:
        return time.perf_counter() - self._last_sent >= SEND_EVERY_S

    def _transmit(self) -> None:
        if not self._held:
            return
        batch, self._held = self._held, []
        while self.pending and self.pending + len(batch) > self.max_pending:
            self._receive(block=True)
        self.raise_error()  # the writer died while we waited
        try:
            self._write(batch[0] if len(batch) == 1 else batch)
        except OSError:  # BrokenPipeError: the writer is gone
            self._lost()
            self.raise_error()
        self.pending += len(batch)
        self._last_sent = time.perf_counter()
        self.sent = max([self.sent] + [m[1] for m in batch if m[0] == EPOCH])
        self.poll()

    def _write(self, message) -> None:
        """Send one message in the framing multiprocessing's Connection.recv reads (a 4-byte big-endian
        length, then the pickle). Connection.send builds a ForkingPickler and a buffer per call, and
        its poll() a selector: a third of what an epoch's send cost the trainer."""
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(struct.pack("!i", len(data)) + data)
        while view:
            view = view[os.write(self._out, view):]

    def _answered(self, timeout_ms: int) -> bool:
        """Whether an answer (or the pipe's end) is waiting, after up to `timeout_ms`."""
        return bool(self._ready.poll(timeout_ms))

    # --- answers -----------------------------------------------------------------------------------
    def poll(self) -> None:
        """Send what is held once it is due, and read the writer's answers that have arrived, without waiting."""
        if self._held and self._due():
            self._transmit()
            return
        while self.pending and self._answered(0):
            self._receive(block=False)

    def _receive(self, block: bool) -> None:
        """Handle one answer (waiting up to a second for it when `block`); notice a dead writer."""
        if block and not self._answered(1000):
            if self._proc.poll() is not None:
                self._lost()
            return
        try:
            self._handle(self._in.recv())
        except (EOFError, OSError):
            self._lost()

    def _lost(self) -> None:
        self._error = self._error or f"the writer process exited (code {self._proc.poll()})"
        self.pending = 0

    def _handle(self, message: tuple | list) -> None:
        if isinstance(message, list):  # the answers to a batch
            for one in message:
                self._handle(one)
            return
        kind, epoch, value = message
        if kind == "closed":
            self.writer_cpu_s = value
            return
        self.pending -= 1
        if kind == EPOCH:
            self.committed = max(self.committed, epoch)
            self.cancelled = self.cancelled or bool(value)
        elif kind == "epoch-error":
            self._error = self._error or value
        elif kind == "snapshot-error":  # noted in the database by the writer; the run goes on
            self.snapshot_error = self.snapshot_error or value

    def raise_error(self) -> None:
        if self._error is not None:
            raise WriterFailed(f"writing run {self.run_id}'s epochs failed in the writer process:\n{self._error}")

    def flush(self) -> None:
        """Wait until every write sent has been answered; raise if an epoch failed to write."""
        if not self._error:
            self._transmit()
        while self.pending and not self._error:
            self._receive(block=True)
        self.raise_error()

    def close(self) -> str | None:
        """Let the writer finish what was sent, stop it, and return (not raise) an epoch write's error."""
        if not self._closed:
            self._closed = True
            try:
                if not self._error:
                    self._transmit()
                self._write(None)
                while self._answered(60_000):  # the answers still due, then "closed"
                    message = self._in.recv()
                    self._handle(message)
                    if message[0] == "closed":
                        break
            except (EOFError, OSError):
                pass
            self.pending = 0
            os.close(self._out)
            self._in.close()
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:  # pragma: no cover - a writer stuck on the database
                self._proc.kill()
                self._proc.wait()
        return self._error

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    def __enter__(self) -> WriterProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _widen(fd: int, size: int = PIPE_BYTES) -> None:
    """Give the pipe room for a few model states (Linux; 64 kB by default), so a trainer's write of a
    state does not wait for the writer's reading thread to wake up."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
    except (ImportError, AttributeError, OSError):  # not Linux, or above the system's limit: 64 kB it is
        pass


def serve(inbox: Connection, outbox: Connection) -> None:
    """The writer process: write what arrives until None or the pipe's end (the trainer died)."""
    from .db import make_engine
    from .epoch_log import EpochWriter

    db_url, run_id = inbox.recv()
    engine = make_engine(db_url)  # the trainer opened (and migrated) the database already
    started_cpu = time.process_time()  # the writer's CPU is reported without its start-up (imports)
    epochs = EpochWriter(engine, run_id)
    state = {"epoch_failed": False, "snapshots_off": False, "replay": None}  # replay: SnapshotReplay

    def handle(message: tuple) -> tuple:
        """Write one message; its answer."""
        kind, epoch, payload = message
        try:
            if kind == EPOCH:
                if state["epoch_failed"]:
                    return EPOCH, 0, False  # dropped: it would land after a missing epoch
                return EPOCH, epoch, epochs.write(epoch, payload)
            if not state["snapshots_off"]:
                if kind == SNAPSHOTS_START:
                    from .snapshot_replay import SnapshotReplay  # only runs with snapshots load the engine

                    state["replay"] = SnapshotReplay(engine, run_id, *payload)
                elif kind == STATE and state["replay"] is not None:
                    state["replay"].epoch(*payload)
                elif kind == SNAPSHOTS_END and state["replay"] is not None:
                    state["replay"].end(*payload)
            return kind, epoch, None
        except Exception:
            text = traceback.format_exc()
            if kind == EPOCH:
                state["epoch_failed"] = True
                return "epoch-error", epoch, text
            state["snapshots_off"] = True  # the recorder handles its own failures: this one is outside it
            from .snapshot_recorder import write_note

            write_note(engine, run_id, epoch, "error", f"snapshots stopped at epoch {epoch}:\n{text}")
            return "snapshot-error", epoch, text

    def answer(message) -> None:
        try:
            outbox.send(message)
        except (BrokenPipeError, OSError):  # the trainer is gone: keep writing what arrived
            pass

    inbox_queue: queue.SimpleQueue = queue.SimpleQueue()
    threading.Thread(target=_read_pipe, args=(inbox, inbox_queue), daemon=True).start()
    while True:
        message = inbox_queue.get()
        if message is _END:
            break
        if message is None:
            engine.dispose()
            answer(("closed", 0, time.process_time() - started_cpu))
            return
        answer([handle(one) for one in message] if isinstance(message, list) else handle(message))
    engine.dispose()


_END = object()  # the pipe's end: the trainer is gone


def _read_pipe(inbox: Connection, out: queue.SimpleQueue) -> None:
    """The writer's reading thread: empties the pipe as messages come, so the trainer's write never
    waits for views being computed (a 330 kB ResNet state does not fit the 64 kB pipe). It checks
    the pipe every NAP_S while messages come often instead of blocking on it: a trainer whose write
    wakes a blocked reader pays for the wake-up (measured: ~50 us per epoch on this 2-core VM, a third
    of what sending an epoch cost). After IDLE_S without a message it blocks."""
    arrived = select.poll()
    arrived.register(inbox.fileno(), select.POLLIN)
    last = time.monotonic()
    while True:
        if not arrived.poll(0) and time.monotonic() - last < IDLE_S:
            time.sleep(NAP_S)
            continue
        try:
            message = inbox.recv()
        except (EOFError, OSError):
            out.put(_END)
            return
        last = time.monotonic()
        out.put(message)
        if message is None:
            return


def main(reads: int, writes: int) -> None:
    """Entry point of the writer process: serve the pipes inherited as file descriptors, then exit
    at once: everything is committed and closed, and tearing the interpreter down would keep the
    trainer waiting a quarter of a second for nothing."""
    serve(Connection(reads, writable=False), Connection(writes, readable=False))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)

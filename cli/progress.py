"""Progress of `nnlab train` on stderr: a one-line bar on a terminal, plain lines in a log file."""

from __future__ import annotations

import sys
import time

LOG_EVERY_S = 1.0  # when stderr is not a terminal: at most one line a second (and always the last epoch)


class ProgressBar:
    def __init__(self, total: int, stream=None, width: int = 30) -> None:
        self.total, self.stream, self.width = total, stream or sys.stderr, width
        self.start = time.monotonic()
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self._last_line = float("-inf")
        self._pending = False  # a bar is on screen without its newline
        self._unwritten = ""  # (log mode) the latest epoch's line, held back by the one-a-second limit

    def update(self, record, total: int) -> None:
        done = record.epoch
        now = time.monotonic()
        elapsed = now - self.start
        eta = elapsed / done * (total - done) if done else 0.0
        m = record.metrics
        status = (f"epoch {done}/{total}  loss {m.get('train_loss', float('nan')):.4f}"
                  f"  val_loss {m.get('val_loss', float('nan')):.4f}"
                  f"  val_acc {m.get('val_accuracy', float('nan')):.3f}  {elapsed:.1f}s eta {eta:.1f}s")
        if self.tty:
            filled = int(self.width * done / max(total, 1))
            self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {status}")
            self._pending = True
        elif done >= total or now - self._last_line >= LOG_EVERY_S:
            self.stream.write(status + "\n")
            self._last_line, self._unwritten = now, ""
        else:
            self._unwritten = status
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line; in log mode, write the last epoch if it was held back (a run that stopped early)."""
        if self._pending or self._unwritten:
            self.stream.write(self._unwritten + "\n" if self._unwritten else "\n")
            self.stream.flush()

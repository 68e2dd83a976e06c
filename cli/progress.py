"""A one-line progress bar on stderr for `nnlab train`."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    def __init__(self, total: int, stream=sys.stderr, width: int = 30) -> None:
        self.total, self.stream, self.width = total, stream, width
        self.start = time.monotonic()

    def update(self, record, total: int) -> None:
        done = record.epoch
        filled = int(self.width * done / max(total, 1))
        elapsed = time.monotonic() - self.start
        eta = elapsed / done * (total - done) if done else 0.0
        m = record.metrics
        text = (f"\r[{'#' * filled}{'.' * (self.width - filled)}] epoch {done}/{total}"
                f"  loss {m.get('train_loss', float('nan')):.4f}  val_loss {m.get('val_loss', float('nan')):.4f}"
                f"  val_acc {m.get('val_accuracy', float('nan')):.3f}  {elapsed:.1f}s eta {eta:.1f}s")
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()

"""Learning-rate schedules as pure functions of the epoch (0-based)."""

from __future__ import annotations

import math

SCHEDULES = ("constant", "step", "cosine", "warmup")


def lr_at(epoch: int, *, base_lr: float, schedule: str = "constant", epochs: int = 1,
          step_size: int = 10, gamma: float = 0.5, warmup_epochs: int = 5) -> float:
    """Learning rate for `epoch` under `schedule`.

    step: multiply by `gamma` every `step_size` epochs; cosine: anneal to 0 over `epochs`;
    warmup: rise linearly over `warmup_epochs`, then cosine-anneal the rest.
    """
    if schedule == "constant":
        return base_lr
    if schedule == "step":
        return base_lr * gamma ** (epoch // max(step_size, 1))
    if schedule == "cosine":
        return base_lr * 0.5 * (1 + math.cos(math.pi * epoch / max(epochs, 1)))
    if schedule == "warmup":
        if epoch < warmup_epochs:
            return base_lr * (epoch + 1) / warmup_epochs
        rest = max(epochs - warmup_epochs, 1)
        return base_lr * 0.5 * (1 + math.cos(math.pi * (epoch - warmup_epochs) / rest))
    raise ValueError(f"unknown schedule {schedule!r}: choose one of {', '.join(SCHEDULES)}")

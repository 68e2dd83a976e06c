"""Learning-rate schedules as pure functions of the epoch (0-based)."""

from __future__ import annotations

import math

SCHEDULES = ("constant", "step", "cosine", "warmup")


def lr_at(epoch: int, *, base_lr: float, schedule: str = "constant", epochs: int = 1,
          step_size: int = 10, gamma: float = 0.5, warmup_epochs: int = 5) -> float:
    """Learning rate for `epoch` under `schedule`.

    step: multiply by `gamma` every `step_size` epochs; cosine: anneal to 0 over `epochs`;
    warmup: rise linearly over `warmup_epochs` (base_lr / warmup_epochs, 2 * base_lr / warmup_epochs, ...,
    base_lr), then cosine-anneal over the remaining epochs. Specs refuse warmup_epochs >= epochs (the run
    would end before warm-up did); called directly, the rise simply continues to the last epoch.
    """
    if schedule == "constant":
        return base_lr
    if schedule == "step":
        if step_size < 1 or not 0 < gamma <= 1:
            raise ValueError(f"step schedule needs step_size >= 1 and gamma in (0, 1], got {step_size}, {gamma}")
        return base_lr * gamma ** (epoch // step_size)
    if schedule == "cosine":
        return base_lr * 0.5 * (1 + math.cos(math.pi * epoch / max(epochs, 1)))
    if schedule == "warmup":
        if warmup_epochs < 1:
            raise ValueError(f"warmup schedule needs warmup_epochs >= 1, got {warmup_epochs}")
        if epoch < warmup_epochs:
            return base_lr * (epoch + 1) / warmup_epochs
        rest = max(epochs - warmup_epochs, 1)
        return base_lr * 0.5 * (1 + math.cos(math.pi * (epoch - warmup_epochs) / rest))
    raise ValueError(f"unknown schedule {schedule!r}: choose one of {', '.join(SCHEDULES)}")

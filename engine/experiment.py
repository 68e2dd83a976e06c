"""From a spec to a trained model: data, model, loss, optimizer and trainer, wired once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from .callbacks import EarlyStopping
from .data import Dataset, load_dataset
from .losses import make_loss
from .models import build_model, config_from_spec, resolve_loss
from .optim import make_optimizer
from .schedules import lr_at
from .spec import ExperimentSpec, check_memory_available
from .state import TrainingState
from .train import Callback, Trainer, TrainSummary


@dataclass
class Experiment:
    """Everything a run needs, built from one spec."""

    spec: ExperimentSpec
    data: Dataset
    model: object
    trainer: Trainer

    @property
    def num_params(self) -> int:
        return self.model.num_params()


def prepare(spec: ExperimentSpec, *, data: Dataset | None = None) -> Experiment:
    """Build data, model and trainer for `spec`. Seeds: data split fixed, the run's seed for the rest."""
    check_memory_available(spec)  # fail at once, with the estimate, rather than deep in a MemoryError
    data = data if data is not None else load_dataset(spec)
    rng = np.random.default_rng(spec.seed)
    model = build_model(config_from_spec(spec, data), rng)
    loss = make_loss(resolve_loss(spec, data))
    optimizer = make_optimizer(spec.optimizer, spec.lr, momentum=spec.momentum, l2=spec.l2,
                               weight_decay=spec.weight_decay)
    schedule = partial(lr_at, base_lr=spec.lr, schedule=spec.schedule, epochs=spec.epochs,
                       step_size=spec.step_size, gamma=spec.gamma, warmup_epochs=spec.warmup_epochs)
    batch = min(spec.batch_size, len(data.x_train))
    trainer = Trainer(model, loss, optimizer, batch_size=batch, rng=rng, lr_schedule=schedule, clip=spec.clip)
    return Experiment(spec, data, model, trainer)


def run_training(exp: Experiment, callbacks: Sequence[Callback] = (),
                 interrupt: Callable[[], bool] | None = None, *, start: TrainingState | None = None,
                 fork: bool = False) -> TrainSummary:
    """Train `exp` for its spec's epochs, then add test metrics where the data set has a test split.

    `spec.early_stopping` > 0 adds EarlyStopping (on val_loss, restoring the best weights) ahead of
    the given callbacks, so their `on_train_end` already sees the restored model's summary.
    `start`: a state taken after epoch k (`exp.trainer.training_state()` from a callback, or a decoded
    checkpoint): training goes on from epoch k + 1. A resume needs `exp` prepared from the same spec;
    `fork=True` accepts a spec with knobs changed (see engine.state).
    """
    if exp.spec.early_stopping > 0:
        callbacks = [EarlyStopping(exp.spec.early_stopping), *callbacks]
    summary = exp.trainer.fit(exp.data, epochs=exp.spec.epochs, callbacks=callbacks, interrupt=interrupt,
                              context={"spec": exp.spec, "num_params": exp.num_params}, start=start, fork=fork)
    if exp.data.x_test is not None and summary.outcome != "diverged":
        test_loss, test_acc = exp.trainer.evaluate(exp.data.x_test, exp.data.y_test)
        summary.final = {**summary.final, "test_loss": test_loss, "test_accuracy": test_acc}
    return summary

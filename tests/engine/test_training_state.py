"""Training state: a run stopped after epoch k and resumed from its state (through checkpoint bytes,
into a freshly prepared experiment or the same one) goes on bit for bit as if it had never stopped,
for every model family, optimizer and schedule; forks take a state into a run with one knob changed."""

import numpy as np
import pytest

import engine.train
from engine.callbacks import EarlyStopping
from engine.checkpoint import decode_checkpoint, encode_checkpoint
from engine.experiment import prepare, run_training
from engine.inspect import Inspector
from engine.models.io import state_arrays
from engine.spec import OPTIMIZERS, SCHEDULES, parse_spec

EPOCHS, K = 4, 2  # train 4 epochs; stop after 2 and resume

FAMILIES = {
    "perceptron": {"model": "perceptron", "dataset": "moons", "n_samples": 80, "lr": 0.1, "batch_size": 8},
    "mlp": {"model": "mlp", "dataset": "digits", "subset": 80, "hidden": "16,8", "dropout": 0.3},
    "cnn": {"model": "cnn", "dataset": "digits", "subset": 40, "channels": "3", "hidden": "8", "dropout": 0.3,
            "batchnorm": True},
    "resnet": {"model": "resnet", "dataset": "digits", "subset": 60, "depth": 6, "hidden": "8",
               "batchnorm": True},
    "resnet-plain": {"model": "resnet", "dataset": "digits", "subset": 60, "depth": 6, "hidden": "8",
                     "residual": False, "batchnorm": True},
    "resnet-nobn": {"model": "resnet", "dataset": "digits", "subset": 60, "depth": 4, "hidden": "8"},
    "rnn": {"model": "rnn", "dataset": "memory", "seq_len": 6, "n_samples": 48, "hidden": "8", "layers": 2,
            "dropout": 0.3, "clip": 1.0},
    "lstm": {"model": "lstm", "dataset": "sentiment", "seq_len": 6, "n_samples": 48, "hidden": "8", "layers": 2,
             "dropout": 0.3},
    "gru": {"model": "gru", "dataset": "reverse", "seq_len": 5, "vocab": 4, "n_samples": 48, "hidden": "8",
            "layers": 2, "dropout": 0.3},
    "transformer": {"model": "transformer", "dataset": "reverse", "seq_len": 5, "vocab": 4, "n_samples": 48,
                    "d_model": 8, "heads": 2, "hidden": "8", "layers": 2, "dropout": 0.3,
                    "positional": "learned"},
    "transformer-post": {"model": "transformer", "dataset": "kv", "seq_len": 6, "n_samples": 48, "d_model": 8,
                         "heads": 2, "hidden": "8", "norm": "post", "dropout": 0.3},
    "seq2seq": {"model": "seq2seq", "dataset": "reverse", "seq_len": 5, "vocab": 4, "n_samples": 48,
                "hidden": "8", "layers": 2, "attention": "additive", "dropout": 0.3},
    "seq2seq-dot": {"model": "seq2seq", "dataset": "sort", "seq_len": 5, "vocab": 4, "n_samples": 48,
                    "hidden": "8", "attention": "dot", "dropout": 0.3},
}


def _spec(values, **changes):
    return parse_spec({"epochs": EPOCHS, "batch_size": 16, "seed": 3, "optimizer": "adam", "lr": 0.01,
                       **values, **changes})


def _timeless(metrics):
    return {k: v for k, v in metrics.items() if k != "epoch_seconds"}


class Recorder:
    """Keeps every epoch's metrics (but its wall time) and the state taken after it, as checkpoint bytes."""

    def __init__(self):
        self.metrics, self.states = {}, {}

    def on_train_start(self, context):
        self.trainer = context["trainer"]

    def on_epoch_end(self, record):
        self.metrics[record.epoch] = _timeless(record.metrics)
        self.states[record.epoch] = encode_checkpoint(self.trainer.training_state())

    def on_train_end(self, summary):
        pass


def _assert_same_state(a: bytes, b: bytes):
    """Equal arrays (dtype and bits) and metadata, but the wall time in the last epoch's metrics."""
    a, b = decode_checkpoint(a), decode_checkpoint(b)
    assert a.epoch == b.epoch and list(a.arrays) == list(b.arrays)
    for key in a.arrays:
        assert a.arrays[key].dtype == b.arrays[key].dtype and np.array_equal(a.arrays[key], b.arrays[key]), key
    for s in (a, b):
        s.meta["final"].pop("epoch_seconds", None)
    assert a.meta == b.meta


def _run(spec, start=None, fork=False, exp=None, interrupt=None, rec=None):
    exp = exp or prepare(spec)
    rec = rec or Recorder()
    summary = run_training(exp, [rec], interrupt=interrupt, start=start, fork=fork)
    return exp, rec, summary


def _assert_resumes_exactly(spec, *, same_object=False):
    exp, full, summary = _run(spec)
    start = decode_checkpoint(full.states[K])
    again, resumed, summary2 = _run(spec, start=start, exp=exp if same_object else None)
    assert list(resumed.metrics) == list(range(K + 1, EPOCHS + 1))
    for epoch, metrics in resumed.metrics.items():
        assert metrics == full.metrics[epoch], epoch  # bit-identical floats, NaN-free
    # the whole final state agrees: weights, buffers, optimizer slots, generators, callbacks
    _assert_same_state(resumed.states[EPOCHS], full.states[EPOCHS])
    assert summary2.epochs_run == summary.epochs_run and _timeless(summary2.final) == _timeless(summary.final)
    return exp, again


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_resumed_in_a_fresh_experiment_repeats_the_uninterrupted_epochs(family):
    _assert_resumes_exactly(_spec(FAMILIES[family]))


@pytest.mark.parametrize("family", ["mlp", "cnn", "lstm", "seq2seq", "transformer", "perceptron"])
def test_restoring_into_the_same_trained_experiment_also_repeats_them(family):
    _assert_resumes_exactly(_spec(FAMILIES[family]), same_object=True)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_every_optimizer_and_schedule_resumes_exactly(optimizer, schedule):
    spec = _spec(FAMILIES["mlp"], optimizer=optimizer, schedule=schedule, step_size=1, gamma=0.5,
                 warmup_epochs=3, lr=0.05 if optimizer in ("sgd", "momentum", "nesterov") else 0.01,
                 weight_decay=0.01 if optimizer == "adamw" else 0.0, l2=0.001 if optimizer == "sgd" else 0.0)
    _assert_resumes_exactly(spec)


def test_early_stopping_state_carries_over_and_restores_the_same_best_weights():
    spec = _spec(FAMILIES["mlp"], epochs=12, lr=0.05, early_stopping=2)
    exp, full, summary = _run(spec)
    assert summary.outcome == "stopped" and summary.best_epoch < summary.epochs_run
    k = summary.best_epoch + 1  # after a non-improving epoch: wait > 0 and best weights differ from the model
    again, resumed, summary2 = _run(spec, start=decode_checkpoint(full.states[k]))
    assert (summary2.outcome, summary2.best_epoch, summary2.epochs_run) == \
        (summary.outcome, summary.best_epoch, summary.epochs_run)
    assert _timeless(summary2.final) == _timeless(summary.final)
    ours, theirs = state_arrays(again.model), state_arrays(exp.model)
    assert all(np.array_equal(ours[k], theirs[k]) for k in ours)


def test_a_run_interrupted_mid_epoch_resumes_from_its_last_epoch_state(monkeypatch):
    spec = _spec(FAMILIES["mlp"], subset=200)
    _, full, _ = _run(spec)
    clock = iter(range(0, 10**6, 2))  # every poll sees 2 s pass, so interrupt() is asked after every batch
    monkeypatch.setattr(engine.train.time, "monotonic", lambda: next(clock))
    cut, asked = Recorder(), []
    exp, _, summary = _run(spec, rec=cut, interrupt=lambda: 1 in cut.metrics and (asked.append(1) or len(asked) > 3))
    assert summary.outcome == "stopped" and summary.epochs_run == 1  # stopped inside epoch 2
    with pytest.raises(RuntimeError, match="between epochs"):
        exp.trainer.training_state()
    monkeypatch.undo()
    _, resumed, _ = _run(spec, start=decode_checkpoint(cut.states[1]))
    assert all(resumed.metrics[e] == full.metrics[e] for e in range(2, EPOCHS + 1))
    _assert_same_state(resumed.states[EPOCHS], full.states[EPOCHS])


def test_resuming_after_the_last_epoch_trains_nothing_and_reports_the_last_metrics():
    spec = _spec(FAMILIES["mlp"])
    _, full, summary = _run(spec)
    _, resumed, summary2 = _run(spec, start=decode_checkpoint(full.states[EPOCHS]))
    assert resumed.metrics == {} and summary2.epochs_run == EPOCHS
    assert _timeless(summary2.final) == _timeless(summary.final)


def test_a_longer_run_extends_a_shorter_one_exactly():
    short, long = _spec(FAMILIES["cnn"], epochs=2), _spec(FAMILIES["cnn"], epochs=4)
    _, first, _ = _run(short)
    _, full, _ = _run(long)
    _, rest, _ = _run(long, start=decode_checkpoint(first.states[2]))
    assert all(rest.metrics[e] == full.metrics[e] for e in (3, 4))


@pytest.mark.parametrize("change, message", [
    ({"hidden": "32"}, "does not fit|differs"),
    ({"optimizer": "sgd"}, "optimizer is Adam"),
    ({"early_stopping": 3}, "callbacks"),
    ({"dropout": 0.0}, "differs"),
])
def test_a_resume_into_another_run_is_refused_naming_the_difference(change, message):
    spec = _spec(FAMILIES["mlp"])
    _, full, _ = _run(spec)
    with pytest.raises(ValueError, match=message):
        _run(_spec(FAMILIES["mlp"], **change), start=decode_checkpoint(full.states[K]))


def _weights_after_load(spec, start, fork):
    exp = prepare(spec)
    exp.trainer.load_training_state(start, fork=fork)
    return exp, list(state_arrays(exp.model).values())


@pytest.mark.parametrize("change", [{"lr": 0.003}, {"optimizer": "momentum", "lr": 0.05}, {"dropout": 0.0},
                                    {"dropout": 0.5}, {"schedule": "cosine"}, {"batch_size": 8},
                                    {"weight_decay": 0.01}, {"early_stopping": 2}])
def test_a_fork_starts_from_the_parents_weights_with_one_knob_changed(change):
    parent = _spec(FAMILIES["mlp"])
    _, full, _ = _run(parent)
    start = decode_checkpoint(full.states[K])
    _, parent_weights = _weights_after_load(parent, start, fork=False)
    child = _spec(FAMILIES["mlp"], **change)
    exp, child_weights = _weights_after_load(child, start, fork=True)
    assert all(np.array_equal(a, b) for a, b in zip(parent_weights, child_weights, strict=True))
    same_optimizer = type(exp.trainer.optimizer).__name__ == start.meta["optimizer"]["type"]
    assert bool(exp.trainer.optimizer.state) == same_optimizer  # another optimizer starts fresh
    _, forked, summary = _run(child, start=start, fork=True)
    assert list(forked.metrics) == [3, 4] and summary.epochs_run == EPOCHS
    assert (forked.metrics[3] != full.metrics[3]) == ("early_stopping" not in change)


def test_a_fork_that_changes_nothing_is_a_resume():
    spec = _spec(FAMILIES["transformer"])
    _, full, _ = _run(spec)
    _, forked, _ = _run(spec, start=decode_checkpoint(full.states[K]), fork=True)
    _assert_same_state(forked.states[EPOCHS], full.states[EPOCHS])


def test_a_fork_into_another_architecture_is_refused():
    _, full, _ = _run(_spec(FAMILIES["mlp"]))
    with pytest.raises(ValueError, match="does not fit this model"):
        _run(_spec(FAMILIES["mlp"], hidden="16,9"), start=decode_checkpoint(full.states[K]), fork=True)


def test_every_generator_a_layer_holds_is_captured_even_when_it_is_not_the_trainers():
    spec = _spec(FAMILIES["mlp"])
    exp = prepare(spec)
    drop = exp.model.layers[2]
    drop.set_rng(np.random.default_rng(99))  # a layer with a generator of its own
    state = exp.trainer.training_state()
    paths = sorted(tuple(sorted(g["paths"])) for g in state.meta["generators"])
    assert paths == [("model.layers.2.rng",), ("model.layers.5.rng", "trainer.rng")]
    before = drop.rng.random(3)
    exp.trainer.load_training_state(state)
    np.testing.assert_array_equal(drop.rng.random(3), before)


def test_a_state_is_a_copy_that_later_training_does_not_change():
    exp = prepare(_spec(FAMILIES["mlp"]))
    state = exp.trainer.training_state()
    copy = {k: a.copy() for k, a in state.arrays.items()}
    run_training(exp)
    assert all(np.array_equal(state.arrays[k], copy[k]) for k in copy)
    assert state.epoch == 0 and state.nbytes == sum(a.nbytes for a in copy.values())
    with pytest.raises(RuntimeError, match="between epochs"):
        exp.trainer.training_state()  # after fit: EarlyStopping may have put older weights back


def test_a_fork_that_renumbers_layers_renames_the_optimizer_and_early_stopping_state_too():
    parent = _spec(FAMILIES["mlp"], epochs=6, early_stopping=3)
    _, full, _ = _run(parent)
    start = decode_checkpoint(full.states[3])
    exp = prepare(_spec(FAMILIES["mlp"], epochs=6, early_stopping=3, dropout=0.0))
    stopper = EarlyStopping(3)
    stopper.on_train_start({"model": exp.model})
    exp.trainer.load_training_state(start, callbacks=[stopper], fork=True)
    names = [n for n, _ in exp.model.named_params()]
    assert names == ["layers.0.W", "layers.0.b", "layers.2.W", "layers.2.b", "layers.4.W", "layers.4.b"]
    assert set(exp.trainer.optimizer.state) == set(names) == set(exp.trainer.optimizer.t)
    assert set(stopper._snapshot) == {"param/" + n for n in names}
    np.testing.assert_array_equal(exp.trainer.optimizer.state["layers.2.W"]["m_sum"],
                                  start.arrays["optimizer/layers.3.W/m_sum"])


def test_no_state_is_taken_in_on_train_start_where_callbacks_may_not_have_theirs_yet():
    errors = []

    class Early(Recorder):
        def on_train_start(self, context):
            try:
                context["trainer"].training_state()
            except RuntimeError as e:
                errors.append(str(e))
            super().on_train_start(context)

    spec = _spec(FAMILIES["mlp"])
    _, full, _ = _run(spec)
    _run(spec, start=decode_checkpoint(full.states[K]), rec=Early())
    assert errors and "between epochs" in errors[0]


def test_a_run_resumed_with_another_blas_thread_count_still_repeats_the_epochs():
    """Jobs get cores / max-running BLAS threads, so a resumed run may have another count than its start
    (matrices large enough for OpenBLAS to split them)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    spec = _spec(FAMILIES["mlp"], hidden="256,256", subset=400, batch_size=64)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        _, full, _ = _run(spec)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        _, resumed, _ = _run(spec, start=decode_checkpoint(full.states[K]))
    _assert_same_state(resumed.states[EPOCHS], full.states[EPOCHS])


class Inspecting(Recorder):
    """A Recorder that also computes every inside view, big ones included, at the start and after each
    epoch, as the job path's snapshot recorder does (an instrumented forward and backward on the probe batch)."""

    def on_train_start(self, context):
        super().on_train_start(context)
        self.inspector = Inspector(context["model"], self.trainer.loss, context["data"])
        self.inspector.compute(context["start_epoch"], big=True)

    def on_epoch_end(self, record):
        super().on_epoch_end(record)  # the state is taken before the views, which must not change it
        self.inspector.compute(record.epoch, big=True)


@pytest.mark.parametrize("family", ["mlp", "cnn", "resnet", "lstm", "transformer", "seq2seq", "perceptron"])
def test_inside_views_between_epochs_change_nothing_a_resume_depends_on(family):
    spec = _spec(FAMILIES[family])
    _, plain, _ = _run(spec)
    _, inspected, _ = _run(spec, rec=Inspecting())
    _, resumed, _ = _run(spec, start=decode_checkpoint(inspected.states[K]), rec=Inspecting())
    assert all(inspected.metrics[e] == plain.metrics[e] == resumed.metrics.get(e, plain.metrics[e])
               for e in range(1, EPOCHS + 1))
    _assert_same_state(inspected.states[EPOCHS], plain.states[EPOCHS])
    _assert_same_state(resumed.states[EPOCHS], plain.states[EPOCHS])


def test_a_fork_with_another_seed_draws_from_the_childs_generators_when_the_parents_are_left_out():
    _, full, _ = _run(_spec(FAMILIES["mlp"]))
    start = decode_checkpoint(full.states[K])
    child = _spec(FAMILIES["mlp"], seed=11)
    same = prepare(child)
    same.trainer.load_training_state(start, fork=True)
    assert same.trainer.rng.bit_generator.state == start.meta["generators"][0]["state"]  # the parent's stream
    fresh, own = prepare(child), prepare(child).trainer.rng.bit_generator.state
    fresh.trainer.load_training_state(start.without_generators(), fork=True)
    assert fresh.trainer.rng.bit_generator.state == own
    assert all(np.array_equal(a, b) for a, b in zip(state_arrays(fresh.model).values(),
                                                     state_arrays(same.model).values(), strict=True))
    with pytest.raises(ValueError, match="no state for the generator"):
        prepare(child).trainer.load_training_state(start.without_generators())  # a resume needs them

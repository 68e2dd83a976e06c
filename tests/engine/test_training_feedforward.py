"""Trainer, optimizers, schedules, clipping, early stopping and spec validation for feedforward runs."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.callbacks import EarlyStopping
from engine.experiment import prepare, run_training
from engine.layers import Dense
from engine.losses import softmax
from engine.optim import Adam, clip_global_norm, decays, make_optimizer
from engine.schedules import lr_at
from engine.spec import SpecError, parse_spec
from engine.train import EpochRecord, TrainSummary


def _record(epoch, val_loss):
    return EpochRecord(epoch, 1.0, val_loss, {"val_loss": val_loss, "val_accuracy": 1 - val_loss}, 0.1, 0.0)


def test_early_stopping_waits_patience_epochs_then_restores_the_best_weights():
    layer = Dense(2, 2, rng=np.random.default_rng(0))
    stopper = EarlyStopping(patience=2)
    stopper.on_train_start({"model": layer})
    snapshots = {}
    for epoch, val in enumerate([1.0, 0.5, 0.7, 0.8], start=1):
        layer.params["W"] += 1.0  # training moves the weights every epoch
        snapshots[epoch] = layer.params["W"].copy()
        stop = stopper.on_epoch_end(_record(epoch, val))
        assert stop == (epoch == 4)
    summary = TrainSummary(epochs_run=4, outcome="stopped", final={"val_loss": 0.8})
    stopper.on_train_end(summary)
    np.testing.assert_array_equal(layer.params["W"], snapshots[2])
    assert summary.best_epoch == 2 and summary.final["val_loss"] == 0.5 and summary.final["best_epoch"] == 2


def test_early_stopping_ignores_nan_and_refuses_zero_patience():
    stopper = EarlyStopping(patience=1)
    stopper.on_train_start({"model": Dense(1, 1, rng=np.random.default_rng(0))})
    assert stopper.on_epoch_end(_record(1, math.nan)) is True
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(0)


def test_spec_early_stopping_stops_the_run_and_leaves_the_best_model_in_place():
    spec = parse_spec({"dataset": "digits", "subset": 60, "hidden": "128", "lr": 0.01, "epochs": 60,
                       "early_stopping": 3, "batch_size": 16})
    exp = prepare(spec)
    seen = []

    class Keep:
        def on_train_start(self, context): pass
        def on_epoch_end(self, record): seen.append(record.val_loss)
        def on_train_end(self, summary): pass

    summary = run_training(exp, callbacks=[Keep()])
    assert summary.outcome == "stopped" and summary.stopped_by == "EarlyStopping"
    assert summary.epochs_run == summary.best_epoch + 3 < 60
    val_loss, _ = exp.trainer.evaluate(exp.data.x_val, exp.data.y_val)
    assert val_loss == pytest.approx(min(seen), rel=1e-6)
    assert "test_accuracy" in summary.final


def test_same_seed_same_weights_and_another_seed_shuffles_differently():
    def weights(seed):
        exp = prepare(parse_spec({"dataset": "moons", "epochs": 2, "seed": seed, "dropout": 0.2, "hidden": "8"}))
        run_training(exp)
        return np.concatenate([p.ravel() for _, p in exp.model.named_params()])
    np.testing.assert_array_equal(weights(3), weights(3))
    assert not np.array_equal(weights(3), weights(4))


def test_full_batch_is_one_step_per_epoch_and_mini_batch_is_many():
    for batch, steps in [(10_000, 3), (100, 3 * 4)]:
        exp = prepare(parse_spec({"dataset": "moons", "n_samples": 625, "epochs": 3, "batch_size": batch}))
        run_training(exp)
        assert set(exp.trainer.optimizer.t.values()) == {steps}


def test_l2_and_decoupled_weight_decay_are_different_updates_and_skip_biases():
    rng = np.random.default_rng(0)
    p0 = {"fc.W": rng.standard_normal(5), "fc.b": rng.standard_normal(5)}
    g = {k: rng.standard_normal(5) for k in p0}
    results = {}
    for kind in ("l2", "weight_decay", "none"):
        params = {k: v.copy() for k, v in p0.items()}
        kw = {kind: 0.1} if kind != "none" else {}
        opt = make_optimizer("adam", 0.01, **kw)
        for _ in range(3):
            opt.step(iter(params.items()), iter(g.items()))
        results[kind] = params
    assert not np.allclose(results["l2"]["fc.W"], results["weight_decay"]["fc.W"])
    for kind in ("l2", "weight_decay"):
        np.testing.assert_array_equal(results[kind]["fc.b"], results["none"]["fc.b"])
    assert decays("layers.0.W") and not decays("layers.0.b") and not decays("blocks.1.bn.gamma")
    params = parse_spec({"l2": 0.001, "weight_decay": 0.01}).params()
    assert params["l2"] == 0.001 and params["weight_decay"] == 0.01


def test_adamw_shrinks_weights_by_lr_times_decay_before_the_adam_step():
    p = {"W": np.array([2.0])}
    make_optimizer("adamw", 0.1, weight_decay=0.5).step(iter(p.items()), iter({"W": np.array([0.0])}.items()))
    assert p["W"][0] == pytest.approx(2.0 * (1 - 0.1 * 0.5))


def test_clip_global_norm_scales_every_gradient_by_the_same_factor():
    a, b = np.array([3.0, 0.0]), np.array([0.0, 4.0])
    norm = clip_global_norm([a, b], 1.0)
    assert norm == pytest.approx(5.0)
    assert math.hypot(*a, *b) == pytest.approx(1.0)
    np.testing.assert_allclose(a / b[1], [0.75, 0.0])
    c = np.array([0.3])
    assert clip_global_norm([c], 1.0) == pytest.approx(0.3) and c[0] == 0.3


def test_trainer_reports_the_gradient_norm_when_clipping():
    exp = prepare(parse_spec({"dataset": "moons", "epochs": 1, "clip": 0.5}))
    summary = run_training(exp)
    assert summary.final["grad_norm"] > 0


@pytest.mark.parametrize("schedule,epoch,expected", [
    ("constant", 7, 0.1), ("step", 9, 0.1), ("step", 10, 0.05), ("step", 25, 0.025),
    ("cosine", 0, 0.1), ("cosine", 10, 0.05), ("warmup", 0, 0.02), ("warmup", 4, 0.1), ("warmup", 5, 0.1),
])
def test_lr_schedules(schedule, epoch, expected):
    assert lr_at(epoch, base_lr=0.1, schedule=schedule, epochs=20) == pytest.approx(expected)


@pytest.mark.parametrize("kwargs,epoch,expected", [
    ({"schedule": "step", "step_size": 3, "gamma": 0.1}, 2, 0.1),
    ({"schedule": "step", "step_size": 3, "gamma": 0.1}, 3, 0.01),
    ({"schedule": "step", "step_size": 3, "gamma": 0.1}, 7, 0.001),
    ({"schedule": "step", "step_size": 1, "gamma": 1.0}, 15, 0.1),  # gamma 1: never drops
    ({"schedule": "warmup", "warmup_epochs": 2}, 0, 0.05),
    ({"schedule": "warmup", "warmup_epochs": 2}, 1, 0.1),
    ({"schedule": "warmup", "warmup_epochs": 2}, 2, 0.1),  # first epoch of the cosine part
    ({"schedule": "warmup", "warmup_epochs": 2}, 11, 0.05),  # half way through the 18 annealing epochs
    ({"schedule": "warmup", "warmup_epochs": 10}, 4, 0.05),
])
def test_lr_schedules_follow_their_parameters(kwargs, epoch, expected):
    assert lr_at(epoch, base_lr=0.1, epochs=20, **kwargs) == pytest.approx(expected)


@pytest.mark.parametrize("kwargs", [{"schedule": "step", "step_size": 0}, {"schedule": "step", "gamma": 0},
                                    {"schedule": "step", "gamma": 1.5}, {"schedule": "warmup", "warmup_epochs": 0}])
def test_lr_at_refuses_schedule_parameters_out_of_range(kwargs):
    with pytest.raises(ValueError):
        lr_at(0, base_lr=0.1, epochs=20, **kwargs)


@pytest.mark.parametrize("values,expected", [
    ({"schedule": "step", "step_size": 2, "gamma": 0.25}, [0.1, 0.1, 0.025, 0.025, 0.00625]),
    ({"schedule": "warmup", "warmup_epochs": 4}, [0.025, 0.05, 0.075, 0.1, 0.1]),
])
def test_run_training_uses_the_spec_schedule_parameters(values, expected):
    spec = parse_spec({"dataset": "xor", "hidden": "4", "lr": 0.1, "epochs": 5, **values})
    exp, seen = prepare(spec), []

    class Keep:
        def on_train_start(self, context): pass
        def on_epoch_end(self, record): seen.append((record.lr, exp.trainer.optimizer.lr))
        def on_train_end(self, summary): pass

    run_training(exp, callbacks=[Keep()])
    assert [lr for lr, _ in seen] == pytest.approx(expected)
    assert [lr for _, lr in seen] == pytest.approx(expected)  # what the optimizer stepped with


@pytest.mark.parametrize("values,field,words", [
    ({"step_size": 0}, "step_size", "between 1 and 100000"),
    ({"step_size": 2.5}, "step_size", "not a valid int"),
    ({"gamma": 0}, "gamma", "(0, 1]"),
    ({"gamma": 1.5}, "gamma", "(0, 1]"),
    ({"warmup_epochs": 0}, "warmup_epochs", "between 1 and 100000"),
    ({"schedule": "warmup", "warmup_epochs": 5, "epochs": 5}, "warmup_epochs", "must end before the run does"),
    ({"schedule": "warmup", "warmup_epochs": 8, "epochs": 3}, "warmup_epochs", "(8 epochs)"),
    ({"model": "cnn", "pool_size": 0}, "pool_size", "between 1 (no pooling) and 28"),
    ({"model": "cnn", "dataset": "digits", "pool_size": 9, "padding": 0}, "pool_size",
     "larger than the 6x6 feature map of conv layer 1"),
    ({"model": "resnet", "depth": 9}, "depth", "even number between 2 and 200"),
    ({"model": "resnet", "depth": 202}, "depth", "even number"),
])
def test_spec_refuses_bad_schedule_pool_and_depth_values_naming_the_field(values, field, words):
    with pytest.raises(SpecError) as err:
        parse_spec(values)
    assert err.value.field == field and words in err.value.message


def test_warmup_parameters_matter_only_for_the_warmup_schedule():
    assert parse_spec({"warmup_epochs": 50, "epochs": 3}).warmup_epochs == 50  # constant schedule: ignored
    spec = parse_spec({"schedule": "step", "step_size": 4, "gamma": 0.3, "model": "cnn", "pool_size": 1})
    params = spec.params()
    assert (params["step_size"], params["gamma"], params["pool_size"]) == (4, 0.3, 1)
    assert "warmup_epochs" not in params and "momentum" not in params  # unused by this run: not recorded
    assert "pool_size" not in parse_spec({"model": "mlp"}).params()
    warm = parse_spec({"schedule": "warmup", "warmup_epochs": 2, "optimizer": "nesterov"}).params()
    assert warm["warmup_epochs"] == 2 and warm["momentum"] == 0.9 and "step_size" not in warm


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_huge_learning_rate_diverges_and_says_so():
    exp = prepare(parse_spec({"dataset": "digits", "optimizer": "sgd", "lr": 10, "epochs": 5, "init": "he",
                              "hidden": "256,256", "activation": "relu"}))
    summary = run_training(exp)
    assert summary.outcome == "diverged" and summary.epochs_run <= 5


@pytest.mark.parametrize("values,field", [
    ({"model": "cnn", "dataset": "digits", "kernel": 11, "padding": 0}, "kernel"),
    ({"model": "cnn", "dataset": "digits", "channels": "4,4,4", "padding": 0}, "kernel"),
    ({"momentum": -0.1}, "momentum"),
    ({"activation": "swish"}, "activation"),
    ({"init": "orthogonal"}, "init"),
    ({"loss": "bce", "dataset": "digits"}, "loss"),
    ({"model": "resnet", "batchnorm": True, "batch_size": 1}, "batch_size"),
    ({"model": "perceptron", "dataset": "digits"}, "dataset"),
    ({"model": "cnn", "dataset": "moons"}, "dataset"),
    ({"pool": "median"}, "pool"),
    ({"dropout": 1.0}, "dropout"),
    ({"noise": -1}, "noise"),
    ({"early_stopping": -1}, "early_stopping"),
    ({"clip": -1}, "clip"),
    ({"depth": 1}, "depth"),
    ({"hidden": "64,0"}, "hidden"),
])
def test_spec_refuses_bad_feedforward_values_with_a_message(values, field):
    with pytest.raises(SpecError) as err:
        parse_spec(values)
    assert err.value.field == field and err.value.message


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-50, 50), min_size=2, max_size=8))
def test_softmax_rows_sum_to_one(row):
    p = softmax(np.array([row, row[::-1]]))
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    assert (p >= 0).all()


@settings(max_examples=20, deadline=None)
@given(name=st.sampled_from(["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]),
       lr=st.floats(1e-4, 1.0))
def test_zero_gradients_leave_parameters_unchanged(name, lr):
    p = {"W": np.arange(4.0), "b": np.ones(2)}
    before = {k: v.copy() for k, v in p.items()}
    opt = make_optimizer(name, lr)
    opt.step(iter(p.items()), iter({k: np.zeros_like(v) for k, v in p.items()}.items()))
    for k in p:
        np.testing.assert_array_equal(p[k], before[k])


def test_adam_keeps_state_per_dotted_name():
    opt = Adam(0.1)
    params = {"a.W": np.zeros(2), "b.W": np.zeros(3)}
    opt.step(iter(params.items()), iter({k: np.ones_like(v) for k, v in params.items()}.items()))
    assert set(opt.state) == {"a.W", "b.W"} and opt.t == {"a.W": 1, "b.W": 1}


def test_training_skips_the_data_gradient_but_leaves_the_model_able_to_return_it():
    exp = prepare(parse_spec({"model": "cnn", "dataset": "digits", "epochs": 1, "subset": 40}))
    first = exp.model.layers[0]
    calls = []
    original = first.backward

    def spy(dout):
        calls.append(first.input_grad)
        return original(dout)
    first.backward = spy
    run_training(exp)
    assert calls and not any(calls)  # every training step skipped d loss / d images
    x = exp.data.x_val[:3]
    out = exp.model.forward(x)
    dx = exp.model.backward(np.ones_like(out))
    assert dx is not None and dx.shape == x.shape

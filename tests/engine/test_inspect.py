"""engine.inspect: each recorded view against a direct computation on the same model and probe batch."""

from __future__ import annotations

import numpy as np
import pytest

from engine.experiment import prepare
from engine.inspect import Inspector, select_probe
from engine.inspect.attention import head_entropy, head_offset
from engine.inspect.boundary import grid_points
from engine.inspect.classify import predict_proba
from engine.inspect.hooks import probe_pass
from engine.inspect.walk import leaf_layers
from engine.spec import parse_spec

SMALL_SEQ = {"n_samples": 160, "seq_len": 8, "hidden": "16", "d_model": 16}
FAMILIES = {
    "mlp": {"model": "mlp", "dataset": "digits", "hidden": "32,16", "dropout": 0.2},
    "cnn": {"model": "cnn", "dataset": "digits", "channels": "4,8", "hidden": "16", "batchnorm": True},
    "resnet": {"model": "resnet", "dataset": "digits", "depth": 8, "hidden": "16", "batchnorm": True},
    "lstm": {"model": "lstm", "dataset": "sentiment", **SMALL_SEQ},
    "gru": {"model": "gru", "dataset": "memory", **SMALL_SEQ},
    "transformer": {"model": "transformer", "dataset": "sentiment", "heads": 2, **SMALL_SEQ},
    "seq2seq": {"model": "seq2seq", "dataset": "reverse", "attention": "additive", **SMALL_SEQ},
}


def make(values: dict, seed: int = 0):
    """A prepared experiment (data, model, trainer) for a small spec."""
    return prepare(parse_spec({"epochs": 2, "seed": seed, **values}))


def views(snaps) -> dict:
    return {(s.kind, s.name): s.value for s in snaps}


def direct_grads(exp, probe) -> dict[str, np.ndarray]:
    """Gradients of the mean loss on the probe batch from a plain forward and backward."""
    model, loss = exp.model, exp.trainer.loss
    if probe.y.ndim == 2 and hasattr(model, "forward_train"):
        out = model.forward(probe.x, training=False, targets=probe.y)
    else:
        out = model.forward(probe.x, training=False)
    model.backward(loss.grad(out, probe.y))
    return {n: g.copy() for n, g in model.named_grads()}


def test_probe_batch_is_identical_for_two_runs_on_the_same_data_set():
    a, b = make({"dataset": "digits"}, seed=1), make({"dataset": "digits", "lr": 0.1}, seed=2)
    pa, pb = select_probe(a.data), select_probe(b.data)
    np.testing.assert_array_equal(pa.index, pb.index)
    np.testing.assert_array_equal(pa.x, pb.x)
    np.testing.assert_array_equal(pa.y, pb.y)
    assert set(pa.y.tolist()) == set(range(10))  # classes taken in turn: every digit is in the probe
    np.testing.assert_array_equal(pa.x, a.data.x_val[pa.index])


def test_sequence_probe_is_identical_across_models_on_the_same_task():
    a, b = make(FAMILIES["lstm"]), make({**FAMILIES["transformer"], "seed": 5})
    np.testing.assert_array_equal(select_probe(a.data).x, select_probe(b.data).x)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_recorded_gradient_norms_equal_the_norms_of_backward_gradients(family):
    exp = make(FAMILIES[family])
    ins = Inspector(exp.model, exp.trainer.loss, exp.data)
    rows = views(ins.compute(0, big=False))[("stats", "params")]["rows"]
    grads = direct_grads(exp, ins.probe)
    assert [r["name"] for r in rows] == list(grads)
    for r in rows:
        expected = float(np.linalg.norm(grads[r["name"]].astype(np.float64)))
        assert r["grad_norm"] == pytest.approx(expected, rel=1e-4, abs=1e-12), r["name"]
        w = dict(exp.model.named_params())[r["name"]]
        assert r["weight_norm"] == pytest.approx(float(np.linalg.norm(w.astype(np.float64))), rel=1e-4)


def test_update_ratio_is_the_relative_change_since_the_last_recorded_epoch():
    exp = make(FAMILIES["mlp"])
    ins = Inspector(exp.model, exp.trainer.loss, exp.data)
    before = {n: p.copy() for n, p in exp.model.named_params()}
    first = views(ins.compute(0, big=False))[("stats", "params")]
    assert first["since_epoch"] is None and all(r["update_ratio"] is None for r in first["rows"])
    exp.trainer.fit(exp.data, epochs=1)
    second = views(ins.compute(1, big=False))[("stats", "params")]
    assert second["since_epoch"] == 0
    for r in second["rows"]:
        now, old = dict(exp.model.named_params())[r["name"]], before[r["name"]]
        if np.linalg.norm(old) > 0:
            expected = np.linalg.norm(now - old) / np.linalg.norm(old)
            assert r["update_ratio"] == pytest.approx(expected, rel=1e-4)


def test_layer_statistics_match_the_activations_of_a_direct_forward():
    exp = make({"model": "mlp", "dataset": "digits", "hidden": "32"})
    ins = Inspector(exp.model, exp.trainer.loss, exp.data)
    layers = {r["layer"]: r for r in views(ins.compute(0, big=False))[("stats", "layers")]}
    dense = exp.model.layers[0]
    pre = ins.probe.x @ dense.params["W"] + dense.params["b"]
    act = np.maximum(pre, 0)
    assert list(layers) == ["layers.0", "layers.1", "layers.2"]  # forward order = depth
    assert layers["layers.0"]["mean"] == pytest.approx(float(pre.mean()), rel=1e-3, abs=1e-6)
    assert layers["layers.1"]["std"] == pytest.approx(float(act.std()), rel=1e-3)
    assert layers["layers.1"]["dead_fraction"] == pytest.approx(float(np.mean(~(act > 0).any(axis=0))), abs=1e-9)
    assert layers["layers.1"]["zero_fraction"] == pytest.approx(float(np.mean(act == 0)), rel=1e-4)
    assert "dead_fraction" not in layers["layers.0"]
    # the gradient reaching the head's output is the loss gradient itself
    out = exp.model.forward(ins.probe.x)
    g = exp.trainer.loss.grad(out, ins.probe.y)
    assert layers["layers.2"]["grad_norm"] == pytest.approx(float(np.linalg.norm(g)), rel=1e-4)


def test_dead_relus_are_counted_when_a_unit_never_fires():
    exp = make({"model": "mlp", "dataset": "digits", "hidden": "8"})
    dense = exp.model.layers[0]
    dense.params["b"][:3] = -1e6  # three units can never be positive
    probe = select_probe(exp.data)
    pp = probe_pass(exp.model, exp.trainer.loss, probe.x, probe.y)
    relu = next(s for s in pp.leaves if s.kind == "ReLU")
    act = np.maximum(probe.x @ dense.params["W"] + dense.params["b"], 0)
    assert relu.summary()["dead_fraction"] == pytest.approx(float(np.mean(~(act > 0).any(axis=0))))
    assert relu.summary()["dead_fraction"] >= 3 / 8


def test_probe_pass_leaves_training_code_untouched():
    exp = make(FAMILIES["resnet"])
    probe = select_probe(exp.data)
    probe_pass(exp.model, exp.trainer.loss, probe.x, probe.y)
    for _, layer in leaf_layers(exp.model):
        assert "forward" not in vars(layer) and "backward" not in vars(layer)


@pytest.mark.parametrize("family", ["mlp", "resnet", "lstm", "transformer"])
def test_training_is_identical_with_and_without_snapshots(family):
    values = {**FAMILIES[family], "dropout": 0.2} if family != "resnet" else FAMILIES[family]
    plain, watched = make(values, seed=3), make(values, seed=3)

    class EveryEpoch:
        def __init__(self, ins):
            self.ins = ins

        def on_train_start(self, context):
            self.ins.compute(0, big=True)

        def on_epoch_end(self, record):
            self.ins.compute(record.epoch, big=True)

        def on_train_end(self, summary):
            pass

    plain.trainer.fit(plain.data, epochs=2)
    cb = EveryEpoch(Inspector(watched.model, watched.trainer.loss, watched.data))
    watched.trainer.fit(watched.data, epochs=2, callbacks=[cb])
    for (n, a), (_, b) in zip(plain.model.named_params(), watched.model.named_params(), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=n)
    for (n, a), (_, b) in zip(plain.model.buffers(), watched.model.buffers(), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=n)


@pytest.mark.parametrize("dataset,model", [("moons", "mlp"), ("xor", "mlp"), ("and", "perceptron")])
def test_boundary_grid_equals_the_model_prediction_on_the_grid_points(dataset, model):
    exp = make({"model": model, "dataset": dataset, "hidden": "8"})
    ins = Inspector(exp.model, exp.trainer.loss, exp.data)
    got = views(ins.compute(0, big=False))
    grid = got[("boundary", "proba")]
    pts = grid_points(ins.extent, grid.shape[0]).astype(np.float32)
    out = exp.model.forward(pts)
    proba = predict_proba(exp.trainer.loss, out)[:, 1].reshape(grid.shape)
    np.testing.assert_allclose(grid, proba, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(grid.ravel() > 0.5, exp.trainer.loss.predict(out) == 1)
    # the grid covers every data point
    pts_all = np.concatenate([exp.data.x_train, exp.data.x_val])
    assert ins.extent["x0"] < pts_all[:, 0].min() and ins.extent["x1"] > pts_all[:, 0].max()


def test_confusion_matrix_counts_validation_predictions():
    exp = make(FAMILIES["mlp"])
    ins = Inspector(exp.model, exp.trainer.loss, exp.data)
    cm = views(ins.compute(0, big=True))[("confusion", "val")]
    pred = exp.trainer.loss.predict(exp.model.forward(exp.data.x_val))
    assert cm.sum() == len(exp.data.y_val)
    assert int(np.trace(cm)) == int(np.sum(pred == exp.data.y_val))
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(exp.data.y_val, minlength=10))


def test_confidently_wrong_examples_are_wrong_and_sorted_by_confidence():
    exp = make(FAMILIES["mlp"])
    ins = Inspector(exp.model, exp.trainer.loss, exp.data)
    wrong = views(ins.compute(0, big=False))[("wrong", "probe")]
    proba = predict_proba(exp.trainer.loss, exp.model.forward(ins.probe.x))
    assert wrong, "an untrained model gets some probe digits wrong"
    confs = [w["confidence"] for w in wrong]
    assert confs == sorted(confs, reverse=True)
    for w in wrong:
        assert w["label"] == ins.probe.y[w["probe"]] != w["predicted"] == proba[w["probe"]].argmax()
        assert w["confidence"] == pytest.approx(float(proba[w["probe"]].max()), rel=1e-4)
        assert w["index"] == ins.probe.index[w["probe"]]


def test_cnn_filters_and_feature_maps_equal_the_layers_outputs():
    exp = make(FAMILIES["cnn"])
    ins = Inspector(exp.model, exp.trainer.loss, exp.data)
    got = views(ins.compute(0, big=True))
    conv, bn, relu = exp.model.layers[0], exp.model.layers[1], exp.model.layers[2]
    np.testing.assert_array_equal(got[("filters", "layers.0.W")], conv.params["W"])
    x = ins.probe.x[:4]
    expected = relu.forward(bn.forward(conv.forward(x)))
    np.testing.assert_allclose(got[("feature_maps", "layers.0")], expected, rtol=1e-6)
    assert ("feature_maps", "layers.4") in got  # the second conv stage


def test_attention_rows_sum_to_one_and_equal_the_forward_weights():
    exp = make({**FAMILIES["transformer"], "layers": 2})
    ins = Inspector(exp.model, exp.trainer.loss, exp.data)
    got = views(ins.compute(0, big=True))
    exp.model.forward(ins.probe.x)
    direct = exp.model.attention_weights()
    for i, w in enumerate(direct):
        stored = got[("attention", f"layer.{i}")]
        assert stored.shape == (4, 2, 8, 8)
        np.testing.assert_allclose(stored, w[ins.focus], rtol=1e-6)
        np.testing.assert_allclose(stored.sum(axis=-1), 1.0, rtol=1e-5)
    stats = got[("attention_heads", "stats")]
    assert stats["heads"] == [2, 2]
    for i, w in enumerate(direct):
        np.testing.assert_allclose(stats["entropy"][i], head_entropy(w), rtol=1e-4)
        np.testing.assert_allclose(stats["offset"][i], head_offset(w), rtol=1e-4, atol=1e-6)


def test_head_entropy_and_offset_of_known_patterns():
    t = 5
    eye = np.eye(t)[None, None]                   # attends to itself
    prev = np.eye(t, k=-1)[None, None].copy()     # attends to the previous token
    prev[0, 0, 0, 0] = 1.0
    uniform = np.full((1, 1, t, t), 1.0 / t)
    w = np.concatenate([eye, prev, uniform], axis=1)
    np.testing.assert_allclose(head_entropy(w), [0.0, 0.0, np.log(t)], atol=1e-12)
    np.testing.assert_allclose(head_offset(w), [0.0, -(t - 1) / t, np.mean([2 - i for i in range(t)])], atol=1e-12)


def test_recurrent_views_match_hidden_states_and_input_gradients():
    exp = make({**FAMILIES["lstm"], "dataset": "memory"})
    ins = Inspector(exp.model, exp.trainer.loss, exp.data)
    got = views(ins.compute(0, big=True))
    view = got[("recurrent", "rnn.0")]
    model, loss, p = exp.model, exp.trainer.loss, ins.probe
    out = model.forward(p.x)
    h = model.last_hidden_states.astype(np.float64)
    np.testing.assert_allclose(view["hidden_norm"], np.linalg.norm(h, axis=-1).mean(axis=0), rtol=1e-4)
    assert set(view["gates"]) == {"i", "f", "o", "g"}
    np.testing.assert_allclose(view["gates"]["f"], model.last_gates["f"].mean(axis=(0, 2)), rtol=1e-4)
    np.testing.assert_array_equal(got[("gates", "rnn.0.f")], model.last_gates["f"][ins.focus[:1]])
    # the gradient reaching each timestep's input, by the model's own backward path (one layer, many-to-one)
    dh = model.head.backward(loss.grad(out, p.y))
    dx = model.rnns[0].backward(None, dstate=(dh,)).astype(np.float64)
    np.testing.assert_allclose(view["input_grad"], np.linalg.norm(dx, axis=-1).mean(axis=0), rtol=1e-4)
    # confidence after the last token is the prediction on the whole sequence
    proba = predict_proba(loss, out)
    np.testing.assert_allclose(got[("confidence", "p_true")][:, -1], proba[np.arange(len(p.y)), p.y], rtol=1e-5)


def test_confidence_after_each_token_of_a_transformer_is_the_prediction_on_the_prefix():
    exp = make(FAMILIES["transformer"])
    ins = Inspector(exp.model, exp.trainer.loss, exp.data)
    conf = views(ins.compute(0, big=True))[("confidence", "p_true")]
    p = ins.probe
    for t in (2, 5):
        proba = predict_proba(exp.trainer.loss, exp.model.forward(p.x[:, :t + 1]))
        np.testing.assert_allclose(conf[:, t], proba[np.arange(len(p.y)), p.y], rtol=1e-5)


def test_every_parameter_belongs_to_a_named_leaf_layer():
    for family in ("mlp", "cnn", "resnet", "lstm", "transformer", "seq2seq"):
        exp = make(FAMILIES[family])
        leaves = {name for name, _ in leaf_layers(exp.model)}
        for pname, _ in exp.model.named_params():
            assert pname.rsplit(".", 1)[0] in leaves, (family, pname)


def test_perceptron_views_have_weights_but_no_gradients():
    exp = make({"model": "perceptron", "dataset": "and"})
    got = views(Inspector(exp.model, exp.trainer.loss, exp.data).compute(0, big=True))
    rows = got[("stats", "params")]["rows"]
    assert [r["name"] for r in rows] == ["W", "b"] and all(r["grad_norm"] is None for r in rows)
    assert got[("histograms", "params")]["params"][0]["grads"] is None


def test_histogram_matches_numpy_histogram():
    rng = np.random.default_rng(4)
    a = rng.normal(size=1000).astype(np.float32)
    from engine.inspect.params import histogram

    h = histogram(a, bins=20)
    counts, _ = np.histogram(a.astype(np.float64), bins=20, range=(h["lo"], h["hi"]))
    np.testing.assert_allclose(h["frac"], counts / a.size, atol=1e-5)
    assert h["lo"] == pytest.approx(float(a.min())) and h["hi"] == pytest.approx(float(a.max()))


def test_full_maps_are_kept_for_the_longest_probe_sentences():
    exp = make(FAMILIES["transformer"])
    ins = Inspector(exp.model, exp.trainer.loss, exp.data)
    lengths = (ins.probe.x != exp.data.meta["pad_id"]).sum(axis=1)
    assert len(ins.focus) == 4 and ins.focus[0] == int(np.argmax(lengths))
    assert sorted(lengths[ins.focus].tolist(), reverse=True) == sorted(lengths.tolist(), reverse=True)[:4]
    meta = {s.name: s.value for s in ins.probe_record()}["meta"]
    assert meta["focus_examples"] == ins.focus


def test_two_class_probabilities_equal_softmax_and_never_overflow():
    from engine.losses import SoftmaxCrossEntropy, softmax

    rng = np.random.default_rng(5)
    logits = np.concatenate([rng.normal(size=(200, 2)), rng.normal(scale=1e4, size=(200, 2))]).astype(np.float32)
    with np.errstate(over="raise", invalid="raise"):  # the fast two-class path caps its exponent
        got = predict_proba(SoftmaxCrossEntropy(), logits)
    np.testing.assert_allclose(got, softmax(logits.astype(np.float64)), rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(got.argmax(axis=1), logits.argmax(axis=1))


def test_layer_statistics_are_those_of_the_output_before_a_later_layer_changes_it_in_place():
    from engine.layers.base import Layer
    from engine.layers.container import Sequential
    from engine.layers.dense import Dense
    from engine.losses import MeanSquaredError

    class DoubleInPlace(Layer):
        def forward(self, x, *, training=False):
            x *= 2.0
            return x

        def backward(self, dout):
            dout *= 2.0
            return dout

    rng = np.random.default_rng(6)
    model = Sequential([Dense(3, 4, rng=rng), DoubleInPlace()])
    x, y = rng.normal(size=(5, 3)).astype(np.float32), rng.integers(0, 4, size=5)
    dense = model.layers[0]
    pre = x.astype(np.float64) @ dense.params["W"] + dense.params["b"]
    loss = MeanSquaredError()
    dout = loss.grad(2.0 * pre, y)  # the gradient reaching the doubling layer's output
    leaves = {s.name: s for s in probe_pass(model, loss, x, y).leaves}
    first, second = leaves["layers.0"].summary(), leaves["layers.1"].summary()
    assert first["mean"] == pytest.approx(pre.mean(), rel=1e-5) and first["std"] == pytest.approx(pre.std(), rel=1e-5)
    assert second["mean"] == pytest.approx(2.0 * pre.mean(), rel=1e-5)
    assert second["grad_norm"] == pytest.approx(np.linalg.norm(dout), rel=1e-5)
    assert first["grad_norm"] == pytest.approx(2.0 * np.linalg.norm(dout), rel=1e-5)


@pytest.mark.parametrize("loss_name,width", [("softmax_ce", 2), ("bce", 1), ("mse", 1), ("mse", 2)])
def test_class_one_probability_is_the_second_column_of_predict_proba(loss_name, width):
    from engine.inspect.classify import class_one_proba
    from engine.losses import make_loss

    out = np.random.default_rng(7).normal(scale=3.0, size=(50, width)).astype(np.float32)
    loss = make_loss(loss_name)
    np.testing.assert_allclose(class_one_proba(loss, out), predict_proba(loss, out)[:, 1], rtol=1e-12, atol=0)

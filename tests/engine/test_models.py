"""Model configs, the factory, parameter counts, save/load round trips and spec-to-config mapping."""

import dataclasses

import numpy as np
import pytest

from engine.data import load_dataset
from engine.layers import BatchNorm, Residual
from engine.losses import SoftmaxCrossEntropy
from engine.models import (CNNConfig, MLPConfig, PerceptronConfig, ResNetConfig, build_model,
                           config_from_spec)
from engine.models.cnn import feature_shapes, fc_twin, parameter_counts
from engine.models.io import load_model, save_model
from engine.optim import Adam
from engine.spec import SpecError, parse_int_list, parse_spec

CONFIGS = {
    "mlp": (MLPConfig(in_features=6, hidden=(8, 5), out_features=3, dropout=0.3), (10, 6)),
    "perceptron": (PerceptronConfig(in_features=2), (10, 2)),
    "cnn": (CNNConfig(in_channels=1, height=8, width=8, out_features=3, channels=(4, 6), hidden=(7,),
                      batchnorm=True, dropout=0.2), (10, 1, 8, 8)),
    "resnet": (ResNetConfig(in_features=6, out_features=3, depth=8, width=5, batchnorm=True), (10, 6)),
    "plain": (ResNetConfig(in_features=6, out_features=3, depth=8, width=5, residual=False), (10, 6)),
    "cnn_pool3": (CNNConfig(in_channels=1, height=9, width=9, out_features=3, channels=(4,), pool_size=3,
                            pool="avg", hidden=(5,)), (10, 1, 9, 9)),
}


def _train_a_little(model, x, y, steps=3):
    loss, opt = SoftmaxCrossEntropy(), Adam(0.01)
    for _ in range(steps):
        out = model.forward(x, training=True)
        model.backward(loss.grad(out, y))
        opt.step(model.named_params(), model.named_grads())


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_saved_and_loaded_model_predicts_identically(name, tmp_path):
    rng = np.random.default_rng(0)
    config, shape = CONFIGS[name]
    model = build_model(config, rng)
    x = rng.standard_normal(shape).astype(np.float32)
    if name == "perceptron":
        model.train_batch(x, rng.integers(0, 2, len(x)), 0.1)
    else:
        _train_a_little(model, x, rng.integers(0, 3, len(x)))
    path = tmp_path / "model.npz"
    save_model(model, path)
    loaded = load_model(path)
    assert loaded.config == config
    assert loaded.num_params() == model.num_params()
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
    for (n1, b1), (n2, b2) in zip(model.buffers(), loaded.buffers(), strict=True):
        assert n1 == n2
        np.testing.assert_array_equal(b1, b2)


def test_batchnorm_running_stats_are_saved_with_the_weights(tmp_path):
    rng = np.random.default_rng(1)
    config, shape = CONFIGS["resnet"]
    model = build_model(config, rng)
    x = rng.normal(3.0, 2.0, shape).astype(np.float32)
    _train_a_little(model, x, rng.integers(0, 3, len(x)))
    names = [n for n, _ in model.buffers()]
    assert names and all(n.endswith(("running_mean", "running_var")) for n in names)
    save_model(model, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as f:
        assert {f"buffer/{n}" for n in names} <= set(f.files)


def test_load_refuses_a_file_whose_arrays_do_not_match_the_config(tmp_path):
    rng = np.random.default_rng(2)
    model = build_model(MLPConfig(in_features=3, hidden=(4,), out_features=2), rng)
    other = build_model(MLPConfig(in_features=3, hidden=(4, 4), out_features=2), rng)
    other.config = model.config  # lie about the architecture
    save_model(other, tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="do not match"):
        load_model(tmp_path / "bad.npz")


def test_parameter_counts_follow_the_layer_formulas():
    rng = np.random.default_rng(3)
    mlp = build_model(MLPConfig(in_features=64, hidden=(32,), out_features=10), rng)
    assert mlp.num_params() == 64 * 32 + 32 + 32 * 10 + 10
    cnn = build_model(CNNConfig(in_channels=1, height=28, width=28, out_features=10, channels=(8, 16)), rng)
    conv = (8 * 1 * 9 + 8) + (16 * 8 * 9 + 16)
    assert cnn.num_params() == conv + 16 * 7 * 7 * 10 + 10
    bn = build_model(ResNetConfig(in_features=10, out_features=2, depth=6, width=4, batchnorm=True), rng)
    dense = (10 * 4 + 4) + 4 * (4 * 4 + 4) + (4 * 2 + 2)
    assert bn.num_params() == dense + 5 * 2 * 4  # five BatchNorms with gamma and beta


def test_fc_vs_cnn_pair_reports_both_counts_and_the_cnn_is_smaller_on_28x28():
    config = CNNConfig(in_channels=1, height=28, width=28, out_features=10, channels=(8, 16))
    counts = parameter_counts(config, fc_hidden=(128,))
    assert counts["fc"] == 784 * 128 + 128 + 128 * 10 + 10
    assert counts["cnn"] < counts["fc"] / 5
    assert fc_twin(config, (128,)).in_features == 784


def test_resnet_depth_counts_weighted_layers_and_plain_differs_only_by_the_skip():
    rng = np.random.default_rng(4)
    for depth, blocks in [(4, 1), (10, 4), (56, 27)]:
        config = ResNetConfig(in_features=8, out_features=3, depth=depth, width=4)
        model = build_model(config, rng)
        res = [layer for layer in model.layers if isinstance(layer, Residual)]
        assert config.blocks == blocks == len(res)
        assert 2 + 2 * blocks == sum(1 for n, _ in model.named_params() if n.endswith(".W"))
        plain = build_model(dataclasses.replace(config, residual=False), rng)
        assert plain.num_params() == model.num_params()
        assert not any(layer.skip for layer in plain.layers if isinstance(layer, Residual))


def test_cnn_feature_shapes_and_kernel_too_large_error():
    ok = CNNConfig(in_channels=1, height=8, width=8, out_features=10, channels=(4, 5), kernel=3, padding=0)
    assert feature_shapes(ok) == [(4, 3, 3), (5, 1, 1)]
    config = dataclasses.replace(ok, channels=(4, 4, 4))
    with pytest.raises(ValueError, match="larger than the 1x1 input of conv layer 3"):
        build_model(config, np.random.default_rng(0))


def test_build_model_refuses_an_unknown_config():
    @dataclasses.dataclass(frozen=True)
    class Other:
        n: int = 1
    with pytest.raises(ValueError, match="no builder for Other"):
        build_model(Other(), np.random.default_rng(0))


@pytest.mark.parametrize("values,expected", [
    ({"model": "perceptron", "dataset": "and"}, PerceptronConfig(in_features=2)),
    ({"model": "cnn", "dataset": "digits", "channels": "4,8", "hidden": "16", "batchnorm": True, "pool": "avg"},
     CNNConfig(in_channels=1, height=8, width=8, out_features=10, channels=(4, 8), hidden=(16,),
               batchnorm=True, pool="avg")),
    ({"model": "resnet", "dataset": "moons", "depth": 12, "hidden": "16", "residual": False},
     ResNetConfig(in_features=2, out_features=2, depth=12, width=16, residual=False)),
    ({"model": "mlp", "dataset": "xor", "hidden": "2", "loss": "mse", "activation": "sigmoid"},
     MLPConfig(in_features=2, hidden=(2,), out_features=1, activation="sigmoid", output_sigmoid=True)),
])
def test_config_from_spec_maps_the_spec_fields(values, expected):
    spec = parse_spec(values)
    assert config_from_spec(spec, load_dataset(spec)) == expected


def test_every_batchnorm_in_a_bn_cnn_sits_after_a_conv():
    model = build_model(CONFIGS["cnn"][0], np.random.default_rng(0))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("BatchNorm") == 2
    assert all(kinds[i - 1] == "Conv2D" for i, k in enumerate(kinds) if k == "BatchNorm")
    assert isinstance(model.layers[1], BatchNorm)


def test_resnet_refuses_an_odd_depth_instead_of_rounding_it():
    with pytest.raises(ValueError, match="even number"):
        build_model(ResNetConfig(in_features=4, out_features=2, depth=9), np.random.default_rng(0))


def test_a_saved_cnn_config_without_pool_size_loads_with_the_2x2_pool(tmp_path):
    import json

    from engine.models.io import config_from_dict, config_to_dict

    config = CNNConfig(in_channels=1, height=8, width=8, out_features=3, channels=(4, 6))
    old = config_to_dict(config)
    del old["fields"]["pool_size"]  # what a file saved before pool_size existed holds
    assert config_from_dict(json.loads(json.dumps(old))) == config and config.pool_size == 2


@pytest.mark.parametrize("pool_size, pools", [(1, 0), (2, 2), (3, 2)])
def test_cnn_pool_size_sets_the_pool_layers_and_the_flattened_width(pool_size, pools):
    from engine.layers import MaxPool2D

    config = CNNConfig(in_channels=1, height=28, width=28, out_features=10, channels=(4, 8), hidden=(16,),
                       pool_size=pool_size)
    model = build_model(config, np.random.default_rng(0))
    sizes = [layer.size for layer in model.layers if isinstance(layer, MaxPool2D)]
    assert sizes == [pool_size] * pools
    side = {1: 28, 2: 7, 3: 3}[pool_size]  # 28 -> 28 (pad 1) -> pooled -> 2nd conv -> pooled
    assert feature_shapes(config)[-1] == (8, side, side)
    conv = 1 * 4 * 9 + 4 + 4 * 8 * 9 + 8
    assert model.num_params() == conv + (8 * side * side * 16 + 16) + (16 * 10 + 10)
    out = model.forward(np.zeros((2, 1, 28, 28), np.float32))
    assert out.shape == (2, 10)


def test_cnn_pool_size_3_on_digits_is_refused_by_the_spec_exactly_where_the_builder_refuses_it():
    ok = parse_spec({"model": "cnn", "dataset": "digits", "channels": "4", "pool_size": 3, "hidden": "16"})
    config = config_from_spec(ok, load_dataset(ok))
    assert config.pool_size == 3 and feature_shapes(config) == [(4, 2, 2)]  # 8x8 -> conv 8x8 -> pool 3 -> 2x2
    with pytest.raises(SpecError) as err:  # the second conv keeps 2x2, and a 3x3 pool does not fit in it
        parse_spec({"model": "cnn", "dataset": "digits", "channels": "4,8", "pool_size": 3})
    assert err.value.field == "pool_size" and "2x2 feature map of conv layer 2" in err.value.message
    with pytest.raises(ValueError, match="2x2 feature map of conv layer 2"):
        feature_shapes(dataclasses.replace(config, channels=(4, 8)))


@pytest.mark.parametrize("pool_size", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("channels", ["4", "4,4", "4,4,4"])
@pytest.mark.parametrize("kernel, padding", [(3, 1), (3, 0), (5, 2)])
def test_cnn_spec_validation_matches_the_builder_shape_arithmetic(pool_size, channels, kernel, padding):
    values = {"model": "cnn", "dataset": "digits", "channels": channels, "pool_size": pool_size,
              "kernel": kernel, "padding": padding}
    config = CNNConfig(in_channels=1, height=8, width=8, out_features=10, channels=parse_int_list("c", channels),
                       kernel=kernel, padding=padding, pool_size=pool_size, hidden=(64,))
    try:
        shapes = feature_shapes(config)
    except ValueError:
        with pytest.raises(SpecError):
            parse_spec(values)
        return
    spec = parse_spec(values)
    assert config_from_spec(spec, load_dataset(spec)) == config
    assert build_model(config, np.random.default_rng(0)).forward(np.zeros((1, 1, 8, 8), np.float32)).shape == (1, 10)
    assert shapes[-1][0] == 4

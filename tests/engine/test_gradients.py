"""Gradient checks (float64, central differences) for every feedforward layer, model and loss."""

import numpy as np
import pytest

from engine.layers import (AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, LeakyReLU, MaxPool2D,
                           ReLU, Residual, Sequential, Sigmoid, Tanh)
from engine.losses import BinaryCrossEntropy, MeanSquaredError, SoftmaxCrossEntropy
from engine.models import CNNConfig, MLPConfig, ResNetConfig, build_model
from tests.engine.gradcheck import check_layer_gradients, check_loss_gradient

F64 = np.float64


def _away_from_kinks(x):
    """Move values off 0 so ReLU-like kinks are not straddled by +-eps."""
    return np.where(np.abs(x) < 1e-3, 0.1, x)


LAYERS = {
    "dense": (lambda rng: Dense(5, 4, rng=rng, dtype=F64), (6, 5)),
    "dense_3d": (lambda rng: Dense(5, 4, rng=rng, dtype=F64), (2, 3, 5)),
    "relu": (lambda rng: ReLU(), (6, 5)),
    "leaky_relu": (lambda rng: LeakyReLU(0.1), (6, 5)),
    "sigmoid": (lambda rng: Sigmoid(), (6, 5)),
    "tanh": (lambda rng: Tanh(), (6, 5)),
    "dropout_eval": (lambda rng: Dropout(0.5, rng=rng), (6, 5)),
    "conv_s1_p0": (lambda rng: Conv2D(2, 3, 3, rng=rng, dtype=F64), (2, 2, 6, 6)),
    "conv_s1_p1": (lambda rng: Conv2D(2, 3, 3, padding=1, rng=rng, dtype=F64), (2, 2, 5, 5)),
    "conv_s2_p1": (lambda rng: Conv2D(2, 3, 3, stride=2, padding=1, rng=rng, dtype=F64), (2, 2, 7, 6)),
    "conv_s2_p0_k2": (lambda rng: Conv2D(3, 2, 2, stride=2, rng=rng, dtype=F64), (2, 3, 6, 6)),
    "conv_k1": (lambda rng: Conv2D(3, 2, 1, rng=rng, dtype=F64), (2, 3, 4, 4)),
    "maxpool2": (lambda rng: MaxPool2D(2), (2, 3, 6, 6)),
    "maxpool2_odd": (lambda rng: MaxPool2D(2), (2, 2, 5, 7)),
    "maxpool3": (lambda rng: MaxPool2D(3), (2, 2, 7, 6)),
    "avgpool2": (lambda rng: AvgPool2D(2), (2, 3, 6, 6)),
    "avgpool3_odd": (lambda rng: AvgPool2D(3), (2, 2, 7, 8)),
    "flatten": (lambda rng: Flatten(), (2, 3, 4, 4)),
    "batchnorm_dense": (lambda rng: BatchNorm(4, dtype=F64), (8, 4)),
    "batchnorm_conv": (lambda rng: BatchNorm(3, dtype=F64), (4, 3, 3, 3)),
    "residual": (lambda rng: Residual(Sequential([Dense(4, 4, rng=rng, dtype=F64), Tanh(),
                                                  Dense(4, 4, rng=rng, dtype=F64)]), activation="tanh"),
                 (5, 4)),
    "residual_bn_relu": (lambda rng: Residual(Sequential([Dense(4, 4, rng=rng, dtype=F64), BatchNorm(4, dtype=F64),
                                                          ReLU(), Dense(4, 4, rng=rng, dtype=F64)])),
                         (6, 4)),
    "plain_block": (lambda rng: Residual(Sequential([Dense(4, 4, rng=rng, dtype=F64)]), activation="sigmoid",
                                         skip=False), (5, 4)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_gradients_match_central_differences(name):
    rng = np.random.default_rng(1)
    make, shape = LAYERS[name]
    layer = make(rng)
    x = _away_from_kinks(rng.standard_normal(shape))
    # BatchNorm's scale and shift start at 1 and 0; move them so their gradients are generic
    for pname, p in layer.named_params():
        if pname.endswith(("gamma", "beta")):
            p += rng.normal(0, 0.3, p.shape)
    errors = check_layer_gradients(layer, x, rng=rng, training=name != "dropout_eval")
    assert errors["x"] < 1e-6


def test_dropout_gradient_with_a_fixed_mask_in_training_mode():
    rng = np.random.default_rng(2)
    layer = Dropout(0.4)
    x = rng.standard_normal((6, 7))

    def reseed():
        layer.set_rng(np.random.default_rng(123))  # the same mask every forward
    errors = check_layer_gradients(layer, x, rng=rng, training=True, before_forward=reseed)
    assert errors["x"] < 1e-6
    reseed()
    out = layer.forward(x, training=True)
    assert np.any(out == 0) and np.allclose(out[out != 0], x[out != 0] / 0.6)


def test_batchnorm_in_eval_mode_is_checked_against_running_statistics():
    rng = np.random.default_rng(3)
    bn = BatchNorm(3, dtype=F64)
    for _ in range(3):
        bn.forward(rng.normal(2.0, 3.0, (10, 3, 2, 2)), training=True)
    check_layer_gradients(bn, rng.standard_normal((4, 3, 2, 2)), rng=rng, training=False)


MODELS = {
    "mlp_relu": MLPConfig(in_features=5, hidden=(6, 4), out_features=3, activation="relu"),
    "mlp_tanh_xavier": MLPConfig(in_features=5, hidden=(4,), out_features=3, activation="tanh", init="xavier"),
    "mlp_sigmoid_out": MLPConfig(in_features=2, hidden=(3,), out_features=1, activation="sigmoid",
                                 init="normal", output_sigmoid=True),
    "mlp_leaky": MLPConfig(in_features=4, hidden=(5, 5, 5), out_features=2, activation="leaky_relu"),
    "cnn": CNNConfig(in_channels=1, height=8, width=8, out_features=3, channels=(2, 3), hidden=(5,)),
    "cnn_bn_avg_stride": CNNConfig(in_channels=2, height=9, width=9, out_features=3, channels=(3,), stride=2,
                                   padding=1, pool="avg", batchnorm=True, activation="tanh"),
    "cnn_pool3_max": CNNConfig(in_channels=1, height=8, width=8, out_features=3, channels=(2,), pool_size=3),
    "cnn_pool3_avg": CNNConfig(in_channels=1, height=7, width=7, out_features=3, channels=(2,), pool_size=3,
                               pool="avg", padding=0),
    "resnet_plain": ResNetConfig(in_features=6, out_features=3, depth=6, width=5, residual=False),
    "resnet_residual": ResNetConfig(in_features=6, out_features=3, depth=6, width=5, residual=True),
    "resnet_plain_bn": ResNetConfig(in_features=6, out_features=3, depth=6, width=5, residual=False,
                                    batchnorm=True),
    "resnet_residual_bn": ResNetConfig(in_features=6, out_features=3, depth=6, width=5, residual=True,
                                       batchnorm=True, activation="tanh"),
}
INPUT_SHAPES = {"cnn": (3, 1, 8, 8), "cnn_bn_avg_stride": (4, 2, 9, 9), "cnn_pool3_max": (3, 1, 8, 8),
                "cnn_pool3_avg": (3, 1, 7, 7)}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_gradients_match_central_differences(name):
    rng = np.random.default_rng(4)
    config = MODELS[name]
    model = build_model(config, rng, dtype=F64)
    shape = INPUT_SHAPES.get(name, (6, getattr(config, "in_features", 0)))
    x = rng.standard_normal(shape)
    errors = check_layer_gradients(model, x, rng=rng, training=True)
    assert set(errors) == {"x"} | {n for n, _ in model.named_params()}


@pytest.mark.parametrize("loss,n_out", [(SoftmaxCrossEntropy(), 4), (BinaryCrossEntropy(), 1),
                                        (MeanSquaredError(), 1), (MeanSquaredError(), 3)])
def test_loss_gradients_match_central_differences(loss, n_out):
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((7, n_out)) * 3
    y = rng.integers(0, max(n_out, 2), 7)
    check_loss_gradient(loss, logits, y)


@pytest.mark.parametrize("loss,n_out", [(BinaryCrossEntropy(), 1), (MeanSquaredError(), 1), (MeanSquaredError(), 4)])
def test_bce_and_mse_gradients_on_sequences_average_like_their_values(loss, n_out):
    rng = np.random.default_rng(7)
    outputs = rng.standard_normal((3, 5, n_out))
    y = rng.integers(0, max(n_out, 2), (3, 5))
    check_loss_gradient(loss, outputs, y)


def test_softmax_ce_gradient_on_sequences_and_with_huge_logits():
    rng = np.random.default_rng(6)
    logits = rng.standard_normal((3, 4, 5))
    y = rng.integers(0, 5, (3, 4))
    check_loss_gradient(SoftmaxCrossEntropy(), logits, y)
    big = np.array([[1000.0, -1000.0, 0.0]])
    assert np.isfinite(SoftmaxCrossEntropy().value(big, np.array([1])))
    assert np.isfinite(SoftmaxCrossEntropy().grad(big, np.array([1]))).all()

"""The lessons: one declarative definition per claim of the series. Adding one is a few lines here.

Each lesson compares two arms (a baseline and the arm the claim is about) on the same seeds; the
effect is the second arm minus the first, and `expected` says which way the claim says it goes.
Defaults are calibrated to finish in a few minutes on 2 cores (subsets, few epochs); `cost` and
`verdict` are what was measured (README, Lessons) and `note` says where the data disagree and why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.spec import ExperimentSpec, parse_spec

from .metrics import Metric, parse_metric


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: a label and the knobs it sets on top of the lesson's base spec."""

    label: str
    overrides: Mapping[str, Any]


@dataclass(frozen=True)
class Lesson:
    """A claim of the series as an experiment: base spec, the varied knob's two arms, metric, direction."""

    name: str
    post: str
    claim: str
    base: Mapping[str, Any]
    varied: str
    arms: tuple[Arm, Arm]
    metric: str
    expected: str  # 'higher' or 'lower': the claimed sign of arms[1] - arms[0]
    also: tuple[str, ...] = ()  # further metrics shown beside the claim's (no verdict of their own on the lesson)
    measures: str = ""
    seeds: int = 5
    cost: str = ""
    note: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def parsed_metric(self) -> Metric:
        return parse_metric(self.metric)

    @property
    def experiment(self) -> str:
        return f"lesson-{self.name}"

    def spec(self, arm: Arm, seed: int, **reduce: Any) -> ExperimentSpec:
        """The validated spec of one arm at one seed (`reduce` overrides knobs, e.g. fewer epochs in tests)."""
        return parse_spec({**self.base, **arm.overrides, **reduce, "seed": seed, "name": f"{self.name}: {arm.label}"})


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        name="perceptron-xor", post="Perceptron",
        claim="A single perceptron learns AND but cannot learn XOR: its best accuracy on XOR stays at 75% or below.",
        base={"model": "perceptron", "lr": 0.1, "epochs": 20},
        varied="dataset", arms=(Arm("AND", {"dataset": "and"}), Arm("XOR", {"dataset": "xor"})),
        metric="val_accuracy:best", expected="lower", measures="best accuracy on the four points",
        cost="about 6 s on 2 cores"),
    Lesson(
        name="hidden-layer-xor", post="Hidden layer",
        claim="On XOR a 2-4-1 network solves the problem for more seeds than a 2-2-1 network, which gets stuck on some.",
        base={"model": "mlp", "dataset": "xor", "activation": "sigmoid", "loss": "mse", "optimizer": "sgd",
              "lr": 0.5, "batch_size": 4, "epochs": 3000},
        varied="hidden", arms=(Arm("2-2-1", {"hidden": "2"}), Arm("2-4-1", {"hidden": "4"})),
        metric="reached:val_accuracy>=1", expected="higher", measures="share of seeds that classify all four points",
        cost="about 15 s on 2 cores"),
    Lesson(
        name="vanishing-gradient", post="Backpropagation",
        claim="In a deep sigmoid network the gradient shrinks on its way back: the first layer gets a far smaller "
              "gradient than the last, much more than with ReLU.",
        base={"model": "mlp", "dataset": "digits", "hidden": "32,32,32,32,32,32", "init": "xavier", "epochs": 2,
              "subset": 300},
        varied="activation", arms=(Arm("ReLU", {"activation": "relu"}), Arm("sigmoid", {"activation": "sigmoid"})),
        metric="grad_ratio", expected="lower",
        measures="log10 of the first layer's over the last layer's weight-gradient norm, untrained net (epoch 0)",
        cost="about 5 s on 2 cores"),
    Lesson(
        name="optimizers", post="Optimizers",
        claim="Adam reaches 90% validation accuracy on digits in fewer epochs than plain SGD.",
        base={"model": "mlp", "dataset": "digits", "hidden": "64", "epochs": 20},
        varied="optimizer", arms=(Arm("SGD (lr 0.01)", {"optimizer": "sgd", "lr": 0.01}),
                                  Arm("Adam (lr 0.001)", {"optimizer": "adam", "lr": 0.001})),
        metric="epochs_to:val_accuracy>=0.9", expected="lower", measures="epochs to 90% validation accuracy",
        cost="about 6 s on 2 cores",
        note="Each optimizer runs at its usual default learning rate. SGD tuned up to lr 0.05 reaches 90% about "
             "as fast as Adam here: Adam's edge is that its default works without tuning."),
    Lesson(
        name="dropout-gap", post="Regularization",
        claim="Dropout narrows the gap between training and validation performance of an over-sized network on little data.",
        base={"model": "mlp", "dataset": "digits", "subset": 200, "hidden": "256", "epochs": 60},
        varied="dropout", arms=(Arm("no dropout", {"dropout": 0.0}), Arm("dropout 0.5", {"dropout": 0.5})),
        metric="gap:loss", expected="higher", also=("gap:accuracy",),
        measures="training minus validation loss at the last epoch (negative: validation loss is higher)",
        cost="about 7 s on 2 cores",
        note="The loss gap narrows a little but on every seed; the accuracy gap (shown too) does not move beyond "
             "seed-to-seed noise: on 200 digits both nets reach 100% training accuracy and about 91% validation."),
    Lesson(
        name="cnn-vs-fc", post="CNNs",
        claim="On images a CNN beats a fully connected network with the same number of weights.",
        base={"dataset": "digits", "epochs": 20},
        varied="model", arms=(Arm("FC 64-80-10 (6,010 weights)", {"model": "mlp", "hidden": "80"}),
                              Arm("CNN 8,16 channels (6,058 weights)",
                                  {"model": "cnn", "channels": "8,16", "hidden": "64"})),
        metric="val_accuracy:best", expected="higher", measures="best validation accuracy",
        cost="about 7 s on 2 cores",
        note="On 8x8 digits the edge is small (about 1.5 points), and it needs the full training set: with 300 "
             "training images and 15 epochs the FC net was ahead. On a 1,000-image Fashion-MNIST subset (8 "
             "epochs) the two tied in a 2-seed trial."),
    Lesson(
        name="residual-depth", post="BatchNorm and residuals",
        claim="Residual connections let a 20-layer network train where the same plain network cannot.",
        base={"model": "resnet", "dataset": "digits", "depth": 20, "epochs": 5, "subset": 300},
        varied="residual", arms=(Arm("plain", {"residual": False}), Arm("residual", {"residual": True})),
        metric="val_accuracy:best", expected="higher", measures="best validation accuracy",
        cost="about 3 s on 2 cores",
        note="The plain net does learn, slowly (about 41-59% after 5 epochs on 300 images, against 82-88% with "
             "skips)."),
    Lesson(
        name="batchnorm-lr", post="BatchNorm and residuals",
        claim="BatchNorm lets a deep network train with a learning rate too high for it without.",
        base={"model": "resnet", "dataset": "digits", "depth": 20, "residual": False, "lr": 0.01, "epochs": 5,
              "subset": 300},
        varied="batchnorm", arms=(Arm("no BatchNorm", {"batchnorm": False}), Arm("BatchNorm", {"batchnorm": True})),
        metric="val_accuracy:best", expected="higher", measures="best validation accuracy",
        cost="about 3 s on 2 cores",
        note="The claim holds at the step it is about: at Adam's default lr 0.001 the same 20-layer plain net "
             "with BatchNorm trains more slowly than without (about 30% against 82% validation accuracy after "
             "20 epochs, as in PyTorch; bench/batchnorm_depth.py), and at lr 0.01 the net without BatchNorm "
             "falls behind."),
    Lesson(
        name="lstm-memory", post="Recurrent networks",
        claim="An LSTM remembers a symbol across 50 steps where a vanilla RNN forgets it.",
        base={"dataset": "memory", "seq_len": 50, "hidden": 32, "clip": 5, "lr": 0.005, "epochs": 10},
        varied="model", arms=(Arm("vanilla RNN", {"model": "rnn"}), Arm("LSTM", {"model": "lstm"})),
        metric="val_accuracy:best", expected="higher", measures="best validation accuracy (chance is 50%)",
        cost="about 8 s on 2 cores"),
    Lesson(
        name="attention-bottleneck", post="Attention",
        claim="A seq2seq model with attention reverses sequences better than one squeezing the input into a "
              "fixed-size encoding.",
        base={"model": "seq2seq", "dataset": "reverse", "seq_len": 10, "lr": 0.003, "epochs": 10},
        varied="attention", arms=(Arm("fixed-size encoding", {"attention": "none"}), Arm("dot attention",
                                                                                        {"attention": "dot"})),
        metric="val_accuracy:best", expected="higher", measures="best per-token validation accuracy",
        cost="about 12 s on 2 cores"),
    Lesson(
        name="attention-scaling", post="Attention",
        claim="Dividing the attention scores by the square root of the head width keeps softmax from saturating: "
              "a Transformer with 64-wide heads learns to reverse sequences in fewer epochs with the scaling "
              "than with raw dot products.",
        base={"model": "transformer", "dataset": "reverse", "seq_len": 10, "d_model": 64, "heads": 1,
              "layers": 2, "lr": 0.003, "epochs": 20},
        varied="scaled", arms=(Arm("raw scores q·k", {"scaled": False}), Arm("scores q·k / √64", {"scaled": True})),
        metric="epochs_to:val_accuracy>=0.9", expected="lower",
        measures="epochs to 90% per-token validation accuracy",
        cost="about 15 s on 2 cores",
        note="Both arms get there in the end; what the scaling buys is speed. One 64-wide head makes the effect "
             "plain: the narrower the head, the smaller the factor (sqrt(8) at the default 32 wide, 4 heads). "
             "The saturation itself shows on Compare, Inside, 'What each head does' at epoch 0: before any "
             "training the raw heads' attention has about 1.1 nats of entropy, the scaled ones' about 2.25 "
             "(2.30 is uniform over the 10 positions)."),
)

BY_NAME = {lesson.name: lesson for lesson in LESSONS}


def get_lesson(name: str) -> Lesson:
    """The lesson called `name`; KeyError naming the known ones otherwise."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no lesson {name!r}; known lessons: {', '.join(BY_NAME)}") from None


def reduced(lesson: Lesson, **overrides: Any) -> Lesson:
    """A cheaper copy of a lesson (tests): `overrides` replace knobs of the base spec."""
    return dataclasses.replace(lesson, base={**lesson.base, **overrides})

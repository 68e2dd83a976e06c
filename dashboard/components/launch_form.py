"""The launch form: one input per spec field, shown only for the families that use it.

Every input has the pattern id {"type": LAUNCH_FIELD, "name": <spec field>}, so one callback
reads them all with ALL and one set of validation rules (engine.spec) judges them.
"""

from __future__ import annotations

from dataclasses import dataclass

import dash_bootstrap_components as dbc
from dash import html

from engine import spec as S

from .. import ids

FAMILY_LABELS = {
    "perceptron": "Perceptron",
    "mlp": "MLP",
    "cnn": "CNN",
    "resnet": "Deep plain / residual",
    "recurrent": "RNN / LSTM / GRU",
    "attention": "Attention / Transformer",
}
ALL = tuple(FAMILY_LABELS)
FF = ("mlp", "cnn", "resnet")

FAMILY_DATASETS = {
    "perceptron": S.LOGIC_DATASETS + S.PLANE_DATASETS,
    "mlp": S.LOGIC_DATASETS + S.PLANE_DATASETS + S.IMAGE_DATASETS,
    "cnn": S.IMAGE_DATASETS,
    "resnet": S.PLANE_DATASETS + S.IMAGE_DATASETS,
    "recurrent": S.SEQUENCE_CLASSIFY + S.SEQUENCE_TO_SEQUENCE,
    "attention": S.SEQUENCE_TO_SEQUENCE + S.SEQUENCE_CLASSIFY,
}
FAMILY_MODELS = {"recurrent": ("lstm", "gru", "rnn"), "attention": ("transformer", "seq2seq")}

# The series' defaults for each family (anything not listed keeps ExperimentSpec's default).
FAMILY_DEFAULTS = {
    "perceptron": {"model": "perceptron", "dataset": "and", "optimizer": "sgd", "lr": 0.1, "batch_size": 1,
                   "epochs": 20},
    "mlp": {"model": "mlp", "dataset": "digits", "hidden": "64", "activation": "relu", "optimizer": "adam",
            "lr": 0.001, "batch_size": 32, "epochs": 20},
    "cnn": {"model": "cnn", "dataset": "digits", "channels": "8,16", "kernel": 3, "padding": 1, "hidden": "64",
            "optimizer": "adam", "lr": 0.001, "batch_size": 32, "epochs": 10},
    "resnet": {"model": "resnet", "dataset": "digits", "depth": 20, "hidden": "64", "residual": True,
               "batchnorm": False, "optimizer": "adam", "lr": 0.001, "batch_size": 64, "epochs": 10},
    "recurrent": {"model": "lstm", "dataset": "memory", "seq_len": 20, "hidden": "64", "vocab": 10,
                  "optimizer": "adam", "lr": 0.005, "batch_size": 32, "epochs": 20, "clip": 5.0},
    "attention": {"model": "transformer", "dataset": "reverse", "seq_len": 10, "vocab": 10, "heads": 4,
                  "d_model": 32, "layers": 2, "attention": "dot", "optimizer": "adam", "lr": 0.003,
                  "batch_size": 32, "epochs": 30, "clip": 1.0},
}


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str  # 'select', 'number', 'text', 'switch'
    families: tuple[str, ...]
    options: tuple[str, ...] = ()
    help: str = ""
    step: float | str = "any"


FIELDS = (
    Field("model", "Model", "select", ("recurrent", "attention"), S.MODELS),
    Field("dataset", "Data set", "select", ALL, S.DATASETS),
    Field("hidden", "Hidden sizes (e.g. 128,64)", "text", ("mlp", "cnn", "resnet", "recurrent", "attention"),
          help="comma-separated layer sizes; RNN: hidden size; deep nets: width; Transformer: FFN width"),
    Field("activation", "Activation", "select", FF, S.ACTIVATIONS),
    Field("init", "Initialisation", "select", FF, S.INITS),
    Field("loss", "Loss", "select", ("mlp",), S.LOSSES),
    Field("channels", "Conv channels (e.g. 16,32)", "text", ("cnn",), help="channels per conv layer"),
    Field("kernel", "Kernel", "number", ("cnn",), step=1),
    Field("stride", "Stride", "number", ("cnn",), step=1),
    Field("padding", "Padding", "number", ("cnn",), step=1),
    Field("pool", "Pooling", "select", ("cnn",), S.POOLS),
    Field("pool_size", "Pool size (1 = none)", "number", ("cnn",), step=1,
          help="pooling window and stride after each conv layer; must fit the feature map"),
    Field("depth", "Depth (layers, even)", "number", ("resnet",), step=1,
          help="weighted layers: an even number from 2 to 200 (stem + 2 per block + head), e.g. 20 or 56"),
    Field("residual", "Residual connections", "switch", ("resnet",)),
    Field("batchnorm", "BatchNorm", "switch", ("cnn", "resnet")),
    Field("seq_len", "Sequence length", "number", ("recurrent", "attention"), step=1),
    Field("vocab", "Vocabulary", "number", ("recurrent", "attention"), step=1),
    Field("layers", "Layers", "number", ("recurrent", "attention"), step=1),
    Field("heads", "Heads", "number", ("attention",), step=1),
    Field("d_model", "Model width", "number", ("attention",), step=1),
    Field("norm", "LayerNorm position", "select", ("attention",), S.NORMS),
    Field("attention", "seq2seq attention", "select", ("attention",), S.ATTENTIONS),
    Field("positional", "Positional encoding", "select", ("attention",), S.POSITIONALS),
    Field("causal", "Causal mask", "switch", ("attention",)),
    Field("scaled", "Scores ÷ √d", "switch", ("attention",),
          help="divide the attention scores by the square root of the head width; off: raw dot products"),
    Field("optimizer", "Optimizer", "select", ALL, S.OPTIMIZERS),
    Field("lr", "Learning rate", "number", ALL),
    Field("momentum", "Momentum", "number", FF + ("recurrent", "attention")),
    Field("schedule", "LR schedule", "select", FF + ("recurrent", "attention"), S.SCHEDULES),
    Field("step_size", "LR step every (epochs)", "number", FF + ("recurrent", "attention"), step=1),
    Field("gamma", "LR step factor (gamma)", "number", FF + ("recurrent", "attention"),
          help="the learning rate is multiplied by this at each step, in (0, 1]"),
    Field("warmup_epochs", "Warm-up epochs", "number", FF + ("recurrent", "attention"), step=1,
          help="linear rise to the learning rate, then cosine decay; fewer than the epochs"),
    Field("batch_size", "Batch size", "number", ALL, step=1),
    Field("epochs", "Epochs", "number", ALL, step=1),
    Field("seed", "Seed", "number", ALL, step=1),
    Field("dropout", "Dropout", "number", ("mlp", "cnn", "recurrent", "attention")),
    Field("weight_decay", "Weight decay (decoupled)", "number", FF + ("recurrent", "attention")),
    Field("l2", "L2 penalty", "number", FF),
    Field("clip", "Clip grad norm (0 = off)", "number", FF + ("recurrent", "attention")),
    Field("early_stopping", "Early-stopping patience (0 = off)", "number", FF + ("recurrent", "attention"),
          step=1),
    Field("noise", "Noise (2-D data)", "number", ("perceptron", "mlp", "resnet")),
    Field("n_samples", "Samples (generated data)", "number", ("perceptron", "mlp", "resnet", "recurrent",
                                                                "attention"), step=1),
    Field("subset", "Training subset (0 = all)", "number", FF, step=1),
    Field("data_dir", "MNIST folder", "text", ("mlp", "cnn", "resnet"),
          help="folder with the IDX files; else $NNLAB_DATA_DIR, else Debian's dataset-fashion-mnist"),
    Field("name", "Run name", "text", ALL),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)


def field_value(name: str, family: str):
    """The value a field shows for `family`: the family's default, else the spec's default."""
    value = FAMILY_DEFAULTS[family].get(name, getattr(S.ExperimentSpec(), name))
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return value


def _input(f: Field, family: str, value, disabled: bool = False):
    fid = {"type": ids.LAUNCH_FIELD, "name": f.name}
    if f.kind == "select":
        opts = FAMILY_MODELS.get(family, f.options) if f.name == "model" else f.options
        if f.name == "dataset":
            opts = FAMILY_DATASETS[family]
        return dbc.Select(id=fid, options=[{"label": o, "value": o} for o in opts], value=value, size="sm",
                          disabled=disabled)
    if f.kind == "switch":
        return dbc.Switch(id=fid, value=bool(value), label="", disabled=disabled)
    if f.kind == "number":
        return dbc.Input(id=fid, type="number", value=value, step=f.step, size="sm", debounce=True, disabled=disabled)
    return dbc.Input(id=fid, type="text", value=value, size="sm", debounce=True, disabled=disabled)


# Fields that matter only for some settings within a family: the rules that decide what a run records,
# and the data settings that only some data sets read (a run records those whatever its data set).
SHOWN_WHEN = {
    **S.USED_WHEN,
    "noise": lambda v: v.get("dataset") in S.PLANE_DATASETS,
    "n_samples": lambda v: v.get("dataset") in S.PLANE_DATASETS + S.SEQUENCE_CLASSIFY + S.SEQUENCE_TO_SEQUENCE,
    "data_dir": lambda v: v.get("dataset") in ("mnist", "fashion-mnist"),
}

# The settings SHOWN_WHEN reads: the launch callback re-evaluates visibility when any of them changes.
SHOWN_WHEN_INPUTS = ("model", "optimizer", "schedule", "dataset")


def field_style(f: Field, family: str, values: dict | None = None) -> dict:
    """Visible when the family uses the field and, for some fields, when the current settings need it."""
    values = values if values is not None else {n: field_value(n, family) for n in SHOWN_WHEN_INPUTS}
    shown = family in f.families and SHOWN_WHEN.get(f.name, lambda _v: True)(values)
    return {} if shown else {"display": "none"}


def launch_form(family: str = "mlp", values: dict | None = None, locked: tuple[str, ...] | None = None):
    """The whole form for `family` (other families' fields are present but hidden), filled with `values`
    (else the family's defaults). `locked` makes it a fork's form: those fields shown but disabled, no
    family switch and no sweep, and Start reads "Start fork"."""
    values = values or {f.name: field_value(f.name, family) for f in FIELDS}
    forking = locked is not None
    rows = [dbc.Col([html.Label(f.label, className="small mb-0 form-label", title=f.help or None),
                     _input(f, family, values[f.name], forking and f.name in locked)],
                    id={"type": "launch-wrap", "name": f.name}, style=field_style(f, family, values), className="mb-2",
                    lg=2, md=3, sm=6)
            for f in FIELDS]
    return html.Div([
        dbc.RadioItems(id=ids.FAMILY, options=[{"label": v, "value": k, "disabled": forking}
                                               for k, v in FAMILY_LABELS.items()],
                       value=family, inline=True, className="mb-3"),
        dbc.Row(rows, className="g-2"),
        dbc.Row([
            dbc.Col(dbc.Switch(id=ids.SWEEP_ON, label="Sweep: launch the grid of the values below", value=False,
                               disabled=forking), md=6),
            dbc.Col(dbc.Input(id=ids.EXPERIMENT_NAME, size="sm", disabled=forking,
                              placeholder="a fork joins its parent's experiment" if forking
                              else "experiment name (sweeps)"), md=4),
            dbc.Col(dbc.Checkbox(id=ids.APPEND, label="add to it if it exists", value=False, disabled=forking), md=2),
        ], className="mt-2"),
        dbc.Collapse(dbc.Textarea(
            id=ids.SWEEP_TEXT, rows=4, className="mt-2 font-monospace",
            placeholder="optimizer = sgd, momentum, adam\ndropout = 0, 0.2, 0.5\nseed = 0..4\n"
                        "hidden = 64 | 128,64   (list settings: alternatives separated by |)"),
            id="launch-sweep-collapse", is_open=False),
        html.Div(className="d-flex align-items-center gap-3 mt-3", children=[
            dbc.Button("Start fork" if forking else "Start", id=ids.START, color="primary", n_clicks=0),
            html.Div(id=ids.LAUNCH_MESSAGE, className="small"),
        ]),
    ])

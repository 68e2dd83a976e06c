"""An experiment spec: every knob of a run, validated before anything starts.

The CLI, the launch form, sweeps and the job runner all build an `ExperimentSpec` through
`parse_spec`, so one set of rules refuses bad input everywhere. A refused value raises
`SpecError` naming the field and the allowed range.
"""

from __future__ import annotations

import dataclasses
import math
import os
import unicodedata
from dataclasses import dataclass, field
from typing import Any

MODELS = ("perceptron", "mlp", "cnn", "resnet", "rnn", "lstm", "gru", "seq2seq", "transformer")
FAMILIES = {
    "perceptron": ("perceptron",),
    "mlp": ("mlp",),
    "cnn": ("cnn",),
    "resnet": ("resnet",),
    "recurrent": ("rnn", "lstm", "gru"),
    "attention": ("seq2seq", "transformer"),
}
LOGIC_DATASETS = ("and", "or", "nand", "xor")
PLANE_DATASETS = ("moons", "circles", "spiral", "blobs")
IMAGE_DATASETS = ("digits", "mnist", "fashion-mnist")
SEQUENCE_CLASSIFY = ("memory", "sentiment", "kv")
SEQUENCE_TO_SEQUENCE = ("reverse", "copy", "sort")
DATASETS = LOGIC_DATASETS + PLANE_DATASETS + IMAGE_DATASETS + SEQUENCE_CLASSIFY + SEQUENCE_TO_SEQUENCE
ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh")
INITS = ("he", "xavier", "normal")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine", "warmup")
LOSSES = ("auto", "softmax_ce", "bce", "mse")
POOLS = ("max", "avg")
NORMS = ("pre", "post")
ATTENTIONS = ("none", "additive", "dot")
POSITIONALS = ("sinusoidal", "learned")
MAX_NAME_CHARS = 200  # name and experiment; what PostgreSQL's VARCHAR(200) holds
MAX_TAG_CHARS = 100
MAX_TAGS = 50
MAX_PATH_CHARS = 4096
BYTES_PER_VALUE = 4  # the engine trains in float32


class SpecError(ValueError):
    """A refused spec value; `field` names the knob."""

    def __init__(self, field: str, message: str) -> None:
        if len(message) > 600:  # a message quoting a huge value: keep logs and terminals bounded
            message = f"{message[:300]}...{message[-200:]}"
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ExperimentSpec:
    """Every knob of a run. Fields a model family does not use are ignored by it."""

    model: str = "mlp"
    dataset: str = "digits"
    # optimisation
    optimizer: str = "adam"
    lr: float = 0.001
    momentum: float = 0.9
    batch_size: int = 32
    epochs: int = 20
    seed: int = 0
    schedule: str = "constant"
    step_size: int = 10
    gamma: float = 0.5
    warmup_epochs: int = 5
    clip: float = 0.0
    early_stopping: int = 0
    # regularisation
    dropout: float = 0.0
    weight_decay: float = 0.0
    l2: float = 0.0
    # feedforward shape
    hidden: tuple[int, ...] = (64,)
    activation: str = "relu"
    init: str = "he"
    loss: str = "auto"
    # CNN / deep nets
    channels: tuple[int, ...] = (8, 16)
    kernel: int = 3
    stride: int = 1
    padding: int = 1
    pool: str = "max"
    pool_size: int = 2
    depth: int = 8
    batchnorm: bool = False
    residual: bool = True
    # sequences and attention
    seq_len: int = 20
    vocab: int = 10
    layers: int = 1
    heads: int = 4
    d_model: int = 32
    norm: str = "pre"
    attention: str = "none"
    positional: str = "sinusoidal"
    causal: bool = False
    scaled: bool = True
    # data
    noise: float = 0.1
    n_samples: int = 1000
    subset: int = 0
    val_fraction: float = 0.2
    data_dir: str = ""
    # bookkeeping
    name: str = ""
    experiment: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    snapshots: bool = True
    snapshot_budget_mb: float = 4.0
    checkpoint_budget_mb: float = 2.0

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain values (tuples as lists): what a run's row stores as its spec."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in dataclasses.fields(self)}

    @property
    def family(self) -> str:
        return family_of(self.model)

    def params(self) -> dict[str, Any]:
        """The hyperparameters that matter for this run (what storage records as params): the family's,
        without settings the others leave unused (USED_WHEN)."""
        keys = list(COMMON_PARAMS) + list(FAMILY_PARAMS[self.family])
        d = self.to_dict()
        out = {k: d[k] for k in keys if USED_WHEN.get(k, lambda _v: True)(d)}
        for k, v in out.items():
            if isinstance(v, list):
                out[k] = ",".join(str(i) for i in v)
        return out


COMMON_PARAMS = ("model", "dataset", "optimizer", "lr", "batch_size", "epochs", "seed", "schedule",
                 "step_size", "gamma", "warmup_epochs", "clip", "early_stopping", "weight_decay", "l2", "momentum", "subset")
# Settings that only some other settings use: recorded as params only then, so a comparison of a
# warm-up run with a step run does not list the step size of the one that never stepped.
# Each rule reads a mapping of setting values (a spec's to_dict(), or the launch form's values).
USED_WHEN = {
    "momentum": lambda v: v.get("optimizer") in ("momentum", "nesterov"),
    "step_size": lambda v: v.get("schedule") == "step",
    "gamma": lambda v: v.get("schedule") == "step",
    "warmup_epochs": lambda v: v.get("schedule") == "warmup",
    "attention": lambda v: v.get("model") == "seq2seq",
    "heads": lambda v: v.get("model") == "transformer",
    "d_model": lambda v: v.get("model") == "transformer",
    "norm": lambda v: v.get("model") == "transformer",
    "positional": lambda v: v.get("model") == "transformer",
    "causal": lambda v: v.get("model") == "transformer",
    "scaled": lambda v: v.get("model") == "transformer",
}
FAMILY_PARAMS = {
    "perceptron": (),
    "mlp": ("hidden", "activation", "init", "dropout", "loss", "noise"),
    "cnn": ("channels", "kernel", "stride", "padding", "pool", "pool_size", "hidden", "activation", "init", "dropout",
            "batchnorm"),
    "resnet": ("depth", "hidden", "residual", "batchnorm", "activation", "init", "channels"),
    "recurrent": ("hidden", "layers", "seq_len", "vocab", "dropout"),
    "attention": ("heads", "d_model", "layers", "norm", "attention", "positional", "causal", "scaled", "hidden",
                  "seq_len", "vocab", "dropout"),
}


def used_settings(values: dict[str, Any]) -> dict[str, Any]:
    """`values` (a spec's settings or a run's params) without the settings this run does not use: other
    families' knobs and those USED_WHEN rules out. Settings every run uses (data, bookkeeping) stay."""
    family = next((f for f, models in FAMILIES.items() if values.get("model") in models), None)
    if family is None:
        return dict(values)
    mine = set(COMMON_PARAMS) | set(FAMILY_PARAMS[family])
    others = set().union(*FAMILY_PARAMS.values()) - mine
    return {k: v for k, v in values.items() if k not in others and USED_WHEN.get(k, lambda _v: True)(values)}


def family_of(model: str) -> str:
    for fam, models in FAMILIES.items():
        if model in models:
            return fam
    raise SpecError("model", f"unknown model {model!r}; choose one of {', '.join(MODELS)}")


def parse_int_list(field_name: str, value: Any) -> tuple[int, ...]:
    """'64,32' or [64, 32] -> (64, 32); refuses empty, non-integer or non-positive entries."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, str):
        parts = [p.strip() for p in value.replace(" ", ",").split(",") if p.strip()]
    elif isinstance(value, list | tuple):
        parts = list(value)
    elif value is None:
        parts = []
    else:
        raise SpecError(field_name, f"{value!r} is not a list of sizes; give sizes like 128,64")
    if not parts:
        raise SpecError(field_name, "must list at least one positive integer, e.g. 64 or 128,64")
    out = []
    for p in parts:
        try:
            f = float(p)
        except (TypeError, ValueError):
            raise SpecError(field_name, f"{p!r} is not an integer; give sizes like 128,64") from None
        if not math.isfinite(f) or f != int(f) or f < 1:
            raise SpecError(field_name, f"{p!r} must be a whole number >= 1; give sizes like 128,64")
        out.append(int(f))
    return tuple(out)


def _check(cond: bool, name: str, message: str) -> None:
    if not cond:
        raise SpecError(name, message)


def _coerce(name: str, value: Any, typ: type) -> Any:
    if value is None or (isinstance(value, str) and value.strip() == "" and typ is not str):
        raise SpecError(name, "is required")
    try:
        if typ is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            return bool(value)
        if typ is int:
            f = float(value)
            if f != int(f):
                raise ValueError
            return int(f)
        if typ is float:
            return float(value)
        return str(value).strip()
    except (TypeError, ValueError, OverflowError):
        raise SpecError(name, f"{value!r} is not a valid {typ.__name__}") from None


def parse_spec(values: dict[str, Any] | ExperimentSpec) -> ExperimentSpec:
    """Build and validate a spec from plain values; unknown keys and bad values raise SpecError."""
    if isinstance(values, ExperimentSpec):
        values = values.to_dict()
    fields = {f.name: f for f in dataclasses.fields(ExperimentSpec)}
    defaults = ExperimentSpec()
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        key = str(key).replace("-", "_")
        if key not in fields:
            shown = key if key.isidentifier() and len(key) <= 60 else repr(key)[:60]
            raise SpecError(shown, f"unknown setting; known settings are {', '.join(sorted(fields))}")
        default = getattr(defaults, key)
        if key in ("hidden", "channels"):
            kwargs[key] = parse_int_list(key, value)
        elif key == "tags":
            if isinstance(value, str):
                tags = value.split(",")
            elif isinstance(value, list | tuple) or value is None:
                tags = list(value or [])
            else:
                raise SpecError("tags", f"{value!r} is not a list of tags; give text like 'baseline,adam'")
            kwargs[key] = tuple(str(t).strip() for t in tags if str(t).strip())
        else:
            kwargs[key] = _coerce(key, value, type(default))
    spec = ExperimentSpec(**kwargs)
    validate(spec)
    return spec


def _check_text(name: str, value: str, limit: int) -> None:
    """Printable UTF-8 text of at most `limit` characters (the same rule on SQLite and PostgreSQL)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SpecError(name, f"{value!r} is not valid UTF-8 text") from None
    bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn")), None)
    _check(bad is None, name, f"contains the control or unassigned character {bad!r}; use printable text")
    _check(len(value) <= limit, name, f"is {len(value)} characters long; at most {limit} are allowed")


def _check_bookkeeping(s: ExperimentSpec) -> None:
    _check_text("name", s.name, MAX_NAME_CHARS)
    _check_text("experiment", s.experiment, MAX_NAME_CHARS)
    _check(len(s.tags) <= MAX_TAGS, "tags", f"{len(s.tags)} tags given; at most {MAX_TAGS} are allowed")
    for tag in s.tags:
        _check_text("tags", tag, MAX_TAG_CHARS)
    _check_text("data_dir", s.data_dir, MAX_PATH_CHARS)
    if s.data_dir:
        _check(os.path.isdir(s.data_dir), "data_dir", f"{s.data_dir!r} is not a folder; give the folder that "
               f"holds the {s.dataset} IDX files, or leave data_dir empty to use $NNLAB_DATA_DIR")
    _check(math.isfinite(s.snapshot_budget_mb) and s.snapshot_budget_mb <= 4096, "snapshot_budget_mb",
           f"snapshot budget must be > 0 and <= 4096 MB, got {s.snapshot_budget_mb}")


def _shape(dataset: str, seq_len: int, vocab: int) -> tuple[int, int, int]:
    """(input values per sample, classes, image side or 0) of a data set, upper bounds where it varies."""
    if dataset in IMAGE_DATASETS:
        side = 8 if dataset == "digits" else 28
        return side * side, 10, side
    if dataset in SEQUENCE_CLASSIFY + SEQUENCE_TO_SEQUENCE:
        return seq_len, vocab + 4, 0
    return 2, 4, 0


def estimate_memory_bytes(s: ExperimentSpec) -> int:
    """About how many bytes training `s` holds: parameters with their gradients and two optimizer moments,
    and one batch's activations kept for the backward pass (with their gradients). An estimate, not a bound."""
    n_in, n_out, side = _shape(s.dataset, s.seq_len, s.vocab)
    samples = {"digits": 1797, "mnist": 60_000, "fashion-mnist": 60_000}.get(s.dataset, s.n_samples)
    b, fam = min(s.batch_size, s.subset or samples, samples), family_of(s.model)
    params = acts = 0
    if fam in ("perceptron", "mlp", "resnet"):
        widths = [n_in, *(s.hidden if fam != "resnet" else (s.hidden[0],) * max(s.depth - 1, 1)), n_out]
        params = sum(a * c + c for a, c in zip(widths, widths[1:]))
        acts = b * sum(widths) * 4  # pre-activation, activation, mask, gradient
    elif fam == "cnn":
        c_in, width = 1, side
        for c in s.channels:
            out = max((width + 2 * s.padding - s.kernel) // s.stride + 1, 1)
            params += c_in * c * s.kernel ** 2 + c
            acts += b * (c_in * s.kernel ** 2 + 4 * c) * out * out  # im2col columns, conv/act/pool maps
            c_in, width = c, (out // s.pool_size if s.pool_size > 1 and out >= s.pool_size else out)
        widths = [c_in * width * width, *s.hidden, n_out]
        params += sum(a * c + c for a, c in zip(widths, widths[1:]))
        acts += b * sum(widths) * 4
    elif fam == "recurrent" or s.model == "seq2seq":
        h, t, v = s.hidden[0], s.seq_len, s.vocab + 4
        stacks = s.layers * (2 if s.model == "seq2seq" else 1)
        params = v * h + stacks * 4 * h * (2 * h + 1) + h * v
        acts = b * t * (stacks * 12 * h + 2 * v) + (b * t * t * 3 if s.attention != "none" else 0)
    else:  # transformer
        d, f, t, v = s.d_model, s.hidden[0], s.seq_len, s.vocab + 4
        params = 2 * v * d + t * d + s.layers * (4 * d * d + 2 * d * f + 9 * d + f)
        acts = b * s.layers * (3 * s.heads * t * t + t * (12 * d + 3 * f)) + b * t * 2 * v
    return (4 * params + 2 * acts) * BYTES_PER_VALUE


def physical_memory_bytes() -> int | None:
    """This machine's RAM, or None where the standard library cannot tell."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def available_memory_bytes() -> int | None:
    """Memory the kernel says a new process can use now (Linux MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_memory_available(s: ExperimentSpec) -> None:
    """MemoryError, with the estimate, when this machine lacks the memory to train `s` right now."""
    need, have = estimate_memory_bytes(s), available_memory_bytes()
    if have is not None and need > have:
        raise MemoryError(f"this run needs about {_gb(need)} of memory (parameters, optimizer state and one "
                          f"batch), but only {_gb(have)} is available on this machine now")


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


def _check_memory(s: ExperimentSpec) -> None:
    need, have = estimate_memory_bytes(s), physical_memory_bytes()
    if have is None or need <= have:
        return
    knob = {"cnn": "channels", "attention": "d_model"}.get(s.family, "hidden")
    raise SpecError(knob, f"this model would need about {_gb(need)} of memory for its parameters, optimizer "
                          f"state and one batch of {s.batch_size}, more than this machine's {_gb(have)}; use "
                          f"smaller layers or a smaller batch")


def validate(s: ExperimentSpec) -> None:
    """Raise SpecError for the first value out of its allowed range."""
    _check(s.model in MODELS, "model", f"unknown model {s.model!r}; choose one of {', '.join(MODELS)}")
    _check(s.dataset in DATASETS, "dataset", f"unknown dataset {s.dataset!r}; choose one of {', '.join(DATASETS)}")
    _check(s.optimizer in OPTIMIZERS, "optimizer", f"unknown optimizer {s.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    _check(s.lr > 0 and s.lr <= 10, "lr", f"learning rate must be > 0 and <= 10, got {s.lr}")
    _check(0 <= s.momentum < 1, "momentum", f"momentum must be in [0, 1), got {s.momentum}")
    _check(s.batch_size >= 1, "batch_size", f"batch size must be >= 1, got {s.batch_size}")
    _check(1 <= s.epochs <= 100_000, "epochs", f"epochs must be between 1 and 100000, got {s.epochs}")
    _check(0 <= s.seed < 2**32, "seed", f"seed must be in [0, 2^32), got {s.seed}")
    _check(s.schedule in SCHEDULES, "schedule", f"unknown schedule {s.schedule!r}; choose one of {', '.join(SCHEDULES)}")
    _check(1 <= s.step_size <= 100_000, "step_size",
           f"step size (epochs between learning-rate drops) must be between 1 and 100000, got {s.step_size}")
    _check(0 < s.gamma <= 1, "gamma", f"gamma (learning-rate factor at each step) must be in (0, 1], got {s.gamma}")
    _check(1 <= s.warmup_epochs <= 100_000, "warmup_epochs",
           f"warm-up epochs must be between 1 and 100000, got {s.warmup_epochs}")
    _check(s.clip >= 0, "clip", f"clip (max global gradient norm) must be >= 0 (0 = off), got {s.clip}")
    _check(s.early_stopping >= 0, "early_stopping", f"patience must be >= 0 (0 = off), got {s.early_stopping}")
    _check(0 <= s.dropout < 1, "dropout", f"dropout must be in [0, 1), got {s.dropout}")
    _check(0 <= s.weight_decay < 1, "weight_decay", f"weight decay must be in [0, 1), got {s.weight_decay}")
    _check(0 <= s.l2 < 10, "l2", f"L2 penalty must be in [0, 10), got {s.l2}")
    _check(len(s.hidden) >= 1 and all(h >= 1 for h in s.hidden), "hidden", "must list at least one positive integer")
    _check(all(h <= 65536 for h in s.hidden), "hidden", "layer sizes must be <= 65536")
    _check(s.activation in ACTIVATIONS, "activation", f"unknown activation {s.activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    _check(s.init in INITS, "init", f"unknown init {s.init!r}; choose one of {', '.join(INITS)}")
    _check(s.loss in LOSSES, "loss", f"unknown loss {s.loss!r}; choose one of {', '.join(LOSSES)}")
    _check(len(s.channels) >= 1 and all(c >= 1 for c in s.channels), "channels", "must list at least one positive integer")
    _check(1 <= s.kernel <= 28, "kernel", f"kernel must be between 1 and 28, got {s.kernel}")
    _check(s.stride >= 1, "stride", f"stride must be >= 1, got {s.stride}")
    _check(0 <= s.padding < s.kernel, "padding", f"padding must be in [0, kernel), got {s.padding}")
    _check(s.pool in POOLS, "pool", f"unknown pool {s.pool!r}; choose max or avg")
    _check(1 <= s.pool_size <= 28, "pool_size", f"pool size must be between 1 (no pooling) and 28, got {s.pool_size}")
    _check(2 <= s.depth <= 200 and s.depth % 2 == 0, "depth",
           f"depth must be an even number between 2 and 200, e.g. 20 or 56: it counts weighted layers "
           f"(stem + 2 per residual block + head), got {s.depth}")
    _check(2 <= s.seq_len <= 500, "seq_len", f"sequence length must be between 2 and 500, got {s.seq_len}")
    _check(2 <= s.vocab <= 10_000, "vocab", f"vocabulary must be between 2 and 10000, got {s.vocab}")
    _check(1 <= s.layers <= 12, "layers", f"layers must be between 1 and 12, got {s.layers}")
    _check(1 <= s.heads <= 64, "heads", f"heads must be between 1 and 64, got {s.heads}")
    _check(1 <= s.d_model <= 4096, "d_model", f"model width must be between 1 and 4096, got {s.d_model}")
    _check(s.d_model % s.heads == 0, "heads", f"heads ({s.heads}) must divide the model width d_model ({s.d_model})")
    _check(s.norm in NORMS, "norm", f"norm must be pre or post, got {s.norm!r}")
    _check(s.attention in ATTENTIONS, "attention", f"attention must be none, additive or dot, got {s.attention!r}")
    _check(s.positional in POSITIONALS, "positional", f"positional must be sinusoidal or learned, got {s.positional!r}")
    _check(0 <= s.noise <= 5, "noise", f"noise must be in [0, 5], got {s.noise}")
    _check(8 <= s.n_samples <= 1_000_000, "n_samples", f"n_samples must be between 8 and 1000000, got {s.n_samples}")
    _check(s.subset == 0 or s.subset >= 2, "subset", f"subset must be 0 (all) or >= 2 samples, got {s.subset}")
    _check(0 < s.val_fraction < 0.9, "val_fraction", f"validation fraction must be in (0, 0.9), got {s.val_fraction}")
    _check(s.snapshot_budget_mb > 0, "snapshot_budget_mb", "snapshot budget must be > 0 MB")
    _check(math.isfinite(s.checkpoint_budget_mb) and 0 <= s.checkpoint_budget_mb <= 4096, "checkpoint_budget_mb",
           f"checkpoint budget must be >= 0 and <= 4096 MB (0 keeps only the latest checkpoint), "
           f"got {s.checkpoint_budget_mb}")
    _check_bookkeeping(s)
    _check_compatible(s)
    _check_memory(s)


def _check_compatible(s: ExperimentSpec) -> None:
    fam = family_of(s.model)
    seq = s.dataset in SEQUENCE_CLASSIFY + SEQUENCE_TO_SEQUENCE
    if fam in ("recurrent", "attention"):
        _check(seq, "dataset", f"{s.model} trains on sequence tasks: choose one of "
               f"{', '.join(SEQUENCE_CLASSIFY + SEQUENCE_TO_SEQUENCE)}")
        if s.model == "seq2seq":
            _check(s.dataset in SEQUENCE_TO_SEQUENCE, "dataset",
                   f"seq2seq maps a sequence to a sequence: choose one of {', '.join(SEQUENCE_TO_SEQUENCE)}")
        elif fam == "recurrent":
            _check(s.dataset in SEQUENCE_CLASSIFY + SEQUENCE_TO_SEQUENCE, "dataset", "unsupported task")
    else:
        _check(not seq, "dataset", f"{s.dataset} is a sequence task: use rnn, lstm, gru, seq2seq or transformer")
    if s.model == "perceptron":
        _check(s.dataset in LOGIC_DATASETS + PLANE_DATASETS, "dataset",
               "the perceptron is a binary classifier of 2-D points: choose and, or, nand, xor, moons, circles, "
               "spiral or blobs")
    if fam in ("cnn", "resnet") and s.model == "cnn":
        _check(s.dataset in IMAGE_DATASETS, "dataset",
               f"a CNN needs images: choose one of {', '.join(IMAGE_DATASETS)}")
        side = 8 if s.dataset == "digits" else 28
        for i, _c in enumerate(s.channels):
            out = (side + 2 * s.padding - s.kernel) // s.stride + 1
            _check(s.kernel <= side + 2 * s.padding and out >= 1, "kernel",
                   f"kernel {s.kernel} is larger than the {side}x{side} input (with padding {s.padding}) "
                   f"at conv layer {i + 1}")
            side = out
            if s.pool_size > 1 and out > 1:  # pool_size 1, or a 1-pixel map: nothing to pool, no pool layer
                _check(out >= s.pool_size, "pool_size",
                       f"pool size {s.pool_size} is larger than the {out}x{out} feature map of conv layer {i + 1}; "
                       f"use a smaller pool, fewer conv layers or more padding")
                side = out // s.pool_size
    if s.schedule == "warmup":
        _check(s.warmup_epochs < s.epochs, "warmup_epochs",
               f"the warm-up ({s.warmup_epochs} epochs) must end before the run does ({s.epochs} epochs) so the "
               f"learning rate reaches lr and then anneals; use fewer warm-up epochs than epochs")
    if s.loss == "bce":
        _check(s.dataset in LOGIC_DATASETS + PLANE_DATASETS, "loss",
               f"binary cross-entropy needs a two-class data set ({', '.join(LOGIC_DATASETS + PLANE_DATASETS)}); "
               f"{s.dataset} has more classes: use softmax_ce")
    if s.batchnorm and fam in ("cnn", "resnet"):
        _check(s.batch_size >= 2, "batch_size", "BatchNorm needs batches of at least 2 samples")
    if s.dataset == "kv":
        _check(s.seq_len >= 4, "seq_len", "key-value retrieval needs seq_len >= 4")
    if s.dataset == "memory":
        _check(5 <= s.seq_len <= 200, "seq_len", f"the memory task's length must be between 5 and 200, got {s.seq_len}")

"""`nnlab train` options, one per ExperimentSpec field, named as on the launch form."""

from __future__ import annotations

import argparse
import dataclasses

from engine import spec as S

HELP = {
    "model": f"model family: {'|'.join(S.MODELS)}",
    "dataset": f"data set: {'|'.join(S.DATASETS)}",
    "optimizer": f"optimizer: {'|'.join(S.OPTIMIZERS)}",
    "lr": "learning rate (> 0)",
    "momentum": "momentum coefficient for momentum/nesterov, in [0, 1)",
    "batch_size": "mini-batch size (>= data set size means full batch)",
    "epochs": "number of epochs (>= 1)",
    "seed": "seed for initialisation, shuffling and dropout",
    "schedule": f"learning-rate schedule: {'|'.join(S.SCHEDULES)}",
    "step_size": "step schedule: epochs between learning-rate drops (>= 1)",
    "gamma": "step schedule: factor the learning rate is multiplied by at each drop, in (0, 1]",
    "warmup_epochs": "warmup schedule: epochs of linear rise to --lr before the cosine decay (>= 1, < --epochs)",
    "clip": "clip gradients to this global L2 norm (0 = off)",
    "early_stopping": "stop after this many epochs without val_loss improvement and restore the best weights (0 = off)",
    "dropout": "inverted-dropout rate after each hidden layer, in [0, 1)",
    "weight_decay": "decoupled weight decay (AdamW-style), in [0, 1)",
    "l2": "L2 penalty added to the loss gradient",
    "hidden": "hidden layer sizes, e.g. 128,64 (RNN/seq2seq: hidden size)",
    "activation": f"activation: {'|'.join(S.ACTIVATIONS)}",
    "init": f"weight initialisation: {'|'.join(S.INITS)}",
    "loss": f"loss: {'|'.join(S.LOSSES)} (auto = softmax cross-entropy)",
    "channels": "CNN channels per conv layer, e.g. 16,32",
    "kernel": "CNN kernel size",
    "stride": "CNN stride",
    "padding": "CNN zero padding",
    "pool": "CNN pooling: max|avg",
    "pool_size": "CNN pooling window and stride after each conv layer (1 = no pooling); must fit the feature map",
    "depth": "weighted layers of a deep plain/residual network: an even number from 2 to 200 "
             "(stem + 2 per block + head), e.g. 20 or 56",
    "batchnorm": "use BatchNorm (CNN / deep networks)",
    "residual": "use residual connections in a deep network (--no-residual: plain)",
    "seq_len": "sequence length of sequence tasks",
    "vocab": "vocabulary size of sequence tasks",
    "layers": "stacked RNN layers / Transformer blocks",
    "heads": "attention heads (must divide --d-model)",
    "d_model": "Transformer model width",
    "norm": "Transformer LayerNorm position: pre|post",
    "attention": "seq2seq attention: none|additive|dot",
    "positional": "positional encoding: sinusoidal|learned",
    "causal": "Transformer: mask attention to future positions (each token sees only itself and the past)",
    "scaled": "Transformer: divide the attention scores by sqrt(d_model / heads) (--no-scaled or --unscaled: "
              "raw dot products, the series' experiment)",
    "noise": "noise of the 2-D data sets",
    "n_samples": "number of generated samples (2-D and sequence data sets)",
    "subset": "train on the first N stratified training samples (0 = all)",
    "val_fraction": "fraction of the training data held out for validation",
    "data_dir": "folder with MNIST/Fashion-MNIST IDX files (else $NNLAB_DATA_DIR)",
    "name": "a name for the run",
    "experiment": "experiment (group) the run belongs to",
    "tags": "comma-separated tags",
    "snapshots": "record inside-the-network snapshots",
    "snapshot_budget_mb": "maximum snapshot bytes per run, in MB",
    "checkpoint_budget_mb": "checkpoint bytes per run, in MB: every epoch's training state while it fits, "
                            "fewer (evenly spaced) when not; the latest is always kept (0 = the latest only)",
}


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one option per spec field; values stay strings so `parse_spec` validates them all."""
    defaults = S.ExperimentSpec()
    for f in dataclasses.fields(S.ExperimentSpec):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        help_text = HELP.get(f.name, f.name)
        if isinstance(default, bool):
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                                help=f"{help_text} (default: {default})")
        else:
            shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
            parser.add_argument(flag, dest=f.name, default=None, metavar=f.name.upper(),
                                help=f"{help_text} (default: {shown!s})")
    parser.add_argument("--plain", dest="residual", action="store_false", help="same as --no-residual")
    parser.add_argument("--unscaled", dest="scaled", action="store_false", help="same as --no-scaled")


def spec_values(args: argparse.Namespace) -> dict:
    """The spec fields the user gave (others keep their defaults)."""
    names = {f.name for f in dataclasses.fields(S.ExperimentSpec)}
    return {k: v for k, v in vars(args).items() if k in names and v is not None}

"""The series' recurrent and attention claims as seeded experiments, each a few seconds of training.

Settings chosen so the claims hold robustly on two CPU cores (Adam, global-norm clipping at 1, gates
chrono-initialised for the sequence length - what `config_from_spec` does for every LSTM/GRU run):
- memory task, L = 50 (label = first token, 49 random distractors): LSTM and GRU reach >= 90% held-out
  accuracy; the vanilla RNN, trained at least as long, stays near chance (50%).
- reversal of length-10 sequences: an RNN encoder-decoder with additive attention reaches >= 95% token
  accuracy decoding greedily; the same model without attention, trained at least as long, is clearly
  worse; a one-block Transformer encoder gets there too.
Accuracies are measured on the held-out test split, after training stopped (early once the validation
accuracy passed a target, or after the full epoch budget). BLAS is limited to one thread: these are
many tiny matrix products, where extra threads only spin.
"""

import pytest

from engine.experiment import prepare, run_training
from engine.spec import parse_spec

threadpoolctl = pytest.importorskip("threadpoolctl")
pytestmark = pytest.mark.slow

SEEDS = [0, 1, 2]
MEMORY = {"dataset": "memory", "seq_len": 50, "vocab": 4, "n_samples": 3000, "hidden": [16], "lr": 0.005,
          "batch_size": 32, "clip": 1.0, "optimizer": "adam"}
REVERSE = {"dataset": "reverse", "seq_len": 10, "vocab": 8, "n_samples": 3000, "hidden": [32], "lr": 0.005,
           "batch_size": 32, "clip": 1.0, "optimizer": "adam"}


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        yield


class StopAt:
    """Asks the trainer to stop once the validation accuracy reaches `target`; counts epochs."""

    def __init__(self, target: float = 2.0):
        self.target, self.epochs = target, 0

    def on_train_start(self, context):
        pass

    def on_epoch_end(self, record):
        self.epochs = record.epoch
        return record.metrics["val_accuracy"] >= self.target

    def on_train_end(self, summary):
        pass


def _train(values: dict, target: float = 2.0) -> tuple[float, int]:
    """(held-out test accuracy, epochs run) of one seeded run."""
    stop = StopAt(target)
    summary = run_training(prepare(parse_spec(values)), [stop])
    assert summary.outcome in ("completed", "stopped")
    return summary.final["test_accuracy"], stop.epochs


@pytest.mark.parametrize("seed", SEEDS)
def test_memory_at_length_50_lstm_and_gru_remember_the_vanilla_rnn_does_not(seed):
    budget = 6
    for cell in ("lstm", "gru"):
        acc, _ = _train({**MEMORY, "model": cell, "seed": seed, "epochs": budget}, target=0.98)
        assert acc >= 0.90, f"{cell} seed {seed}: {acc:.3f}"
    rnn_acc, epochs = _train({**MEMORY, "model": "rnn", "seed": seed, "epochs": budget})
    assert epochs == budget
    assert rnn_acc < 0.60, f"rnn seed {seed}: {rnn_acc:.3f} is not near chance (0.5)"


@pytest.mark.parametrize("seed", SEEDS)
def test_attention_reverses_length_10_sequences_a_plain_encoder_decoder_does_worse(seed):
    budget = 8
    acc, epochs = _train({**REVERSE, "model": "seq2seq", "attention": "additive", "seed": seed,
                          "epochs": budget}, target=0.98)
    assert acc >= 0.95, f"additive attention seed {seed}: {acc:.3f}"
    plain, _ = _train({**REVERSE, "model": "seq2seq", "attention": "none", "seed": seed, "epochs": budget})
    assert plain <= acc - 0.15, f"no attention seed {seed}: {plain:.3f} vs {acc:.3f} with attention"


@pytest.mark.parametrize("seed", SEEDS)
def test_a_one_block_transformer_reverses_length_10_sequences(seed):
    acc, _ = _train({**REVERSE, "model": "transformer", "d_model": 32, "heads": 4, "layers": 1, "hidden": [64],
                     "seed": seed, "epochs": 6}, target=0.99)
    assert acc >= 0.95, f"transformer seed {seed}: {acc:.3f}"

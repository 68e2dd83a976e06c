"""The generated sequence tasks: labels follow their rules, generation is seeded, specs are validated."""

import numpy as np
import pytest

from engine.data import load_dataset
from engine.data.sequences import NEGATIVE, POSITIVE, load_sequence_task
from engine.spec import SpecError, parse_spec


def _load(name, **kw):
    args = dict(seq_len=12, vocab=6, n_samples=400, val_fraction=0.2, seed=0)
    return load_sequence_task(name, **{**args, **kw})


def _all(d):
    return np.concatenate([d.x_train, d.x_val]), np.concatenate([d.y_train, d.y_val])


def test_memory_label_is_carried_by_the_first_token_only():
    d = _load("memory", seq_len=50)
    x, y = _all(d)
    names = d.meta["token_names"]
    assert d.task == "seq_classify" and x.shape[1] == 50 and d.vocab_size == len(names) == 1 + 2 + 6
    np.testing.assert_array_equal(x[:, 0], 1 + y)
    assert np.all(x[:, 1:] >= 3)  # distractors never repeat a signal token
    assert [names[t] for t in (1, 2)] == d.meta["label_names"] == ["A", "B"]
    assert 0.35 < y.mean() < 0.65


def _sentiment_by_rule(words):
    """Independent reading of the rule: the clause after the last 'but' decides; 'not' flips it."""
    clause = words[len(words) - words[::-1].index("but"):] if "but" in words else words
    adjective = next(w for w in clause if w in POSITIVE + NEGATIVE)
    return int((adjective in POSITIVE) != ("not" in clause))


def test_sentiment_labels_follow_negation_and_contrast():
    d = _load("sentiment", seq_len=16, n_samples=600)
    x, y = _all(d)
    vocab = d.meta["vocab"]
    assert vocab == d.meta["token_names"] and vocab[0] == "<pad>" and d.vocab_size == len(vocab)
    sentences = [[vocab[t] for t in row if t != 0] for row in x]
    assert [_sentiment_by_rule(s) for s in sentences] == list(y)
    assert sum("not" in s for s in sentences) > 100 and sum("but" in s for s in sentences) > 100
    # left padding: once a real word starts, no pad follows
    real = x != 0
    assert np.all(np.diff(real.astype(int), axis=1) >= 0)
    assert 0.35 < y.mean() < 0.65


def test_key_value_label_is_the_value_stored_under_the_queried_key():
    d = _load("kv", seq_len=11)
    x, y = _all(d)
    names = d.meta["token_names"]
    for row, label in zip(x, y, strict=True):
        words = [names[t] for t in row if t != 0]
        pairs = dict(zip(words[0:-2:2], words[1:-2:2], strict=True))
        assert words[-2] == "?" and len(pairs) == 4  # distinct keys
        assert pairs[words[-1]] == d.meta["label_names"][label]


@pytest.mark.parametrize("name", ["reverse", "copy", "sort"])
def test_transduction_targets(name):
    d = _load(name, seq_len=10, vocab=8)
    x, y = _all(d)
    assert d.task == "seq2seq" and y.shape == x.shape and d.meta["bos_id"] == 1
    assert x.min() >= 2 and d.n_classes == d.vocab_size == 10
    expected = {"reverse": x[:, ::-1], "copy": x, "sort": np.sort(x, axis=1)}[name]
    np.testing.assert_array_equal(y, expected)


def test_generation_is_seeded_and_split_sizes_follow_the_fractions():
    a, b = _load("kv", test_fraction=0.2), _load("kv", test_fraction=0.2)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert (len(a.x_train), len(a.x_val), len(a.x_test)) == (256, 64, 80)
    other = _load("kv", test_fraction=0.2, seed=1)
    assert not np.array_equal(a.x_train, other.x_train)
    assert len(_load("memory", subset=50).x_train) == 50


def test_load_dataset_routes_sequence_tasks_with_the_spec_knobs():
    spec = parse_spec({"model": "gru", "dataset": "memory", "seq_len": 30, "vocab": 5, "n_samples": 200})
    d = load_dataset(spec)
    assert d.name == "memory" and d.x_train.shape[1] == 30 and d.vocab_size == 1 + 2 + 5
    assert d.x_test is not None and len(d.x_train) + len(d.x_val) + len(d.x_test) == 200
    again = load_dataset(parse_spec({**spec.to_dict(), "seed": 7}))
    np.testing.assert_array_equal(d.x_train, again.x_train)  # the run's seed varies training, not data


@pytest.mark.parametrize("values,field", [
    ({"model": "lstm", "dataset": "memory", "seq_len": 4}, "seq_len"),
    ({"model": "lstm", "dataset": "memory", "seq_len": 201}, "seq_len"),
    ({"model": "lstm", "dataset": "kv", "seq_len": 3}, "seq_len"),
    ({"model": "seq2seq", "dataset": "memory"}, "dataset"),
    ({"model": "transformer", "dataset": "digits"}, "dataset"),
    ({"model": "seq2seq", "dataset": "reverse", "attention": "luong"}, "attention"),
    ({"model": "transformer", "dataset": "reverse", "norm": "sandwich"}, "norm"),
    ({"model": "transformer", "dataset": "reverse", "positional": "rotary"}, "positional"),
])
def test_spec_refuses_bad_sequence_settings(values, field):
    with pytest.raises(SpecError) as err:
        parse_spec(values)
    assert err.value.field == field

"""Generated sequence tasks, each built to show one thing recurrent and attention models do.

- memory:    the label is the first token; L-1 random distractors follow (how far back can a model see?)
- sentiment: a toy language with negation and contrast ("not good", "good but slow"), labelled by rule
- kv:        key-value pairs, then "?" and a key: answer with that key's value (retrieval from far back)
- reverse / copy / sort: map a sequence to its reversal, copy or sorted version (seq2seq: attention reorders)

Tokens are ints; 0 is always '<pad>' (sequences are left-padded, so a recurrent model's last step is the
last real word) and seq2seq tasks reserve 1 for '<bos>', the decoder's start token. `meta['token_names']`
names every token id so dashboards can label inputs. Generation is seeded: the loader uses the fixed
DATA_SEED, so every run on the same task settings sees the same sequences and split.
"""

from __future__ import annotations

import numpy as np

from .base import Dataset

PAD, BOS = 0, 1

POSITIVE = ("good", "great", "fun", "fast", "clever", "lovely")
NEGATIVE = ("bad", "slow", "boring", "awful", "dull", "weak")
SUBJECTS = (("the", "movie"), ("the", "plot"), ("the", "acting"), ("the", "story"), ("it",))
VERBS = ("was", "is")
INTENSIFIERS = ("really", "very", "quite")
SENTIMENT_WORDS = ("<pad>", "not", "but") + POSITIVE + NEGATIVE + tuple(
    sorted({w for s in SUBJECTS for w in s})) + VERBS + INTENSIFIERS


def memory_task(n: int, length: int, n_symbols: int, rng: np.random.Generator, n_classes: int = 2):
    """First token: one of `n_classes` signal tokens (the label); then length-1 of `n_symbols` distractors.

    Returns (x (n, length), y (n,), token_names, label_names).
    """
    signals = [chr(ord("A") + c) for c in range(n_classes)]
    names = ["<pad>"] + signals + [f"x{i}" for i in range(n_symbols)]
    y = rng.integers(0, n_classes, n)
    x = np.empty((n, length), dtype=np.int64)
    x[:, 0] = 1 + y
    x[:, 1:] = 1 + n_classes + rng.integers(0, n_symbols, (n, length - 1))
    return x, y, names, signals


def _clause(rng: np.random.Generator) -> tuple[list[str], int]:
    """One clause of the toy language and its polarity (+1/-1): [subject [verb]] [not] [intensifier] adj."""
    words: list[str] = []
    if rng.random() < 0.6:
        words += list(SUBJECTS[rng.integers(len(SUBJECTS))])
        words.append(VERBS[rng.integers(len(VERBS))])
    negated = rng.random() < 0.35
    if negated:
        words.append("not")
    if rng.random() < 0.3:
        words.append(INTENSIFIERS[rng.integers(len(INTENSIFIERS))])
    positive = rng.random() < 0.5
    words.append((POSITIVE if positive else NEGATIVE)[rng.integers(6)])
    polarity = (1 if positive else -1) * (-1 if negated else 1)
    return words, polarity


def sentiment_sentence(rng: np.random.Generator, max_len: int) -> tuple[list[str], int]:
    """A sentence of 1-3 clauses joined by 'but', at most `max_len` words; label 1 = positive.

    Rule: 'not' flips its clause; after 'but' only the last clause counts ("good but slow" is negative).
    """
    for _ in range(100):
        n_clauses = int(rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15]))
        words, polarity = _clause(rng)
        for _ in range(n_clauses - 1):
            more, polarity = _clause(rng)
            words += ["but"] + more
        if len(words) <= max_len:
            return words, int(polarity > 0)
    positive = rng.random() < 0.5
    return [(POSITIVE if positive else NEGATIVE)[0]], int(positive)


def sentiment_task(n: int, length: int, rng: np.random.Generator):
    """x (n, length) left-padded sentences of the toy language, y (n,) 0 = negative, 1 = positive."""
    index = {w: i for i, w in enumerate(SENTIMENT_WORDS)}
    x = np.zeros((n, length), dtype=np.int64)
    y = np.empty(n, dtype=np.int64)
    for i in range(n):
        words, y[i] = sentiment_sentence(rng, length)
        x[i, length - len(words):] = [index[w] for w in words]
    return x, y, list(SENTIMENT_WORDS), ["negative", "positive"]


def kv_task(n: int, length: int, n_symbols: int, rng: np.random.Generator):
    """Pairs 'k v' (distinct keys), then '?' and one of the keys; the label is that key's value.

    `n_symbols` values; keys number max(n_symbols, pairs) so every sequence has distinct keys.
    """
    pairs = (length - 2) // 2
    n_keys = max(n_symbols, pairs)
    names = ["<pad>", "?"] + [f"k{i}" for i in range(n_keys)] + [f"v{i}" for i in range(n_symbols)]
    key0, val0 = 2, 2 + n_keys
    x = np.zeros((n, length), dtype=np.int64)
    y = np.empty(n, dtype=np.int64)
    start = length - (2 * pairs + 2)  # left padding when length is odd
    for i in range(n):
        keys = rng.choice(n_keys, pairs, replace=False)
        vals = rng.integers(0, n_symbols, pairs)
        x[i, start:start + 2 * pairs:2] = key0 + keys
        x[i, start + 1:start + 2 * pairs:2] = val0 + vals
        q = rng.integers(pairs)
        x[i, -2], x[i, -1] = 1, key0 + keys[q]
        y[i] = vals[q]
    return x, y, names, [f"v{i}" for i in range(n_symbols)]


def transduction_task(kind: str, n: int, length: int, n_symbols: int, rng: np.random.Generator):
    """reverse, copy or sort: x (n, length) symbols, y (n, length) the transformed symbols (token ids)."""
    names = ["<pad>", "<bos>"] + [str(i) for i in range(n_symbols)]
    x = 2 + rng.integers(0, n_symbols, (n, length))
    if kind == "reverse":
        y = x[:, ::-1].copy()
    elif kind == "copy":
        y = x.copy()
    elif kind == "sort":
        y = np.sort(x, axis=1)
    else:
        raise ValueError(f"unknown sequence-to-sequence task {kind!r}: choose reverse, copy or sort")
    return x, y, names


def load_sequence_task(name: str, *, seq_len: int, vocab: int, n_samples: int, val_fraction: float,
                       seed: int, test_fraction: float = 0.0, subset: int = 0) -> Dataset:
    """Generate `n_samples` sequences of task `name` from `seed`; hold out `test_fraction` as the test set,
    then `val_fraction` of the rest for validation.

    `vocab` is the number of content symbols (distractors, values, or the symbols to reorder); the
    sentiment language has its own fixed word list. Token 0 is '<pad>' everywhere.
    """
    rng = np.random.default_rng(seed)
    meta: dict = {"pad_id": PAD, "seq_len": seq_len}
    if name == "memory":
        x, y, names, labels = memory_task(n_samples, seq_len, vocab, rng)
    elif name == "sentiment":
        x, y, names, labels = sentiment_task(n_samples, seq_len, rng)
        meta["vocab"] = names
    elif name == "kv":
        x, y, names, labels = kv_task(n_samples, seq_len, vocab, rng)
    elif name in ("reverse", "copy", "sort"):
        x, y, names = transduction_task(name, n_samples, seq_len, vocab, rng)
        labels = names
        meta["bos_id"] = BOS
    else:
        raise ValueError(f"unknown sequence task {name!r}")
    task = "seq2seq" if y.ndim == 2 else "seq_classify"
    meta.update(token_names=names, label_names=labels)
    meta.setdefault("vocab", names)
    order = rng.permutation(n_samples)
    n_test = int(round(n_samples * test_fraction))
    n_val = max(1, int(round((n_samples - n_test) * val_fraction)))
    te, va, tr = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    if subset:
        tr = tr[:subset]
    test = (x[te], y[te]) if n_test else (None, None)
    return Dataset(name, x[tr], y[tr], x[va], y[va], n_classes=len(labels), input_shape=(seq_len,),
                   task=task, x_test=test[0], y_test=test[1], vocab_size=len(names), meta=meta)

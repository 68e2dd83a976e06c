"""Attention: pure kernels (scaled dot-product, additive) with naive twins, and the layers built on them.

Masks are boolean and broadcast against the scores (..., Tq, Tk): True means "may attend". A masked
score becomes -inf before the softmax, so its weight is exactly 0; a row with nothing to attend to
gets all-zero weights (and a zero output) instead of NaN.
"""

from __future__ import annotations

import math

import numpy as np

from .base import Layer


# ---------------------------------------------------------------- masks

def causal_mask(tq: int, tk: int | None = None) -> np.ndarray:
    """(Tq, Tk) True on and below the diagonal: query i sees keys 0..i (aligned at the end if Tk > Tq)."""
    tk = tq if tk is None else tk
    return np.tril(np.ones((tq, tk), dtype=bool), k=tk - tq)


def padding_mask(key_valid: np.ndarray) -> np.ndarray:
    """(N, Tk) True for real tokens -> (N, 1, 1, Tk), broadcastable over heads and queries."""
    return np.asarray(key_valid, dtype=bool)[:, None, None, :]


def combine_masks(*masks: np.ndarray | None) -> np.ndarray | None:
    """Logical AND of the given masks (None entries ignored); None when there are none."""
    out = None
    for m in masks:
        if m is not None:
            out = m if out is None else out & m
    return out


# ---------------------------------------------------------------- scaled dot-product kernel

def row_sum(a: np.ndarray) -> np.ndarray:
    """Sum over the last axis, keepdims, as a matrix-vector product: for short rows (attention over a
    few dozen keys) far faster than a ufunc reduction."""
    return a @ np.ones((a.shape[-1], 1), dtype=a.dtype)


# Softmax is shift-invariant, so when all scores lie within this span one shift by their overall maximum
# is as good as one per row (no row can underflow to all zeros: exp(-60) is a normal float32), and a
# single max/min over the array costs a twentieth of a maximum per row of a few dozen keys.
SHARED_SHIFT_SPAN = 60.0


def masked_softmax(scores: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Softmax over the last axis, in place on `scores`; masked entries get weight 0."""
    hi, lo = float(scores.max()), float(scores.min())
    if mask is not None:
        np.copyto(scores, -np.inf, where=~mask)
    if hi - lo < SHARED_SHIFT_SPAN:
        scores -= hi
    else:
        m = scores.max(axis=-1, keepdims=True)
        if mask is not None:
            m[~np.isfinite(m)] = 0.0  # fully masked row: exp(-inf) = 0 everywhere
        scores -= m
    np.exp(scores, out=scores)
    s = row_sum(scores)
    if mask is not None:
        s[s == 0] = 1.0
    scores *= np.reciprocal(s, out=s)
    return scores


def score_scale(d: int, scaled: bool = True) -> float:
    """What the scores q k^T are multiplied by: 1 / sqrt(d), which keeps their spread near 1 whatever the
    width d (the series: without it softmax saturates as d grows); 1 for raw dot products."""
    return 1.0 / math.sqrt(d) if scaled else 1.0


def scaled_dot_product_attention(q, k, v, mask=None, *, scaled=True):
    """softmax(q k^T / sqrt(d)) v (without the 1/sqrt(d) when not `scaled`). q (..., Tq, d), k (..., Tk, d),
    v (..., Tk, dv).

    Returns (out (..., Tq, dv), weights (..., Tq, Tk)).
    """
    scores = q @ np.swapaxes(k, -1, -2)
    scores *= score_scale(q.shape[-1], scaled)
    weights = masked_softmax(scores, mask)
    return weights @ v, weights


def scaled_dot_product_attention_backward(dout, q, k, v, weights, *, scaled=True):
    """Gradients (dq, dk, dv) of `scaled_dot_product_attention` given its weights and dout (..., Tq, dv)."""
    scale = score_scale(q.shape[-1], scaled)
    dv = np.swapaxes(weights, -1, -2) @ dout
    dw = dout @ np.swapaxes(v, -1, -2)  # (..., Tq, Tk)
    # softmax backward: ds = w * (dw - sum(dw * w)); masked entries have w = 0, so ds = 0 there
    dw -= np.einsum("...ij,...ij->...i", dw, weights)[..., None]
    dw *= weights
    dw *= scale
    return dw @ k, np.swapaxes(dw, -1, -2) @ q, dv


def naive_attention(q, k, v, mask=None, *, scaled=True):
    """Slow twin of `scaled_dot_product_attention` for (B, Tq, d) inputs: one query at a time."""
    B, Tq, d = q.shape
    Tk = k.shape[1]
    full = np.ones((B, Tq, Tk), dtype=bool) if mask is None else np.broadcast_to(mask, (B, Tq, Tk))
    out = np.zeros((B, Tq, v.shape[-1]))
    weights = np.zeros((B, Tq, Tk))
    for b in range(B):
        for i in range(Tq):
            allowed = [j for j in range(Tk) if full[b, i, j]]
            if not allowed:
                continue
            scores = {j: sum(q[b, i, c] * k[b, j, c] for c in range(d)) / (math.sqrt(d) if scaled else 1.0)
                      for j in allowed}
            top = max(scores.values())
            total = sum(math.exp(s - top) for s in scores.values())
            for j in allowed:
                weights[b, i, j] = math.exp(scores[j] - top) / total
                out[b, i] += weights[b, i, j] * v[b, j]
    return out, weights


# ---------------------------------------------------------------- additive (Bahdanau) kernel

def additive_attention(qp, kp, v, values, mask=None):
    """Bahdanau scores v . tanh(qp + kp_j), softmax over j, then the weighted sum of values.

    qp (N, A) projected query (bias included), kp (N, S, A) projected keys, v (A,), values (N, S, Dv),
    mask (N, S). Returns (context (N, Dv), weights (N, S), e (N, S, A) the tanh features).
    """
    e = kp + qp[:, None, :]
    np.tanh(e, out=e)
    weights = masked_softmax(e @ v, mask)
    context = (weights[:, None, :] @ values)[:, 0]
    return context, weights, e


def additive_attention_backward(dcontext, e, weights, v, values):
    """Gradients (dqp, dkp, dv, dvalues) of `additive_attention`."""
    dvalues = weights[:, :, None] * dcontext[:, None, :]
    dw = (values @ dcontext[:, :, None])[:, :, 0]  # (N, S)
    ds = weights * (dw - np.sum(dw * weights, axis=-1, keepdims=True))
    dv = np.einsum("ns,nsa->a", ds, e)
    dpre = ds[:, :, None] * v * (1.0 - e * e)  # (N, S, A)
    return dpre.sum(axis=1), dpre, dv, dvalues


def naive_additive_attention(qp, kp, v, values, mask=None):
    """Slow twin of `additive_attention` (context and weights), one key at a time."""
    N, S, A = kp.shape
    context = np.zeros((N, values.shape[-1]))
    weights = np.zeros((N, S))
    for n in range(N):
        allowed = [j for j in range(S) if mask is None or mask[n, j]]
        scores = {j: sum(v[a] * math.tanh(qp[n, a] + kp[n, j, a]) for a in range(A)) for j in allowed}
        if not scores:
            continue
        top = max(scores.values())
        total = sum(math.exp(s - top) for s in scores.values())
        for j in allowed:
            weights[n, j] = math.exp(scores[j] - top) / total
            context[n] += weights[n, j] * values[n, j]
    return context, weights


# ---------------------------------------------------------------- multi-head attention

class MultiHeadAttention(Layer):
    """Multi-head attention over width `d_model` split into `heads` slices.

    Self-attention by default; cross-attention when `forward(x, context=...)` is given (queries from x,
    keys and values from context; `dcontext` holds the context's gradient after backward).
    Weights as PyTorch lays them out transposed: `Wqkv` (D, 3D) = [Wq | Wk | Wv], `Wo` (D, D).
    After a forward pass `last_weights` is (N, heads, Tq, Tk). With `input_grad = False` backward skips
    the query input's gradient and returns None (the context's is still computed). `scaled=False` drops
    the scores' 1/sqrt(d_model / heads) (the series' experiment: softmax saturates without it).
    """

    input_grad = True

    def __init__(self, d_model: int, heads: int, *, rng: np.random.Generator, dtype=np.float32,
                 causal: bool = False, scaled: bool = True) -> None:
        super().__init__()
        if heads < 1 or d_model % heads:
            raise ValueError(f"heads ({heads}) must divide the model width d_model ({d_model})")
        self.d_model, self.heads, self.causal, self.scaled = d_model, heads, causal, scaled
        a = math.sqrt(6.0 / (d_model + 3 * d_model))  # Xavier-uniform on the packed projection
        self.params = {
            "Wqkv": rng.uniform(-a, a, (d_model, 3 * d_model)).astype(dtype),
            "bqkv": np.zeros(3 * d_model, dtype=dtype),
            "Wo": (rng.uniform(-1, 1, (d_model, d_model)) / math.sqrt(d_model)).astype(dtype),
            "bo": np.zeros(d_model, dtype=dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.last_weights: np.ndarray | None = None

    def _split(self, t: np.ndarray) -> np.ndarray:
        N, T, _ = t.shape
        return t.reshape(N, T, self.heads, -1).transpose(0, 2, 1, 3)  # (N, h, T, dh)

    @staticmethod
    def _merge(*parts: np.ndarray) -> np.ndarray:
        """Per-head arrays (N, h, T, dh) side by side into one (N, T, len(parts) * h * dh) array."""
        N, h, T, dh = parts[0].shape
        out = np.empty((N, T, len(parts), h, dh), dtype=parts[0].dtype)
        for i, part in enumerate(parts):
            out[:, :, i] = part.transpose(0, 2, 1, 3)
        return out.reshape(N, T, -1)

    def forward(self, x, *, training=False, context=None, key_mask=None):
        """x (N, Tq, D); context (N, Tk, D) for cross-attention; key_mask (N, Tk) True = real token."""
        p, D = self.params, self.d_model
        N, Tq, _ = x.shape
        if context is None:
            qkv = x @ p["Wqkv"]
            qkv += p["bqkv"]
            q, k, v = qkv[..., :D], qkv[..., D:2 * D], qkv[..., 2 * D:]
        else:
            q = x @ p["Wqkv"][:, :D] + p["bqkv"][:D]
            kv = context @ p["Wqkv"][:, D:] + p["bqkv"][D:]
            k, v = kv[..., :D], kv[..., D:]
        Tk = k.shape[1]
        mask = combine_masks(causal_mask(Tq, Tk) if self.causal else None,
                             None if key_mask is None else padding_mask(key_mask))
        qh, kh, vh = self._split(q), self._split(k), self._split(v)
        out, weights = scaled_dot_product_attention(qh, kh, vh, mask, scaled=self.scaled)  # (N, h, Tq, dh)
        merged = self._merge(out)
        self._cache = (x, context, qh, kh, vh, weights, merged)
        self.last_weights = weights
        y = merged @ p["Wo"]
        y += p["bo"]
        return y

    def backward(self, dout):
        x, context, qh, kh, vh, weights, merged = self._cache
        p, g, D = self.params, self.grads, self.d_model
        N, Tq, _ = dout.shape
        d2 = dout.reshape(-1, D)
        np.matmul(merged.reshape(-1, D).T, d2, out=g["Wo"])
        np.sum(d2, axis=0, out=g["bo"])
        dmerged = self._split(dout @ p["Wo"].T)
        dq, dk, dv = scaled_dot_product_attention_backward(dmerged, qh, kh, vh, weights, scaled=self.scaled)
        if context is None:
            dqkv = self._merge(dq, dk, dv).reshape(-1, 3 * D)
            np.matmul(x.reshape(-1, D).T, dqkv, out=g["Wqkv"])
            np.sum(dqkv, axis=0, out=g["bqkv"])
            self.dcontext = None
            return (dqkv @ p["Wqkv"].T).reshape(x.shape) if self.input_grad else None
        dq2 = self._merge(dq).reshape(-1, D)
        dkv = self._merge(dk, dv).reshape(-1, 2 * D)
        g["Wqkv"][:, :D] = x.reshape(-1, D).T @ dq2
        g["Wqkv"][:, D:] = context.reshape(-1, D).T @ dkv
        g["bqkv"][:D] = dq2.sum(axis=0)
        g["bqkv"][D:] = dkv.sum(axis=0)
        self.dcontext = (dkv @ p["Wqkv"][:, D:].T).reshape(context.shape)
        return (dq2 @ p["Wqkv"][:, :D].T).reshape(x.shape) if self.input_grad else None


# ---------------------------------------------------------------- attention for an RNN decoder

class StepAttention(Layer):
    """Attention a decoder queries one step at a time over fixed encoder states.

    `prepare(keys, mask)` once per sequence, `step(query)` per decoder step (cached on a stack),
    `step_backward(dcontext)` in reverse order, then `finish_backward()` returns the keys' gradient.
    `forward(queries, keys=...)` runs all steps for queries (N, Tq, Dq) (used by the gradient checks).
    """

    def prepare(self, keys: np.ndarray, mask: np.ndarray | None = None) -> None:
        raise NotImplementedError

    def forward(self, x, *, training=False, keys=None, mask=None):
        """Queries x (N, Tq, Dq) against keys (N, S, Dk) -> contexts (N, Tq, Dk); `last_weights` (N, Tq, S)."""
        self.prepare(keys, mask)
        steps = [self.step(x[:, t]) for t in range(x.shape[1])]
        self.last_weights = np.stack([w for _, w in steps], axis=1)
        return np.stack([c for c, _ in steps], axis=1)

    def backward(self, dout):
        """dout (N, Tq, Dk) -> dqueries (N, Tq, Dq); `dkeys` holds the keys' gradient."""
        dq = [self.step_backward(dout[:, t]) for t in range(dout.shape[1] - 1, -1, -1)]
        self.dkeys = self.finish_backward()
        return np.stack(dq[::-1], axis=1)


class AdditiveAttention(StepAttention):
    """Bahdanau attention: score(s, h_j) = v . tanh(s Wq + h_j Wk + b), the keys doubling as values."""

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int, *, rng: np.random.Generator,
                 dtype=np.float32) -> None:
        super().__init__()
        self.params = {
            "Wq": (rng.standard_normal((query_dim, attn_dim)) / np.sqrt(query_dim)).astype(dtype),
            "Wk": (rng.standard_normal((key_dim, attn_dim)) / np.sqrt(key_dim)).astype(dtype),
            "b": np.zeros(attn_dim, dtype=dtype),
            "v": (rng.standard_normal(attn_dim) / np.sqrt(attn_dim)).astype(dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def prepare(self, keys, mask=None):
        self._keys, self._mask = keys, mask
        self._kp = keys @ self.params["Wk"]  # (N, S, A), once per sequence
        self._stack = []
        for g in self.grads.values():
            g[...] = 0.0
        self._dkp = np.zeros_like(self._kp)
        self._dkeys = np.zeros_like(keys)

    def step(self, query):
        """query (N, Dq) -> (context (N, Dk), weights (N, S))."""
        qp = query @ self.params["Wq"] + self.params["b"]
        context, weights, e = additive_attention(qp, self._kp, self.params["v"], self._keys, self._mask)
        self._stack.append((query, e, weights))
        return context, weights

    def step_backward(self, dcontext):
        query, e, weights = self._stack.pop()
        p, g = self.params, self.grads
        dqp, dkp, dv, dvalues = additive_attention_backward(dcontext, e, weights, p["v"], self._keys)
        g["Wq"] += query.T @ dqp
        g["b"] += dqp.sum(axis=0)
        g["v"] += dv
        self._dkp += dkp
        self._dkeys += dvalues
        return dqp @ p["Wq"].T

    def finish_backward(self):
        K = self._keys.shape[-1]
        A = self._kp.shape[-1]
        self.grads["Wk"][...] = self._keys.reshape(-1, K).T @ self._dkp.reshape(-1, A)
        return self._dkeys + self._dkp @ self.params["Wk"].T


class DotAttention(StepAttention):
    """Scaled dot-product attention of a decoder state over encoder states (no parameters)."""

    def prepare(self, keys, mask=None):
        self._keys = keys
        self._mask = None if mask is None else mask[:, None, :]  # (N, 1, S)
        self._stack = []
        self._dkeys = np.zeros_like(keys)

    def step(self, query):
        q = query[:, None, :]  # (N, 1, D)
        out, weights = scaled_dot_product_attention(q, self._keys, self._keys, self._mask)
        self._stack.append((q, weights))
        return out[:, 0], weights[:, 0]

    def step_backward(self, dcontext):
        q, weights = self._stack.pop()
        dq, dk, dv = scaled_dot_product_attention_backward(dcontext[:, None, :], q, self._keys, self._keys,
                                                           weights)
        self._dkeys += dk
        self._dkeys += dv
        return dq[:, 0]

    def finish_backward(self):
        return self._dkeys

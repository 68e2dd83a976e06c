"""RNN encoder-decoder for sequence-to-sequence tasks, with or without attention.

Encoder: embedding -> stacked RNN/LSTM/GRU over the source (N, S). Its top layer's final state starts
the decoder. Decoder: one cell, run one step at a time; at step t its input is the embedding of the
previous output token (<bos> at t = 0), plus, with attention, the context vector c_t; its output feature
is [s_t, c_t] (or s_t), mapped to logits by a Dense head.

Attention (Bahdanau et al. 2014): c_t is a weighted sum of all encoder states, weighted by how well each
matches the previous decoder state s_{t-1} - scored by a small network ('additive') or by a scaled dot
product ('dot'). Without attention ('none') the decoder sees the source only through the final state:
the fixed-size bottleneck.

Teacher forcing vs honest evaluation: `forward_train(x, y)` (called by the Trainer for models that
have it) feeds the true previous tokens; `forward(x)` decodes greedily, feeding back its own argmax, so
validation accuracy is what the model does on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layers import AdditiveAttention, Dense, DotAttention, Dropout, Embedding, Recurrent, make_cell
from ..layers.transformer import Composite

ATTENTIONS = ("none", "additive", "dot")


@dataclass(frozen=True)
class Seq2SeqConfig:
    vocab_size: int
    embed_dim: int
    hidden: int
    out_features: int
    cell: str = "lstm"
    attention: str = "none"   # none | additive | dot
    layers: int = 1           # encoder layers (the decoder is one cell)
    dropout: float = 0.0      # on the encoder's inputs and between its layers
    bos_id: int = 1
    pad_id: int = 0
    forget_bias: float = 1.0


class Seq2SeqModel(Composite):
    """Encoder-decoder; `attention_weights()` returns [(N, 1, T_out, S)] after a forward with attention."""

    def __init__(self, config: Seq2SeqConfig, rng: np.random.Generator, dtype=np.float32) -> None:
        super().__init__()
        c = config
        if c.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, got {c.attention!r}")
        self.config_ = c
        H, E = c.hidden, c.embed_dim
        self.enc_embed = Embedding(c.vocab_size, E, rng=rng, dtype=dtype)
        self.encoder = [Recurrent(c.cell, E if i == 0 else H, H, rng=rng, dtype=dtype, forget_bias=c.forget_bias)
                        for i in range(c.layers)]
        self.drops = [Dropout(c.dropout, rng=rng) for _ in range(c.layers)]
        self.dec_embed = Embedding(c.vocab_size, E, rng=rng, dtype=dtype)
        ctx = H if c.attention != "none" else 0
        self.decoder = make_cell(c.cell, E + ctx, H, rng=rng, dtype=dtype, forget_bias=c.forget_bias)
        self.attn = {"none": None, "dot": DotAttention(),
                     "additive": AdditiveAttention(H, H, H, rng=rng, dtype=dtype)}[c.attention]
        self.head = Dense(H + ctx, c.out_features, rng=rng, init="xavier", dtype=dtype)
        self.children = {"enc_embed": self.enc_embed,
                         **{f"encoder.{i}": r for i, r in enumerate(self.encoder)},
                         "dec_embed": self.dec_embed, "decoder": self.decoder}
        if self.attn is not None:
            self.children["attn"] = self.attn
        self.children["head"] = self.head
        self._weights: list[np.ndarray] = []

    def set_rng(self, rng):
        super().set_rng(rng)
        for d in self.drops:
            d.set_rng(rng)

    def forward_train(self, x, y):
        """Teacher-forced training pass: the decoder reads the true previous target tokens."""
        return self.forward(x, training=True, targets=y)

    def forward(self, x, *, training=False, targets=None):
        """x (N, S) source tokens -> logits (N, T, C); T = targets' length, or S when decoding greedily."""
        h = self.enc_embed.forward(x)
        for rnn, drop in zip(self.encoder, self.drops, strict=True):
            h = rnn.forward(drop.forward(h, training=training), training=training)
        keys = np.ascontiguousarray(h)  # (N, S, H)
        state = self.encoder[-1].last_state
        valid = x != self.config_.pad_id
        if self.attn is not None:
            self.attn.prepare(keys, None if valid.all() else valid)
        N, T = len(x), x.shape[1] if targets is None else targets.shape[1]
        H, E = self.config_.hidden, self.config_.embed_dim
        tokens = np.empty((N, T), dtype=np.int64)
        feats = np.empty((N, T, self.head.in_features), dtype=keys.dtype)
        prev = np.full(N, self.config_.bos_id, dtype=np.int64)
        self.decoder.reset()
        self._weights = []
        for t in range(T):
            tokens[:, t] = prev
            inp = self.dec_embed.params["W"][prev]  # (N, E)
            if self.attn is not None:
                context, w = self.attn.step(state[0])
                self._weights.append(w)
                inp = np.concatenate([inp, context], axis=1)
                feats[:, t, H:] = context
            state = self.decoder.forward(inp, state, training=training)
            feats[:, t, :H] = state[0]
            if targets is not None:
                prev = targets[:, t]
            else:
                prev = (feats[:, t] @ self.head.params["W"] + self.head.params["b"]).argmax(axis=1)
        self.dec_embed.forward(tokens)  # caches the tokens the decoder read, for its gradient
        self._E, self._feats = E, feats
        return self.head.forward(feats, training=training)

    def backward(self, dout):
        H, E = self.config_.hidden, self._E
        dfeats = self.head.backward(dout)
        self.decoder.zero_grads()
        N, T, _ = dfeats.shape
        dembs = np.empty((N, T, E), dtype=dfeats.dtype)
        dstate = (None,) * self.decoder.n_states
        for t in range(T - 1, -1, -1):
            dh = dfeats[:, t, :H] if dstate[0] is None else dfeats[:, t, :H] + dstate[0]
            dinp, dstate = self.decoder.backward((dh, *dstate[1:]))
            dembs[:, t] = dinp[:, :E]
            if self.attn is not None:
                dq = self.attn.step_backward(dfeats[:, t, H:] + dinp[:, E:])
                dstate = (dstate[0] + dq, *dstate[1:])
        self.dec_embed.backward(dembs)
        dkeys = self.attn.finish_backward() if self.attn is not None else None
        for i in range(len(self.encoder) - 1, -1, -1):
            rnn, drop = self.encoder[i], self.drops[i]
            top = i == len(self.encoder) - 1
            dkeys = drop.backward(rnn.backward(dkeys, dstate=dstate if top else None))
        return self.enc_embed.backward(dkeys)

    @property
    def last_hidden_states(self) -> np.ndarray:
        """(N, T_out, H) decoder states of the last forward pass (the encoder's: `encoder[-1]`)."""
        return self._feats[:, :, :self.config_.hidden]

    def attention_weights(self) -> list[np.ndarray]:
        """[(N, 1, T_out, S)]: the decoder's attention over the source at every output step ([] without)."""
        if not self._weights:
            return []
        return [np.stack(self._weights, axis=1)[:, None]]


def build_seq2seq(config: Seq2SeqConfig, rng: np.random.Generator, dtype=np.float32) -> Seq2SeqModel:
    """Build an RNN encoder-decoder from its config."""
    return Seq2SeqModel(config, rng, dtype)

"""RNN, LSTM and GRU: gradient checks for the cells, the unroller and the models; inspection; init."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.layers import Embedding, Recurrent, make_cell
from engine.layers.base import Layer
from engine.layers.recurrent import CELLS, sigmoid_
from engine.models import RecurrentConfig, build_model
from tests.engine.gradcheck import check_layer_gradients

N, T, D, H = 3, 6, 4, 5


class OneStep(Layer):
    """One cell step from a given state; the state is checked like a parameter (h0, c0)."""

    def __init__(self, cell, rng):
        super().__init__()
        self.cell = cell
        self.state = tuple(rng.standard_normal((N, H)) for _ in range(cell.n_states))
        self.names = ("h0", "c0")[:cell.n_states]
        self.params = {**cell.params, **dict(zip(self.names, self.state, strict=True))}
        self.grads = {**cell.grads, **{n: np.zeros((N, H)) for n in self.names}}

    def forward(self, x, *, training=False):
        self.cell.reset()
        return np.concatenate(self.cell.forward(x, self.state), axis=-1)  # (N, n_states * H)

    def backward(self, dout):
        self.cell.zero_grads()
        dstate = tuple(np.split(dout, self.cell.n_states, axis=-1))
        dx, dstate0 = self.cell.backward(dstate)
        for n, d in zip(self.names, dstate0, strict=True):
            self.grads[n][...] = d
        return dx


class Unrolled(Layer):
    """Recurrent over T steps from a given initial state; the output also carries the final cell state,
    so the gradient paths into h0, c0 and out of c_T are all checked."""

    def __init__(self, kind, rng):
        super().__init__()
        self.rnn = Recurrent(kind, D, H, rng=rng, dtype=np.float64)
        n = self.rnn.cell.n_states
        self.state = tuple(rng.standard_normal((N, H)) for _ in range(n))
        self.names = ("h0", "c0")[:n]
        self.params = {**self.rnn.params, **dict(zip(self.names, self.state, strict=True))}
        self.grads = {**self.rnn.grads, **{k: np.zeros((N, H)) for k in self.names}}

    def forward(self, x, *, training=False):
        hs = self.rnn.forward(x, state=self.state)
        return np.concatenate([hs.reshape(N, -1), *self.rnn.last_state[1:]], axis=-1)

    def backward(self, dout):
        dhs = dout[:, :T * H].reshape(N, T, H)
        dstate = (None, dout[:, T * H:]) if self.rnn.cell.n_states == 2 else None
        dx = self.rnn.backward(dhs, dstate=dstate)
        for k, d in zip(self.names, self.rnn.dstate0, strict=True):
            self.grads[k][...] = d
        return dx


@pytest.mark.parametrize("kind", CELLS)
def test_cell_one_step_gradients_match_central_differences(kind):
    rng = np.random.default_rng(0)
    cell = make_cell(kind, D, H, rng=rng, dtype=np.float64)
    errors = check_layer_gradients(OneStep(cell, rng), rng.standard_normal((N, D)), rng=rng)
    assert set(errors) >= {"x", "Wx", "Wh", "b", "h0"}


@pytest.mark.parametrize("kind", CELLS)
def test_unrolled_bptt_gradients_match_central_differences(kind):
    rng = np.random.default_rng(1)
    check_layer_gradients(Unrolled(kind, rng), rng.standard_normal((N, T, D)), rng=rng)


@pytest.mark.parametrize("kind", CELLS)
def test_step_by_step_cell_matches_the_unroller(kind):
    rng = np.random.default_rng(2)
    rnn = Recurrent(kind, D, H, rng=rng, dtype=np.float64)
    x, g = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, H))
    hs = rnn.forward(x)
    dx = rnn.backward(g)
    unrolled_grads = {k: v.copy() for k, v in rnn.grads.items()}
    cell, state, steps = rnn.cell, None, []
    cell.reset()
    cell.zero_grads()
    for t in range(T):
        state = cell.forward(x[:, t], state)
        steps.append(state[0])
    np.testing.assert_allclose(np.stack(steps, axis=1), hs, rtol=1e-12, atol=1e-12)
    dstate, dxs = (None,) * cell.n_states, []
    for t in range(T - 1, -1, -1):
        dh = g[:, t] if dstate[0] is None else g[:, t] + dstate[0]
        dxt, dstate = cell.backward((dh, *dstate[1:]))
        dxs.append(dxt)
    np.testing.assert_allclose(np.stack(dxs[::-1], axis=1), dx, rtol=1e-10, atol=1e-12)
    for k in unrolled_grads:
        np.testing.assert_allclose(cell.grads[k], unrolled_grads[k], rtol=1e-10, atol=1e-12)


def _model(kind, rng, *, vocab=0, layers=1, many_to_many=False, dropout=0.0):
    config = RecurrentConfig(cell=kind, vocab_size=vocab, in_features=D, hidden=H, out_features=3, layers=layers,
                             many_to_many=many_to_many, dropout=dropout)
    return build_model(config, rng, dtype=np.float64)


@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("layers,many_to_many", [(1, False), (1, True), (2, False), (2, True)])
def test_model_gradients_many_to_one_many_to_many_and_stacked(kind, layers, many_to_many):
    rng = np.random.default_rng(3)
    model = _model(kind, rng, layers=layers, many_to_many=many_to_many)
    errors = check_layer_gradients(model, rng.standard_normal((N, T, D)), rng=rng)
    assert sum(k.endswith("Wh") for k in errors) == layers


@pytest.mark.parametrize("kind", CELLS)
def test_token_model_with_dropout_gradients_with_a_fixed_mask(kind):
    rng = np.random.default_rng(4)
    model = _model(kind, rng, vocab=7, layers=2, dropout=0.3)
    x = rng.integers(0, 7, (N, T))
    errors = check_layer_gradients(model, x, rng=rng, check_input=False,
                                   before_forward=lambda: model.set_rng(np.random.default_rng(11)))
    assert "embed.W" in errors


def test_embedding_gradient_accumulates_repeated_tokens():
    rng = np.random.default_rng(5)
    emb = Embedding(6, 3, rng=rng, dtype=np.float64)
    x = np.array([[1, 1, 2], [5, 1, 0]])
    check_layer_gradients(emb, x, rng=rng, check_input=False)
    g = np.ones((2, 3, 3))
    emb.forward(x)
    emb.backward(g)
    np.testing.assert_array_equal(emb.grads["W"][:, 0], [1, 3, 1, 0, 0, 1])


@pytest.mark.parametrize("kind", CELLS)
def test_hidden_states_and_gates_are_available_after_forward(kind):
    rng = np.random.default_rng(6)
    model = _model(kind, rng, vocab=9, layers=2)
    x = rng.integers(0, 9, (N, T))
    logits = model.forward(x)
    assert model.last_hidden_states.shape == (N, T, H)
    assert [h.shape for h in model.hidden_states()] == [(N, T, H)] * 2
    gates = model.last_gates
    expected = {"rnn": set(), "lstm": {"i", "f", "o", "g"}, "gru": {"r", "z", "n"}}[kind]
    assert set(gates) == expected
    for name, gate in gates.items():
        assert gate.shape == (N, T, H)
        lo = -1.0 if name in ("g", "n") else 0.0  # tanh candidates; the rest are sigmoids
        assert gate.min() >= lo and gate.max() <= 1.0
    # many-to-one: the output is the head on the last step, and step_logits gives every step
    np.testing.assert_allclose(model.step_logits()[:, -1], logits, rtol=1e-5, atol=1e-6)
    assert model.step_logits().shape == (N, T, 3)


def test_lstm_cell_state_follows_the_gate_equations():
    rng = np.random.default_rng(7)
    rnn = Recurrent("lstm", D, H, rng=rng, dtype=np.float64)
    rnn.forward(rng.standard_normal((N, T, D)))
    g, c = rnn.last_gates, rnn.last_cell_states
    c_prev = np.concatenate([np.zeros((N, 1, H)), c[:, :-1]], axis=1)
    np.testing.assert_allclose(c, g["f"] * c_prev + g["i"] * g["g"], atol=1e-12)
    np.testing.assert_allclose(rnn.last_hidden_states, g["o"] * np.tanh(c), atol=1e-12)


def test_chrono_initialisation_sets_keep_gate_biases():
    rng = np.random.default_rng(8)
    lstm = make_cell("lstm", D, 200, rng=rng, dtype=np.float64, chrono=50)
    bf, bi = lstm.params["b"][200:400], lstm.params["b"][:200]
    assert bf.min() >= 0 and bf.max() <= np.log(49) and bf.std() > 0.3
    np.testing.assert_array_equal(bi, -bf)
    gru = make_cell("gru", D, 200, rng=rng, dtype=np.float64, chrono=50)
    assert gru.params["b"][200:400].min() >= 0
    plain = make_cell("lstm", D, 10, rng=rng, forget_bias=1.0)
    np.testing.assert_array_equal(plain.params["b"][10:20], 1.0)


def test_unknown_cell_is_refused():
    with pytest.raises(ValueError, match="unknown cell 'elman'"):
        make_cell("elman", 2, 2, rng=np.random.default_rng(0))


def test_sigmoid_in_place_is_stable_for_large_inputs():
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    with np.errstate(all="raise"):  # nothing overflows on the way
        out = sigmoid_(x.copy())
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-np.clip(x, -700, 700))), atol=1e-15)


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(CELLS), n=st.integers(1, 4), t=st.integers(1, 7), d=st.integers(1, 5),
       h=st.integers(1, 6), many=st.booleans())
def test_shapes_for_random_batch_and_sequence_sizes(kind, n, t, d, h, many):
    rng = np.random.default_rng(0)
    config = RecurrentConfig(cell=kind, vocab_size=0, in_features=d, hidden=h, out_features=2, many_to_many=many)
    model = build_model(config, rng)
    out = model.forward(rng.standard_normal((n, t, d)).astype(np.float32), training=True)
    assert out.shape == ((n, t, 2) if many else (n, 2))
    assert out.dtype == np.float32
    dx = model.backward(np.ones_like(out))
    assert dx.shape == (n, t, d)
    assert all(g.shape == p.shape for (_, g), (_, p) in zip(model.named_grads(), model.named_params(), strict=True))


@pytest.mark.parametrize("kind", CELLS)
def test_float_input_model_can_skip_the_input_gradient_as_the_trainer_asks(kind):
    rng = np.random.default_rng(9)
    model = _model(kind, rng, layers=2)
    x, g = rng.standard_normal((N, T, D)), rng.standard_normal((N, 3))
    model.forward(x)
    assert model.input_grad and model.backward(g).shape == x.shape
    full = {k: v.copy() for k, v in model.named_grads()}
    model.input_grad = False
    model.forward(x)
    assert model.backward(g) is None
    for k, v in model.named_grads():
        np.testing.assert_allclose(v, full[k], rtol=1e-12, err_msg=k)
    token_model = _model(kind, rng, vocab=7)
    assert not token_model.input_grad  # tokens have no gradient; the embedding always trains

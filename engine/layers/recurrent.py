"""Recurrent layers: RNN (tanh), LSTM and GRU cells, and `Recurrent`, the unroller that runs a cell over time.

A cell stores its weights with the gates side by side, as PyTorch does (transposed):
`Wx` (D, G*H) for the input, `Wh` (H, G*H) for the previous hidden state, bias `b` (G*H).
Gate order: RNN (a); LSTM (i, f, o, g); GRU (r, z, n) with PyTorch's candidate
n = tanh(x Wxn + bn + r * (h Whn + bhn)), hence the extra bias `bhn` (H), and h' = (1 - z) * n + z * h
(z near 1 keeps the old state).

Initialisation: PyTorch's U(-1/sqrt(H), 1/sqrt(H)) for every weight; the LSTM forget-gate bias starts at
`forget_bias` (1 by default). With `chrono=T` (Tallec & Ollivier 2018, "chrono initialisation") the gates
that keep the state instead start at log(U(1, T-1)) per unit - LSTM forget bias b_f and input bias -b_f,
GRU update-gate bias - so the units' memory timescales spread up to the sequence length T.

Two ways to run a cell:
- `cell.forward(x_t, state)` / `cell.backward(dstate)`: one timestep, caches pushed on a stack and popped
  by backward (BPTT order), gradients accumulated with `+=`. The seq2seq decoder uses this, and the tests
  use it as the slow twin of the unroller.
- `Recurrent`: hands the whole sequence (T, N, D) to the cell's `scan` (in-place kernels, buffers
  allocated once per call, none per step) and `scan_backward` (the reverse loop, then every weight
  gradient with one GEMM over all timesteps).

Speed notes. Inside the loops gates are laid out gate-major, (G, N, H) per step and (T, G, N, H) per
sequence, so every elementwise operation runs over contiguous memory; one batched matmul per step
computes all gates. The RNN and the GRU project every timestep's input with one GEMM before the loop.
The LSTM instead keeps a row [x_t, h_{t-1}, 1] per step and multiplies it by the stacked weights
[Wx; Wh; b], the textbook gates = W [x; h] + b: one product per step gives the preactivations (no
sequence-wide projection to transpose and add), and in backward one product over all steps gives the
gradients of Wx, Wh and b together. The LSTM's preactivation gradients are written in the packed
(N, 4H) layout, so the gradient reaching h_{t-1} is a single product with Wh.T.
"""

from __future__ import annotations

import numpy as np

from .base import Layer

CELLS = ("rnn", "lstm", "gru")


def sigmoid_(a: np.ndarray) -> np.ndarray:
    """Logistic function in place, 1 / (1 + exp(-a)), computed as (1 + tanh(a / 2)) / 2.

    The same function, but nothing overflows, and NumPy's float32 tanh is faster than its exp.
    """
    a *= 0.5
    np.tanh(a, out=a)
    a += 1.0
    a *= 0.5
    return a


def gate_major(W: np.ndarray, gates: int) -> np.ndarray:
    """View a packed (R, G*H) weight (or (G*H,) bias as (1, G*H)) as (G, R, H), one block per gate."""
    W2 = W.reshape(-1, W.shape[-1])
    return W2.reshape(W2.shape[0], gates, -1).transpose(1, 0, 2)


def packed(a: np.ndarray) -> np.ndarray:
    """(..., G, N, H) gate-major values -> (... * N, G*H), the packed layout of the weights (a copy)."""
    *lead, G, N, H = a.shape
    order = (*range(len(lead)), len(lead) + 1, len(lead), len(lead) + 2)
    return a.transpose(order).reshape(-1, G * H)


# ---------------------------------------------------------------- step kernels (in place, shared)
# Forward kernels turn one step's preactivations (G, N, H) into gates in place. The LSTM's backward
# kernel works out its gates' derivatives itself, on data the forward left in (G, N, H) blocks. The
# GRU's takes them from `gru_backward_factors`, which works on one step (G, N, H) or on all steps
# (T, G, N, H): the unroller computes them for the whole sequence before the reverse loop.

def lstm_step_forward(a, c_prev, c, tc, h) -> None:
    """One LSTM step: preactivations `a` (4, N, H) become the gates (i, f, o, g) in place; writes c, tanh(c), h.

    i, f, o = sigmoid(a[:3]);  g = tanh(a[3]);  c = f * c_prev + i * g;  h = o * tanh(c)
    """
    sigmoid_(a[:3])
    i, f, o, g = a
    np.tanh(g, out=g)
    np.multiply(f, c_prev, out=c)
    np.multiply(i, g, out=tc)  # tc is scratch until it holds tanh(c)
    c += tc
    np.tanh(c, out=tc)
    np.multiply(o, tc, out=h)


def lstm_step_backward(dh, dc, gates, c_prev, tc, da, local, upstream, tmp) -> None:
    """Backward of one LSTM step into preactivation grads `da` (4, N, H) (a view of the packed layout).

    `dh` is the whole gradient reaching h_t; `dc` the gradient reaching c_t from step t+1, updated in
    place to the gradient reaching c_{t-1}:
        dc_t = dc + dh * o * (1 - tanh(c)^2)
        da_i = dc_t * g * i(1 - i)          da_f = dc_t * c_prev * f(1 - f)
        da_o = dh * tanh(c) * o(1 - o)      da_g = dc_t * i * (1 - g^2)
        dc_{t-1} = dc_t * f
    `local` (each gate's derivative w.r.t. its preactivation), `upstream` (4, N, H) and `tmp` (N, H)
    are scratch.
    """
    i, f, o, g = gates
    np.subtract(1.0, gates[:3], out=local[:3])
    local[:3] *= gates[:3]                 # sigmoid' = s(1 - s) for i, f, o
    np.multiply(g, g, out=local[3])
    np.subtract(1.0, local[3], out=local[3])  # tanh' = 1 - g^2
    np.multiply(tc, tc, out=tmp)
    np.subtract(1.0, tmp, out=tmp)
    tmp *= o
    tmp *= dh
    dc += tmp                              # dc_t
    np.multiply(dc, g, out=upstream[0])    # d i
    np.multiply(dc, c_prev, out=upstream[1])  # d f
    np.multiply(dh, tc, out=upstream[2])   # d o
    np.multiply(dc, i, out=upstream[3])    # d g
    np.multiply(upstream, local, out=da)
    dc *= f


def gru_step_forward(ax, ah, bhn, h_prev, h) -> None:
    """One GRU step. `ax` (3, N, H) = x Wx + b becomes gates (r, z, n) in place; `ah` (3, N, H) = h_prev Wh,
    its n block becomes hn = h_prev Whn + bhn (kept for backward). Writes h."""
    rz = ax[:2]
    rz += ah[:2]
    sigmoid_(rz)
    r, z, n = ax
    hn = ah[2]
    hn += bhn
    np.multiply(r, hn, out=h)  # h is scratch until the end
    n += h
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h)
    h *= z
    h += n


def gru_backward_factors(gates, hn, h_prev):
    """(Kr, Kz, Kn): d h'/d(preactivation) per gate, up to the incoming gradient:
    Kn = (1-z)(1-n^2), Kz = (h_prev - n) z(1-z), and Kr = hn r(1-r) (applied to dn, not dh)."""
    r, z, n = gates[..., 0, :, :], gates[..., 1, :, :], gates[..., 2, :, :]
    Kn = np.multiply(n, n)
    np.subtract(1.0, Kn, out=Kn)
    Kn *= 1.0 - z
    Kz = np.subtract(h_prev, n)
    Kz *= z
    Kz *= 1.0 - z
    Kr = np.subtract(1.0, r)
    Kr *= r
    Kr *= hn
    return Kr, Kz, Kn


def gru_step_backward(dh, gates, Kr, Kz, Kn, dax, dah) -> None:
    """Backward of one GRU step: writes input-side grads `dax` and hidden-side grads `dah` (3, N, H).

    The gradient reaching h_{t-1} is then dh * z + the gate-wise sum of dah @ Wh.T (the caller's GEMM).
    """
    dn = dax[2]
    np.multiply(dh, Kn, out=dn)
    np.multiply(dh, Kz, out=dax[1])
    np.multiply(dn, Kr, out=dax[0])
    dah[:2] = dax[:2]
    np.multiply(dn, gates[0], out=dah[2])


# ---------------------------------------------------------------- cells

class Cell(Layer):
    """Shared weights and the one-step API; subclasses define the gate math."""

    kind = ""
    gate_names: tuple[str, ...] = ()
    n_states = 1  # (h,) or (h, c)

    def __init__(self, in_features: int, hidden: int, *, rng: np.random.Generator, dtype=np.float32) -> None:
        super().__init__()
        self.in_features, self.hidden = in_features, hidden
        G = len(self.gate_names)
        # PyTorch's default: U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias
        k = 1.0 / np.sqrt(hidden)
        self.params = {
            "Wx": rng.uniform(-k, k, (in_features, G * hidden)).astype(dtype),
            "Wh": rng.uniform(-k, k, (hidden, G * hidden)).astype(dtype),
            "b": rng.uniform(-k, k, G * hidden).astype(dtype),
        }
        self.grads = {}
        self._stack: list[tuple] = []

    @property
    def n_gates(self) -> int:
        return len(self.gate_names)

    def _init_grads(self) -> None:
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def init_state(self, n: int) -> tuple[np.ndarray, ...]:
        """Zero state for a batch of n."""
        dtype = self.params["Wh"].dtype
        return tuple(np.zeros((n, self.hidden), dtype=dtype) for _ in range(self.n_states))

    def reset(self) -> None:
        """Forget cached steps (call before unrolling a new sequence step by step)."""
        self._stack.clear()

    def _hidden_weights(self) -> np.ndarray:
        """Wh as contiguous (G, H, H) blocks for the per-step batched matmul."""
        return np.ascontiguousarray(gate_major(self.params["Wh"], self.n_gates))

    def _project_inputs(self, xt: np.ndarray) -> np.ndarray:
        """Every timestep's input projection in one GEMM: xt (T, N, D) -> x Wx + b, gate-major (T, G, N, H)."""
        T, N, D = xt.shape
        p = self.params
        XW = xt.reshape(T * N, D) @ p["Wx"]
        XW += p["b"]
        return np.ascontiguousarray(XW.reshape(T, N, self.n_gates, self.hidden).transpose(0, 2, 1, 3))

    def _input_backward(self, xt: np.ndarray, dA: np.ndarray, input_grad: bool) -> np.ndarray | None:
        """Backward of `_project_inputs` from packed grads dA (T*N, G*H): fills Wx and b; dx (T, N, D) or None."""
        T, N, D = xt.shape
        np.matmul(xt.reshape(T * N, D).T, dA, out=self.grads["Wx"])
        np.sum(dA, axis=0, out=self.grads["b"])
        return (dA @ self.params["Wx"].T).reshape(T, N, D) if input_grad else None

    # one-step API ---------------------------------------------------------
    def forward(self, x, state=None, *, training=False):
        """One timestep: x (N, D), state tuple of (N, H) -> new state tuple. Caches for `backward`."""
        if state is None:
            state = self.init_state(len(x))
        p, G = self.params, self.n_gates
        a = np.matmul(x, gate_major(p["Wx"], G))  # (G, N, H)
        a += gate_major(p["b"], G)
        new_state, cache = self._step(a, state)
        self._stack.append((x, state, cache))
        return new_state

    def backward(self, dstate):
        """Undo the latest cached step: dstate tuple (None entries = zero) -> (dx, dstate_prev tuple)."""
        x, state, cache = self._stack.pop()
        dstate = tuple(np.zeros_like(s) if d is None else d for d, s in zip(dstate, state, strict=True))
        dax, dah, dstate_prev = self._step_backward(dstate, state, cache)
        dax, dah = packed(dax), packed(dah)  # (N, G*H)
        p, gr = self.params, self.grads
        gr["Wx"] += x.T @ dax
        gr["b"] += dax.sum(axis=0)
        gr["Wh"] += state[0].T @ dah
        dh_prev = dah @ p["Wh"].T
        dh_prev += dstate_prev[0]
        return dax @ p["Wx"].T, (dh_prev, *dstate_prev[1:])

    @staticmethod
    def _initial_grad(d, like):
        """The gradient reaching the final state as a fresh array the reverse loop may overwrite."""
        return np.zeros_like(like) if d is None else np.array(d, dtype=like.dtype)


class RNNCell(Cell):
    """Vanilla RNN: h' = tanh(x Wx + h Wh + b)."""

    kind, gate_names = "rnn", ("a",)

    def __init__(self, in_features, hidden, *, rng, dtype=np.float32, forget_bias: float = 0.0, chrono: int = 0):
        super().__init__(in_features, hidden, rng=rng, dtype=dtype)
        self._init_grads()

    def _step(self, a, state):
        h = a[0]
        h += state[0] @ self.params["Wh"]
        np.tanh(h, out=h)
        return (h,), h

    def _step_backward(self, dstate, state, h):
        da = (dstate[0] * (1.0 - h * h))[None]
        return da, da, (np.zeros_like(state[0]),)

    def scan(self, xt, h0):
        """Run over time: xt (T, N, D). Returns Hbuf (T+1, N, H) with Hbuf[0] = h0, and {} (no gates)."""
        A = self._project_inputs(xt)  # (T, 1, N, H)
        T, _, N, H = A.shape
        Wh = self.params["Wh"]
        Hbuf = np.empty((T + 1, N, H), dtype=A.dtype)
        Hbuf[0] = h0
        tmp = np.empty((N, H), dtype=A.dtype)
        for t in range(T):
            np.matmul(Hbuf[t], Wh, out=tmp)
            tmp += A[t, 0]
            np.tanh(tmp, out=Hbuf[t + 1])
        self._scan = (xt, Hbuf)
        return Hbuf, {}

    def scan_backward(self, dHs, dstate, input_grad):
        """BPTT. dHs (T, N, H) view of the output gradient (or None); dstate the gradient reaching the final
        state. Fills every grad; returns dx (T, N, D) (None without `input_grad`) and the gradient
        reaching the initial state."""
        xt, Hbuf = self._scan
        T, N, H = Hbuf.shape[0] - 1, Hbuf.shape[1], Hbuf.shape[2]
        WhT = self.params["Wh"].T
        dA = np.multiply(Hbuf[1:], Hbuf[1:])  # becomes 1 - h^2 for all steps, then the gradient
        np.subtract(1.0, dA, out=dA)
        dh = self._initial_grad(dstate[0], Hbuf[0])
        for t in range(T - 1, -1, -1):
            if dHs is not None:
                dh += dHs[t]
            dA[t] *= dh
            np.matmul(dA[t], WhT, out=dh)
        dA = dA.reshape(T * N, H)
        np.matmul(Hbuf[:-1].reshape(T * N, H).T, dA, out=self.grads["Wh"])
        return self._input_backward(xt, dA, input_grad), (dh,)


class LSTMCell(Cell):
    """LSTM with gates (i, f, o, g); `forget_bias` initialises the forget gate's bias (1 helps memory)."""

    kind, gate_names, n_states = "lstm", ("i", "f", "o", "g"), 2

    def __init__(self, in_features, hidden, *, rng, dtype=np.float32, forget_bias: float = 1.0, chrono: int = 0):
        super().__init__(in_features, hidden, rng=rng, dtype=dtype)
        b = self.params["b"]
        if chrono > 2:
            b[hidden:2 * hidden] = chrono_bias(rng, hidden, chrono)
            b[:hidden] = -b[hidden:2 * hidden]
        else:
            b[hidden:2 * hidden] = forget_bias
        self._init_grads()

    def _step(self, a, state):
        h_prev, c_prev = state
        a += np.matmul(h_prev, gate_major(self.params["Wh"], 4))
        c, tc, h = (np.empty_like(c_prev) for _ in range(3))
        lstm_step_forward(a, c_prev, c, tc, h)
        return (h, c), (a, tc)

    def _step_backward(self, dstate, state, cache):
        gates, tc = cache
        dh, dc = dstate[0], dstate[1].copy()
        da, local, upstream = (np.empty_like(gates) for _ in range(3))
        lstm_step_backward(dh, dc, gates, state[1], tc, da, local, upstream, np.empty_like(dh))
        return da, da, (np.zeros_like(dh), dc)

    def _stacked_weights(self) -> np.ndarray:
        """[Wx; Wh; b] as contiguous (4, D+H+1, H) gate blocks: row [x_t, h_{t-1}, 1] times this = preactivations."""
        p = self.params
        return np.ascontiguousarray(gate_major(np.concatenate([p["Wx"], p["Wh"], p["b"][None]]), 4))

    def scan(self, xt, h0, c0):
        """Run over time: xt (T, N, D). Returns Hbuf (T+1, N, H) with Hbuf[0] = h0, the gates and the cells."""
        T, N, D = xt.shape
        H = self.hidden
        W = self._stacked_weights()
        Z = np.empty((T + 1, N, D + H + 1), dtype=W.dtype)  # row t: [x_t, h_{t-1}, 1]
        Z[:T, :, :D] = xt
        Z[T] = 0  # the last row only carries h_T
        Z[:, :, D + H] = 1
        Hbuf = Z[:, :, D:D + H]  # (T+1, N, H) view: each step writes h_t into the next step's row
        Hbuf[0] = h0
        Cbuf = np.empty((T + 1, N, H), dtype=W.dtype)
        Cbuf[0] = c0
        TC = np.empty((T, N, H), dtype=W.dtype)
        A = np.empty((T, 4, N, H), dtype=W.dtype)
        for t in range(T):
            np.matmul(Z[t], W, out=A[t])
            lstm_step_forward(A[t], Cbuf[t], Cbuf[t + 1], TC[t], Hbuf[t + 1])
        self._scan = (Z, A, Cbuf, TC)
        return Hbuf, {"A": A, "c": Cbuf}

    def scan_backward(self, dHs, dstate, input_grad):
        """BPTT, as `RNNCell.scan_backward`; dstate is (dh, dc) for the final state."""
        Z, A, Cbuf, TC = self._scan
        T, G, N, H = A.shape
        D = Z.shape[2] - H - 1
        WhT = np.ascontiguousarray(self.params["Wh"].T)  # (4H, H)
        dA = np.empty((T, N, G * H), dtype=A.dtype)  # packed like the weights
        local, upstream = np.empty((2, G, N, H), dtype=A.dtype)
        tmp = np.empty((N, H), dtype=A.dtype)
        dh = self._initial_grad(dstate[0], Cbuf[0])
        dc = self._initial_grad(dstate[1], Cbuf[0])
        for t in range(T - 1, -1, -1):
            if dHs is not None:
                dh += dHs[t]
            da = dA[t].reshape(N, G, H).transpose(1, 0, 2)  # (4, N, H) view of the packed row
            lstm_step_backward(dh, dc, A[t], Cbuf[t], TC[t], da, local, upstream, tmp)
            np.matmul(dA[t], WhT, out=dh)  # the gradient reaching h_{t-1}, all gates summed
        dA = dA.reshape(T * N, G * H)
        dW = Z[:T].reshape(T * N, D + H + 1).T @ dA  # [dWx; dWh; db] in one product
        gr = self.grads
        gr["Wx"][...], gr["Wh"][...], gr["b"][...] = dW[:D], dW[D:D + H], dW[D + H]
        dx = (dA @ self.params["Wx"].T).reshape(T, N, D) if input_grad else None
        return dx, (dh, dc)


class GRUCell(Cell):
    """GRU with gates (r, z, n), PyTorch's formulation (reset applied after the hidden projection)."""

    kind, gate_names = "gru", ("r", "z", "n")

    def __init__(self, in_features, hidden, *, rng, dtype=np.float32, forget_bias: float = 0.0, chrono: int = 0):
        super().__init__(in_features, hidden, rng=rng, dtype=dtype)
        k = 1.0 / np.sqrt(hidden)
        self.params["bhn"] = rng.uniform(-k, k, hidden).astype(dtype)
        if chrono > 2:
            self.params["b"][hidden:2 * hidden] = chrono_bias(rng, hidden, chrono)
        self._init_grads()

    def _step(self, ax, state):
        h_prev = state[0]
        ah = np.matmul(h_prev, gate_major(self.params["Wh"], 3))
        h = np.empty_like(h_prev)
        gru_step_forward(ax, ah, self.params["bhn"], h_prev, h)
        return (h,), (ax, ah)

    def _step_backward(self, dstate, state, cache):
        gates, ah = cache
        dh = dstate[0]
        dax, dah = np.empty_like(gates), np.empty_like(gates)
        Kr, Kz, Kn = gru_backward_factors(gates, ah[2], state[0])
        gru_step_backward(dh, gates, Kr, Kz, Kn, dax, dah)
        self.grads["bhn"] += dah[2].sum(axis=0)
        return dax, dah, (dh * gates[1],)

    def scan(self, xt, h0):
        """Run over time: xt (T, N, D). Returns Hbuf (T+1, N, H) with Hbuf[0] = h0, and the gates."""
        A = self._project_inputs(xt)  # (T, 3, N, H), turned into gates in place
        T, G, N, H = A.shape
        Wh, bhn = self._hidden_weights(), self.params["bhn"]
        Hbuf = np.empty((T + 1, N, H), dtype=A.dtype)
        AH = np.empty_like(A)
        Hbuf[0] = h0
        for t in range(T):
            np.matmul(Hbuf[t], Wh, out=AH[t])
            gru_step_forward(A[t], AH[t], bhn, Hbuf[t], Hbuf[t + 1])
        self._scan = (xt, A, AH, Hbuf)
        return Hbuf, {"A": A}

    def scan_backward(self, dHs, dstate, input_grad):
        """BPTT, as `RNNCell.scan_backward`."""
        xt, A, AH, Hbuf = self._scan
        T, G, N, H = A.shape
        WhT = np.ascontiguousarray(self._hidden_weights().transpose(0, 2, 1))  # contiguous: batched matmul is slow on a transposed view
        Kr, Kz, Kn = gru_backward_factors(A, AH[:, 2], Hbuf[:-1])  # every step at once
        dA, dAH = np.empty_like(A), np.empty_like(A)
        tmpG, tmp = np.empty((G, N, H), dtype=A.dtype), np.empty((N, H), dtype=A.dtype)
        dh = self._initial_grad(dstate[0], Hbuf[0])
        for t in range(T - 1, -1, -1):
            if dHs is not None:
                dh += dHs[t]
            gru_step_backward(dh, A[t], Kr[t], Kz[t], Kn[t], dA[t], dAH[t])
            dh *= A[t, 1]
            np.matmul(dAH[t], WhT, out=tmpG)
            dh += np.sum(tmpG, axis=0, out=tmp)
        np.matmul(Hbuf[:-1].reshape(T * N, H).T, packed(dAH), out=self.grads["Wh"])
        np.sum(dAH[:, 2], axis=(0, 1), out=self.grads["bhn"])
        return self._input_backward(xt, packed(dA), input_grad), (dh,)


CELL_CLASSES = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}


def chrono_bias(rng: np.random.Generator, hidden: int, max_len: int) -> np.ndarray:
    """Chrono initialisation: log(U(1, max_len - 1)) per unit, a keep-gate bias whose timescale
    1 / (1 - sigmoid(b)) ~ U(1, max_len - 1) steps."""
    return np.log(rng.uniform(1.0, max_len - 1.0, hidden))


def make_cell(kind: str, in_features: int, hidden: int, *, rng: np.random.Generator, dtype=np.float32,
              forget_bias: float = 1.0, chrono: int = 0) -> Cell:
    """Build an RNN, LSTM or GRU cell by name (`forget_bias` and `chrono`: see the module docstring)."""
    try:
        cls = CELL_CLASSES[kind]
    except KeyError:
        raise ValueError(f"unknown cell {kind!r}: choose one of {', '.join(CELLS)}") from None
    return cls(in_features, hidden, rng=rng, dtype=dtype, forget_bias=forget_bias, chrono=chrono)


# ---------------------------------------------------------------- unroller

class Recurrent(Layer):
    """Unroll a cell over a sequence: x (N, T, D) -> hidden states (N, T, H); BPTT in `backward`.

    After a forward pass, `last_hidden_states` (N, T, H), `last_gates` {name: (N, T, H)} and `last_state`
    (the final state tuple, (h, c) for an LSTM) are available for inspection. With `input_grad = False`
    (the trainer's setting for a model's first layer) backward skips dx and returns None.
    """

    input_grad = True

    def __init__(self, cell: str, in_features: int, hidden: int, *, rng: np.random.Generator, dtype=np.float32,
                 forget_bias: float = 1.0, chrono: int = 0) -> None:
        super().__init__()
        self.cell = make_cell(cell, in_features, hidden, rng=rng, dtype=dtype, forget_bias=forget_bias,
                              chrono=chrono)
        self.kind, self.in_features, self.hidden = cell, in_features, hidden
        self.params, self.grads = self.cell.params, self.cell.grads
        self._out: dict | None = None

    def forward(self, x, *, training=False, state=None):
        """x (N, T, D); `state` an optional initial state tuple. Returns (N, T, H)."""
        xt = np.ascontiguousarray(x.transpose(1, 0, 2), dtype=self.params["Wx"].dtype)  # (T, N, D)
        state = self.cell.init_state(len(x)) if state is None else state
        Hbuf, extra = self.cell.scan(xt, *state)
        self._out = {"H": Hbuf, **extra}
        return Hbuf[1:].transpose(1, 0, 2)

    def backward(self, dout, dstate=None):
        """dout (N, T, H) or None (only the final state gets gradient); dstate: gradient into the final
        state tuple (entries may be None). Returns dx (N, T, D); `dstate0` holds the initial state's grad."""
        dHs = None if dout is None else dout.transpose(1, 0, 2)  # (T, N, H) view
        dstate = tuple(dstate or ())
        dstate += (None,) * (self.cell.n_states - len(dstate))
        dx, self.dstate0 = self.cell.scan_backward(dHs, dstate, self.input_grad)  # dx (T, N, D) or None
        return None if dx is None else dx.transpose(1, 0, 2)

    @property
    def last_state(self) -> tuple[np.ndarray, ...]:
        """The final state after the last forward: (h,) or (h, c), each (N, H)."""
        out = self._out
        return (out["H"][-1], out["c"][-1]) if "c" in out else (out["H"][-1],)

    @property
    def last_hidden_states(self) -> np.ndarray:
        """(N, T, H) hidden states of the last forward pass."""
        return self._out["H"][1:].transpose(1, 0, 2)

    @property
    def last_cell_states(self) -> np.ndarray | None:
        """(N, T, H) LSTM cell states of the last forward pass (None for RNN and GRU)."""
        return self._out["c"][1:].transpose(1, 0, 2) if "c" in self._out else None

    @property
    def last_gates(self) -> dict[str, np.ndarray]:
        """Gate activations of the last forward pass, name -> (N, T, H); {} for the vanilla RNN."""
        if self.kind == "rnn":
            return {}
        A = self._out["A"]
        return {name: A[:, k].transpose(1, 0, 2) for k, name in enumerate(self.cell.gate_names)}

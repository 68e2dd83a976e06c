"""Recurrent layers: RNN (tanh), LSTM and GRU cells, and `Recurrent`, the unroller that runs a cell over time.

A cell holds one set of weights with every gate side by side, so one GEMM computes all gates:
`Wx` (D, G*H) for the input, `Wh` (H, G*H) for the previous hidden state, bias `b` (G*H).
Gate order: RNN (a), LSTM (i, f, o, g): the three sigmoids first, so they are one slice; GRU (r, z, n)
with PyTorch's candidate n = tanh(x Wxn + bn + r * (h Whn + bhn)), hence the extra bias `bhn` (H), and
h' = (1 - z) * n + z * h (z near 1 keeps the old state).

Initialisation: PyTorch's U(-1/sqrt(H), 1/sqrt(H)) for every weight; the LSTM forget-gate bias starts at
`forget_bias` (1 by default). With `chrono=T` (Tallec & Ollivier 2018, "chrono initialisation") the gates
that keep the state instead start at log(U(1, T-1)) per unit - LSTM forget bias b_f and input bias -b_f,
GRU update-gate bias - so the units' memory timescales spread up to the sequence length T.

Two ways to run a cell:
- `cell.forward(x_t, state)` / `cell.backward(dstate)`: one timestep, caches pushed on a stack and popped
  by backward (BPTT order), gradients accumulated with `+=`. The seq2seq decoder uses this.
- `Recurrent`: projects the input of every timestep with one GEMM before the loop, runs the cell's
  `scan` (in-place kernels, buffers allocated once per call, none per step), and in backward computes
  the weight gradients with one GEMM each after the reverse loop.
"""

from __future__ import annotations

import numpy as np

from .base import Layer

CELLS = ("rnn", "lstm", "gru")


def sigmoid_(a: np.ndarray) -> np.ndarray:
    """Logistic function in place via tanh: stable for any input, no temporaries."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def _sigmoid_grad_(da: np.ndarray, s: np.ndarray, work: np.ndarray) -> None:
    """da *= s * (1 - s) in place (s = sigmoid output); `work` is scratch of da's shape."""
    np.subtract(1.0, s, out=work)
    da *= s
    da *= work


def _tanh_grad_(da: np.ndarray, y: np.ndarray, work: np.ndarray) -> None:
    """da *= 1 - y^2 in place (y = tanh output)."""
    np.multiply(y, y, out=work)
    np.subtract(1.0, work, out=work)
    da *= work


# ---------------------------------------------------------------- step kernels (in place, shared)

def lstm_step_forward(a, c_prev, c, tc, h) -> None:
    """One LSTM step: preactivations `a` (N, 4H) become gates (i, f, o, g) in place; writes c, tanh(c), h."""
    H = c.shape[-1]
    sigmoid_(a[:, :3 * H])
    np.tanh(a[:, 3 * H:], out=a[:, 3 * H:])
    i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
    np.multiply(f, c_prev, out=c)
    np.multiply(i, g, out=tc)  # tc is scratch until it holds tanh(c)
    c += tc
    np.tanh(c, out=tc)
    np.multiply(o, tc, out=h)


def lstm_step_backward(dh, dc, gates, c_prev, tc, da, work) -> None:
    """Backward of one LSTM step into preactivation grads `da` (N, 4H).

    `dh` is the whole gradient reaching h_t; `dc` the gradient reaching c_t from step t+1, updated in
    place to the gradient reaching c_{t-1}. `work` is (N, 4H) scratch.
    """
    H = dh.shape[-1]
    i, f, o, g = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    di, df, do, dg = da[:, :H], da[:, H:2 * H], da[:, 2 * H:3 * H], da[:, 3 * H:]
    np.multiply(dh, tc, out=do)
    np.multiply(dh, o, out=dg)  # dg is scratch: dh * o * (1 - tanh(c)^2) flows into c
    _tanh_grad_(dg, tc, work[:, :H])
    dc += dg
    np.multiply(dc, g, out=di)
    np.multiply(dc, c_prev, out=df)
    np.multiply(dc, i, out=dg)
    dc *= f
    _sigmoid_grad_(da[:, :3 * H], gates[:, :3 * H], work[:, :3 * H])
    _tanh_grad_(dg, g, work[:, 3 * H:])


def gru_step_forward(ax, ah, bhn, h_prev, h) -> None:
    """One GRU step. `ax` (N, 3H) = x Wx + b becomes gates (r, z, n) in place; `ah` (N, 3H) = h_prev Wh,
    its n slice becomes hn = h_prev Whn + bhn (kept for backward). Writes h."""
    H = h.shape[-1]
    ax[:, :2 * H] += ah[:, :2 * H]
    sigmoid_(ax[:, :2 * H])
    r, z, n = ax[:, :H], ax[:, H:2 * H], ax[:, 2 * H:]
    hn = ah[:, 2 * H:]
    hn += bhn
    np.multiply(r, hn, out=h)  # h is scratch until the end
    n += h
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h)
    h *= z
    h += n


def gru_step_backward(dh, gates, hn, h_prev, dax, dah, work) -> None:
    """Backward of one GRU step: writes input-side grads `dax` and hidden-side grads `dah` (N, 3H).

    The gradient reaching h_{t-1} is then dh * z + dah @ Wh.T (the caller's GEMM).
    """
    H = dh.shape[-1]
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    dr, dz, dn = dax[:, :H], dax[:, H:2 * H], dax[:, 2 * H:]
    np.subtract(1.0, z, out=dn)
    dn *= dh
    _tanh_grad_(dn, n, work[:, :H])
    np.subtract(h_prev, n, out=dz)
    dz *= dh
    np.multiply(dn, hn, out=dr)
    _sigmoid_grad_(dax[:, :2 * H], gates[:, :2 * H], work[:, :2 * H])
    dah[:, :2 * H] = dax[:, :2 * H]
    np.multiply(dn, r, out=dah[:, 2 * H:])


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

    def _init_grads(self) -> None:
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def init_state(self, n: int) -> tuple[np.ndarray, ...]:
        """Zero state for a batch of n."""
        dtype = self.params["Wh"].dtype
        return tuple(np.zeros((n, self.hidden), dtype=dtype) for _ in range(self.n_states))

    def reset(self) -> None:
        """Forget cached steps (call before unrolling a new sequence step by step)."""
        self._stack.clear()

    # one-step API ---------------------------------------------------------
    def forward(self, x, state=None, *, training=False):
        """One timestep: x (N, D), state tuple of (N, H) -> new state tuple. Caches for `backward`."""
        if state is None:
            state = self.init_state(len(x))
        p = self.params
        a = x @ p["Wx"]
        a += p["b"]
        new_state, cache = self._step(a, state)
        self._stack.append((x, state, cache))
        return new_state

    def backward(self, dstate):
        """Undo the latest cached step: dstate tuple (None entries = zero) -> (dx, dstate_prev tuple)."""
        x, state, cache = self._stack.pop()
        dstate = tuple(np.zeros_like(s) if d is None else d for d, s in zip(dstate, state, strict=True))
        dax, dah, dstate_prev = self._step_backward(dstate, state, cache)
        p, gr = self.params, self.grads
        gr["Wx"] += x.T @ dax
        gr["b"] += dax.sum(axis=0)
        gr["Wh"] += state[0].T @ dah
        dh_prev = dah @ p["Wh"].T
        dh_prev += dstate_prev[0]
        return dax @ p["Wx"].T, (dh_prev, *dstate_prev[1:])


class RNNCell(Cell):
    """Vanilla RNN: h' = tanh(x Wx + h Wh + b)."""

    kind, gate_names = "rnn", ("a",)

    def __init__(self, in_features, hidden, *, rng, dtype=np.float32, forget_bias: float = 0.0, chrono: int = 0):
        super().__init__(in_features, hidden, rng=rng, dtype=dtype)
        self._init_grads()

    def _step(self, a, state):
        a += state[0] @ self.params["Wh"]
        np.tanh(a, out=a)
        return (a,), a

    def _step_backward(self, dstate, state, h):
        da = dstate[0] * (1.0 - h * h)
        return da, da, (np.zeros_like(state[0]),)

    def scan(self, A, h0):
        """Run over time. A (T, N, H) = X Wx + b, overwritten with h_t. Returns Hbuf (T+1, N, H)."""
        T, N, H = A.shape
        Wh = self.params["Wh"]
        Hbuf = np.empty((T + 1, N, H), dtype=A.dtype)
        Hbuf[0] = h0
        tmp = np.empty((N, H), dtype=A.dtype)
        for t in range(T):
            np.matmul(Hbuf[t], Wh, out=tmp)
            tmp += A[t]
            np.tanh(tmp, out=Hbuf[t + 1])
        self._scan = (Hbuf,)
        return Hbuf, {}

    def scan_backward(self, dHs, dstate):
        """BPTT. dHs (T, N, H) view of the output gradient (or None); returns dA (T, N, H), dstate_0."""
        (Hbuf,) = self._scan
        T, N, H = Hbuf.shape[0] - 1, Hbuf.shape[1], Hbuf.shape[2]
        WhT = self.params["Wh"].T
        dA = np.empty((T, N, H), dtype=Hbuf.dtype)
        dh = np.zeros((N, H), dtype=Hbuf.dtype) if dstate[0] is None else dstate[0].astype(Hbuf.dtype)
        work = np.empty((N, H), dtype=Hbuf.dtype)
        for t in range(T - 1, -1, -1):
            if dHs is not None:
                dh += dHs[t]
            np.copyto(dA[t], dh)
            _tanh_grad_(dA[t], Hbuf[t + 1], work)
            np.matmul(dA[t], WhT, out=dh)
        np.matmul(Hbuf[:-1].reshape(T * N, H).T, dA.reshape(T * N, H), out=self.grads["Wh"])
        return dA, (dh,)


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
        a += h_prev @ self.params["Wh"]
        c, tc, h = (np.empty_like(c_prev) for _ in range(3))
        lstm_step_forward(a, c_prev, c, tc, h)
        return (h, c), (a, tc)

    def _step_backward(self, dstate, state, cache):
        gates, tc = cache
        dh, dc = dstate[0], dstate[1].copy()
        da = np.empty_like(gates)
        lstm_step_backward(dh, dc, gates, state[1], tc, da, np.empty_like(gates))
        return da, da, (np.zeros_like(dh), dc)

    def scan(self, A, h0, c0):
        """Run over time. A (T, N, 4H) = X Wx + b, turned into gates in place."""
        T, N, G = A.shape
        H = G // 4
        Wh = self.params["Wh"]
        Hbuf = np.empty((T + 1, N, H), dtype=A.dtype)
        Cbuf = np.empty((T + 1, N, H), dtype=A.dtype)
        TC = np.empty((T, N, H), dtype=A.dtype)
        Hbuf[0], Cbuf[0] = h0, c0
        tmp = np.empty((N, G), dtype=A.dtype)
        for t in range(T):
            np.matmul(Hbuf[t], Wh, out=tmp)
            A[t] += tmp
            lstm_step_forward(A[t], Cbuf[t], Cbuf[t + 1], TC[t], Hbuf[t + 1])
        self._scan = (A, Hbuf, Cbuf, TC)
        return Hbuf, {"c": Cbuf}

    def scan_backward(self, dHs, dstate):
        A, Hbuf, Cbuf, TC = self._scan
        T, N, G = A.shape
        H = G // 4
        WhT = self.params["Wh"].T
        dA = np.empty_like(A)
        work = np.empty((N, G), dtype=A.dtype)
        dh = np.zeros((N, H), dtype=A.dtype) if dstate[0] is None else dstate[0].astype(A.dtype)
        dc = np.zeros((N, H), dtype=A.dtype) if dstate[1] is None else dstate[1].astype(A.dtype)
        for t in range(T - 1, -1, -1):
            if dHs is not None:
                dh += dHs[t]
            lstm_step_backward(dh, dc, A[t], Cbuf[t], TC[t], dA[t], work)
            np.matmul(dA[t], WhT, out=dh)
        np.matmul(Hbuf[:-1].reshape(T * N, H).T, dA.reshape(T * N, G), out=self.grads["Wh"])
        return dA, (dh, dc)


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
        ah = h_prev @ self.params["Wh"]
        h = np.empty_like(h_prev)
        gru_step_forward(ax, ah, self.params["bhn"], h_prev, h)
        return (h,), (ax, ah)

    def _step_backward(self, dstate, state, cache):
        gates, ah = cache
        H = self.hidden
        dh = dstate[0]
        dax, dah = np.empty_like(gates), np.empty_like(gates)
        gru_step_backward(dh, gates, ah[:, 2 * H:], state[0], dax, dah, np.empty_like(gates))
        self.grads["bhn"] += dah[:, 2 * H:].sum(axis=0)
        return dax, dah, (dh * gates[:, H:2 * H],)

    def scan(self, A, h0):
        """Run over time. A (T, N, 3H) = X Wx + b, turned into gates in place."""
        T, N, G = A.shape
        H = G // 3
        p = self.params
        Hbuf = np.empty((T + 1, N, H), dtype=A.dtype)
        AH = np.empty_like(A)
        Hbuf[0] = h0
        for t in range(T):
            np.matmul(Hbuf[t], p["Wh"], out=AH[t])
            gru_step_forward(A[t], AH[t], p["bhn"], Hbuf[t], Hbuf[t + 1])
        self._scan = (A, AH, Hbuf)
        return Hbuf, {}

    def scan_backward(self, dHs, dstate):
        A, AH, Hbuf = self._scan
        T, N, G = A.shape
        H = G // 3
        WhT = self.params["Wh"].T
        dA, dAH = np.empty_like(A), np.empty_like(A)
        work, tmp = np.empty((N, G), dtype=A.dtype), np.empty((N, H), dtype=A.dtype)
        dh = np.zeros((N, H), dtype=A.dtype) if dstate[0] is None else dstate[0].astype(A.dtype)
        for t in range(T - 1, -1, -1):
            if dHs is not None:
                dh += dHs[t]
            gru_step_backward(dh, A[t], AH[t, :, 2 * H:], Hbuf[t], dA[t], dAH[t], work)
            dh *= A[t, :, H:2 * H]
            dh += np.matmul(dAH[t], WhT, out=tmp)
        np.matmul(Hbuf[:-1].reshape(T * N, H).T, dAH.reshape(T * N, G), out=self.grads["Wh"])
        np.sum(dAH[:, :, 2 * H:], axis=(0, 1), out=self.grads["bhn"])
        return dA, (dh,)


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
    (the final state tuple, (h, c) for an LSTM) are available for inspection.
    """

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
        p = self.params
        N, T, D = x.shape
        xt = np.ascontiguousarray(x.transpose(1, 0, 2), dtype=p["Wx"].dtype)  # (T, N, D)
        A = (xt.reshape(T * N, D) @ p["Wx"]).reshape(T, N, -1)  # every timestep's input projection at once
        A += p["b"]
        state = self.cell.init_state(N) if state is None else state
        Hbuf, extra = self.cell.scan(A, *state)
        self._xt = xt
        self._out = {"H": Hbuf, "A": A, **extra}
        return Hbuf[1:].transpose(1, 0, 2)

    def backward(self, dout, dstate=None):
        """dout (N, T, H) or None (only the final state gets gradient); dstate: gradient into the final
        state tuple (entries may be None). Returns dx (N, T, D); `dstate0` holds the initial state's grad."""
        T, N, D = self._xt.shape
        dHs = None if dout is None else dout.transpose(1, 0, 2)  # (T, N, H) view
        dstate = tuple(dstate or ())
        dstate += (None,) * (self.cell.n_states - len(dstate))
        dA, self.dstate0 = self.cell.scan_backward(dHs, dstate)
        dA2 = dA.reshape(T * N, -1)
        np.matmul(self._xt.reshape(T * N, D).T, dA2, out=self.grads["Wx"])
        np.sum(dA2, axis=0, out=self.grads["b"])
        return (dA2 @ self.params["Wx"].T).reshape(T, N, D).transpose(1, 0, 2)

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
        A, H = self._out["A"], self.hidden
        return {name: A[:, :, k * H:(k + 1) * H].transpose(1, 0, 2)
                for k, name in enumerate(self.cell.gate_names)}

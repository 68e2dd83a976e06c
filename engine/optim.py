"""Optimizers update parameters in place; per-parameter state is keyed by the dotted name.

L2 penalty (`l2`, added to the gradient before the update) and decoupled weight decay
(`weight_decay`, shrinking the weights before each update, AdamW-style, for every optimizer) are
distinct knobs. Both skip biases and normalisation scales/shifts (see `decays`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

Named = Iterable[tuple[str, np.ndarray]]

NO_DECAY_SUFFIXES = (".b", ".gamma", ".beta", "bias")


def decays(name: str) -> bool:
    """True for weights that regularisation applies to (not biases or norm parameters)."""
    return not (name.endswith(NO_DECAY_SUFFIXES) or name in ("b", "gamma", "beta"))


def clip_global_norm(grads: list[np.ndarray], max_norm: float) -> float:
    """Scale every gradient in place so their joint L2 norm is at most `max_norm`; return the norm."""
    total = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads)))
    if max_norm > 0 and total > max_norm:
        scale = max_norm / (total + 1e-12)
        for g in grads:
            g *= scale
    return total


class Optimizer:
    """Base: subclasses implement `_update(name, p, g, lr)`; `step` handles l2 and weight decay."""

    scratch_slots: tuple[str, ...] = ()  # slots overwritten before every read: not state

    def __init__(self, lr: float, *, l2: float = 0.0, weight_decay: float = 0.0) -> None:
        self.lr = lr
        self.l2 = l2
        self.weight_decay = weight_decay
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def step(self, named_params: Named, named_grads: Named) -> None:
        lr = self.lr
        for (name, p), (gname, g) in zip(named_params, named_grads, strict=True):
            assert name == gname, (name, gname)
            if self.l2 and decays(name):
                g = g + self.l2 * p
            if self.weight_decay and decays(name):
                p *= 1.0 - lr * self.weight_decay
            self._update(name, p, g, lr)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        raise NotImplementedError

    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(scalars, arrays) that let a fresh optimizer of this class continue exactly: arrays are copies
        of the per-parameter slots, keyed `<dotted name>/<slot>`; scratch space is left out. The learning
        rate is not state: the trainer sets it from the schedule every epoch."""
        scalars = {"type": type(self).__name__}
        arrays = {f"{name}/{key}": a.copy() for name, slots in self.state.items()
                  for key, a in slots.items() if key not in self.scratch_slots}
        return scalars, arrays

    def set_state(self, scalars: dict, arrays: dict[str, np.ndarray]) -> None:
        """Replace the per-parameter state with `arrays` (as `get_state` returns them), copying them in."""
        if scalars.get("type") != type(self).__name__:
            raise ValueError(f"optimizer state is for {scalars.get('type')}, this optimizer is {type(self).__name__}")
        self.state = {}
        for key, a in arrays.items():
            name, slot = key.rsplit("/", 1)
            self.state.setdefault(name, {})[slot] = a.copy()
        for slots in self.state.values():
            like = next(iter(slots.values()))
            for slot in self.scratch_slots:
                slots[slot] = np.empty_like(like)

    def _slot(self, name: str, key: str, like: np.ndarray) -> np.ndarray:
        st = self.state.setdefault(name, {})
        if key not in st:
            st[key] = np.zeros_like(like)
        return st[key]


class SGD(Optimizer):
    def _update(self, name, p, g, lr):
        p -= lr * g


class Momentum(Optimizer):
    """Heavy-ball momentum v = mu v + g; p -= lr v. With `nesterov`, p -= lr (g + mu v)."""

    def __init__(self, lr, *, momentum: float = 0.9, nesterov: bool = False, **kw) -> None:
        super().__init__(lr, **kw)
        self.momentum, self.nesterov = momentum, nesterov

    def _update(self, name, p, g, lr):
        v = self._slot(name, "v", p)
        v *= self.momentum
        v += g
        if self.nesterov:
            p -= lr * (g + self.momentum * v)
        else:
            p -= lr * v


class AdaGrad(Optimizer):
    def __init__(self, lr, *, eps: float = 1e-10, **kw) -> None:
        super().__init__(lr, **kw)
        self.eps = eps

    def _update(self, name, p, g, lr):
        s = self._slot(name, "sum_sq", p)
        s += g * g
        p -= lr * g / (np.sqrt(s) + self.eps)


class RMSProp(Optimizer):
    def __init__(self, lr, *, alpha: float = 0.99, eps: float = 1e-8, **kw) -> None:
        super().__init__(lr, **kw)
        self.alpha, self.eps = alpha, eps

    def _update(self, name, p, g, lr):
        s = self._slot(name, "sq", p)
        s *= self.alpha
        s += (1 - self.alpha) * g * g
        p -= lr * g / (np.sqrt(s) + self.eps)


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba); AdamW is Adam with decoupled `weight_decay`.

    For speed the state keeps unscaled sums, M = b1 M + g and V = b2 V + g^2 (so the textbook
    m = (1 - b1) M and v = (1 - b2) V), and one scratch array per parameter: an update is ten
    in-place passes over memory with no temporaries. Algebraically identical to PyTorch's Adam.
    """

    scratch_slots = ("scratch",)

    def __init__(self, lr, *, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, **kw) -> None:
        super().__init__(lr, **kw)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t: dict[str, int] = {}

    def get_state(self):
        scalars, arrays = super().get_state()
        return {**scalars, "t": dict(self.t)}, arrays

    def set_state(self, scalars, arrays):
        super().set_state(scalars, arrays)
        self.t = {name: int(t) for name, t in scalars["t"].items()}

    def _update(self, name, p, g, lr):
        st = self.state.get(name)
        if st is None:
            st = self.state[name] = {"m_sum": np.zeros_like(p), "v_sum": np.zeros_like(p),
                                     "scratch": np.empty_like(p)}
        M, V, tmp = st["m_sum"], st["v_sum"], st["scratch"]
        t = self.t[name] = self.t.get(name, 0) + 1
        b1, b2 = self.beta1, self.beta2
        M *= b1
        M += g
        V *= b2
        np.multiply(g, g, out=tmp)
        V += tmp
        # p -= lr/(1-b1^t) * m / (sqrt(v/(1-b2^t)) + eps), with m, v written through M, V
        c2 = np.sqrt((1 - b2) / (1 - b2**t))
        np.sqrt(V, out=tmp)
        tmp += self.eps / c2
        np.divide(M, tmp, out=tmp)
        tmp *= lr * (1 - b1) / ((1 - b1**t) * c2)
        p -= tmp


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Momentum, "adagrad": AdaGrad,
              "rmsprop": RMSProp, "adam": Adam, "adamw": Adam}


def make_optimizer(name: str, lr: float, *, momentum: float = 0.9, l2: float = 0.0,
                   weight_decay: float = 0.0) -> Optimizer:
    """Build an optimizer by name. 'adamw' is Adam whose weight decay is decoupled (the default here)."""
    kw = {"l2": l2, "weight_decay": weight_decay}
    if name == "momentum":
        return Momentum(lr, momentum=momentum, **kw)
    if name == "nesterov":
        return Momentum(lr, momentum=momentum, nesterov=True, **kw)
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](lr, **kw)

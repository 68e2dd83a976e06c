"""Spatial pooling over non-overlapping windows (stride = size, floor mode), and Flatten.

Rows and columns that do not fill a whole window are dropped, as PyTorch does by default;
their gradient is zero.
"""

from __future__ import annotations

import numpy as np

from .base import Layer


def _windows(x: np.ndarray, k: int) -> np.ndarray:
    """(N, C, H, W) -> view (N, C, OH, k, OW, k) over the cropped input."""
    n, c, h, w = x.shape
    oh, ow = h // k, w // k
    return x[:, :, :oh * k, :ow * k].reshape(n, c, oh, k, ow, k)


class _Pool2D(Layer):
    """Shared by the pools: a square window of `size`, stride `size`, refusing inputs smaller than it."""

    def __init__(self, size: int = 2) -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f"pool size must be >= 1, got {size}")
        self.size = size

    def _check(self, x: np.ndarray) -> tuple[int, int, int, int]:
        k = self.size
        n, c, h, w = x.shape
        if h < k or w < k:
            raise ValueError(f"pool size {k} is larger than the {h}x{w} input")
        return n, c, h, w


class MaxPool2D(_Pool2D):
    """Keep the largest value of each size x size window; the gradient goes to the first maximum."""

    def forward(self, x, *, training=False):
        k = self.size
        n, c, h, w = self._check(x)
        oh, ow = h // k, w // k
        self._x_shape = x.shape
        if k == 2:  # the common case: three comparisons on the windows' four corners, no argmax
            # work in the input's memory order: a convolution's output is channel-major, (C, N, H, W) in
            # memory, and the planes, the output and the gradient keep that order, so the copy below and
            # the layers around this one read memory in order
            self._channel_major = x.strides[1] > x.strides[0]
            xm = self._in_memory_order(x)
            # one copy lays the corners out as four contiguous planes: every later operation then runs
            # over contiguous memory instead of reading every other element
            planes = np.empty((2, 2, *xm.shape[:2], oh, ow), dtype=x.dtype)
            np.copyto(planes, _windows(xm, 2).transpose(3, 5, 0, 1, 2, 4))
            (a, b), (c, d) = planes
            # strict ">" keeps the earlier element on ties, so the first maximum wins (as in PyTorch)
            right_top, right_bottom = b > a, d > c
            top, bottom = np.maximum(a, b), np.maximum(c, d)
            lower = bottom > top
            np.maximum(top, bottom, out=top)
            self._winners = (right_top, right_bottom, lower)
            return self._in_memory_order(top)  # back to (N, C, OH, OW), a view
        win = _windows(x, k).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, k * k)
        self._arg = win.argmax(axis=-1)
        return np.take_along_axis(win, self._arg[..., None], axis=-1)[..., 0]

    def backward(self, dout):
        k = self.size
        n, c, h, w = self._x_shape
        oh, ow = h // k, w // k
        if k == 2:
            right_top, right_bottom, lower = self._winners
            upper = ~lower
            masks = np.empty((2, 2, *lower.shape), dtype=bool)  # the winning corner of each window
            np.logical_and(upper, ~right_top, out=masks[0, 0])
            np.logical_and(upper, right_top, out=masks[0, 1])
            np.logical_and(lower, ~right_bottom, out=masks[1, 0])
            np.logical_and(lower, right_bottom, out=masks[1, 1])
            # dx in the input's memory order, so a channel-major conv output gets a channel-major gradient
            shape = (c, n, h, w) if self._channel_major else (n, c, h, w)
            dxm = np.zeros(shape, dtype=dout.dtype) if h % 2 or w % 2 else np.empty(shape, dtype=dout.dtype)
            np.multiply(self._in_memory_order(dout), masks, out=_windows(dxm, 2).transpose(3, 5, 0, 1, 2, 4))
            return self._in_memory_order(dxm)
        dx = np.zeros(self._x_shape, dtype=dout.dtype)
        dwin = np.zeros((n, c, oh, ow, k * k), dtype=dout.dtype)
        np.put_along_axis(dwin, self._arg[..., None], dout[..., None], axis=-1)
        dx[:, :, :oh * k, :ow * k] = dwin.reshape(n, c, oh, ow, k, k).transpose(0, 1, 2, 4, 3, 5) \
            .reshape(n, c, oh * k, ow * k)
        return dx

    def _in_memory_order(self, a: np.ndarray) -> np.ndarray:
        """(N, C, ...) as the input lies in memory: (C, N, ...) for a channel-major input (its own inverse)."""
        return a.transpose(1, 0, 2, 3) if self._channel_major else a


class AvgPool2D(_Pool2D):
    """Average each size x size window."""

    def forward(self, x, *, training=False):
        k = self.size
        n, c, h, w = self._check(x)
        self._x_shape = x.shape
        out = _windows(x, k).sum(axis=(3, 5))
        out *= 1.0 / (k * k)
        return out

    def backward(self, dout):
        k = self.size
        dx = np.zeros(self._x_shape, dtype=dout.dtype)
        scaled = dout * (1.0 / (k * k))
        _windows(dx, k)[...] = scaled[:, :, :, None, :, None]
        return dx


class Flatten(Layer):
    """(N, C, H, W) -> (N, C*H*W), the bridge from feature maps to dense layers."""

    def forward(self, x, *, training=False):
        self._x = x
        return x.reshape(len(x), -1)

    def backward(self, dout):
        if self._x.flags.c_contiguous:
            return dout.reshape(self._x.shape)
        dx = np.empty_like(self._x, dtype=dout.dtype)  # keep the input's memory layout (see Conv2D)
        dx[...] = dout.reshape(self._x.shape)
        return dx

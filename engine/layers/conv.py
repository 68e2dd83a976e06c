"""2-D convolution over (N, C, H, W) images, as one matrix product per image (im2col).

`im2col` lays every receptive field out as a column: (N, C*KH*KW, OH*OW), rows ordered (c, i, j)
like `W.reshape(F, -1)`. Then out[n] = W2 @ cols[n] is already (F, OH*OW), i.e. NCHW, so no
transposes are needed. `col2im` is the adjoint (overlapping windows add up). Both copy by kernel
offset (KH*KW strided slices), which keeps the inner loop over contiguous image rows.
`im2col_naive` and `conv2d_naive` are the slow, obviously-correct twins the tests compare against.
"""

from __future__ import annotations

import numpy as np

from .base import Layer, init_weight


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output side of a convolution (floor mode, like PyTorch)."""
    return (size + 2 * padding - kernel) // stride + 1


def pad_images(x: np.ndarray, padding: int, out: np.ndarray | None = None) -> np.ndarray:
    """Zero-pad H and W by `padding`; `out` (if given) is a buffer whose border is already zero."""
    if padding == 0:
        return x
    n, c, h, w = x.shape
    if out is None:
        out = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=x.dtype)
    out[:, :, padding:padding + h, padding:padding + w] = x
    return out


def im2col(x: np.ndarray, kh: int, kw: int, stride: int, padding: int,
           out: np.ndarray | None = None) -> np.ndarray:
    """(N, C, H, W) -> (N, C*KH*KW, OH*OW); `out` may be a reusable buffer of that shape."""
    n, c, h, w = x.shape
    oh, ow = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    xp = pad_images(x, padding)
    if out is None:
        out = np.empty((n, c * kh * kw, oh * ow), dtype=x.dtype)
    cols = out.reshape(n, c, kh, kw, oh, ow)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return out


def col2im(cols: np.ndarray, x_shape: tuple[int, int, int, int], kh: int, kw: int, stride: int,
           padding: int) -> np.ndarray:
    """Adjoint of im2col: (N, C*KH*KW, OH*OW) -> (N, C, H, W), summing overlapping windows."""
    n, c, h, w = x_shape
    oh, ow = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    dxp = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    cols6 = cols.reshape(n, c, kh, kw, oh, ow)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += cols6[:, :, i, j]
    if padding:
        return dxp[:, :, padding:padding + h, padding:padding + w]
    return dxp


def im2col_naive(x: np.ndarray, kh: int, kw: int, stride: int, padding: int) -> np.ndarray:
    """Slow twin of `im2col`: one receptive field at a time."""
    n, c, h, w = x.shape
    oh, ow = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.empty((n, c * kh * kw, oh * ow), dtype=x.dtype)
    for b in range(n):
        for r in range(oh):
            for s in range(ow):
                patch = xp[b, :, r * stride:r * stride + kh, s * stride:s * stride + kw]
                out[b, :, r * ow + s] = patch.reshape(-1)
    return out


def conv2d_naive(x: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """Slow twin of Conv2D.forward: explicit loops over images, filters and output positions."""
    n, c, h, w = x.shape
    f, _, kh, kw = W.shape
    oh, ow = conv_output_size(h, kh, stride, padding), conv_output_size(w, kw, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.empty((n, f, oh, ow), dtype=np.result_type(x, W))
    for bi in range(n):
        for fi in range(f):
            for r in range(oh):
                for s in range(ow):
                    patch = xp[bi, :, r * stride:r * stride + kh, s * stride:s * stride + kw]
                    out[bi, fi, r, s] = np.sum(patch * W[fi]) + b[fi]
    return out


class Conv2D(Layer):
    """Convolution with `out_channels` filters of size kernel x kernel; W is (F, C, KH, KW) like PyTorch."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, rng: np.random.Generator,
                 stride: int = 1, padding: int = 0, init: str = "he", dtype=np.float32) -> None:
        super().__init__()
        if kernel < 1 or stride < 1 or padding < 0:
            raise ValueError(f"need kernel >= 1, stride >= 1, padding >= 0; got {kernel}, {stride}, {padding}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel, self.stride, self.padding = kernel, stride, padding
        fan_in, fan_out = in_channels * kernel * kernel, out_channels * kernel * kernel
        shape = (out_channels, in_channels, kernel, kernel)
        self.params = {"W": init_weight(rng, fan_in, fan_out, shape, init, dtype),
                       "b": np.zeros(out_channels, dtype=dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.input_grad = True  # a container may switch this off for its first layer
        self._cols: np.ndarray | None = None
        self._x_shape: tuple[int, ...] = ()

    def output_shape(self, h: int, w: int) -> tuple[int, int, int]:
        k, s, p = self.kernel, self.stride, self.padding
        return self.out_channels, conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)

    def forward(self, x, *, training=False):
        n, c, h, w = x.shape
        if c != self.in_channels:
            raise ValueError(f"Conv2D expects {self.in_channels} channels, got {c}")
        f, oh, ow = self.output_shape(h, w)
        if oh < 1 or ow < 1:
            raise ValueError(f"kernel {self.kernel} is larger than the {h}x{w} input (padding {self.padding})")
        k = self.kernel
        shape = (n, c * k * k, oh * ow)
        buf = self._cols if self._cols is not None and self._cols.shape == shape and \
            self._cols.dtype == x.dtype else None
        self._cols = im2col(x, k, k, self.stride, self.padding, out=buf)  # (N, CKK, P)
        self._x_shape = x.shape
        out = np.matmul(self.params["W"].reshape(f, -1), self._cols)  # (N, F, P)
        out += self.params["b"][:, None]
        return out.reshape(n, f, oh, ow)

    def backward(self, dout):
        n, f = dout.shape[:2]
        d3 = dout.reshape(n, f, -1)  # (N, F, P)
        W2 = self.params["W"].reshape(f, -1)
        dW = np.matmul(d3, self._cols.transpose(0, 2, 1))  # (N, F, CKK)
        np.sum(dW, axis=0, out=self.grads["W"].reshape(f, -1))
        np.sum(d3, axis=(0, 2), out=self.grads["b"])
        if not self.input_grad:
            return None
        dcols = np.matmul(W2.T, d3)  # (N, CKK, P)
        return col2im(dcols, self._x_shape, self.kernel, self.kernel, self.stride, self.padding)

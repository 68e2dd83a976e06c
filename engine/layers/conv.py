"""2-D convolution over (N, C, H, W) images as matrix products (im2col).

General route (any stride): `im2col` lays every receptive field out as a column, (N, C*KH*KW,
OH*OW) with rows ordered (c, i, j) like `W.reshape(F, -1)`; then out[n] = W2 @ cols[n] is already
(F, OH*OW). `col2im` is the adjoint (overlapping windows add up). Both copy by kernel offset
(KH*KW strided slices), which keeps the inner loop over contiguous image rows.

Stride-1 route (the common case, faster): with the padded images stored channel-major and
flattened, (C, N, Hp*Wp), kernel offset (i, j) is one contiguous shift by i*Wp + j, so
`im2col_wide` copies long runs into (C*k*k, N*OH*Wp) and the whole batch is one matrix product.
The price: each output row is computed Wp wide instead of OW (the extra columns are skipped and
get zero gradient). A row of ones under the columns and the bias as an extra column of W fold the
bias into the same product. The output is an (N, F, OH, OW) view of that (F, N, OH, Wp) product,
channel-major and skipping the junk columns: the next layer reads it once and allocates like its
input, so there are no transposing copies on the way forward or back. Backward, `input_grad_wide`
gets the input gradient a kernel row at a time: one product and k shifted adds instead of the
product with W2.T and `col2im_wide`'s k*k adds (its slow twin).

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


def padded_flat(x: np.ndarray, k: int, padding: int, out: np.ndarray | None = None) -> np.ndarray:
    """(N, C, H, W) -> (C, N, Hp*Wp + k - 1): zero-padded images, channel-major, with a zero tail.

    `out` may be a previous result of the same shape: only the interior is rewritten.
    """
    n, c, h, w = x.shape
    hp, wp = h + 2 * padding, w + 2 * padding
    if out is None:
        out = np.zeros((c, n, hp * wp + k - 1), dtype=x.dtype)
    interior = out[:, :, :hp * wp].reshape(c, n, hp, wp)[:, :, padding:padding + h, padding:padding + w]
    interior[...] = x.transpose(1, 0, 2, 3)
    return out


def im2col_wide(xp: np.ndarray, x_shape: tuple[int, int, int, int], k: int, padding: int,
                out: np.ndarray | None = None) -> np.ndarray:
    """Stride-1 im2col on `padded_flat` images, channel-major: (C*k*k, N*OH*Wp).

    Row (c, i, j), column (n, r, s) holds xp[c, n, (r + i)*Wp + s + j]; columns with s >= OW are
    junk. With every image side by side, the convolution is one large matrix product.
    """
    n, c, h, w = x_shape
    wp = w + 2 * padding
    length = (h + 2 * padding - k + 1) * wp
    if out is None:
        out = np.empty((c * k * k, n * length), dtype=xp.dtype)
    cols = out.reshape(c, k * k, n, length)
    for i in range(k):
        for j in range(k):
            shift = i * wp + j
            cols[:, i * k + j] = xp[:, :, shift:shift + length]
    return out


def col2im_wide(cols: np.ndarray, x_shape: tuple[int, int, int, int], k: int, padding: int) -> np.ndarray:
    """Adjoint of `im2col_wide` (junk columns must hold zeros): (C*k*k, N*OH*Wp) -> (N, C, H, W).

    The result is a view with channel-major memory (strides of a (C, N, H, W) array).
    """
    n, c, h, w = x_shape
    hp, wp = h + 2 * padding, w + 2 * padding
    length = (hp - k + 1) * wp
    dxp = np.zeros((c, n, hp * wp + k - 1), dtype=cols.dtype)
    cols4 = cols.reshape(c, k * k, n, length)
    for i in range(k):
        for j in range(k):
            shift = i * wp + j
            dxp[:, :, shift:shift + length] += cols4[:, i * k + j]
    dx = dxp[:, :, :hp * wp].reshape(c, n, hp, wp)[:, :, padding:padding + h, padding:padding + w]
    return dx.transpose(1, 0, 2, 3)


def input_grad_wide(d2: np.ndarray, W: np.ndarray, x_shape: tuple[int, int, int, int], padding: int,
                    shifted: np.ndarray | None = None) -> np.ndarray:
    """Input gradient of a stride-1 convolution from its wide output gradient d2, (F, N*OH*Wp) with zero
    junk columns; the same as `col2im_wide(W.reshape(F, -1).T @ d2, ...)`, one kernel row at a time.

    Every output row ends in exactly k - 1 junk columns, so moving the whole flattened batch right by
    j < k pulls only zeros across a row or image boundary: `shifted[f, j, t] = d2[f, t - j]`. One
    product then sums each kernel row's k taps and all filters, (C*k, F*k) @ (F*k, N*OH*Wp), and k
    shifted adds (one per kernel row, instead of one per tap) place the rows in the padded images.
    `shifted` may be a previous (F, k, N*OH*Wp) buffer of this function: its first j columns stay zero.
    Returns a view with channel-major memory, like `col2im_wide`.
    """
    n, c, h, w = x_shape
    f, _, k, _ = W.shape
    hp, wp = h + 2 * padding, w + 2 * padding
    length = (hp - k + 1) * wp
    if shifted is None:
        shifted = np.zeros((f, k, n * length), dtype=d2.dtype)
    shifted[:, 0] = d2
    for j in range(1, k):
        shifted[:, j, j:] = d2[:, :-j]
    w_rows = W.transpose(1, 2, 0, 3).reshape(c * k, f * k)  # [(c, i), (f, j)] = W[f, c, i, j]
    rows = (w_rows @ shifted.reshape(f * k, -1)).reshape(c, k, n, length)
    dxp = np.zeros((c, n, hp * wp + k - 1), dtype=d2.dtype)
    for i in range(k):
        dxp[:, :, i * wp:i * wp + length] += rows[:, i]
    dx = dxp[:, :, :hp * wp].reshape(c, n, hp, wp)[:, :, padding:padding + h, padding:padding + w]
    return dx.transpose(1, 0, 2, 3)


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
    """Convolution with `out_channels` filters of size kernel x kernel; W is (F, C, KH, KW) like PyTorch.

    `input_grad = False` (set by the trainer on a model's first layer) skips the input gradient entirely.
    """

    input_grad = True

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
        self._cols: np.ndarray | None = None
        self._xp: np.ndarray | None = None
        self._dout_wide: np.ndarray | None = None
        self._shifted: np.ndarray | None = None  # input_grad_wide's buffer
        self._w_ext: np.ndarray | None = None  # (F, C*KH*KW + 1): W2 with the bias as a last column
        self._x_shape: tuple[int, ...] = ()

    def output_shape(self, h: int, w: int) -> tuple[int, int, int]:
        k, s, p = self.kernel, self.stride, self.padding
        return self.out_channels, conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)

    @staticmethod
    def _reuse(buf: np.ndarray | None, shape: tuple[int, ...], dtype) -> np.ndarray | None:
        """`buf` when it fits (same shape and dtype), else None so the kernel allocates."""
        return buf if buf is not None and buf.shape == shape and buf.dtype == dtype else None

    def forward(self, x, *, training=False):
        n, c, h, w = x.shape
        if c != self.in_channels:
            raise ValueError(f"Conv2D expects {self.in_channels} channels, got {c}")
        f, oh, ow = self.output_shape(h, w)
        if oh < 1 or ow < 1:
            raise ValueError(f"kernel {self.kernel} is larger than the {h}x{w} input (padding {self.padding})")
        k, p = self.kernel, self.padding
        W2, b = self.params["W"].reshape(f, -1), self.params["b"]
        self._x_shape = x.shape
        if self.stride == 1:
            wp = w + 2 * p
            self._xp = padded_flat(x, k, p, out=self._reuse(self._xp, (c, n, (h + 2 * p) * wp + k - 1), x.dtype))
            ckk = c * k * k
            cols = self._reuse(self._cols, (ckk + 1, n * oh * wp), x.dtype)
            if cols is None:  # the last row is all ones: it multiplies the bias column of W_ext
                cols = np.empty((ckk + 1, n * oh * wp), dtype=x.dtype)
                cols[ckk] = 1
            self._cols = cols
            im2col_wide(self._xp, x.shape, k, p, out=cols[:ckk])
            w_ext = self._reuse(self._w_ext, (f, ckk + 1), x.dtype)
            if w_ext is None:
                w_ext = self._w_ext = np.empty((f, ckk + 1), dtype=x.dtype)
            w_ext[:, :ckk], w_ext[:, ckk] = W2, b
            # one product for the whole batch, bias included. The output is a view that skips the
            # junk columns, channel-major in memory (an (N, F, OH, OW) view of (F, N, OH, Wp)):
            # the next layer's pass reads it once, instead of a copy here and a read there
            out_wide = (w_ext @ cols).reshape(f, n, oh, wp)
            return out_wide[:, :, :, :ow].transpose(1, 0, 2, 3)
        shape = (n, c * k * k, oh * ow)
        self._cols = im2col(x, k, k, self.stride, p, out=self._reuse(self._cols, shape, x.dtype))
        out = np.matmul(W2, self._cols)  # (N, F, P)
        out += b[:, None]
        return out.reshape(n, f, oh, ow)

    def backward(self, dout):
        n, f, oh, ow = dout.shape
        W2 = self.params["W"].reshape(f, -1)
        if self.stride == 1:
            wp = self._x_shape[3] + 2 * self.padding
            buf = self._reuse(self._dout_wide, (f, n, oh, wp), dout.dtype)
            if buf is None:  # junk columns stay zero for the buffer's lifetime
                buf = self._dout_wide = np.zeros((f, n, oh, wp), dtype=dout.dtype)
            buf[:, :, :, :ow] = dout.transpose(1, 0, 2, 3)
            d2 = buf.reshape(f, n * oh * wp)  # (F, N*L)
            # every image's contribution, summed (as the general route below does): one product per
            # image, because OpenBLAS is slow on a single product whose inner sum runs over the whole
            # batch. (F, CKK + 1): the last column (the ones row) is the bias gradient
            per_image = np.matmul(buf.reshape(f, n, oh * wp).transpose(1, 0, 2),
                                  self._cols.reshape(-1, n, oh * wp).transpose(1, 2, 0))
            dw_ext = per_image.sum(axis=0)
            self.grads["W"].reshape(f, -1)[...] = dw_ext[:, :-1]
            self.grads["b"][...] = dw_ext[:, -1]
            if not self.input_grad:
                return None
            shape = (f, self.kernel, n * oh * wp)
            shifted = self._reuse(self._shifted, shape, dout.dtype)
            if shifted is None:  # the first j columns of block j stay zero for the buffer's lifetime
                shifted = self._shifted = np.zeros(shape, dtype=dout.dtype)
            return input_grad_wide(d2, self.params["W"], self._x_shape, self.padding, shifted=shifted)
        np.sum(dout, axis=(0, 2, 3), out=self.grads["b"])
        d3 = dout.reshape(n, f, oh * ow)  # (N, F, P)
        dW = np.matmul(d3, self._cols.transpose(0, 2, 1))  # (N, F, CKK)
        np.sum(dW, axis=0, out=self.grads["W"].reshape(f, -1))
        if not self.input_grad:
            return None
        dcols = np.matmul(W2.T, d3)  # (N, CKK, P)
        return col2im(dcols, self._x_shape, self.kernel, self.kernel, self.stride, self.padding)

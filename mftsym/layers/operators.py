r"""Spatial linear operators on a position-pair kernel, as SymPy nodes with a numeric meaning.

A kernel of a spatial network is an array over input pairs and positions.  Its layout is::

    diagonal mode  (P, P', *S)        K(x, x'; s, s)     positions never mixed (conv, dense, LN)
    full mode      (P, P', *S, *S)    K(x, x'; s, s')    pooling / attention mix positions

(the x-x entry is (P, 1, ...), the x'-x' entry (1, P', ...): the same code broadcasts over both).
Each operator below acts linearly on the trailing position axes.  In a derivation it is an opaque
node with a readable LaTeX form; :mod:`mftsym.compile.chain` replaces it by a call of
:meth:`SpatialOperator.numeric` (numpy or torch arrays).  Conventions are those of neural-tangents
(Novak et al. 2020): see docs/theory/layers.md.

* :class:`PatchAverage` -- a convolution with a k-window: K'(s,s') = (1/|k|) sum_d K(st s + d - p, st s' + d - p)
  (zero outside the image for ``same``/``valid`` padding, periodic for ``circular``);
* :class:`WindowAverage` -- average pooling: K'(s,s') = (1/|w|^2) sum_{a in W(s), b in W(s')} K(a, b);
* :class:`GlobalAverage` -- global average pooling: K' = mean_{s,s'} K(s,s');
* :class:`DiagonalAverage` -- flatten (then a dense layer): K' = mean_s K(s,s);
* :class:`PositionDiagonal` -- K(s,s) laid along the first (side 0) or second (side 1) position axes.
"""

from __future__ import annotations

import sympy as sp


def _ints(t) -> tuple:
    return tuple(int(v) for v in t)


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def _cat(parts, axis):
    if _is_torch(parts[0]):
        import torch
        return torch.cat(parts, dim=axis)
    import numpy as np
    return np.concatenate(parts, axis=axis)


def _take(x, axis, sl):
    idx = [slice(None)] * x.ndim
    idx[axis] = sl
    return x[tuple(idx)]


def _zeros_like_shape(x, shape):
    if _is_torch(x):
        import torch
        return torch.zeros(shape, dtype=x.dtype, device=x.device)
    import numpy as np
    return np.zeros(shape, dtype=x.dtype)


def _pad(x, axis, lo, hi, circular):
    if lo == 0 and hi == 0:
        return x
    n = x.shape[axis]
    if circular:
        if lo > n or hi > n:
            raise ValueError(f"circular padding of {lo}+{hi} on an axis of length {n}")
        parts = ([_take(x, axis, slice(n - lo, n))] if lo else []) + [x] + ([_take(x, axis, slice(0, hi))] if hi else [])
        return _cat(parts, axis)
    shape = list(x.shape)
    parts = []
    if lo:
        shape[axis] = lo
        parts.append(_zeros_like_shape(x, tuple(shape)))
    parts.append(x)
    if hi:
        shape[axis] = hi
        parts.append(_zeros_like_shape(x, tuple(shape)))
    return _cat(parts, axis)


def _window_sum(x, axis, k, stride, lo, hi, circular):
    """(1/k) sum_{d<k} x_pad[d + stride*o] along ``axis``."""
    xp = _pad(x, axis, lo, hi, circular)
    n_out = (xp.shape[axis] - k) // stride + 1
    out = None
    for d in range(k):
        term = _take(xp, axis, slice(d, d + stride * (n_out - 1) + 1, stride))
        out = term if out is None else out + term
    return out / k


def _joint_window_sum(x, a, b, k, stride, lo, hi, circular):
    """(1/k) sum_{d<k} x_pad[d + stride*o, d + stride*o'] along the axis pair (a, b)."""
    xp = _pad(_pad(x, a, lo, hi, circular), b, lo, hi, circular)
    n_out = (xp.shape[a] - k) // stride + 1
    out = None
    for d in range(k):
        sl = slice(d, d + stride * (n_out - 1) + 1, stride)
        term = _take(_take(xp, a, sl), b, sl)
        out = term if out is None else out + term
    return out / k


def _as_kernel(x, shape, full):
    """``x`` broadcast to at least (1, 1, *position axes) (a scalar kernel is constant in position)."""
    pos = tuple(shape) * (2 if full else 1)
    need = 2 + len(pos)
    if getattr(x, "ndim", 0) >= need:
        return x
    if _is_torch(x):
        import torch
        return torch.broadcast_to(torch.as_tensor(x), (1, 1, *pos)).clone()
    import numpy as np
    return np.broadcast_to(np.asarray(x, dtype=float), (1, 1, *pos)).copy()


def _tex(printer, k):
    return printer._print(k)


def _tex_at(printer, k, positions: str) -> str:
    """``k`` printed at the given positions: a kernel named ``K(s,s')`` becomes ``K(s,s)``."""
    tex = printer._print(k)
    for suffix in ("(s,s')", "(s)"):
        if tex.endswith(suffix) and k.is_Symbol:
            return tex[: -len(suffix)] + positions
    return rf"\left[{tex}\right]{positions}"


class SpatialOperator(sp.Function):
    """Base class: ``Op(K, *meta)``, linear in K (so Op(0) = 0); meta are SymPy integers/tuples."""

    @classmethod
    def eval(cls, K, *meta):  # sympy's evaluation hook, not Python eval
        if K.is_zero:
            return sp.S.Zero
        return None

    def _eval_is_real(self):
        return True

    def numeric(self):
        """A function array -> array applying this operator (numpy or torch arrays)."""
        raise NotImplementedError

    #: how many leading arguments are arrays (the rest are static metadata)
    n_arrays = 1

    @property
    def meta(self):
        return self.args[self.n_arrays:]


class PatchAverage(SpatialOperator):
    r"""Convolution patch average; args (K, shape, kernel, stride, pad_lo, pad_hi, circular, full)."""

    nargs = 8

    def numeric(self):
        shape, kernel, stride, lo, hi = (_ints(t) for t in self.args[1:6])
        circular, full = bool(self.args[6]), bool(self.args[7])
        r = len(shape)

        def op(x):
            x = _as_kernel(x, shape, full)
            base = x.ndim - (2 * r if full else r)
            for i in range(r):
                if full:
                    x = _joint_window_sum(x, base + i, base + r + i, kernel[i], stride[i], lo[i], hi[i], circular)
                else:
                    x = _window_sum(x, base + i, kernel[i], stride[i], lo[i], hi[i], circular)
            return x
        return op

    def _sympystr(self, printer):
        pad = "circular" if bool(self.args[6]) else "zero-padded"
        return (f"PatchAverage[kernel={tuple(int(k) for k in self.args[2])}, "
                f"stride={tuple(int(k) for k in self.args[3])}, {pad}]({printer._print(self.args[0])})")

    def _latex(self, printer):
        kernel = r"\times ".join(str(int(k)) for k in self.args[2])
        stride = ",".join(str(int(s)) for s in self.args[3])
        pad = "circ" if bool(self.args[6]) else ("same" if any(int(v) for v in self.args[4]) or any(int(v) for v in self.args[5]) else "valid")
        sub = kernel + (rf";\,\text{{stride }}{stride}" if any(int(s) != 1 for s in self.args[3]) else "")
        return rf"\mathcal{{P}}^{{{sub}}}_{{\text{{{pad}}}}}\!\left[{_tex(printer, self.args[0])}\right]"


class WindowAverage(SpatialOperator):
    r"""Average pooling of both positions; args (K, shape, window, stride, pad_lo, pad_hi, circular)."""

    nargs = 7

    def numeric(self):
        shape, window, stride, lo, hi = (_ints(t) for t in self.args[1:6])
        circular = bool(self.args[6])
        r = len(shape)

        def op(x):
            x = _as_kernel(x, shape, True)
            base = x.ndim - 2 * r
            for i in range(r):
                x = _window_sum(x, base + i, window[i], stride[i], lo[i], hi[i], circular)
                x = _window_sum(x, base + r + i, window[i], stride[i], lo[i], hi[i], circular)
            return x
        return op

    def _sympystr(self, printer):
        return (f"WindowAverage[window={tuple(int(k) for k in self.args[2])}, "
                f"stride={tuple(int(k) for k in self.args[3])}]({printer._print(self.args[0])})")

    def _latex(self, printer):
        window = r"\times ".join(str(int(k)) for k in self.args[2])
        return rf"\mathcal{{W}}^{{{window}}}\!\left[{_tex(printer, self.args[0])}\right]"


class GlobalAverage(SpatialOperator):
    r"""Global average pooling: mean over every position pair; args (K, shape)."""

    nargs = 2

    def numeric(self):
        shape = _ints(self.args[1])
        r = len(shape)

        def op(x):
            x = _as_kernel(x, shape, True)
            return x.mean(axis=tuple(range(x.ndim - 2 * r, x.ndim))) if not _is_torch(x) else \
                x.mean(dim=tuple(range(x.ndim - 2 * r, x.ndim)))
        return op

    def _sympystr(self, printer):
        return f"mean_{{s,s'}}({printer._print(self.args[0])})"

    def _latex(self, printer):
        inner = _tex_at(printer, self.args[0], "(s,s')")
        return rf"\operatorname*{{mean}}_{{s,s'}} {inner}"


class DiagonalAverage(SpatialOperator):
    r"""Flatten: mean over positions of K(s, s); args (K, shape, full)."""

    nargs = 3

    def numeric(self):
        shape = _ints(self.args[1])
        full = bool(self.args[2])
        r = len(shape)
        diag = PositionDiagonal.extract(shape)

        def op(x):
            x = _as_kernel(x, shape, full)
            if full:
                x = diag(x)
            axes = tuple(range(x.ndim - r, x.ndim))
            return x.mean(dim=axes) if _is_torch(x) else x.mean(axis=axes)
        return op

    def _sympystr(self, printer):
        return f"mean_s diag({printer._print(self.args[0])})"

    def _latex(self, printer):
        inner = _tex_at(printer, self.args[0], "(s,s)")
        return rf"\operatorname*{{mean}}_{{s}} {inner}"


class PositionDiagonal(SpatialOperator):
    r"""K(s, s) of a full-mode kernel, laid along position axes ``side`` 0 (s) or 1 (s'); args (K, shape, side)."""

    nargs = 3

    @staticmethod
    def extract(shape):
        r = len(shape)
        letters = "ijkl"[:r]

        def diag(x):
            spec = f"...{letters}{letters}->...{letters}"
            if _is_torch(x):
                import torch
                return torch.einsum(spec, x)
            import numpy as np
            return np.einsum(spec, x)
        return diag

    def numeric(self):
        shape = _ints(self.args[1])
        side = int(self.args[2])
        r = len(shape)
        diag = self.extract(shape)

        def op(x):
            d = diag(_as_kernel(x, shape, True))
            lead = d.shape[:d.ndim - r]
            new = (*lead, *shape, *([1] * r)) if side == 0 else (*lead, *([1] * r), *shape)
            return d.reshape(new)
        return op

    def _sympystr(self, printer):
        return f"diag{int(self.args[2])}({printer._print(self.args[0])})"

    def _latex(self, printer):
        pos = "s" if int(self.args[2]) == 0 else "s'"
        return _tex_at(printer, self.args[0], f"({pos},{pos})")


def same_padding(n: int, k: int, stride: int) -> tuple:
    """(lo, hi) zero padding of the ``same`` convention (TensorFlow / JAX / neural-tangents):
    ceil(n / stride) outputs, the extra cell at the high end."""
    out = -(-n // stride)
    total = max((out - 1) * stride + k - n, 0)
    return total // 2, total - total // 2


def padding_amounts(padding: str, shape, window, stride) -> tuple:
    """(lo, hi) tuples per spatial axis for ``valid`` / ``same`` / ``circular``."""
    if padding == "valid":
        return tuple(0 for _ in shape), tuple(0 for _ in shape)
    pads = [same_padding(n, k, s) for n, k, s in zip(shape, window, stride)]
    return tuple(p[0] for p in pads), tuple(p[1] for p in pads)


def output_shape(shape, window, stride, lo, hi) -> tuple:
    return tuple((n + a + b - k) // s + 1 for n, k, s, a, b in zip(shape, window, stride, lo, hi))


__all__ = ["AttentionWeighting", "AttentionWeights", "DiagonalAverage", "GlobalAverage", "MECHANISMS",
           "AttentionKeyNTK", "MeanPositionAverage", "MeanWindowAverage", "PatchAverage",
           "PositionDiagonal", "PositionSum", "SpatialOperator",
           "WindowAverage", "output_shape", "padding_amounts", "same_padding"]


# --------------------------------------------------------------------------- attention (Hron et al. 2020)
MECHANISMS = ("softmax", "identity", "relu", "abs")


def _flat_pairs(x, shape):
    """(..., *S, *S) -> (..., |S|, |S|)."""
    import math
    n = math.prod(shape)
    lead = x.shape[:x.ndim - 2 * len(shape)]
    return x.reshape(*lead, n, n), lead


class AttentionWeights(SpatialOperator):
    r"""A(s,t) = mechanism(logits(s,t)) over the key positions t; args (logits, shape, mechanism code).

    ``softmax`` is normalised over t; ``identity``, ``relu`` and ``abs`` act elementwise."""

    nargs = 3

    def numeric(self):
        shape = _ints(self.args[1])
        mech = MECHANISMS[int(self.args[2])]

        def op(x):
            x = _as_kernel(x, shape, True)
            flat, lead = _flat_pairs(x, shape)
            if _is_torch(flat):
                import torch
                fn = {"softmax": lambda a: torch.softmax(a, -1), "identity": lambda a: a,
                      "relu": torch.relu, "abs": torch.abs}[mech]
            else:
                import numpy as np

                def softmax(a):
                    e = np.exp(a - a.max(-1, keepdims=True))
                    return e / e.sum(-1, keepdims=True)
                fn = {"softmax": softmax, "identity": lambda a: a, "relu": lambda a: np.maximum(a, 0.0),
                      "abs": np.abs}[mech]
            return fn(flat).reshape(x.shape)
        return op

    def _sympystr(self, printer):
        return f"{MECHANISMS[int(self.args[2])]}_t({printer._print(self.args[0])})"

    def _latex(self, printer):
        mech = MECHANISMS[int(self.args[2])]
        name = {"softmax": r"\operatorname{softmax}_{t}", "identity": "", "relu": r"\operatorname{relu}",
                "abs": r"\left|\cdot\right|"}[mech]
        inner = printer._print(self.args[0]).replace("(s,s')", "(s,t)")
        return rf"{name}\left({inner}\right)" if name else inner


class AttentionWeighting(SpatialOperator):
    r"""sum_{t,t'} A(s,t) K(t,t') B(s',t'); args (K, A, B, shape)."""

    nargs = 4
    n_arrays = 3

    @classmethod
    def eval(cls, K, A, B, shape):  # sympy's evaluation hook
        if K.is_zero or A.is_zero or B.is_zero:
            return sp.S.Zero
        return None

    def numeric(self):
        shape = _ints(self.args[3])

        def op(k, a, b):
            k, a, b = (_as_kernel(v, shape, True) for v in (k, a, b))
            kf, _ = _flat_pairs(k, shape)
            af, _ = _flat_pairs(a, shape)
            bf, _ = _flat_pairs(b, shape)
            if _is_torch(kf):
                import torch
                out = torch.einsum("...st,...tu,...vu->...sv", af, kf, bf)
            else:
                import numpy as np
                out = np.einsum("...st,...tu,...vu->...sv", af, kf, bf, optimize=True)
            return out.reshape(*out.shape[:-2], *shape, *shape)
        return op

    def _sympystr(self, printer):
        a, k, b = printer._print(self.args[1]), printer._print(self.args[0]), printer._print(self.args[2])
        return f"sum_tt'({a} {k} {b})"

    def _latex(self, printer):
        k = printer._print(self.args[0]).replace("(s,s')", "(t,t')")
        a = printer._print(self.args[1]).replace("(s,s')", "(s,t)")
        b = printer._print(self.args[2]).replace("(s,s')", "(s',t')")
        return rf"\sum_{{t,t'}} {a}\, {k}\, {b}"


class PositionSum(SpatialOperator):
    r"""sum_{t,t'} K(t,t'), kept with singleton position axes (broadcasts against K); args (K, shape)."""

    nargs = 2

    def numeric(self):
        shape = _ints(self.args[1])
        r = len(shape)

        def op(x):
            x = _as_kernel(x, shape, True)
            axes = tuple(range(x.ndim - 2 * r, x.ndim))
            if _is_torch(x):
                return x.sum(dim=axes, keepdim=True)
            return x.sum(axis=axes, keepdims=True)
        return op

    def _sympystr(self, printer):
        return f"sum_tt'({printer._print(self.args[0])})"

    def _latex(self, printer):
        inner = printer._print(self.args[0]).replace("(s,s')", "(t,t')")
        return rf"\sum_{{t,t'}} \left[{inner}\right]"


# --------------------------------------------------------------------------- feature means m(x; s)
def _as_mean(x, shape, side, full):
    """A mean array broadcast to at least (1, 1, *position axes): in full mode its positions lie on
    the axes of ``side`` (0: s, 1: s') with singleton axes for the other side."""
    r = len(shape)
    pos = (tuple(shape) + (1,) * r if side == 0 else (1,) * r + tuple(shape)) if full else tuple(shape)
    need = 2 + len(pos)
    if getattr(x, "ndim", 0) >= need:
        return x
    if _is_torch(x):
        import torch
        return torch.broadcast_to(torch.as_tensor(x), (1, 1, *pos)).clone()
    import numpy as np
    return np.broadcast_to(np.asarray(x, dtype=float), (1, 1, *pos)).copy()


class MeanWindowAverage(SpatialOperator):
    r"""Average pooling of a feature mean m(x; s) over the windows of one position side (full mode);
    args (m, shape, window, stride, pad_lo, pad_hi, circular, side)."""

    nargs = 8

    def numeric(self):
        shape, window, stride, lo, hi = (_ints(t) for t in self.args[1:6])
        circular, side = bool(self.args[6]), int(self.args[7])
        r = len(shape)

        def op(x):
            x = _as_mean(x, shape, side, True)
            base = x.ndim - 2 * r + (r if side else 0)
            for i in range(r):
                x = _window_sum(x, base + i, window[i], stride[i], lo[i], hi[i], circular)
            return x
        return op

    def _sympystr(self, printer):
        return f"WindowAverage[window={tuple(int(k) for k in self.args[2])}]({printer._print(self.args[0])})"

    def _latex(self, printer):
        window = r"\times ".join(str(int(k)) for k in self.args[2])
        return rf"\mathcal{{W}}^{{{window}}}\!\left[{_tex(printer, self.args[0])}\right]"


class MeanPositionAverage(SpatialOperator):
    r"""mean_s m(x; s) of a feature mean, with no position axes left (global average pooling,
    flatten); args (m, shape, side, full)."""

    nargs = 4

    def numeric(self):
        shape = _ints(self.args[1])
        side, full = int(self.args[2]), bool(self.args[3])
        r = len(shape)

        def op(x):
            x = _as_mean(x, shape, side, full)
            axes = tuple(range(x.ndim - (2 * r if full else r), x.ndim))
            return x.mean(dim=axes) if _is_torch(x) else x.mean(axis=axes)
        return op

    def _sympystr(self, printer):
        return f"mean_s({printer._print(self.args[0])})"

    def _latex(self, printer):
        return rf"\operatorname*{{mean}}_{{s}} {_tex_at(printer, self.args[0], '(s)')}"


def _attention_jacobian(g, mech, xp):
    """J[..., s, t, u] = d mech(G)(s, t) / d G(s, u) for logits g of shape (..., S, S)."""
    n = g.shape[-1]
    if xp.__name__ == "torch":
        eye = xp.eye(n, dtype=g.dtype, device=g.device)
    else:
        eye = xp.eye(n)
    if mech == "softmax":
        if xp.__name__ == "torch":
            a = xp.softmax(g, -1)
        else:
            e = xp.exp(g - g.max(-1, keepdims=True))
            a = e / e.sum(-1, keepdims=True)
        return a[..., :, :, None] * (eye - a[..., :, None, :])
    deriv = {"identity": lambda v: v * 0 + 1, "relu": lambda v: (v > 0) * 1.0, "abs": lambda v: xp.sign(v)}[mech](g)
    return deriv[..., :, :, None] * eye


class AttentionKeyNTK(SpatialOperator):
    r"""The key/query weights' term of the attention NTK (tied weights, logits / n_k), without its
    prefactor 2 v o sqrt(q k) C / n_k::

        T(s,s') = K(s,s') sum J_x(s;t,u) K(t,t') K(u,u') J_x'(s';t',u')
                  + sum J_x(s;t,u) K(t,t') K(u,s') K(s,u') J_x'(s';t',u')

    with K = K(x,x'; ., .), J_x(s;t,u) = d mech(G_x)(s,t) / d G_x(s,u) the Jacobian of the attention
    weights in the logits G_x = sqrt(q k) K(x,x); args (K12, G11, G22, shape, mechanism code)."""

    nargs = 5
    n_arrays = 3

    @classmethod
    def eval(cls, K, G1, G2, shape, code):  # sympy's evaluation hook
        if K.is_zero:
            return sp.S.Zero
        return None

    def numeric(self):
        shape = _ints(self.args[3])
        mech = MECHANISMS[int(self.args[4])]

        def op(k, g1, g2):
            k, g1, g2 = (_as_kernel(v, shape, True) for v in (k, g1, g2))
            kf, _ = _flat_pairs(k, shape)
            g1f, _ = _flat_pairs(g1, shape)
            g2f, _ = _flat_pairs(g2, shape)
            if _is_torch(kf):
                import torch as xp
                ein = xp.einsum
            else:
                import numpy as xp

                def ein(spec, *ops):
                    return xp.einsum(spec, *ops, optimize=True)
            j1, j2 = _attention_jacobian(g1f, mech, xp), _attention_jacobian(g2f, mech, xp)
            f1 = ein("...stu,...tT,...uU,...rTU->...sr", j1, kf, kf, j2)
            f2 = ein("...stu,...ur,...tT,...rTU,...sU->...sr", j1, kf, kf, j2, kf)
            out = kf * f1 + f2
            return out.reshape(*out.shape[:-2], *shape, *shape)
        return op

    def _sympystr(self, printer):
        return f"KeyNTK({', '.join(printer._print(a) for a in self.args[:3])})"

    def _latex(self, printer):
        k = printer._print(self.args[0])
        g1 = printer._print(self.args[1])
        g2 = printer._print(self.args[2])
        return rf"\mathcal{{T}}\!\left[{k};\, {g1},\, {g2}\right]"

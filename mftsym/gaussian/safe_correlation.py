"""``SafeCorrelation``: the correlation coefficient rho = K12 / sqrt(K11 K22), kept symbolic.

Kernels of the arc-cosine family (Cho & Saul 2009) and of erf (Williams 1997) contain
``arccos(rho)`` / ``arcsin(rho)``.  Numerically rho must be clamped to [-1, 1] and the norm
product guarded against zero (a zero input gives K11 = 0).  Keeping rho as a named function lets
the code printers in :mod:`mftsym.compile` emit ``clip(K12/sqrt(max(K11*K22, tiny)), -1, 1)``,
while symbolically it is exactly the plain fraction: ``.doit()``, ``.unsafe()`` and
``expand_func`` return it, ``fdiff`` differentiates it and ``evalf`` evaluates it.
"""

from __future__ import annotations

import sympy as sp


class SafeCorrelation(sp.Function):
    r"""SafeCorrelation(K12, K11, K22) = K12 / sqrt(K11 K22)   (numerically clipped to [-1, 1])."""

    nargs = 3

    @classmethod
    def eval(cls, k12, k11, k22):  # sympy's evaluation hook, not Python eval (safe)
        if k12.is_zero:
            return sp.S.Zero
        if k11 == k22 and k11.is_nonnegative is not False:   # diagonal of a kernel: rho = +-1
            if k12 == k11:
                return sp.S.One
            if k12 == -k11:
                return sp.S.NegativeOne
        return None

    @staticmethod
    def plain(k12, k11, k22):
        """The unguarded expression K12 / sqrt(K11 K22)."""
        return k12 / sp.sqrt(k11 * k22)

    def unsafe(self):
        """The plain fraction K12 / sqrt(K11 K22) (no clipping)."""
        return self.plain(*self.args)

    def doit(self, **hints):
        args = [a.doit(**hints) if hints.get("deep", True) else a for a in self.args]
        return self.plain(*args)

    def _eval_expand_func(self, **hints):
        return self.unsafe()

    def _eval_rewrite_as_sqrt(self, *args, **kwargs):
        return self.plain(*args)

    def fdiff(self, argindex=1):
        if argindex not in (1, 2, 3):
            raise sp.ArgumentIndexError(self, argindex)
        syms = sp.symbols("_k12 _k11 _k22")
        d = sp.diff(self.plain(*syms), syms[argindex - 1])
        return d.subs(dict(zip(syms, self.args)), simultaneous=True)

    def _eval_evalf(self, prec):
        return self.unsafe()._evalf(prec)

    def _eval_is_real(self):
        k12, k11, k22 = self.args
        if k12.is_real and k11.is_positive and k22.is_positive:
            return True
        return None

    def _latex(self, printer, exp=None):
        tex = printer._print(sp.UnevaluatedExpr(self.unsafe()))
        return rf"\left({tex}\right)^{{{exp}}}" if exp is not None else tex

    def _sympystr(self, printer):
        return "SafeCorrelation(%s)" % ", ".join(printer._print(a) for a in self.args)


def unsafe_correlations(expr):
    """Replace every SafeCorrelation in ``expr`` by its plain fraction."""
    return expr.replace(lambda e: isinstance(e, SafeCorrelation), lambda e: e.unsafe())

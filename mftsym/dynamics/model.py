"""The two-layer μP network a DMFT spec describes, reduced to the numbers the single site needs.

Spec: ``dense(N, σ_w², σ_b²) -> activation φ -> dense(1, σ_a²)`` (no readout bias), parametrization
``mu_p``.  The hidden bias is an input of constant 1, so the first layer enters only through the
input kernel K^x(x, x') = σ_w² x·x'/d + σ_b² (docs/theory/dynamics.md)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import sympy as sp

from ..derive.kernels import almost_everywhere_derivative
from ..errors import SpecError
from ..spec import Dense, Nonlinearity
from ..spec.expressions import X, as_expr, make_symbol
from ..spec.spec import Spec


@dataclass(frozen=True)
class TwoLayerModel:
    weight_var: float        # σ_w² of the hidden layer
    bias_var: float          # σ_b² of the hidden layer
    readout_var: float       # σ_a²
    phi: sp.Expr             # activation in X
    dphi: sp.Expr            # its almost-everywhere derivative
    input_dim: int
    spec: Spec               # the spec (for the exact initial NTK)

    @property
    def linear(self) -> bool:
        return sp.expand(self.phi - X).is_zero is True

    def input_kernel(self, x, x2=None) -> np.ndarray:
        x = np.asarray(x, float)
        x2 = x if x2 is None else np.asarray(x2, float)
        return self.weight_var * (x @ x2.T) / self.input_dim + self.bias_var

    def input_factor(self, x) -> np.ndarray:
        """F with K^x = F Fᵀ: columns sqrt(σ_w²/d) x (and σ_b for a bias); rank d (+1)."""
        x = np.asarray(x, float)
        cols = [np.sqrt(self.weight_var / self.input_dim) * x]
        if self.bias_var:
            cols.append(np.full((len(x), 1), np.sqrt(self.bias_var)))
        return np.hstack(cols)

    def initial_ntk(self, x) -> np.ndarray:
        """Θ(0) = σ_a² (E[φφ] + E[φ'φ'] K^x): the NTK of the same network in the ``ntk`` parametrization
        (the μP NTK times its learning-rate multiplier γ₀²N), from :func:`mftsym.kernel`."""
        import mftsym
        spec_ntk = replace(self.spec, network=replace(self.spec.network, parametrization="ntk"))
        return np.asarray(mftsym.kernel(spec_ntk, np.asarray(x, float), kind="ntk"), float)

    def activation(self, backend: str = "numpy"):
        """(φ, φ') as callables of the backend."""
        from ..compile.backends import lambdify_expr
        fns = []
        for expr in (self.phi, self.dphi):
            raw = lambdify_expr(X, expr, backend)
            fns.append(_broadcasting(raw, backend))
        return tuple(fns)


def _broadcasting(raw, backend):
    def fn(z):
        out = raw(z)
        if backend == "torch":
            import torch
            if not isinstance(out, torch.Tensor) or out.shape != z.shape:
                out = torch.broadcast_to(torch.as_tensor(out, dtype=z.dtype, device=z.device), z.shape)
            return out.to(z.dtype)
        return np.broadcast_to(np.asarray(out, dtype=float), z.shape)
    return fn


def _value(expr, values, where):
    val = as_expr(expr).subs({make_symbol(k): v for k, v in values.items()})
    if not val.is_number:
        raise SpecError(f"no value for {sorted(map(str, val.free_symbols))}; give it in [params]", where)
    return float(val)


def two_layer_model(spec, input_dim: int, params=None) -> TwoLayerModel:
    """Check that ``spec`` is a two-layer μP network without readout bias and read off its numbers."""
    net = spec.network
    if net.parametrization != "mu_p":
        raise SpecError(f"the DMFT describes the mu_p parametrization; this spec uses {net.parametrization!r}. "
                        "Set parametrization = \"mu_p\" and give gamma0 in [params] (the ntk parametrization "
                        "is its lazy limit gamma0 -> 0: use theory \"ntk\")", "network.parametrization")
    layers = list(net.layers)
    acts = [l for l in layers if isinstance(l, Nonlinearity)]
    dense = [l for l in layers if isinstance(l, Dense)]
    shape_ok = (len(dense) == 2 and isinstance(layers[0], Dense) and isinstance(layers[-1], Dense)
                and len(layers) in (2, 3) and (len(layers) == 2 or isinstance(layers[1], Nonlinearity)))
    if not shape_ok:
        raise SpecError("the two-layer DMFT solver handles dense -> activation -> dense(width 1); "
                        "deeper fully connected networks go to the deep solver (mftsym/dynamics/deep.py)", "network.layers")
    if not (dense[1].width.is_Integer and int(dense[1].width) == 1):
        raise SpecError(f"the readout must have width 1, got {dense[1].width}", "network.layers[-1].width")
    if dense[1].has_bias:
        raise SpecError("the DMFT solver needs a readout without bias (bias_var = 0 on the last layer)",
                        "network.layers[-1].bias_var")
    values = {**spec.params, **(params or {})}
    d = net.input_dim
    dim = int(d) if d.is_Integer else int(round(_value(d, {**values, d.name: input_dim}, "network.input_dim")))
    if dim != int(input_dim):
        raise SpecError(f"the spec has input_dim = {dim} but the data has dimension {input_dim}", "network.input_dim")
    phi = acts[0].fn.expr if acts else X
    spec_d = spec if d.is_Integer else spec.with_params(**{d.name: float(input_dim)})
    if params:
        spec_d = spec_d.with_params(**params)
    return TwoLayerModel(_value(dense[0].weight_var, values, "weight_var"), _value(dense[0].bias_var, values, "bias_var"),
                         _value(dense[1].weight_var, values, "readout weight_var"), phi,
                         almost_everywhere_derivative(phi), dim, spec_d)


__all__ = ["TwoLayerModel", "two_layer_model"]

r"""Pointwise nonlinearity phi: kernel map and finite torch forward.

Kernel map on zero-mean Gaussian pre-activations (u, v) ~ N(0, [[K(x,x), K(x,x')], [., K(x',x')]])
(Neal 1996; Cho & Saul 2009; Lee et al. 2018; Jacot et al. 2018)::

    C(x,x')      = E[phi(u) phi(v)]
    Cdot(x,x')   = E[phi'(u) phi'(v)]        (phi' almost everywhere, as autograd)
    Theta_post   = Cdot * Theta
    m(x; s)      = E[phi(u)],  u ~ N(0, K(x,x;s,s))      (the feature mean; sqrt(K/(2 pi)) for relu)

position pair by position pair (the variances are the kernel's position diagonal).  Consecutive
activations are composed into one, phi2(phi1(x)).  A nonlinearity on features that are not
zero-mean Gaussian (the output of another nonlinearity through a residual sum, say) has no
closed kernel map: it raises.  See docs/theory/layers.md, section "activation".
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, NamedTuple

import sympy as sp

from ..gaussian import gaussian_expectation
from ..spec.activations import ActivationFunction
from ..spec.expressions import X
from .state import PAIRS, KernelBuilder, KernelState, require_gaussian

LAYER_TYPE = "activation"
LINEAR = False


def compose(first: ActivationFunction, then: ActivationFunction) -> ActivationFunction:
    """then(first(x))."""
    return ActivationFunction(f"{then.source}∘{first.source}", then.expr.subs(X, first.expr))


def merge(layers) -> list:
    """The layers with runs of consecutive activation layers composed into one activation layer."""
    from ..spec.layers import Nonlinearity
    out = []
    for layer in layers:
        if getattr(layer, "type", None) == "activation" and out and getattr(out[-1], "type", None) == "activation":
            out[-1] = Nonlinearity(compose(out[-1].fn, layer.fn), where=out[-1].where)
        else:
            out.append(layer)
    return out


def almost_everywhere_derivative(phi: sp.Expr) -> sp.Expr:
    """phi'(x) with Dirac deltas dropped: the derivative autograd gives a finite network
    (step and sign have zero gradient almost everywhere, as in neural-tangents' ``Sign``)."""
    return sp.diff(phi, X).replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)


@lru_cache(maxsize=512)
def expectation(phi: sp.Expr, K11, K12, K22, method: str, order=None, derivative: bool = False):
    """E[phi(u) phi(v)] (or of phi' when ``derivative``), (u,v) ~ N(0, [[K11, K12], [K12, K22]])."""
    f = almost_everywhere_derivative(phi) if derivative else phi
    return gaussian_expectation(f, f, K11, K12, K22, method=method, order=order)


def kernel_map(layer, state: KernelState, b: KernelBuilder, is_readout: bool = False) -> KernelState:
    if state.is_input:
        raise ValueError("an activation must follow a dense layer")
    require_gaussian(state, f"the nonlinearity {layer.fn.source}", getattr(layer, "where", "activation"))
    phi = layer.fn.expr
    new = {}
    for p in PAIRS:
        v1, v2 = state.variances(p)
        expr = expectation(phi, v1, state.nngp[p], v2, b.method, b.order)
        new[p] = b.define("C", p, expr, rf"E[phi(u)phi(v)] for phi(x) = {layer.fn.source}, layer {b.layer}", state)
    theta = 0
    if b.ntk:
        v1, v2 = state.variances("12")
        cdot = b.define("Cdot", "12", expectation(phi, v1, state.nngp["12"], v2, b.method, b.order, True),
                        "E[phi'(u)phi'(v)]", state, latex_stem=r"\dot{C}")
        theta = b.define("ThetaPost", "12", cdot * state.ntk, "NTK of the activations", state,
                         latex_stem=r"\tilde{\Theta}")
    means = {(i, side): mean_of(phi, state.variance(i, side), b.method, b.order)
             for i in ("1", "2") for side in (0, 1)}
    return state.with_(nngp=new, ntk=theta, is_gaussian=False, mean=means)


@lru_cache(maxsize=512)
def mean_of(phi: sp.Expr, K, method: str, order=None):
    """m = E[phi(u)], u ~ N(0, K): sqrt(K/(2 pi)) for relu, 0 for odd phi (erf, tanh), the Gaussian
    expectation engine with g = 1 otherwise."""
    if sp.expand(phi.subs(X, -X) + phi) == 0:
        return sp.S.Zero
    return gaussian_expectation(phi, sp.S.One, K, sp.S.Zero, sp.S.One, method=method, order=order)


# --------------------------------------------------------------------------- numeric plan
class ActivationPlan(NamedTuple):
    """(name, torch callable): indexable as the (name, fn) pairs of earlier plans."""

    name: str
    fn: Callable

    def param_shapes(self, index: int) -> list:
        return []

    def forward(self, params, h):
        return self.fn(h)


def numeric_plan(layer, ctx, is_readout: bool = False):
    from .torch_activation import torch_activation
    return ActivationPlan(layer.fn.source, torch_activation(layer.fn)), ctx.spatial, ctx.channels

r"""Infinite-width kernels of a spec: the NNGP and NTK recursions as a chain of definitions.

For a dense layer ``l`` with prior variances (C_W, C_b) = (weight_var, bias_var) and fan-in n
(Neal 1996; Lee et al. 2018; Matthews et al. 2018; Jacot et al. 2018)::

    K^(1)(x,x')   = C_W x.x'/d + C_b
    K^(l+1)(x,x') = C_W E_{(u,v)~N(0,K^(l))}[phi(u) phi(v)] + C_b
    Theta^(1)     = K^(1),   Theta^(l+1) = K^(l+1) + C_W E[phi'(u) phi'(v)] Theta^(l)      ("ntk")

In the ``"standard"`` parametrization (W ~ N(0, C_W/n), b ~ N(0, C_b) trained directly) the
weight gradient contributes n E[phi phi] instead of C_W E[phi phi] and the bias 1 instead of C_b,
as in neural-tangents' ``Dense(parameterization='standard')``:
``Theta^(l+1) = n E[phi phi] + 1 + C_W E[phi' phi'] Theta^(l)`` -- it grows with width.
In ``"mean_field"`` the readout's C_W is divided by its fan-in N (f = (1/N) sum_i a_i phi_i), so
its NNGP and NTK are O(1/N).  In ``"mu_p"`` (f = f_ntk / (gamma0 sqrt(N))) the readout's C_W and
C_b are divided by gamma0^2 N: NNGP and bare NTK are the ``"ntk"`` ones over gamma0^2 N; the NTK
times the learning-rate multiplier gamma0^2 N is the ``"ntk"`` one (docs/theory/dynamics.md).

Each kernel is tracked at the three entries (x,x), (x,x'), (x',x') of the 2x2 covariance; the
diagonal entries feed the Gaussian expectations of the off-diagonal one.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from ..gaussian import gaussian_expectation
from ..spec import Dense, Network, Nonlinearity, X
from ..spec.activations import ActivationFunction
from ..spec.expressions import make_symbol
from .derivation import Definition, Derivation

PAIRS = ("11", "12", "22")
_PAIR_LATEX = {"11": "x x", "12": "x x'", "22": "x' x'"}

#: Data symbols: raw inner products of the two inputs.
INPUT_SYMBOLS = {p: sp.Symbol(f"x{p}", real=True, **({"nonnegative": True} if p != "12" else {}))
                 for p in PAIRS}
INPUT_LATEX = {INPUT_SYMBOLS["11"]: r"x \cdot x", INPUT_SYMBOLS["12"]: r"x \cdot x'",
               INPUT_SYMBOLS["22"]: r"x' \cdot x'"}


def _sym(stem: str, layer: int, pair: str) -> sp.Symbol:
    if pair == "12":
        return sp.Symbol(f"{stem}{layer}_{pair}", real=True)
    return sp.Symbol(f"{stem}{layer}_{pair}", positive=True)


def _latex(stem: str, layer: int, pair: str) -> str:
    return rf"{stem}^{{({layer})}}_{{{_PAIR_LATEX[pair]}}}"


def _merge_activations(layers) -> list:
    """Compose consecutive activation layers into one: phi2(phi1(x))."""
    out = []
    for layer in layers:
        if isinstance(layer, Nonlinearity) and out and isinstance(out[-1], ActivationFunction):
            out[-1] = ActivationFunction(f"{layer.fn.source}∘{out[-1].source}", layer.fn.expr.subs(X, out[-1].expr))
        elif isinstance(layer, Nonlinearity):
            out.append(layer.fn)
        else:
            out.append(layer)
    return out


def almost_everywhere_derivative(phi: sp.Expr) -> sp.Expr:
    """phi'(x) with Dirac deltas dropped: the derivative autograd gives a finite network
    (step and sign have zero gradient almost everywhere, as in neural-tangents' ``Sign``)."""
    return sp.diff(phi, X).replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)


@lru_cache(maxsize=256)
def _expectations(phi: sp.Expr, K11, K12, K22, method: str, order=None):
    """E[phi phi], E[phi' phi'] at (x,x'), and E[phi^2] at (x,x), (x',x')."""
    dphi = almost_everywhere_derivative(phi)
    off = gaussian_expectation(phi, phi, K11, K12, K22, method=method, order=order)
    doff = gaussian_expectation(dphi, dphi, K11, K12, K22, method=method, order=order)
    d11 = gaussian_expectation(phi, phi, K11, K11, K11, method=method, order=order)
    d22 = gaussian_expectation(phi, phi, K22, K22, K22, method=method, order=order)
    return off, doff, d11, d22


def derive_kernels(network, ntk: bool = True, method: str = "auto", order: int | None = None) -> Derivation:
    """The NNGP (and NTK) recursion of ``network`` as a :class:`Derivation`.

    ``method`` is passed to :func:`mftsym.gaussian.gaussian_expectation`: ``"auto"`` (closed
    forms where they exist, quadrature nodes otherwise), ``"hermite"`` or ``"quadrature"``.
    Outputs: ``"nngp"`` and ``"ntk"`` (the kernel at the network output between x and x'),
    and ``"nngp_11"``/``"nngp_22"`` (its diagonal).
    """
    if not isinstance(network, Network):
        network = network.network  # a Spec
    par = network.parametrization
    stages = _merge_activations(network.layers)
    dense_count = sum(isinstance(s, Dense) for s in stages)
    defs: list[Definition] = []

    # "post" = the covariance entering the next dense layer: x.x'/d at the input.
    d = network.input_dim
    post = {p: INPUT_SYMBOLS[p] / d for p in PAIRS}
    post_is_input = True
    post_ntk = sp.Integer(0)          # NTK of the post-activation features
    fan_in = d
    pre = None                        # latest pre-activation kernel symbols
    theta = None
    layer = 0
    for stage in stages:
        if isinstance(stage, Dense):
            layer += 1
            cw, cb = stage.weight_var, stage.bias_var
            if par == "mean_field" and layer == dense_count and dense_count > 1:
                cw = cw / fan_in
            if par == "mu_p" and layer == dense_count and dense_count > 1:   # f = f_ntk/(gamma0 sqrt(N))
                g0 = make_symbol("gamma0")
                cw, cb = cw / (g0 ** 2 * fan_in), cb / (g0 ** 2 * fan_in)
            pre = {}
            for p in PAIRS:
                sym = _sym("K", layer, p)
                defs.append(Definition(sym, cw * post[p] + cb, _latex("K", layer, p),
                                       f"NNGP of the pre-activations of dense layer {layer}"))
                pre[p] = sym
            if ntk:
                if par == "standard":
                    own = fan_in * post["12"] + (1 if stage.has_bias else 0)
                    tex = "standard parametrization: n E[phi phi] + 1 from the weights and bias"
                else:
                    own = pre["12"]
                    tex = "NTK parametrization: the layer's own parameters contribute K"
                theta = _sym("Theta", layer, "12")
                defs.append(Definition(theta, own + cw * post_ntk, _latex(r"\Theta", layer, "12"),
                                       f"NTK after dense layer {layer} ({tex})"))
            post = dict(pre)
            post_is_input = False
            post_ntk = theta if ntk else 0
            fan_in = stage.width
        else:  # an activation acting on the Gaussian pre-activations `pre`
            if post_is_input or pre is None:
                raise ValueError("an activation must follow a dense layer")
            phi = stage.expr
            off, doff, d11, d22 = _expectations(phi, pre["11"], pre["12"], pre["22"], method, order)
            new = {}
            for p, expr in (("11", d11), ("12", off), ("22", d22)):
                sym = _sym("C", layer, p)
                defs.append(Definition(sym, expr, _latex("C", layer, p),
                                       rf"E[phi(u)phi(v)] for phi(x) = {stage.source}, layer {layer}"))
                new[p] = sym
            if ntk:
                cdot = _sym("Cdot", layer, "12")
                defs.append(Definition(cdot, doff, _latex(r"\dot{C}", layer, "12"),
                                       "E[phi'(u)phi'(v)]"))
                tp = _sym("ThetaPost", layer, "12")
                defs.append(Definition(tp, cdot * theta, _latex(r"\tilde{\Theta}", layer, "12"),
                                       "NTK of the activations"))
                post_ntk = tp
            post = new
            post_is_input = False
    outputs = {"nngp": post["12"], "nngp_11": post["11"], "nngp_22": post["22"]}
    if ntk:
        outputs["ntk"] = post_ntk
    notes = (
        rf"Parametrization: \texttt{{{par.replace('_', ' ')}}}. "
        r"$K^{(l)}$: NNGP of the pre-activations of dense layer $l$; "
        r"$C^{(l)} = \mathbb{E}[\phi(u)\phi(v)]$, $\dot C^{(l)} = \mathbb{E}[\phi'(u)\phi'(v)]$ with "
        r"$(u,v) \sim \mathcal{N}(0, K^{(l)})$; $\Theta^{(l)}$: NTK. "
        r"Neal 1996; Lee et al. 2018; Matthews et al. 2018; Jacot et al. 2018.",
    )
    defs = [d_ for d_ in defs if ntk or not d_.symbol.name.startswith(("Theta", "Cdot"))]
    return Derivation(title="Infinite-width kernels (NNGP and NTK)", inputs=tuple(INPUT_SYMBOLS.values()),
                      definitions=tuple(defs), outputs=outputs, input_latex=INPUT_LATEX, notes=notes)


__all__ = ["derive_kernels", "INPUT_SYMBOLS"]

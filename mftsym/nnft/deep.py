r"""Finite-width recursions of a deep network at a single input (Roberts, Yaida & Hanin 2022).

With C_W, C_b the prior variances of dense layer l+1, n_l its fan-in, g(K) = <phi(z)^2>_K and
z ~ N(0, K) (docs/theory/nnft.md)::

    K^{l+1}    = C_b + C_W g(K^l)
    chi_par^l  = C_W g'(K^l)         chi_perp^l = C_W <phi'(z)^2>_{K^l}
    V^{l+1}    = C_W^2 (<phi^4>_{K^l} - g^2) + (n_l / n_{l-1}) chi_par^2 V^l
    G1^{l+1}   = (n_l / n_{l-1}) [chi_par G1^l + (C_W / 2) g''(K^l) V^l]

with V^1 = G1^1 = 0, so that E[z^2] = K + G1/n_{l-1} + O(n^-2) and
E[z^4] - 3 E[z^2]^2 = 3 V / n_{l-1} + O(n^-2).  g' and g'' come from differentiating the closed
form of g when the Gaussian engine closes it, and otherwise from the Gaussian-weight (Stein) forms
g' = <phi^2 (z^2 - K)>/(2K^2), g'' = <phi^2 (z^4 - 6 K z^2 + 3 K^2)>/(4 K^4), which need no
derivative of phi (so ReLU-like kinks are handled without distributions).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..derive.derivation import Definition, Derivation
from ..derive.kernels import INPUT_SYMBOLS, INPUT_LATEX
from ..gaussian import GaussianExpectation, SafeCorrelation, gaussian_expectation
from ..spec import X
from ..spec.expressions import as_expr, is_zero
from ._common import dense_blocks, derivative, effective_weight_vars

_k = sp.Symbol("k", positive=True)


def _unsafe(expr):
    return expr.replace(lambda e: isinstance(e, SafeCorrelation), lambda e: e.args[0] / sp.sqrt(e.args[1] * e.args[2]))


def _has_node(expr):
    return expr.has(GaussianExpectation)


def _e1(f):
    """<f(z)>_k, z ~ N(0, k) (closed or a 1-D node)."""
    return gaussian_expectation(f, 1, _k, 0, 1)


def single_input_moments(phi: sp.Expr) -> dict:
    """Gaussian averages at one input as functions of the symbol k (cached per activation):
    g, g', g'', <phi^4>, <phi'^2>, each closed where possible."""
    return dict(_moments_cached(as_expr(phi)))


_CACHE: dict = {}


def _moments_cached(phi):
    if phi in _CACHE:
        return _CACHE[phi]
    g = _unsafe(gaussian_expectation(phi, phi, _k, _k, _k))
    if _has_node(g):
        g = _e1(phi**2)
    if not _has_node(g):
        gp, gpp = sp.diff(g, _k), sp.diff(g, _k, 2)
        gp, gpp = (sp.simplify(e) if sp.count_ops(e) < 80 else e for e in (gp, gpp))
    else:
        e2, e4 = _e1(X**2 * phi**2), _e1(X**4 * phi**2)
        gp = (e2 - _k * g) / (2 * _k**2)
        gpp = (e4 - 6 * _k * e2 + 3 * _k**2 * g) / (4 * _k**4)
    m4 = _unsafe(gaussian_expectation(phi**2, phi**2, _k, _k, _k))
    if _has_node(m4):
        m4 = _e1(phi**4)
    dphi = derivative(phi, 1, "chi_perp")
    dd = _unsafe(gaussian_expectation(dphi, dphi, _k, _k, _k))
    if _has_node(dd):
        dd = _e1(dphi**2)
    out = tuple((name, e) for name, e in
                (("g", g), ("dg", gp), ("ddg", gpp), ("phi4", m4), ("dphi2", dd)))
    _CACHE[phi] = out
    return out


def _s(name, positive=True):
    return sp.Symbol(name, positive=True) if positive else sp.Symbol(name, real=True)


def derive_deep_recursion(spec) -> Derivation:
    """The single-input finite-width chain of ``spec`` (Spec or Network) as a Derivation.

    Outputs: ``K``, ``V``, ``G1`` (of the network output), ``kappa4`` = 3 V / n_{L-1} (connected
    fourth cumulant of the output to O(1/n)), ``second_moment`` = K + G1/n_{L-1}, and per hidden
    layer l: ``K{l}``, ``chi_par{l}``, ``chi_perp{l}``, ``V{l}``, ``G1_{l}``.
    """
    network = getattr(spec, "network", spec)
    blocks = dense_blocks(network)
    cws = effective_weight_vars(network)
    fans = network.fan_ins()
    x11 = INPUT_SYMBOLS["11"]
    defs, outputs = [], {}
    L = len(blocks)
    K = V = G1 = None
    for l, ((layer, phi), cw) in enumerate(zip(blocks, cws), start=1):
        cb = layer.bias_var
        Kl = _s(f"K{l}")
        if l == 1:
            defs.append(Definition(Kl, cw * x11 / network.input_dim + cb, rf"K^{{({l})}}", "input layer"))
            Vl, G1l = sp.S.Zero, sp.S.Zero
        else:
            prev = l - 1
            g, chi = _s(f"g{prev}"), _s(f"chipar{prev}", positive=False)
            defs.append(Definition(Kl, cb + cw * g, rf"K^{{({l})}}", f"kernel recursion, layer {l}"))
            # chi_par of the previous hidden layer uses this layer's C_W
            ratio = sp.S.One if prev == 1 else fans[l - 1] / fans[l - 2]
            defs.insert(-1, Definition(chi, cw * _s(f"dg{prev}", positive=False), rf"\chi_{{\parallel}}^{{({prev})}}",
                                       "parallel susceptibility C_W g'(K)"))
            defs.insert(-1, Definition(_s(f"chiperp{prev}"), cw * _s(f"dphisq{prev}"), rf"\chi_{{\perp}}^{{({prev})}}",
                                       "perpendicular susceptibility C_W <phi'^2>"))
            outputs[f"chi_par{prev}"] = chi
            outputs[f"chi_perp{prev}"] = _s(f"chiperp{prev}")
            vsym, gsym = _s(f"V{l}", positive=False), _s(f"Gone{l}", positive=False)
            vexpr = cw**2 * (_s(f"phifour{prev}") - g**2)
            gexpr = sp.S.Zero
            if not is_zero(V):
                vexpr += ratio * chi**2 * V
                gexpr = ratio * (chi * G1 + cw / 2 * _s(f"ddg{prev}", positive=False) * V) if not is_zero(G1) else \
                    ratio * cw / 2 * _s(f"ddg{prev}", positive=False) * V
            defs.append(Definition(vsym, vexpr, rf"V^{{({l})}}", "four-point vertex"))
            Vl = vsym
            if not is_zero(gexpr):
                defs.append(Definition(gsym, gexpr, rf"G^{{\{{1\}}({l})}}", "1/n correction to the kernel"))
                G1l = gsym
            else:
                G1l = sp.S.Zero
        K, V, G1 = Kl, Vl, G1l
        outputs[f"K{l}"] = Kl
        if not is_zero(Vl):
            outputs[f"V{l}"] = Vl
        if not is_zero(G1l):
            outputs[f"G1_{l}"] = G1l
        if l < L:
            mom = single_input_moments(phi)
            for key, stem, tex in (("g", "g", r"g"), ("dg", "dg", r"g'"), ("ddg", "ddg", r"g''"),
                                   ("phi4", "phifour", r"\langle\phi^4\rangle"),
                                   ("dphi2", "dphisq", r"\langle\phi'^2\rangle")):
                defs.append(Definition(_s(f"{stem}{l}", positive=key in ("g", "phi4", "dphi2")),
                                       mom[key].xreplace({_k: Kl}), rf"{tex}^{{({l})}}",
                                       f"Gaussian average at K^({l}), phi = {phi}"))
    n_last = fans[-1] if L > 1 else sp.oo
    kappa, second = _s("kappafour", positive=False), _s("secondmoment")
    if L > 1:
        defs.append(Definition(kappa, 3 * V / n_last, r"\kappa_4", "E[f^4] - 3E[f^2]^2 to O(1/n)"))
        defs.append(Definition(second, K + G1 / n_last, r"\mathbb{E}[f^2]", "to O(1/n)"))
    else:
        defs.append(Definition(kappa, sp.S.Zero, r"\kappa_4", "Gaussian: no hidden layer"))
        defs.append(Definition(second, K, r"\mathbb{E}[f^2]", ""))
    outputs.update(K=K, kappa4=kappa, second_moment=second)
    if not is_zero(V):
        outputs["V"] = V
    if not is_zero(G1):
        outputs["G1"] = G1
    notes = (r"Single-input finite-width recursion (Roberts, Yaida \& Hanin 2022): $K$ kernel, $V$ four-point "
             r"vertex with $\mathbb{E}[z^4]-3\mathbb{E}[z^2]^2 = 3V/n$, $G^{\{1\}}$ the $1/n$ shift of the "
             r"kernel, $g(K) = \langle\phi^2\rangle_K$, $\chi_\parallel = C_W g'(K)$, "
             r"$\chi_\perp = C_W\langle\phi'^2\rangle_K$.",)
    return Derivation(title="Finite width: single-input kernel, vertex and susceptibility recursions",
                      inputs=(x11,), definitions=tuple(defs), outputs=outputs,
                      input_latex={x11: INPUT_LATEX[x11]}, notes=notes)


def _env(spec, params, x_dim):
    from ..compile.kernel_fn import parameter_env
    return parameter_env(spec.network, {**spec.params, **(params or {})}, x_dim)


def deep_recursion(spec, x, params=None, backend: str = "numpy", outputs=None) -> dict:
    """Evaluate :func:`derive_deep_recursion` at the rows of ``x`` (array (P, d) or (d,)).

    Returns {output: array of shape (P,)} (torch tensors / mpmath numbers for those backends).
    ``params`` override the spec's (widths included)."""
    from ..compile.chain import compile_chain
    der = _derivation_cached(spec.network)
    xa = np.atleast_2d(np.asarray(x, dtype=float))
    env = _env(spec, params, xa.shape[1])
    sq = (xa * xa).sum(1)
    if backend == "torch":
        import torch
        env["x11"] = torch.as_tensor(sq, dtype=torch.float64)
    elif backend == "mpmath":
        import mpmath
        chain = compile_chain(der, backend, outputs=outputs)
        return {k: [v] for k, v in chain({**{a: mpmath.mpf(b) for a, b in env.items()},
                                           "x11": mpmath.mpf(float(sq[0]))}).items()} if len(sq) == 1 else \
            _mp_rows(chain, env, sq)
    else:
        env["x11"] = sq
    out = compile_chain(der, backend, outputs=outputs)(env)
    if backend == "torch":
        import torch
        return {k: torch.broadcast_to(torch.as_tensor(v, dtype=torch.float64), env["x11"].shape) for k, v in out.items()}
    return {k: np.broadcast_to(np.asarray(v, dtype=float), sq.shape) for k, v in out.items()}


def _mp_rows(chain, env, sq):
    import mpmath
    rows = [chain({**{a: mpmath.mpf(b) for a, b in env.items()}, "x11": mpmath.mpf(float(s))}) for s in sq]
    return {k: [r[k] for r in rows] for k in rows[0]}


_DER: dict = {}


def _derivation_cached(network):
    if network not in _DER:
        _DER[network] = derive_deep_recursion(network)
    return _DER[network]


__all__ = ["deep_recursion", "derive_deep_recursion", "single_input_moments"]

r"""The DMFT equations of a deep (L hidden layers) μP network as a
:class:`~mftsym.derive.derivation.Derivation` (LaTeX like every derivation; Bordelon & Pehlevan,
NeurIPS 2022; docs/theory/dynamics.md, "Deep networks").  The spec's numbers enter symbolically:
the weight and bias variances v_k, b_k of every dense layer and each hidden layer's activation φ_k
(its derivative from :func:`~mftsym.derive.kernels.almost_everywhere_derivative`).
"""

from __future__ import annotations

import sympy as sp

from ..derive.derivation import Definition, Derivation
from ..derive.kernels import almost_everywhere_derivative
from ..spec.expressions import X, make_symbol


def derive_dmft_deep(spec) -> Derivation:
    """The deep DMFT of gradient descent for ``spec`` (checked by :func:`.deep.deep_model`)."""
    from .deep import deep_model
    d = spec.network.input_dim
    if d.is_Integer:
        deep_model(spec, int(d))                      # the same checks (and messages) as the solver
    from .deep import dense_chain
    dense, phis = dense_chain(spec.network)
    L = len(dense) - 1
    t, s = sp.symbols("t s", integer=True, nonnegative=True)
    g0, dt = make_symbol("gamma0"), sp.Symbol("dt", positive=True)
    xx = sp.Symbol("x_mu.x_nu", real=True)
    names = {xx: r"x_\mu \cdot x_\nu", g0: r"\gamma_{0}", dt: r"\mathrm{d}t", sp.Symbol("E"): r"\mathbb{E}",
             sp.Symbol("Ds"): r"\Delta(s)", sp.Symbol("Dn"): r"\Delta_\nu(t)"}
    E = sp.Symbol("E")
    defs = [Definition(sp.Symbol("Phit0"), dense[0].weight_var * xx / d + dense[0].bias_var, r"\tilde\Phi^{0}_{\mu\nu}",
                       "input kernel K^x (the hidden bias is a constant input)")]

    def sym(name, tex):
        out = sp.Symbol(name, real=True)
        names[out] = tex
        return out

    theta = 0
    for k in range(1, L + 1):
        phi = phis[k - 1]
        dphi = almost_everywhere_derivative(phi)
        hks, hkt = sym(f"h{k}s", rf"h^{{{k}}}(s)"), sym(f"h{k}t", rf"h^{{{k}}}(t)")
        zkt, gks = sym(f"z{k}t", rf"z^{{{k}}}(t)"), sym(f"g{k}s", rf"g^{{{k}}}(s)")
        ukt, rkt = sym(f"u{k}t", rf"u^{{{k}}}(t)"), sym(f"r{k}t", rf"r^{{{k}}}(t)")
        Rm = sym(f"R{k-1}", rf"R^{{{k-1}}}(t,s)") if k > 1 else 0
        Bk = sym(f"B{k}", rf"B^{{{k}}}(t,s)") if k < L else 0
        Phim = sp.Symbol(f"Phit{k-1}")
        Gp = sym(f"Gh{k+1}", rf"\hat G^{{{k+1}}}(t,s)")
        Ds = sp.Symbol("Ds")
        defs.append(Definition(sp.Symbol(f"h{k}_eq"), ukt + sp.Sum((Rm + dt * g0 * Phim * Ds) * gks, (s, 0, t - 1)),
                               rf"h^{{{k}}}(t)", f"pre-activation of layer {k}; u^{k} ~ GP(0, Phi~^{k-1})"
                               + (", u^1(t) = h^1(0)" if k == 1 else "")))
        resp_b = sp.Sum(Bk * phi.subs(X, hks), (s, 0, t)) if k < L else 0
        defs.append(Definition(sp.Symbol(f"z{k}_eq"), rkt + resp_b
                               + sp.Sum(dt * g0 * Gp * Ds * phi.subs(X, hks), (s, 0, t - 1)), rf"z^{{{k}}}(t)",
                               f"backward field of layer {k}; r^{k} ~ GP(0, G^^{k+1})"
                               + (f", r^{L} = sqrt(v_{L}) a(0)" if k == L else "")))
        defs.append(Definition(sp.Symbol(f"g{k}_eq"), dphi.subs(X, hkt) * zkt, rf"g^{{{k}}}(t)", "gradient field"))
        vk = dense[k].weight_var
        bk = dense[k].bias_var if k < L else 0
        defs.append(Definition(sp.Symbol(f"Phit{k}"), vk * E * phi.subs(X, hkt) * phi.subs(X, hks) + bk,
                               rf"\tilde\Phi^{{{k}}}(t,s)", f"feature kernel of layer {k} as seen by layer {k + 1}"
                               if k < L else "feature kernel of the last hidden layer (readout variance)"))
        defs.append(Definition(sp.Symbol(f"G{k}"), E * sym(f"g{k}t", rf"g^{{{k}}}(t)") * gks, rf"G^{{{k}}}(t,s)",
                               f"gradient kernel of layer {k}"))
        if k < L:
            defs.append(Definition(sp.Symbol(f"R{k}_eq"), vk * E * sp.Derivative(phi.subs(X, hkt), sym(f"r{k}s", rf"r^{{{k}}}(s)")),
                                   rf"R^{{{k}}}(t,s)", "response of the features to the backward source (s < t)"))
        if k > 1:
            defs.append(Definition(sp.Symbol(f"B{k-1}_eq"), dense[k - 1].weight_var * E
                                   * sp.Derivative(sym(f"g{k}tt", rf"g^{{{k}}}(t)"), sym(f"u{k}s", rf"u^{{{k}}}(s)")),
                                   rf"B^{{{k-1}}}(t,s)", "response of the gradients to the forward source (s <= t)"))
        theta = theta + sp.Symbol(f"Phit{k-1}") * sp.Symbol(f"G{k}")
    theta = theta + sp.Symbol(f"Phit{L}")
    Theta = sp.Symbol("Theta", real=True)
    defs.append(Definition(Theta, theta, r"\Theta_{\mu\nu}(t)", "NTK (times the learning-rate multiplier)"))
    defs.append(Definition(sp.Symbol("fdot"), Theta * sp.Symbol("Dn"), r"f_\mu(t+\mathrm{d}t) - f_\mu(t)",
                           "output step / dt (Euler; the exact discrete step for linear networks)"))
    notes = (r"mu P, $L$ hidden layers: $f = \frac{1}{\gamma_0 N}\sum_i \sqrt{v_L}\, a_i \phi(h^L_i)$, raw GD step "
             r"$\eta_0\gamma_0^2 N$, $\mathrm{d}t = \eta_0$; $f = \frac{1}{\gamma_0}\langle z^L \phi(h^L)\rangle$. "
             r"Bordelon \& Pehlevan, NeurIPS 2022; docs/theory/dynamics.md.",)
    return Derivation(title=f"DMFT of gradient descent (deep, {L} hidden layers, muP)", inputs=(xx,),
                      definitions=tuple(defs), outputs={"ntk": Theta}, input_latex=names, notes=notes)


__all__ = ["derive_dmft_deep"]

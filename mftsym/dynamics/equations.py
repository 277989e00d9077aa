r"""The DMFT equations of a two-layer μP network as a :class:`~mftsym.derive.derivation.Derivation`
(LaTeX like every other derivation; Bordelon & Pehlevan, NeurIPS 2022, two-layer case).

The definitions read the spec's numbers symbolically: the input kernel K^x from the first layer's
variances, the single-site field equations for the readout weight a(t) and the pre-activations
h_μ(t), the feature and gradient kernels Φ(t,s), G(t,s), the NTK and the output dynamics.
"""

from __future__ import annotations

import sympy as sp

from ..derive.derivation import Definition, Derivation
from ..derive.kernels import almost_everywhere_derivative
from ..errors import SpecError
from ..spec import Dense, Nonlinearity
from ..spec.expressions import X, make_symbol


def derive_dmft(spec) -> Derivation:
    """The two-layer DMFT of gradient descent for ``spec`` (parametrization ``mu_p``)."""
    net = spec.network
    if net.parametrization != "mu_p":
        raise SpecError(f"the DMFT describes the mu_p parametrization, not {net.parametrization!r}",
                        "network.parametrization")
    dense = [l for l in net.layers if isinstance(l, Dense)]
    acts = [l for l in net.layers if isinstance(l, Nonlinearity)]
    if len(dense) > 2:
        from .equations_deep import derive_dmft_deep
        return derive_dmft_deep(spec)
    if len(dense) != 2 or len(acts) > 1:
        raise SpecError("the DMFT derivation handles two-layer networks (dense -> activation -> dense)",
                        "network.layers")
    phi = acts[0].fn.expr if acts else X
    dphi = almost_everywhere_derivative(phi)
    t, s, tau = sp.symbols("t s tau", nonnegative=True)
    mu, nu = sp.symbols("mu nu", integer=True)
    P = sp.Symbol("P", positive=True, integer=True)
    g0 = make_symbol("gamma0")
    sw, sb, sa2 = dense[0].weight_var, dense[0].bias_var, dense[1].weight_var
    d = net.input_dim
    xx = sp.Symbol(r"x_mu.x_nu", real=True)
    Kx = sp.Symbol("Kx", real=True)
    Phi, G, Theta, f = (sp.Symbol(n, real=True) for n in ("Phi", "G", "Theta", "fdot"))
    # field equations (written with indexed placeholders for LaTeX)
    hm_t, hm_s, hn_t, hn_s = (sp.Symbol(n, real=True) for n in ("hmut", "hmus", "hnut", "hnus"))
    a_t, a_s, D_s = (sp.Symbol(n, real=True) for n in ("at", "as", "Ds"))
    phi_of = lambda v: phi.subs(X, v)
    dphi_of = lambda v: dphi.subs(X, v)
    sa = sp.sqrt(sa2)
    defs = (
        Definition(Kx, sw * xx / d + sb, r"K^x_{\mu\nu}", "input kernel (the hidden bias is a constant input)"),
        Definition(sp.Symbol("a_eq"), sp.Symbol("a0") + g0 * sa * sp.Integral(sp.Sum(D_s * phi_of(hm_s), (mu, 1, P)), (s, 0, t)),
                   r"a(t)", "readout weight of the single site, a(0) ~ N(0,1)"),
        Definition(sp.Symbol("h_eq"), sp.Symbol("h0") + g0 * sa * sp.Integral(sp.Sum(Kx * D_s * a_s * dphi_of(hm_s), (mu, 1, P)), (s, 0, t)),
                   r"h_\nu(t)", "pre-activation of the single site, h(0) ~ N(0, K^x)"),
        Definition(Phi, sp.Symbol("E") * phi_of(hm_t) * phi_of(hn_s), r"\Phi_{\mu\nu}(t,s)", "feature kernel <phi phi>"),
        Definition(G, sp.Symbol("E") * a_t * a_s * dphi_of(hm_t) * dphi_of(hn_s), r"G_{\mu\nu}(t,s)",
                   "gradient kernel <g g>, g = a phi'(h)"),
        Definition(Theta, sa2 * (sp.Symbol("Phi_tt") + sp.Symbol("G_tt") * Kx), r"\Theta_{\mu\nu}(t)",
                   "NTK (times the learning-rate multiplier gamma0^2 N)"),
        Definition(f, sp.Sum(sp.Symbol("Theta_t") * sp.Symbol("Delta_nu"), (nu, 1, P)), r"\partial_t f_\mu(t)",
                   "output dynamics, Delta = y - f"),
    )
    names = {hm_t: r"h_\mu(t)", hm_s: r"h_\mu(s)", hn_t: r"h_\nu(t)", hn_s: r"h_\nu(s)", a_t: "a(t)", a_s: "a(s)",
             D_s: r"\Delta_\mu(s)", xx: r"x_\mu \cdot x_\nu", sp.Symbol("a0"): "a(0)", sp.Symbol("h0"): r"h_\nu(0)",
             sp.Symbol("E"): r"\mathbb{E}", sp.Symbol("Phi_tt"): r"\Phi_{\mu\nu}(t,t)",
             sp.Symbol("G_tt"): r"G_{\mu\nu}(t,t)", sp.Symbol("Theta_t"): r"\Theta_{\mu\nu}(t)",
             sp.Symbol("Delta_nu"): r"\Delta_\nu(t)", g0: r"\gamma_{0}"}
    notes = (r"mu P: $f = \frac{1}{\gamma_0 N}\sum_i \sigma_a a_i \phi(h_i)$, gradient flow "
             r"$\dot\theta = -\gamma_0^2 N \nabla_\theta \frac12\sum_\mu (f_\mu - y_\mu)^2$, "
             r"$f_\mu = \frac{\sigma_a}{\gamma_0}\langle a\,\phi(h_\mu)\rangle$. "
             r"Bordelon \& Pehlevan, NeurIPS 2022; docs/theory/dynamics.md.",)
    return Derivation(title="DMFT of gradient descent (two-layer, muP)", inputs=(xx,), definitions=defs,
                      outputs={"ntk": Theta, "phi": Phi, "g": G}, input_latex=names, notes=notes)


__all__ = ["derive_dmft"]

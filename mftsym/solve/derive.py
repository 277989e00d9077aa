r"""Actions and saddle-point equations derived from a spec (docs/theory/nngp_ntk.md, kernel_renormalization.md, deep_linear.md).

Kernel renormalization (Pacelli et al. 2023; Li & Sompolinsky 2021).  Integrating out the readout
``a ~ N(0, σ_a²/N_L)`` (Gaussian, exact) leaves a Gaussian process in the outputs whose kernel is
``σ_a² (1/N_L) Σ_i φ_i(x) φ_i(x')``.  In the proportional limit that empirical kernel is replaced
(Gaussian-equivalence step) by ``u_L`` times its infinite-width value, and the weight matrix that
reads layer l (prior variance renormalized by u_l) contributes the entropy ``(N_l/2)(u_l - ln u_l)``
of one scalar order parameter per hidden layer.  With the eigendecomposition ``K = V diag(λ) Vᵀ``,
``ỹ = Vᵀ y`` of the readout-level NNGP on the training set, ``Q = Π_l u_l``:

    S(u) = Σ_l (N_l/2)(u_l - ln u_l) + ½ Σ_μ [ ln(σ² + Q λ_μ) + ỹ_μ² / (σ² + Q λ_μ) ].

The per-mode summand is a SymPy expression in (u, λ_μ, ỹ_μ², σ²): residuals ∂S/∂u_l and the
Hessian are generated from it by differentiation and compiled; the P×P matrix enters only through
its spectrum, so one eigendecomposition serves every value of u, σ² and N.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import sympy as sp

from ..derive.derivation import Definition, Derivation
from ..errors import SpecError
from .common import hidden_layers, noise_expression, readout, readout_variance_expr, theory_kind
from .registry import get_theory
from .symbols import LAM, NOISE, Y2

_MU = sp.Symbol("mu", integer=True, positive=True)
_P = sp.Symbol("P", positive=True, integer=True)
_LAM_I = sp.IndexedBase("lambda")
_Y_I = sp.IndexedBase(r"\tilde{y}")


@dataclass(frozen=True, eq=False)
class ModeAction:
    """An action ``S(v) = prior(v) + Σ_μ mode(v, λ_μ, ỹ_μ²)`` in scalar order parameters v.

    ``variables``: the order-parameter symbols; ``prior``: the part without data;
    ``mode``: the per-eigenmode summand in :data:`LAM`, :data:`Y2`, :data:`NOISE`;
    ``derivation``: the action and saddle-point equations for display.
    """

    theory: str
    variables: tuple
    prior: sp.Expr
    mode: sp.Expr
    derivation: Derivation
    widths: tuple = ()
    notes: tuple = field(default=())
    approximation: str = ""     # which theory / approximation the action is (shown in the Solution)

    @property
    def names(self) -> tuple:
        return tuple(v.name for v in self.variables)

    def action_expression(self) -> sp.Expr:
        """The action with the mode sum written as a SymPy ``Sum`` over μ = 1..P."""
        summand = self.mode.subs({LAM: _LAM_I[_MU], Y2: _Y_I[_MU] ** 2})
        return self.prior + sp.Sum(summand, (_MU, 1, _P))

    def saddle_equations(self) -> tuple:
        S = self.action_expression()
        return tuple(sp.Eq(sp.diff(S, v), 0) for v in self.variables)

    def zero_noise_gradient(self):
        """∂S/∂v at σ² = 0 with Σ_μ ỹ_μ²/λ_μ = P r (and the mode sum done), for the closed forms
        of docs/theory/deep_linear.md.  Returns (gradient expressions, symbols P, r)."""
        P, r = sp.Symbol("P", positive=True), sp.Symbol("r", positive=True)
        m0 = sp.expand_log(self.mode.subs(NOISE, 0), force=True)
        out = []
        for v in self.variables:
            dm = sp.expand(sp.diff(m0, v))
            a = dm.coeff(Y2, 0)
            b = dm.coeff(Y2, 1)
            if a.has(LAM) or sp.simplify(b * LAM).has(LAM):
                raise ValueError("the σ² → 0 mode sum does not reduce to r = yᵀK⁻¹y/P")
            out.append(sp.diff(self.prior, v) + P * a + sp.simplify(b * LAM) * P * r)
        return out, P, r


def _noise_definition(spec_or_expr) -> Definition:
    expr = spec_or_expr if isinstance(spec_or_expr, sp.Expr) else noise_expression(spec_or_expr)
    return Definition(NOISE, expr, r"\sigma^2",
                      "likelihood variance (noise / temperature) of the posterior")


@lru_cache(maxsize=64)
def _renormalization(net, noise) -> ModeAction:
    from ..layers import require_supported
    require_supported(net, "kernel renormalization")
    ro = readout(net)
    if ro.has_bias:
        raise SpecError("kernel renormalization renormalizes the weight part of the readout kernel only; "
                        "set the readout bias_var to 0 (hidden-layer biases are fine) or use theory "
                        "kind = \"gp\"", "network.layers[-1].bias_var")
    hidden = hidden_layers(net)
    if not hidden:
        raise SpecError("kernel renormalization needs at least one hidden dense layer (a width N)",
                        "network.layers")
    us = tuple(sp.Symbol(f"u{l}", positive=True) for l, _, _ in hidden)
    widths = tuple(w for _, w, _ in hidden)
    Q = sp.Mul(*us)
    prior = sum((w / 2) * (u - sp.log(u)) for u, w in zip(us, widths))
    mode = (sp.log(NOISE + Q * LAM) + Y2 / (NOISE + Q * LAM)) / 2
    linear = all(act is None or act == sp.Symbol("x", real=True) for _, _, act in hidden)
    if len(hidden) == 1:
        kind = "one hidden layer (Pacelli et al. 2023)"
    elif linear:
        kind = "deep linear network, one renormalization variable per layer (Li & Sompolinsky 2021)"
    else:
        kind = ("deep nonlinear network, APPROXIMATION: the deep-linear action of Li & Sompolinsky (2021), one "
                "scalar renormalization per layer, evaluated with the nonlinear NNGP kernel; exact only for "
                "linear layers beyond the first (docs/theory/deep_linear.md); the layer-by-layer kernel deformation "
                "is kept by theory kind adaptive_kernel (docs/theory/deep_adaptive_kernel.md)")
    Kro = sp.Symbol("K_ro", positive=True)
    defs = [_noise_definition(noise),
            Definition(Kro, readout_variance_expr(net), r"\sigma_a^2",
                       "readout prior variance (the readout-level kernel is sigma_a^2 E[phi phi])"),
            Definition(sp.Symbol("Q", positive=True), Q, r"\bar Q", "total kernel renormalization")]
    theory = ModeAction("kernel_renormalization", us, prior, mode,
                        derivation=None, widths=widths, approximation=kind)  # type: ignore[arg-type]
    S = sp.Symbol("S", real=True)
    defs.append(Definition(S, theory.action_expression(), "S", "effective action"))
    names = {u: rf"u_{{{u.name[1:]}}}" for u in us}
    names[NOISE] = r"\sigma^2"
    notes = (
        rf"Kernel renormalization, {kind}. The readout is integrated out exactly and the empirical "
        r"readout kernel replaced by $\bar Q K$ (Gaussian equivalence), with $K = V\,\mathrm{diag}(\lambda)V^\top$ "
        r"the readout-level NNGP on the training set and $\tilde y = V^\top y$; each hidden layer $l$ "
        r"contributes $\frac{N_l}{2}(u_l - \ln u_l)$. Predictor: $\bar f(x_*) = \bar Q\, k_*^\top "
        r"(\sigma^2 I + \bar Q K)^{-1} y$, variance $\bar Q k_{**} - \bar Q^2 k_*^\top(\sigma^2 I + \bar Q K)^{-1}k_*$.",
    )
    der = Derivation(title="Kernel renormalization: action and saddle-point equations", inputs=(),
                     definitions=tuple(defs), outputs={"action": S}, equations=theory.saddle_equations(),
                     input_latex=names, notes=notes)
    object.__setattr__(theory, "derivation", der)
    object.__setattr__(theory, "notes", notes)
    return theory


def renormalization_theory(spec) -> ModeAction:
    """The kernel-renormalization action of ``spec`` (cached)."""
    return _renormalization(spec.network, noise_expression(spec))


def gp_derivation(spec) -> Derivation:
    P = sp.Symbol("P", positive=True, integer=True)
    K = sp.MatrixSymbol("K", P, P)
    ks = sp.MatrixSymbol("k_*", P, 1)
    y = sp.MatrixSymbol("y", P, 1)
    kss = sp.Symbol("k_**", positive=True)
    A = (K + NOISE * sp.Identity(P)).inverse()
    fbar, var, S = sp.Symbol("fbar", real=True), sp.Symbol("Var_f", positive=True), sp.Symbol("S", real=True)
    defs = (_noise_definition(spec),
            Definition(fbar, (ks.T * A * y)[0, 0], r"\bar f(x_*)", "posterior mean"),
            Definition(var, kss - (ks.T * A * ks)[0, 0], r"\mathrm{Var} f(x_*)", "posterior variance"),
            Definition(S, (sp.log(sp.Determinant(K + NOISE * sp.Identity(P))) + (y.T * A * y)[0, 0]) / 2,
                       "S", "negative log evidence (without the P/2 ln 2 pi constant)"))
    return Derivation(title="Gaussian-process posterior (infinite width)", inputs=(), definitions=defs,
                      outputs={"mean": fbar, "variance": var, "action": S}, input_latex={NOISE: r"\sigma^2"},
                      notes=(r"$K$: the NNGP of the spec on the training inputs (docs/theory/nngp_ntk.md).",))


def derive_theory(spec) -> list:
    """The action and saddle-point equations the spec's [theory] asks for, as Derivations (the
    ``derive`` of its entry in :mod:`mftsym.solve.registry`)."""
    return get_theory(theory_kind(spec)).derivations(spec)


def gp_derivations(spec) -> list:
    """[the GP posterior] (the registry's derivation of ``"gp"``)."""
    return [gp_derivation(spec)]


def renormalization_derivations(spec) -> list:
    """[the kernel-renormalization action] (the registry's derivation of ``"kernel_renormalization"``)."""
    return [renormalization_theory(spec).derivation]


__all__ = ["LAM", "ModeAction", "NOISE", "Y2", "derive_theory", "gp_derivation", "gp_derivations",
           "renormalization_derivations", "renormalization_theory"]

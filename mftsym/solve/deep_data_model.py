r"""Deep adaptive kernel on the symbolic Gaussian data model (docs/theory/deep_adaptive_kernel.md,
"Data-model reduction"): Gaussian inputs x ~ N(0, I_d), teacher y = Σ_k c_k He_k(z), z = w*·x,
n training samples in the population limit, as in the one-hidden-layer reduction of
:mod:`mftsym.solve.data_model` (docs/theory/adaptive_kernel.md), now for L hidden layers.

Two reductions live here.  (1) The general case -- a first hidden layer of any activation with
linear, bias-free layers above -- is solved by :mod:`mftsym.solve.data_model` (``_solve_deep``): the
backward tilts of linear layers are rank one along the discrepancy, so the first layer keeps the
one-hidden-layer (Φ, r) action with a renormalized coupling; :func:`couplings` gives the chain
α_L = σ_a²/N_L, α_{l−1} = (N_l/N_{l−1}) σ_{w,l}² α_l/(1 − α_l v_l) and the effective readout
σ_a² Π_{l≥2} σ_{w,l}²/(1 − α_l v_l).  (2) Below, in closed form, a deep network of *linear* hidden
layers without biases (any depth), the reference for (1) with linear φ_1.  Each neuron's
action is then Gaussian, so the layer-by-layer Gaussian closure of :mod:`mftsym.solve.deep_adaptive`
is exact, and by the symmetry of the data model (teacher direction plus isotropic orthogonal
complement) every layer's kernel is the prior kernel plus a change along the teacher mode only:
the pre-activation of a layer-l neuron is h_l(x) = A_l z + (orthogonal part), and the orthogonal
part is orthogonal to the discrepancy t(x) = Σ_k τ_k He_k(z) in the population limit, so it keeps
its prior.  The order parameters are the variances s_l = ⟨A_l²⟩ (one scalar per layer):

    K_1 = σ_{w,1}²/d,   K_l = σ_{w,l}² s_{l−1}   (l ≥ 2; the mean-field input kernel on the z mode)
    F(s) = Σ_l (N_l/2) [s_l/K_l − ln(s_l/K_l) − 1] − N_L κ_L τ_1² s_L,   κ_L = σ_a² n²/(2 N_L)
    1/s_L = 1/K_L − 2 κ_L τ_1²
    1/s_l = 1/K_l + (N_{l+1}/N_l) σ_{w,l+1}² (1/K_{l+1} − s_{l+1}/K_{l+1}²)    (l < L)
    f̄_1 = σ_a² n s_L τ_1,   τ_k = (c_k − f̄_k)/σ²,   f̄_k = 0 for k ≠ 1,

the equations of state being ∂F/∂s_l = 0 at the self-consistent τ.  They are the stationarity
conditions of the free energy with τ eliminated,

    F_tot(s) = Σ_l (N_l/2) [s_l/K_l − ln(s_l/K_l) − 1] + (n c_1²/2) / (σ² + σ_a² n s_L),

(the data term of ½ yᵀ(Q + σ²I)⁻¹y on the teacher mode; the trace term ½ ln(σ² + σ_a² n s_L) is
dropped as in the one-hidden-layer data model), which is bounded below: the solver minimises it
over ln s_l from several starts and polishes the equations of state with a root finder.  At depth 1 this is the
Gaussian Φ-marginal of the reduced action S(Φ, r) of :mod:`mftsym.solve.data_model` for linear φ
(tested against its quadrature); for finite P it is the P → ∞ limit of the data-array closure of
:mod:`mftsym.solve.deep_adaptive` in mean-field scaling (tested on sampled data).  Nonlinear
layers above the first are not reduced (a layer-l ≥ 2 neuron's kernel is a function of z and of
the orthogonal directions, not a few scalars): a SpecError says so and points to data arrays.
This module does not import :mod:`mftsym.solve.data_model` (which dispatches here).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..derive.derivation import Definition, Derivation
from ..errors import ConvergenceError, EvaluationError, SpecError
from ..spec import X
from ..spec.expressions import as_expr, make_symbol, parse_expression
from .common import _value, noise_expression, readout, readout_variance_expr
from .deep_adaptive import hidden_stack
from .solution import Saddle, Solution

SUPPORTED_GENERAL = ("the symbolic Gaussian data model handles deep networks whose hidden layers above the "
                     "first are linear without biases (the first layer may have any activation); for other deep "
                     "networks give data arrays (mftsym solve SPEC --data DATA.npz: the deep adaptive kernel on "
                     "data arrays)")
SUPPORTED = ("the symbolic Gaussian data model handles one hidden layer (any activation) and deep networks "
             "of linear hidden layers without biases; for a deep nonlinear network give data arrays "
             "(mftsym solve SPEC --data DATA.npz: the deep adaptive kernel on data arrays)")


def is_deep(network) -> bool:
    """True when the network has more than one hidden dense layer."""
    return len(hidden_stack(network)) > 1


def _layers(spec):
    stack = hidden_stack(spec.network)
    if readout(spec.network).has_bias:
        raise SpecError("the adaptive-kernel theory has no readout bias; set it to 0", "network.layers[-1]")
    for i, (layer, phi) in enumerate(stack, 1):
        if sp.simplify(as_expr(phi) - X) != 0:
            raise SpecError(f"hidden layer {i} has activation {phi}: {SUPPORTED}", "network.layers")
        if not (as_expr(layer.bias_var).is_zero):
            raise SpecError(f"hidden layer {i} has a bias (bias_var = {layer.bias_var}): {SUPPORTED}; "
                            "set bias_var = 0", "network.layers")
    return stack


def first_layer(network):
    """(first hidden Dense, φ_1) of a network whose hidden layers above the first are linear without
    biases (any depth; a one-hidden-layer network of any activation); SpecError otherwise."""
    from .adaptive import two_layer
    if not is_deep(network):
        return two_layer(network)
    stack = hidden_stack(network)
    for i, (layer, phi) in enumerate(stack[1:], 2):
        if sp.simplify(as_expr(phi) - X) != 0:
            raise SpecError(f"hidden layer {i} has activation {phi}: {SUPPORTED_GENERAL}", "network.layers")
        if not as_expr(layer.bias_var).is_zero:
            raise SpecError(f"hidden layer {i} has a bias (bias_var = {layer.bias_var}): {SUPPORTED_GENERAL}; "
                            "set bias_var = 0", "network.layers")
    if readout(network).has_bias:
        raise SpecError("the adaptive-kernel theory has no readout bias; set it to 0", "network.layers[-1]")
    return stack[0]


def upper_layers(spec, params=None):
    """(N_l, σ_{w,l}²) for the hidden layers l = 1..L as arrays (numbers)."""
    stack = hidden_stack(spec.network)
    values = {**spec.params, **(params or {})}
    sv = spec.with_params(**values)
    N = np.array([_value(layer.width, sv, f"width of hidden layer {i}") for i, (layer, _) in enumerate(stack, 1)])
    sw2 = np.array([_value(layer.weight_var, sv, f"weight_var of layer {i}") for i, (layer, _) in
                    enumerate(stack, 1)])
    if np.any(N <= 0) or np.any(sw2 <= 0):
        raise EvaluationError("widths and weight variances of the hidden layers must be positive")
    return N, sw2


def couplings(N, sw2, sa2, v):
    r"""Backward rank-one tilts of linear layers above the first (module docstring, general case):
    α_L = σ_a²/N_L,  α_l = (N_{l+1}/N_l) σ_{w,l+1}² α_{l+1}/(1 − α_{l+1} v_{l+1}),
    with v_l = tᵀK_l t (l ≥ 2; ``v[l-2]``).  Returns (α_1..α_L, the effective readout variance
    σ_a² Π_{l≥2} σ_{w,l}²/(1 − α_l v_l)) or None where a measure is not normalisable (α_l v_l ≥ 1)."""
    L = len(N)
    alpha = np.empty(L)
    alpha[-1] = sa2 / N[-1]
    eff = sa2
    for l in range(L - 1, 0, -1):          # 0-based: layer l+1 in the docs
        den = 1 - alpha[l] * v[l - 1]
        if not den > 0:
            return None
        alpha[l - 1] = N[l] / N[l - 1] * sw2[l] * alpha[l] / den
        eff *= sw2[l] / den
    return alpha, eff


def deep_data_model_derivation(spec, coefficients) -> Derivation:
    """Free energy and equations of state of the reduced deep linear data model (LaTeX)."""
    stack = _layers(spec)
    L = len(stack)
    s = [sp.Symbol(f"s_{l}", positive=True) for l in range(1, L + 1)]
    tau = sp.Symbol("tau1", real=True)
    noise = sp.Symbol("noise", positive=True)
    sa2 = readout_variance_expr(spec.network)
    n = parse_expression((spec.data or {}).get("n_train", "n"), "data.n_train")
    K = [stack[0][0].weight_var / spec.network.input_dim] + [stack[l][0].weight_var * s[l - 1] for l in range(1, L)]
    Ns = [layer.width for layer, _ in stack]
    kappa = sa2 * n ** 2 / (2 * Ns[-1])
    F = sum(N / 2 * (sl / k - sp.log(sl / k) - 1) for N, sl, k in zip(Ns, s, K)) - Ns[-1] * kappa * tau ** 2 * s[-1]
    Fsym = sp.Symbol("F", real=True)
    defs = [Definition(noise, noise_expression(spec), r"\sigma^2", "noise")]
    defs += [Definition(sp.Symbol(f"K_{l}", positive=True), k, rf"K_{{{l}}}", f"prior variance of A_{l} (z mode)")
             for l, k in enumerate(K, 1)]
    defs.append(Definition(Fsym, F, "F", "reduced free energy at fixed tau_1 (linear layers, Gaussian data)"))
    c1 = coefficients.get(1, sp.S.Zero)
    Ftot = F.subs(tau, 0) + n * c1 ** 2 / (2 * (noise + sa2 * n * s[-1]))
    defs.append(Definition(sp.Symbol("F_tot", real=True), Ftot, r"F_{\mathrm{tot}}",
                           "free energy with tau_1 eliminated (minimised by the solver)"))
    fbar = sa2 * n * s[-1] * tau
    eqs = [sp.Eq(sp.diff(F, sl), 0) for sl in s]
    eqs += [sp.Eq(tau, (coefficients.get(1, 0) - fbar) / noise)]
    eqs += [sp.Eq(sp.Symbol(f"tau{k}", real=True), c / noise) for k, c in coefficients.items() if k != 1]
    names = {**{sl: rf"s_{{{l}}}" for l, sl in enumerate(s, 1)}, tau: r"\tau_1", noise: r"\sigma^2"}
    notes = (r"Deep linear network on Gaussian inputs, teacher $\sum_k c_k\mathrm{He}_k(z)$: a layer-$l$ "
             r"pre-activation is $A_l z$ + an orthogonal part that keeps its prior; $s_l = \langle A_l^2\rangle$, "
             r"$\bar f_1 = \sigma_a^2 n\, s_L \tau_1$, $\bar f_{k\ne 1} = 0$, $\tau_k = (c_k - \bar f_k)/\sigma^2$. "
             r"Depth 1: the Gaussian marginal of the one-hidden-layer reduced action $S(\Phi, r)$.",)
    return Derivation(f"Deep adaptive kernel on Gaussian data ({L} linear hidden layers): reduced equations",
                      tuple(s), tuple(defs), {"action": Fsym}, equations=tuple(eqs), input_latex=names, notes=notes)


class _Reduced:
    """Numbers of the reduced model: layer widths/variances, d, n, σ_a², σ²."""

    def __init__(self, spec, coefficients, params=None):
        stack = _layers(spec)
        values = {**spec.params, **(params or {})}
        sv = spec.with_params(**values)
        subs = {make_symbol(k): v for k, v in values.items()}
        self.N = np.array([_value(layer.width, sv, f"width of hidden layer {i}") for i, (layer, _) in
                           enumerate(stack, 1)])
        self.sw2 = np.array([_value(layer.weight_var, sv, f"weight_var of layer {i}") for i, (layer, _) in
                             enumerate(stack, 1)])
        self.d = _value(spec.network.input_dim, sv, "input_dim")
        self.n = _value(parse_expression((spec.data or {}).get("n_train", "n"), "data.n_train"), sv, "n_train")
        self.sa2 = _value(readout_variance_expr(spec.network), sv, "readout weight_var")
        self.noise = _value(noise_expression(spec), sv, "noise_var")
        if self.noise <= 0:
            raise SpecError("noise_var must be positive", "posterior.noise_var")
        if np.any(self.N <= 0) or np.any(self.sw2 <= 0) or self.d <= 0 or self.n <= 0:
            raise EvaluationError("widths, weight variances, input_dim and n_train must be positive")
        self.modes = tuple(sorted(coefficients))
        self.c = {k: float(as_expr(c).subs(subs)) for k, c in coefficients.items()}
        self.kappa = self.sa2 * self.n ** 2 / (2 * self.N[-1])

    @property
    def depth(self):
        return len(self.N)

    def prior(self, s):
        return np.concatenate([[self.sw2[0] / self.d], self.sw2[1:] * s[:-1]])

    def residual(self, s, tau):
        """Equations of state as 1/s_l − (right-hand side), times s_l (dimensionless)."""
        K = self.prior(s)
        rhs = 1 / K
        rhs[:-1] += self.N[1:] / self.N[:-1] * self.sw2[1:] * (1 / K[1:] - s[1:] / K[1:] ** 2)
        rhs[-1] -= 2 * self.kappa * tau ** 2
        return 1 - s * rhs

    def tau(self, sL):
        """τ_1 = c_1/(σ² + σ_a² n s_L), the self-consistent discrepancy of the teacher mode."""
        return self.c.get(1, 0.0) / (self.noise + self.sa2 * self.n * sL)

    def F_total(self, s):
        """F with τ_1 eliminated: Σ_l KL_l + (n c_1²/2)/(σ² + σ_a² n s_L) (data term; the trace term
        ½ ln(σ² + σ_a² n s_L) is dropped as in the one-hidden-layer data model, mean-field scaling)."""
        K = self.prior(s)
        kl = np.sum(self.N / 2 * (s / K - np.log(s / K) - 1))
        return float(kl + 0.5 * self.n * self.c.get(1, 0.0) ** 2 / (self.noise + self.sa2 * self.n * s[-1]))

    def order_parameters(self, s):
        tau1 = self.tau(s[-1])
        fbar1 = self.sa2 * self.n * s[-1] * tau1
        ops = {**{f"s{l}": float(v) for l, v in enumerate(s, 1)},
               **{f"s{l}_prior_ratio": float(v / p) for l, (v, p) in enumerate(zip(s, self.prior(s)), 1)}}
        for k in sorted(set(self.modes) | {1}):
            fb = fbar1 if k == 1 else 0.0
            ops[f"tau{k}"] = float((self.c.get(k, 0.0) - fb) / self.noise)
            ops[f"fbar{k}"] = float(fb)
        return ops

    def hessian_total(self, s, h=1e-4):
        """∂²F_total/∂(ln s)² by central differences (stability)."""
        u0, n = np.log(s), len(s)
        H = np.empty((n, n))
        f = lambda u: self.F_total(np.exp(u))  # noqa: E731
        for i in range(n):
            for j in range(n):
                ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
                H[i, j] = (f(u0 + ei + ej) - f(u0 + ei - ej) - f(u0 - ei + ej) + f(u0 - ei - ej)) / (4 * h * h)
        return 0.5 * (H + H.T)


def solve_deep_data_model(spec, coefficients, params=None, tol=1e-10, starts=(1.0, 10.0, 100.0, 0.1)) -> Solution:
    """Minimise the reduced free energy F_tot(s) (τ_1 eliminated, module docstring) over ln s_l from
    ``starts`` (multiples of the prior variances); the lowest minimum is the solution, every distinct
    stationary point found is in ``saddles``."""
    from scipy.optimize import minimize, root
    r = _Reduced(spec, coefficients, params)
    prior = np.cumprod(np.concatenate([[r.sw2[0] / r.d], r.sw2[1:]]))
    found, its = [], 0
    for f in starts:
        u0 = np.log(prior * f)
        with np.errstate(all="ignore"):
            m = minimize(lambda u: r.F_total(np.exp(u)), u0, method="BFGS", options={"gtol": 1e-12, "maxiter": 2000})
            sol = root(lambda u: r.residual(np.exp(u), r.tau(np.exp(u)[-1])), m.x, method="hybr",
                       options={"xtol": 1e-14})
        its += int(m.nit) + int(sol.nfev)
        s = np.exp(sol.x)   # (hybr reports no progress when started at the root: the residual decides)
        if not np.all(np.isfinite(s)):
            continue
        res = float(np.max(np.abs(r.residual(s, r.tau(s[-1])))))
        if res > tol or any(np.allclose(s, q, rtol=1e-7) for q, *_ in found):
            continue
        ev = np.linalg.eigvalsh(r.hessian_total(s))
        found.append((s, r.F_total(s), res, ev))
    if not found:
        raise ConvergenceError("the reduced deep data model did not converge from any start; check that the "
                               "widths, noise and n_train are positive and finite")
    found.sort(key=lambda x: (not np.all(x[3] > 0), x[1]))
    saddles = tuple(Saddle(r.order_parameters(s), F, res, ev) for s, F, res, ev in found)
    best = saddles[0]
    msg = "" if best.stable else "the stationary point found is not a minimum of the reduced free energy"
    return Solution("adaptive_kernel_data_model", best.order_parameters, best.action, None, None, True,
                    best.residual, its, saddles, msg,
                    extras={"depth": r.depth, "widths": r.N.tolist(), "d": r.d, "n": r.n, "noise": r.noise,
                            "sa2": r.sa2, "phase": "deep linear",
                            "reduction": "deep linear, teacher mode (exact Gaussian measures)"})


__all__ = ["SUPPORTED", "SUPPORTED_GENERAL", "couplings", "first_layer", "upper_layers", "deep_data_model_derivation", "is_deep", "solve_deep_data_model"]

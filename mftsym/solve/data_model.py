r"""Adaptive kernel on a symbolic data model (docs/theory/adaptive_kernel.md, "Data-model reduction"): Gaussian inputs x ~ N(0, I_d)
and a teacher y = Σ_k c_k He_k(z), z = w*·x, |w*| = 1, n training samples (population limit).

For one hidden neuron w (prior N(0, σ_w²/d I)), (z, w·x) is Gaussian with covariance
[[1, Φ], [Φ, ρ]], Φ = w·w*, ρ = |w|², so with the discrepancy t(x) = Σ_k τ_k He_k(z)

    m_k(Φ, ρ) = E[He_k(z) φ(w·x)]                      (Gaussian-expectation engine, closed form)
    S(Φ, r) = d (Φ² + r)/(2σ_w²) − ((d − 3)/2) ln r − (σ_a² n²/(2N)) [Σ_k τ_k m_k(Φ, Φ² + r)]²

with r = |w_⊥|² (the (d−1)-dimensional shell contributes the entropy term).  Self-consistency:

    τ_k = (c_k − f̄_k)/σ²,   f̄_k = (σ_a² n / k!) ⟨m_k Σ_j τ_j m_j⟩_{e^{−S(Φ,r)}},

the average taken by quadrature on a (Φ, r) grid.  The modes k are the teacher's (c_k ≠ 0) plus any listed in
``[data] modes`` (c_k = 0: τ_k = −f̄_k/σ², the discrepancy beyond the teacher's modes).

``[theory] reduced_action`` selects the treatment of r (docs/theory/grokking.md):
``"relaxed"`` (default) is the action above, r relaxing through its entropy term; ``"paper"`` holds
r at its prior value σ_w² (Rubin, Seroussi & Ringel 2024, the reduced action S(Φ) of Sec. 2.4):

    S(Φ) = d Φ²/(2σ_w²) − (σ_a² n²/(2N)) [Σ_k τ_k m_k(Φ, Φ² + σ_w²)]²

(the Φ-independent terms d r/(2σ_w²) − ((d−3)/2) ln r at r = σ_w² dropped).  Stationary points of S at the self-consistent τ
are the saddles (GP-like Φ = 0 and teacher-aligned ±Φ*); where the lowest-action saddle changes
along a control parameter there is a first-order transition.  Mean-field scaling: the trace term of
the per-neuron action is dropped (Rubin, Seroussi & Ringel 2024).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import factorial

import numpy as np
import sympy as sp

from ..derive.derivation import Definition, Derivation
from ..errors import ConvergenceError, EvaluationError, SpecError
from ..gaussian import gaussian_expectation
from ..spec import X
from ..spec.expressions import hermite_prob, as_expr, is_zero, make_symbol, parse_expression
from .adaptive import adaptive_derivation, two_layer
from .anderson import anderson_mixing
from .common import _value, noise_expression, readout_variance_expr
from .solution import Saddle, Solution

PHI = sp.Symbol("Phi", real=True)
RPERP = sp.Symbol("r", positive=True)
_Z = sp.Symbol("z", real=True)


@dataclass(frozen=True, eq=False)
class DataModelTheory:
    modes: tuple          # Hermite degrees k kept
    coefficients: tuple   # teacher c_k (SymPy)
    m: tuple              # m_k(Φ, ρ) with ρ = Φ² + r
    taus: tuple           # symbols τ_k
    action: sp.Expr       # S(Φ, r; τ)
    params: dict          # symbol expressions: d, sigma_w2, sa2, N, n, noise
    derivation: Derivation
    treatment: str = "relaxed"            # "relaxed" | "paper" (r held at sigma_w^2)
    variables: tuple = (PHI, RPERP)       # the order parameters S depends on
    generic_action: sp.Expr = None        # S with symbols D (input dim) and KAPPA (coupling)


TREATMENTS = ("relaxed", "paper")
DSYM = sp.Symbol("D", positive=True)          # input dimension in the generic action
KAPPA = sp.Symbol("kappa", positive=True)     # sigma_a^2 n^2 / (2N), the data-term coupling
UBAR = sp.Symbol("u", positive=True)          # kappa/d, held fixed as d -> infinity
DEFINITION_FINITE = "finite_d: the lowest-action saddle changes (self-consistent discrepancy at the spec's d)"


def reduced_action_treatment(spec) -> str:
    """``[theory] reduced_action``: "relaxed" (default: r = |w_perp|^2 relaxes through its entropy
    term) or "paper" (r held at its prior value sigma_w^2, as in Rubin, Seroussi & Ringel 2024)."""
    kind = (getattr(spec, "theory", None) or {}).get("reduced_action", "relaxed")
    if kind not in TREATMENTS:
        raise SpecError(f"unknown [theory] reduced_action {kind!r}; use one of {', '.join(TREATMENTS)}",
                        "theory.reduced_action")
    return kind


def _check_modes(modes):
    """``[data] modes``: extra Hermite degrees k of z kept in the reduction besides the teacher's own (their
    c_k = 0), e.g. ``modes = [1, 3, 5]`` adds He5 to a He1 + He3 teacher; a list of distinct integers
    0 <= k <= 15."""
    bad = SpecError(f"[data] modes must be a list of distinct integers 0 <= k <= 15 (Hermite degrees k of z), "
                    f"e.g. modes = [1, 3, 5]; got {modes!r}", "data.modes")
    if isinstance(modes, (str, bytes)) or not isinstance(modes, (list, tuple)) or not modes:
        raise bad
    for k in modes:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= 15:
            raise bad
    if len(set(int(k) for k in modes)) != len(modes):
        raise bad
    return tuple(sorted(int(k) for k in modes))


def _teacher(spec):
    data = spec.data or {}
    if data.get("inputs") != "gaussian":
        raise SpecError("the symbolic data model needs [data] inputs = \"gaussian\"", "data.inputs")
    unknown = set(data) - {"inputs", "teacher", "n_train", "modes"}
    if unknown:
        raise SpecError(f"unknown keys {sorted(unknown)} in [data]; known: inputs, teacher, n_train, modes", "data")
    if "modes" in data:
        _check_modes(data["modes"])
    if "teacher" not in data:
        raise SpecError("[data] needs a teacher, e.g. teacher = \"He1(z) + eps*He3(z)\"", "data.teacher")
    allowed = {"z"} | set(spec.params)
    T = parse_expression(data["teacher"], "data.teacher", allowed_symbols=allowed)
    T = T.subs(X, _Z).subs(make_symbol("z"), _Z)
    try:
        poly = sp.Poly(sp.expand(T), _Z)
    except sp.PolynomialError:
        raise SpecError(f"the teacher {data['teacher']!r} must be a polynomial in z (Hermite He_k(z))",
                        "data.teacher") from None
    deg = poly.degree()
    coeffs = {}
    for k in range(deg + 1):
        Hk = parse_expression(f"He{k}(x)", "teacher", allowed_symbols={"x"})
        ck = sp.simplify(gaussian_expectation(T.subs(_Z, X) * Hk, 1, 1, 0, 1) / factorial(k))
        if not is_zero(ck):
            coeffs[k] = ck
    if not coeffs:
        raise SpecError("the teacher is zero", "data.teacher")
    return coeffs


@lru_cache(maxsize=16)
def _theory(net, data_items, noise, param_names, treatment="relaxed"):
    class _S:  # a light stand-in with the fields _teacher reads
        pass
    s = _S()
    s.data = dict(data_items)
    s.params = dict.fromkeys(param_names, 0.0)
    coeffs = _teacher(s)
    from .deep_data_model import first_layer
    hidden, phi = first_layer(net)   # deep: the first layer; the linear layers above enter through couplings
    from .common import readout
    readout(net)   # one output: the scalar teacher
    modes = tuple(sorted(coeffs))
    extra = s.data.get("modes")
    if extra is not None:
        modes = tuple(sorted(set(modes) | set(_check_modes(extra))))
    rho = PHI ** 2 + RPERP
    ms, taus = [], []
    for k in modes:
        Hk = hermite_prob(k, X)
        ms.append(sp.simplify(gaussian_expectation(Hk, phi, 1, PHI, rho)))
        taus.append(sp.Symbol(f"tau{k}", real=True))
    d = net.input_dim
    sw2 = hidden.weight_var
    sa2 = readout_variance_expr(net)
    N = hidden.width
    n = parse_expression(s.data.get("n_train", "n"), "data.n_train")
    overlap = sum(t * m for t, m in zip(taus, ms))
    generic = DSYM * rho / (2 * sw2) - (DSYM - 3) / 2 * sp.log(RPERP) - KAPPA * overlap ** 2
    variables = (PHI, RPERP)
    if treatment == "paper":   # r held at its prior value; the Phi-independent terms dropped
        generic = DSYM * PHI ** 2 / (2 * sw2) - KAPPA * overlap.subs(RPERP, sw2) ** 2
        variables = (PHI,)
    S = generic.subs({DSYM: d, KAPPA: sa2 * n ** 2 / (2 * N)})
    noise_sym = sp.Symbol("noise", positive=True)
    defs = [Definition(noise_sym, noise, r"\sigma^2", "noise")]
    for k, m in zip(modes, ms):
        defs.append(Definition(sp.Symbol(f"m{k}", real=True), m, rf"m_{{{k}}}(\Phi, \rho)",
                               rf"E[He_{k}(z) phi(w.x)]"))
    Ssym = sp.Symbol("S_red", real=True)
    defs.append(Definition(Ssym, S, r"S(\Phi, r)" if treatment == "relaxed" else r"S(\Phi)",
                           "reduced per-neuron action"))
    # the d -> infinity action per input dimension at fixed u = kappa/d (S is linear in d and kappa)
    limit = sp.diff(generic.subs(KAPPA, UBAR * DSYM), DSYM)
    defs.append(Definition(sp.Symbol("s_limit", real=True), limit,
                           r"s = \lim_{d\to\infty} S/d\ (u = \kappa/d)", "d -> infinity action per dimension"))
    fbar = [sp.Symbol(f"fbar{k}", real=True) for k in modes]
    eqs = [sp.Eq(sp.diff(S, v), 0) for v in variables]
    eqs += [sp.Eq(t, (coeffs.get(k, 0) - fb) / noise_sym) for k, t, fb in zip(modes, taus, fbar)]
    names = {PHI: r"\Phi", RPERP: r"r_\perp", noise_sym: r"\sigma^2", UBAR: "u",
             **{t: rf"\tau_{{{k}}}" for k, t in zip(modes, taus)},
             **{f: rf"\bar f_{{{k}}}" for k, f in zip(modes, fbar)}}
    teacher_tex = " + ".join(rf"{sp.latex(c)}\,\mathrm{{He}}_{{{k}}}(z)" for k, c in coeffs.items())
    notes = (rf"Gaussian inputs $x\sim\mathcal N(0, I_d)$, teacher $y = {teacher_tex}$, $z = w_*\cdot x$. "
             r"Order parameters: overlap $\Phi = w\cdot w_*$ and $r_\perp = |w|^2 - \Phi^2$, $\rho = \Phi^2 + r_\perp$. "
             r"Self-consistency $\tau_k = (c_k - \bar f_k)/\sigma^2$ with "
             r"$\bar f_k = \frac{\sigma_a^2 n}{k!}\langle m_k \sum_j \tau_j m_j\rangle_{e^{-S}}$ (quadrature).",)
    if treatment == "paper":
        notes = notes + (r"Reduced action as in Rubin, Seroussi \& Ringel (2024): $r_\perp$ held at its prior value "
                         r"$\sigma_w^2$, the $\Phi$-independent terms dropped.",)
    title = ("Adaptive kernel on Gaussian data: reduced action in (overlap, norm)" if treatment == "relaxed" else
             "Adaptive kernel on Gaussian data: reduced action S(Phi), orthogonal norm at its prior value")
    der = Derivation(title, variables,
                     tuple(defs), {"action": Ssym}, equations=tuple(eqs), input_latex=names, notes=notes)
    return DataModelTheory(modes, tuple(coeffs.get(k, sp.S.Zero) for k in modes), tuple(ms), tuple(taus), S,
                           {"d": d, "sw2": sw2, "sa2": sa2, "N": N, "n": n, "noise": noise}, der,
                           treatment, variables, generic)


def data_model_theory(spec, deep_ok=False) -> DataModelTheory:
    """The reduced action and self-consistency of a spec with a symbolic Gaussian [data] model (cached).

    For a deep spec (linear layers above the first) this is the first layer's action, whose coupling
    is set by the layers above (``solve_data_model``); only ``deep_ok=True`` callers that set it get it."""
    from .deep_data_model import is_deep
    if is_deep(spec.network) and not deep_ok:
        raise SpecError("this data-model analysis handles one hidden layer; for a deep spec use solve_data_model "
                        "(mftsym solve), whose first-layer coupling comes from the layers above", "network.layers")
    data = spec.data or {}
    items = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in data.items()))
    return _theory(spec.network, items, noise_expression(spec), tuple(sorted(spec.params)),
                   reduced_action_treatment(spec))


def _compiled(theory):
    cache = theory.__dict__.setdefault("_compiled", {})
    if not cache:
        from .compiled import lambdify
        S = theory.action
        params = sorted(S.free_symbols - {PHI, RPERP, *theory.taus}, key=lambda x: x.name)
        args = [PHI, RPERP, *theory.taus, *params]
        vs = theory.variables
        g = [sp.diff(S, v) for v in vs]
        cache.update(params=[p.name for p in params], S=lambdify(args, S, "numpy"), grad=lambdify(args, g, "numpy"),
                     hess=lambdify(args, [[sp.diff(gi, v) for v in vs] for gi in g], "numpy"),
                     m=[lambdify([PHI, RPERP, *params], m, "numpy") for m in theory.m])
    return cache


class _Numeric:
    """The reduced action compiled at given parameter values (τ stays an argument)."""

    def __init__(self, theory, spec, params=None):
        values = {**spec.params, **(params or {})}
        sv = spec.with_params(**values)
        subs = {make_symbol(k): v for k, v in values.items()}
        self.vals = {k: _value(e, sv, f"data model {k}") for k, e in theory.params.items()}
        if self.vals["noise"] <= 0:
            raise SpecError("noise_var must be positive", "posterior.noise_var")
        self.theory = theory
        self.c = np.array([float(as_expr(c).subs(subs)) for c in theory.coefficients])
        fns = _compiled(theory)
        self._pnames = fns["params"]
        missing = [p for p in self._pnames if p not in values and p != "d"]
        if missing:
            raise EvaluationError(f"no value for {missing}; give it in [params] or with --set NAME=VALUE")
        pv = [float(values.get(p, self.vals["d"] if p == "d" else 0.0)) for p in self._pnames]
        self.S = lambda a, b, *tau: fns["S"](a, b, *tau, *pv)  # noqa: E731
        self.grad = lambda a, b, *tau: fns["grad"](a, b, *tau, *pv)  # noqa: E731
        self.hess = lambda a, b, *tau: fns["hess"](a, b, *tau, *pv)  # noqa: E731
        self.m = [(lambda f: (lambda a, b: f(a, b, *pv)))(f) for f in fns["m"]]
        self.kfact = np.array([factorial(k) for k in theory.modes], dtype=float)
        sw2, d = self.vals["sw2"], self.vals["d"]
        nphi = 801 if d <= 200 else 2 * int(400 * np.sqrt(d / 200)) + 1   # resolve the sigma_w/sqrt(d) well
        self.phi_grid = np.linspace(-8 * np.sqrt(sw2), 8 * np.sqrt(sw2), nphi)
        self.fixed_r = sw2 if theory.treatment == "paper" else None
        self.r_grid = (np.array([sw2]) if self.fixed_r is not None else
                       np.linspace(sw2 * 1e-3, sw2 * (1 + 8 / np.sqrt(max(d, 4))), 161))
        P_, R_ = np.meshgrid(self.phi_grid, self.r_grid, indexing="ij")
        self.P, self.R = P_, R_
        self.M = np.stack([np.broadcast_to(m(P_, R_), P_.shape) for m in self.m])    # (K, nphi, nr)
        # S = S0(Φ, r) − κ (Σ_k τ_k m_k)²: the τ-independent part is evaluated on the grid once
        zero = [0.0] * len(theory.taus)
        self.S0 = np.broadcast_to(self.S(P_, R_, *zero), P_.shape)
        self.kappa = self.vals["sa2"] * self.vals["n"] ** 2 / (2 * self.vals["N"])

    def weights(self, tau):
        S = self.S0 - self.kappa * np.tensordot(tau, self.M, 1) ** 2
        w = np.exp(-(S - S.min()))
        return w / w.sum(), S

    def fbar(self, tau):
        w, _ = self.weights(tau)
        ov = np.tensordot(tau, self.M, 1)
        return self.vals["sa2"] * self.vals["n"] / self.kfact * np.einsum("kij,ij->k", self.M * ov, w)

    def saddles(self, tau, extra_starts=()):
        """Every stationary point of S(Φ, r) at fixed τ (of S(Φ) with r held fixed): Newton from the
        grid's local minima, from ``extra_starts`` (continuation: the previous sweep value's saddles)
        and a lattice of fresh starts."""
        from scipy.optimize import root
        _, S = self.weights(tau)
        fixed = self.fixed_r is not None
        starts = [tuple(x) for x in extra_starts]
        # grid local minima, plus a coarse lattice of starts
        if fixed:
            col = S[:, 0]
            mask = (col[1:-1] <= col[:-2]) & (col[1:-1] <= col[2:])
            starts += [(self.phi_grid[i + 1], self.fixed_r) for i in np.nonzero(mask)[0]]
            starts += [(p, self.fixed_r) for p in np.linspace(self.phi_grid[0], self.phi_grid[-1], 17)]
        else:
            inner = S[1:-1, 1:-1]
            mask = np.ones_like(inner, dtype=bool)
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    if di or dj:
                        mask &= inner <= S[1 + di:S.shape[0] - 1 + di, 1 + dj:S.shape[1] - 1 + dj]
            for i, j in zip(*np.nonzero(mask)):
                starts.append((self.P[i + 1, j + 1], self.R[i + 1, j + 1]))
            for p in np.linspace(self.phi_grid[0], self.phi_grid[-1], 9):
                for r in np.linspace(self.r_grid[5], self.r_grid[-1], 3):
                    starts.append((p, r))
        out = []
        full = (lambda v: (v[0], self.fixed_r)) if fixed else (lambda v: (v[0], v[1]))  # noqa: E731
        f = lambda v: np.atleast_1d(np.asarray(self.grad(*full(v), *tau), dtype=float))  # noqa: E731
        J = lambda v: np.atleast_2d(np.asarray(self.hess(*full(v), *tau), dtype=float))  # noqa: E731
        for x0 in starts:
            x0 = np.array(x0[:1] if fixed else x0, dtype=float)
            with np.errstate(all="ignore"):
                sol = root(f, x0, jac=J, method="hybr")
            if not sol.success or not np.all(np.isfinite(sol.x)) or (not fixed and sol.x[1] <= 0):
                continue
            res = float(np.max(np.abs(f(sol.x))))
            if res > 1e-8 * self.vals["d"]:
                continue
            phi, r = full(sol.x)
            phi, r = (0.0 if abs(phi) < 1e-9 else float(phi)), float(r)
            if any(abs(phi - s.order_parameters["Phi"]) < 1e-6 and abs(r - s.order_parameters["r"]) < 1e-6
                   for s in out):
                continue
            H = J(np.array([phi] if fixed else [phi, r]))
            out.append(Saddle({"Phi": phi, "r": r, "rho": phi ** 2 + r}, float(self.S(phi, r, *tau)), res,
                              np.linalg.eigvalsh(0.5 * (H + H.T))))
        return sorted(out, key=lambda s: (not s.stable, s.action))


def residual_scale(c):
    """Per-mode scale of the self-consistency residual σ²τ_k − c_k + f̄_k: |c_k| where the teacher has the mode,
    max_j |c_j| (the target's size) for a mode it lacks (``[data] modes`` beyond the teacher's, c_k = 0), and 1
    (an absolute residual) for a zero target."""
    c = np.abs(np.asarray(c, dtype=float))
    size = float(c.max()) if c.size else 0.0
    if size == 0.0:
        return np.ones_like(c)
    return np.where(c > 0, c, size)


def _solve_tau(num, starts, tol, max_iter, beta):
    """Self-consistent τ from several starts (continuation first); (τ, residual, iterations)."""
    from scipy.optimize import root

    noise = num.vals["noise"]
    scale = residual_scale(num.c)
    resid = lambda tau: (noise * tau - num.c + num.fbar(tau)) / scale  # noqa: E731
    best, res, its = None, np.inf, 0
    for start in starts:
        for method in ("hybr", "lm"):
            with np.errstate(all="ignore"):
                sol = root(resid, np.asarray(start, dtype=float), method=method, options={"xtol": 1e-13})
            its += int(sol.nfev)
            if not np.all(np.isfinite(sol.x)):
                continue
            r = float(np.max(np.abs(resid(sol.x))))
            if r < res:
                best, res = sol.x, r
            if res < tol:
                return best, res, its
    # fall back on damped Anderson mixing of tau = (c - fbar(tau)) / noise from the best point found
    fmap = lambda t: (num.c - num.fbar(t)) / noise  # noqa: E731
    tau, _, its2, _ = anderson_mixing(fmap, best if best is not None else num.c / noise, tol, max_iter, beta)
    r = float(np.max(np.abs(resid(tau))))
    if r < res:
        best, res = tau, r
    return best, res, its + its2


def _wells(num, tau, saddles):
    """Weights of the wells of e^{-S}: the fraction of neurons near the largest-|Φ| stable minimum
    (split at the barrier saddle below it, else halfway to the next minimum); 0 with a single well."""
    w, _ = num.weights(tau)
    mins = sorted({round(abs(s.order_parameters["Phi"]), 9) for s in saddles if s.stable})
    if len(mins) < 2:   # a single well: no droplet
        return 0.0, None
    top = mins[-1]
    lower = mins[-2] if len(mins) > 1 else 0.0
    barriers = [abs(s.order_parameters["Phi"]) for s in saddles
                if not s.stable and lower < abs(s.order_parameters["Phi"]) < top]
    split = max(barriers) if barriers else 0.5 * (lower + top)
    return float(w[np.abs(num.P) > split].sum()), split


def solve_data_model(spec, params=None, tol=1e-10, max_iter=500, beta=0.3, tau0=None, starts=()) -> Solution:
    """Self-consistent discrepancy τ, the saddles of the reduced action, and the dominant one.

    A deep spec (linear, bias-free layers above the first hidden layer) is solved by :func:`_solve_deep`
    (docs/theory/deep_adaptive_kernel.md, "Data-model reduction").
    ``tau0`` (a previous τ) is tried first, then the GP-free start c/σ² and rescalings of both;
    ``starts`` are extra (Φ, r) starting points of the saddle search (continuation along a sweep)."""
    from .deep_data_model import is_deep
    if is_deep(spec.network):   # more than one hidden layer: linear layers above a nonlinear first one
        return _solve_deep(spec, params, tol, tau0)
    theory = data_model_theory(spec)
    num = _Numeric(theory, spec, params)
    noise = num.vals["noise"]
    cands = [] if tau0 is None else [np.asarray(tau0, dtype=float)]
    cands += [num.c / noise] + [f * c for c in list(cands) + [num.c / noise] for f in (0.5, 0.1, 0.02)]
    tau, res, its = _solve_tau(num, cands, tol, max_iter, beta)
    ok = res < tol
    if not ok:
        raise ConvergenceError(f"data-model self-consistency did not converge: residual {res:.3g} relative to the "
                               f"teacher coefficients (modes {list(theory.modes)}) after "
                               f"{its} iterations from {len(cands)} starts; try a smaller beta (mixing), a larger "
                               "noise or max_iter, or sweep towards this point (continuation)")
    saddles = num.saddles(tau, starts)
    if not saddles:
        raise ConvergenceError("no stationary point of the reduced action was found; widen the grid "
                               "(it spans |Phi| <= 8 sigma_w) or check the parameters")
    w, _ = num.weights(tau)
    frac, split = _wells(num, tau, saddles)
    fb = num.fbar(tau)
    best = saddles[0]
    ops = {"Phi": abs(best.order_parameters["Phi"]), "rho": best.order_parameters["rho"],
           "mean_abs_Phi": float((w * np.abs(num.P)).sum()), "mean_rho": float((w * (num.P ** 2 + num.R)).sum()),
           "aligned_fraction": frac,
           **{f"tau{k}": float(t) for k, t in zip(theory.modes, tau)},
           **{f"fbar{k}": float(f) for k, f in zip(theory.modes, fb)}}
    return Solution("adaptive_kernel_data_model", ops, best.action, None, None, True, float(res), its,
                    tuple(saddles), "", extras={"phase": "aligned" if abs(best.order_parameters["Phi"]) > 0 else
                                                "unaligned", "split_Phi": split,
                                                **{k: float(v) for k, v in num.vals.items()}})


def _solve_deep(spec, params=None, tol=1e-10, tau0=None):
    r"""Deep data model, hidden layers above the first linear (docs/theory/deep_adaptive_kernel.md,
    "Data-model reduction"): the first layer's reduced action S(Φ, r) with the coupling κ_1 = α_1 n²/2
    of the backward rank-one tilt, f̄_k = (σ_eff² n/k!) ⟨m_k Σ_j τ_j m_j⟩, and the scalar chain
    v_2 = σ_{w,2}² n² ⟨(Σ_j τ_j m_j)²⟩, v_{l+1} = σ_{w,l+1}² v_l/(1 − α_l v_l)
    (:func:`mftsym.solve.deep_data_model.couplings`); solved for (τ, ln v) by a root finder."""
    from scipy.optimize import root
    from .deep_data_model import couplings, upper_layers
    theory = data_model_theory(spec, deep_ok=True)
    num = _Numeric(theory, spec, params)
    N, sw2 = upper_layers(spec, params)
    L, K = len(N), len(theory.modes)
    sa2, n, noise = num.vals["sa2"], num.vals["n"], num.vals["noise"]
    scale = residual_scale(num.c)

    def state(x):
        tau, v = x[:K], np.exp(x[K:])
        cp = couplings(N, sw2, sa2, v)
        if cp is None:
            return None
        alpha, eff = cp
        num.kappa = alpha[0] * n ** 2 / 2
        w, _ = num.weights(tau)
        ov = np.tensordot(tau, num.M, 1)
        q = float((w * ov ** 2).sum())
        fbar = eff * n / num.kfact * np.einsum("kij,ij->k", num.M * ov, w)
        return tau, v, alpha, eff, q, fbar

    def resid(x):
        st = state(x)
        if st is None:
            return np.full(len(x), 1e6)
        tau, v, alpha, eff, q, fbar = st
        r = [(noise * tau - num.c + fbar) / scale, [1 - sw2[1] * n ** 2 * q / v[0]]]
        r.append([1 - sw2[l + 1] * v[l - 1] / (1 - alpha[l] * v[l - 1]) / v[l] for l in range(1, L - 1)])
        return np.concatenate([np.ravel(a) for a in r])

    # starts: v from the prior chain at tau = c/noise times a factor
    best, res, its = None, np.inf, 0
    guesses = [f * num.c / noise for f in (1.0, 0.3, 0.1, 0.03, 0.01)]
    if tau0 is not None:   # continuation along a sweep
        guesses.insert(0, np.asarray(tau0, dtype=float))
    for tau0 in guesses:
        num.kappa = 0.0
        w, _ = num.weights(tau0)
        q0 = float((w * np.tensordot(tau0, num.M, 1) ** 2).sum())
        v0 = [sw2[1] * n ** 2 * q0]
        for l in range(2, L):
            v0.append(sw2[l] * v0[-1])
        x0 = np.concatenate([tau0, np.log(np.maximum(v0, 1e-300))])
        for method in ("hybr", "lm"):
            with np.errstate(all="ignore"):
                sol = root(resid, x0, method=method, options={"xtol": 1e-13})
            its += int(sol.nfev)
            if np.all(np.isfinite(sol.x)):
                r = float(np.max(np.abs(resid(sol.x))))
                if r < res:
                    best, res = sol.x, r
            if res < tol:
                break
        if res < tol:
            break
    if best is None or res >= tol:
        st = None if best is None else state(best)
        u = "" if st is None else ", ".join(f"{a * x:.3g}" for a, x in zip(st[2][1:], st[1]))
        raise ConvergenceError(f"deep data-model self-consistency did not converge: relative residual {res:.3g}"
                               + (f" (alpha_l v_l of the linear layers: {u}; at 1 their teacher-mode measure is not "
                                  "normalisable)" if u else "")
                               + "; try a larger noise or widths N_l, or a smaller n")
    tau, v, alpha, eff, q, fb = state(best)
    saddles = num.saddles(tau)
    if not saddles:
        raise ConvergenceError("no stationary point of the first layer's reduced action was found")
    w, _ = num.weights(tau)
    frac, split = _wells(num, tau, saddles)
    top = saddles[0]
    ops = {"Phi": abs(top.order_parameters["Phi"]), "rho": top.order_parameters["rho"],
           "mean_abs_Phi": float((w * np.abs(num.P)).sum()), "mean_Phi2": float((w * num.P ** 2).sum()),
           "mean_rho": float((w * (num.P ** 2 + num.R)).sum()), "aligned_fraction": frac,
           **{f"tau{k}": float(t) for k, t in zip(theory.modes, tau)},
           **{f"fbar{k}": float(f) for k, f in zip(theory.modes, fb)},
           **{f"v{l}": float(x) for l, x in enumerate(v, 2)},
           "kappa1": float(num.kappa), "readout_factor": float(eff / sa2)}
    return Solution("adaptive_kernel_data_model", ops, top.action, None, None, True, float(res), its,
                    tuple(saddles), "", extras={"phase": "aligned" if abs(top.order_parameters["Phi"]) > 0 else
                                                "unaligned", "split_Phi": split, "depth": L,
                                                "widths": N.tolist(), "alphas": alpha.tolist(),
                                                **{k: float(x) for k, x in num.vals.items()}})


def _minima(sol):
    """[(|Φ|, S, ρ)] of the stable minima (±Φ merged), lowest action first."""
    seen = {}
    for s in sol.saddles:
        if s.stable:
            a = abs(s.order_parameters["Phi"])
            if not any(abs(a - b) < 1e-6 for b in seen):
                seen[a] = (a, s.action, s.order_parameters["rho"])
    return sorted(seen.values(), key=lambda m: m[1])


def _branch(sol, phi, tol):
    """The stable minimum of ``sol`` whose |Φ| is nearest ``phi`` (within ``tol``), or None."""
    cand = [m for m in _minima(sol) if abs(m[0] - phi) <= tol]
    return min(cand, key=lambda m: abs(m[0] - phi)) if cand else None


def _taus(sol):
    return [v for k, v in sol.order_parameters.items() if k.startswith("tau")]


def _starts(sol):
    return [(s.order_parameters["Phi"], s.order_parameters["r"]) for s in sol.saddles]


def _failed(exc):
    return Solution("adaptive_kernel_data_model", {}, float("nan"), None, None, False, float("nan"), 0,
                    (), str(exc), extras={"phase": "not converged"})


def locate_transition(spec, param, sol_a, sol_b, va, vb, jump_tol=None, xtol=1e-6):
    """Refine a change of the dominant saddle between sweep values ``va`` < ``vb``.

    The branches are the dominant minima at the two ends (|Φ| = a at ``va``, b at ``vb``), followed by
    continuation; ΔS(v) = S_b(v) − S_a(v) (both at the self-consistent τ(v)) is bracketed and its root
    found with Brent's method.  Returns a dict with the transition value, the bracket, the order
    parameters of both branches there and the jump in Φ, and ``kind``: "first_order" (both minima
    coexist across the bracket and ΔS changes sign) or "continuous/spinodal" (a branch ends)."""
    from scipy.optimize import brentq
    ma, mb = _minima(sol_a)[0], _minima(sol_b)[0]
    sw = float(np.sqrt(sol_a.extras.get("sw2", 1.0)))
    tol = jump_tol if jump_tol is not None else 0.25 * sw
    ta, tb = np.array(_taus(sol_a)), np.array(_taus(sol_b))
    cache = {}

    def at(v):
        if v not in cache:
            s = (v - va) / (vb - va)
            try:
                cache[v] = solve_data_model(spec, params={param: float(v)}, tau0=(1 - s) * ta + s * tb,
                                            starts=_starts(sol_a) + _starts(sol_b))
            except ConvergenceError:
                cache[v] = None
        return cache[v]

    def branches(v):
        # follow each branch by linear interpolation of its |Φ| between the ends
        s = (v - va) / (vb - va)
        sol = at(v)
        if sol is None:
            return None, None, None
        pa = ma[0] + s * ((_branch(sol_b, ma[0], tol) or ma)[0] - ma[0])
        pb = mb[0] + (1 - s) * ((_branch(sol_a, mb[0], tol) or mb)[0] - mb[0])
        return sol, _branch(sol, pa, tol), _branch(sol, pb, tol)

    def delta(v):
        _, A, B = branches(v)
        return None if A is None or B is None else B[1] - A[1]

    class _Lost(Exception):
        pass

    def strict(v):
        d = delta(v)
        if d is None:
            raise _Lost
        return d

    d0, d1 = delta(va), delta(vb)
    kind, v = "first_order", None
    if d0 is not None and d1 is not None and d0 > 0 > d1:
        try:
            v = brentq(strict, va, vb, xtol=xtol * max(abs(va), abs(vb), 1.0), rtol=1e-10)
        except _Lost:
            v = None
    if v is None:   # a branch ends inside the bracket: bisect on which minimum is dominant
        kind = "continuous/spinodal"
        lo, hi = va, vb
        for _ in range(30):
            mid = 0.5 * (lo + hi)
            sol = at(mid)
            if sol is None:
                break
            dom = _minima(sol)[0][0]
            if abs(dom - ma[0]) <= abs(dom - mb[0]):
                lo = mid
            else:
                hi = mid
            if hi - lo <= xtol * max(abs(va), abs(vb), 1.0):
                break
        v = 0.5 * (lo + hi)
    sol, A, B = branches(v)
    out = {"value": float(v), "bracket": [float(va), float(vb)], "kind": kind, "definition": DEFINITION_FINITE,
           "from": sol_a.extras["phase"], "to": sol_b.extras["phase"],
           "Phi_before": ma[0], "Phi_after": mb[0], "solves": len(cache)}
    if sol is not None and A is not None and B is not None:
        out.update({"Phi_from": A[0], "Phi_to": B[0], "rho_from": A[2], "rho_to": B[2],
                    "action_from": A[1], "action_to": B[1], "jump_Phi": B[0] - A[0],
                    "aligned_fraction": sol.order_parameters["aligned_fraction"],
                    "tau": _taus(sol)})
    else:
        out["jump_Phi"] = mb[0] - ma[0]
    return out


def _deep_first_layer_derivation(spec) -> Derivation:
    """The first layer's reduced action of a deep spec, the coupling kappa_1 left symbolic, with the
    rank-one coupling chain of the linear layers above in the notes."""
    th = data_model_theory(spec, deep_ok=True)
    S = th.generic_action.subs(DSYM, spec.network.input_dim)
    defs = tuple(d for d in th.derivation.definitions if d.symbol.name != "S_red")
    defs += (Definition(sp.Symbol("S_red", real=True), S, r"S_1(\Phi, r)",
                        "first-layer reduced action, coupling kappa_1 = alpha_1 n^2/2 from the layers above"),)
    notes = th.derivation.notes + (
        r"Linear layers above the first (docs/theory/deep_adaptive_kernel.md): $\alpha_L = \sigma_a^2/N_L$, "
        r"$\alpha_{l-1} = \frac{N_l}{N_{l-1}}\sigma_{w,l}^2\frac{\alpha_l}{1-\alpha_l v_l}$, "
        r"$v_2 = \sigma_{w,2}^2 n^2\langle(\sum_j\tau_j m_j)^2\rangle$, "
        r"$v_{l+1} = \sigma_{w,l+1}^2 v_l/(1-\alpha_l v_l)$, $\kappa_1 = \alpha_1 n^2/2$, "
        r"$\bar f_k = \frac{\sigma_{\rm eff}^2 n}{k!}\langle m_k\sum_j\tau_j m_j\rangle$, "
        r"$\sigma_{\rm eff}^2 = \sigma_a^2\prod_{l\ge2}\sigma_{w,l}^2/(1-\alpha_l v_l)$.",)
    return Derivation("Deep adaptive kernel on Gaussian data: first layer's reduced action, linear layers above",
                      th.variables, defs, {"action": sp.Symbol("S_red", real=True)},
                      input_latex={**th.derivation.input_latex, KAPPA: r"\kappa_1"}, notes=notes)


def adaptive_kernel_derivations(spec) -> list:
    """The adaptive-kernel equations, and their data-model reduction when the spec has a symbolic
    ``[data] inputs = "gaussian"`` model (the registry's derivation of ``"adaptive_kernel"``)."""
    from .deep_data_model import deep_data_model_derivation, is_deep
    out = [adaptive_derivation(spec)]
    if is_deep(spec.network):
        if spec.data is not None and spec.data.get("inputs") == "gaussian":
            try:   # all layers linear: the closed-form teacher-mode scalars
                out.append(deep_data_model_derivation(spec, _teacher(spec)))
            except SpecError:
                out.append(_deep_first_layer_derivation(spec))
        return out
    if spec.data is not None and spec.data.get("inputs") == "gaussian":
        out.append(data_model_theory(spec).derivation)
    if spec.data is not None and spec.data.get("inputs") == "two_hot":
        from .modular_addition import modular_addition_theory
        out.append(modular_addition_theory(spec).derivation)
    return out


__all__ = ["DataModelTheory", "adaptive_kernel_derivations", "TREATMENTS", "data_model_theory", "reduced_action_treatment", "locate_transition", "solve_data_model",
           "DEFINITION_FINITE"]

r"""Exact finite-N cavity action and finite-population saddle of the modular-addition network (two-hot inputs
over Z_P, square activation, P outputs, ``mean_field``; Rubin, Seroussi & Ringel, ICLR 2024, Sec. 3;
docs/theory/grokking.md §5, "Finite population").

The network f_c(x) = Σ_i a_ic (w_i·x)², readout a_ic ~ N(0, σ̃_a²/N) (``ModeModel.sa2`` = σ̃_a²), first layer
w_i ~ N(0, σ_w²/(2P) I).  With the readout integrated exactly the first-layer posterior is (the Langevin target of
``validation/grokking_modular_addition/run.py``, no approximation)

    −ln p(W | Y) = (P/σ_w²) Σ_i |w_i|² + ½ Σ_c y_cᵀ K⁻¹ y_c + (P/2) ln det K + const,
    K = σ² I + (σ̃_a²/N) Σ_i φ_i φ_iᵀ,   φ_i = (X w_i)²  (X the P² × 2P two-hot inputs).

Cavity action (exact, Sherman–Morrison / matrix-determinant lemma).  With A = K_{−i}⁻¹ the inverse of the kernel
of the other N − 1 neurons (plus σ²), t_c = A y_c and E = φᵀAφ,

    S_i(w) = (P/σ_w²)|w|² − ½ Σ_c (t_cᵀφ)² / (N/σ̃_a² + E) + (P/2) ln(1 + σ̃_a² E/N),

and S_i(w) − S_i(0) equals the change of −ln p(W | Y) when w_i goes from 0 to w.  This is the per-neuron action
of ``modular_addition_phases`` with its mean-field kernel A = (Λ + σ²)⁻¹ (diagonal on the plane waves of Z_P²,
random phases, the neuron's own share included) replaced by the actual kernel of the other neurons.

Finite-population saddle.  The mean-field reduction treats the condensed neurons of a mode pair ±q as a
random-phase mixture, i.e. their kernel as diagonal on the plane waves.  Each condensed neuron is one vector φ_i
spanning the 9 plane-wave components (±q,±q), (±q,∓q), (±2q,0), (0,±2q), (0,0) with fixed relative phases, so
n_q ≈ 5 neurons per mode give a low-rank kernel that cannot fit the target components without their off-target
companions.  :func:`population_saddle` keeps n_q explicit condensed neurons per mode and minimises the exact
−ln p(W | Y) over all their 2P weights (zero temperature for the condensed neurons), with the remaining
N − Σ n_q neurons as the Gaussian background of :func:`prior_background_kernel` (their prior kernel,
exact: E[(w·x_μ)²(w·x_ν)²] = s²(|x_μ|²|x_ν|² + 2(x_μ·x_ν)²), s = σ_w²/(2P)).
"""

from __future__ import annotations

import numpy as np

from ..errors import SpecError


def two_hot_data(P):
    """X (P² × 2P): x_ab = e_a ⊕ e_b; Y (P² × P): y_c(a, b) = δ_{c,(a+b) mod P} − 1/P."""
    P = int(P)
    if P < 3:
        raise SpecError(f"the modulus P must be an integer >= 3, got {P}", "data.modulus")
    a, b = np.meshgrid(np.arange(P), np.arange(P), indexing="ij")
    X = np.zeros((P * P, 2 * P))
    X[np.arange(P * P), a.ravel()] = 1.0
    X[np.arange(P * P), P + b.ravel()] = 1.0
    Y = np.stack([((a + b) % P == c).ravel() - 1.0 / P for c in range(P)], 1)
    return X, Y


def _check_weights(W, P):
    W = np.atleast_2d(np.asarray(W, dtype=float))
    if W.shape[-1] != 2 * P:
        raise SpecError(f"first-layer weights need 2P = {2 * P} columns (u over a, v over b), got shape {W.shape}",
                        "network.input_dim")
    return W


def features(W, P):
    """Φ (P² × n): φ_i = (X w_i)² for the rows w_i of W."""
    X, _ = two_hot_data(P)
    return (X @ _check_weights(W, P).T) ** 2


def kernel(model, W=None, background=None):
    """K = σ² I + background + (σ̃_a²/N) Φ Φᵀ over the rows of W (either may be omitted)."""
    P = model.P
    K = model.noise * np.eye(P * P)
    if background is not None:
        K = K + background
    if W is not None and len(np.atleast_2d(W)):
        Phi = features(W, P)
        K = K + model.sa2 / model.N * Phi @ Phi.T
    return K


def prior_background_kernel(model, count):
    """(σ̃_a²/N)·count·E_prior[φφᵀ] for ``count`` neurons drawn from the prior N(0, σ_w²/(2P) I), exact:
    E[(w·x_μ)²(w·x_ν)²] = s²(|x_μ|²|x_ν|² + 2(x_μ·x_ν)²), s = σ_w²/(2P)."""
    X, _ = two_hot_data(model.P)
    G = X @ X.T
    n2 = np.diag(G)
    s = model.sw2 / (2 * model.P)
    return model.sa2 / model.N * count * s * s * (np.outer(n2, n2) + 2 * G * G)


def marginal_action(W, model, background=None):
    """−ln p(W | Y) up to a W-independent constant, by direct evaluation over the P² inputs:
    (P/σ_w²)|W|² + ½ Σ_c y_cᵀK⁻¹y_c + (P/2) ln det K."""
    P = model.P
    W = _check_weights(W, P)
    _, Y = two_hot_data(P)
    K = kernel(model, W, background)
    L = np.linalg.cholesky(K)
    Z = np.linalg.solve(L, Y)
    return float(P / model.sw2 * np.sum(W * W) + 0.5 * np.sum(Z * Z) + P * np.sum(np.log(np.diag(L))))


class CavityAction:
    """S_i(w) of one neuron in the kernel K_others = σ² I + (kernel of the other neurons) (module docstring)."""

    def __init__(self, model, K_others):
        self.model = model
        P = model.P
        K_others = np.asarray(K_others, dtype=float)
        if K_others.shape != (P * P, P * P):
            raise SpecError(f"the cavity kernel must be P² × P² = {P * P} × {P * P}, got {K_others.shape}",
                            "cavity kernel")
        self.X, Y = two_hot_data(P)
        self.A = np.linalg.inv(K_others)
        self.A = 0.5 * (self.A + self.A.T)
        self.T = self.A @ Y

    def parts(self, w):
        phi = (self.X @ np.asarray(w, dtype=float)) ** 2
        return float(phi @ self.A @ phi), float(np.sum((self.T.T @ phi) ** 2))

    def __call__(self, w):
        m = self.model
        w = np.asarray(w, dtype=float)
        E, D = self.parts(w)
        return float(m.P / m.sw2 * (w @ w) - 0.5 * D / (m.N / m.sa2 + E) + m.P / 2 * np.log1p(m.sa2 * E / m.N))

    def gradient(self, w):
        """∂S_i/∂w (analytic: ∂E/∂φ = 2Aφ, ∂D/∂φ = 2TTᵀφ, ∂φ/∂w = 2 diag(Xw) X)."""
        m = self.model
        w = np.asarray(w, dtype=float)
        h = self.X @ w
        phi = h * h
        Aphi, Tphi = self.A @ phi, self.T.T @ phi
        E, D = float(phi @ Aphi), float(Tphi @ Tphi)
        den = m.N / m.sa2 + E
        dphi = -(self.T @ Tphi) / den + D * Aphi / den ** 2 + m.P * (m.sa2 / m.N) * Aphi / (1 + m.sa2 * E / m.N)
        return 2 * m.P / m.sw2 * w + self.X.T @ (2 * h * dphi)

    def minimum(self, w0):
        """Local minimum of S_i over all 2P weights from w0 (BFGS): (w, S)."""
        from scipy.optimize import minimize
        r = minimize(lambda w: (self(w), self.gradient(w)), np.asarray(w0, dtype=float), jac=True, method="BFGS",
                     options={"gtol": 1e-6, "maxiter": 2000})
        return r.x, float(r.fun)


def single_mode_weights(P, q, x, y=None, alpha=0.0, beta=0.0):
    """w = (u, v) on one Fourier mode q with |U_q|² = x, |V_q|² = y (U_q = Σ_a u_a e^{2πiqa/P}) and phases α, β."""
    y = x if y is None else y
    a = np.arange(P)
    return np.r_[2 * np.sqrt(x) / P * np.cos(2 * np.pi * q * a / P + alpha),
                 2 * np.sqrt(y) / P * np.cos(2 * np.pi * q * a / P + beta)]


def mode_powers(W, P):
    """(x, y, q): the power |U_q|², |V_q|² on each neuron's top mode pair q ∈ 1 … (P−1)/2, and q."""
    W = _check_weights(W, P)
    U, V = np.fft.fft(W[:, :P], axis=1), np.fft.fft(W[:, P:], axis=1)
    M = (P - 1) // 2
    pu, pv = np.abs(U[:, 1:M + 1]) ** 2, np.abs(V[:, 1:M + 1]) ** 2
    q = np.argmax(pu + pv, axis=1)
    r = np.arange(len(W))
    return pu[r, q], pv[r, q], q + 1


def fbar(model, K):
    """Learned fraction of the posterior-mean predictor f̄_c = (K − σ²)K⁻¹y_c: Σ_c y_c·f̄_c / Σ_c |y_c|²."""
    _, Y = two_hot_data(model.P)
    F = (K - model.noise * np.eye(len(K))) @ np.linalg.solve(K, Y)
    return float(np.sum(Y * F) / np.sum(Y * Y))


def _joint_action_and_grad(flat, model, background, X, Y, n):
    P = model.P
    W = flat.reshape(n, 2 * P)
    H = X @ W.T                                       # pre-activations (P², n)
    Phi = H * H
    c = model.sa2 / model.N
    K = model.noise * np.eye(P * P) + background + c * Phi @ Phi.T
    L = np.linalg.cholesky(K)
    Kinv = np.linalg.solve(L.T, np.linalg.solve(L, np.eye(P * P)))
    B = Kinv @ Y
    S = P / model.sw2 * np.sum(W * W) + 0.5 * np.sum(Y * B) + P * np.sum(np.log(np.diag(L)))
    G = 0.5 * (P * Kinv - B @ B.T)                   # ∂S/∂K
    dPhi = 2 * c * G @ Phi                           # ∂S/∂φ_j
    grad = 2 * P / model.sw2 * W + (2 * H * dPhi).T @ X
    return float(S), grad.ravel()


def population_saddle(model, counts, background=None, x0=150.0, seed=0, W0=None, gtol=1e-6, maxiter=5000):
    """Minimise the exact −ln p(W | Y) over the 2P weights of Σ n_q explicit condensed neurons (counts[q−1]
    neurons started on mode q at power x0 with random phases, or from W0), the other N − Σ n_q neurons entering as
    the kernel ``background`` (default: their prior kernel, :func:`prior_background_kernel`).  Returns the
    weights, per-neuron x = |U_q|², y = |V_q|², top mode and its power share, the learned fraction f̄, the action
    and the full kernel."""
    from scipy.optimize import minimize
    P = model.P
    counts = [int(k) for k in counts]
    if len(counts) != (P - 1) // 2 or min(counts) < 0:
        raise SpecError(f"counts must give a non-negative number of condensed neurons for each of the "
                        f"{(P - 1) // 2} mode pairs, got {counts}", "counts")
    n = sum(counts)
    if background is None:
        background = prior_background_kernel(model, model.N - n)
    X, Y = two_hot_data(P)
    if W0 is None:
        rng = np.random.default_rng(seed)
        W0 = np.array([single_mode_weights(P, q, x0, x0, *rng.uniform(0, 2 * np.pi, 2))
                       for q, k in enumerate(counts, 1) for _ in range(k)]).reshape(n, 2 * P)
    W0 = _check_weights(W0, P)
    res = minimize(_joint_action_and_grad, W0.ravel(), args=(model, background, X, Y, len(W0)), jac=True,
                   method="L-BFGS-B", options={"gtol": gtol, "maxiter": maxiter, "maxcor": 30})
    W = res.x.reshape(len(W0), 2 * P)
    x, y, q = mode_powers(W, P)
    U, V = np.abs(np.fft.fft(W[:, :P], axis=1)) ** 2, np.abs(np.fft.fft(W[:, P:], axis=1)) ** 2
    share = (2 * (x + y)) / np.maximum(U[:, 1:].sum(1) + V[:, 1:].sum(1), 1e-300)
    K = kernel(model, W, background)
    return {"W": W, "x": x, "y": y, "q": q, "share": share, "fbar": fbar(model, K), "action": float(res.fun),
            "kernel": K, "converged": bool(res.success), "gradient": float(np.max(np.abs(res.jac)))}


def condensed_minimum_of_new_neuron(model, K_others, q, phases=8, xs=None):
    """The lowest condensed local minimum (x = y > 5/λ) of the cavity action of one added neuron on mode q,
    over a grid of phases (α, β) and powers x: (S, x, α, β), or None when no phase has one (the Gaussian basin is
    then the only minimum: no further neuron condenses on this mode)."""
    S = CavityAction(model, K_others)
    xs = np.geomspace(0.05 / model.lam, 5e3 / model.lam, 160) if xs is None else xs
    best = None
    for al in np.linspace(0, 2 * np.pi, phases, endpoint=False):
        for be in np.linspace(0, 2 * np.pi, phases, endpoint=False):
            v = np.array([S(single_mode_weights(model.P, q, x, x, al, be)) for x in xs])
            loc = [k for k in range(1, len(xs) - 1) if v[k] < v[k - 1] and v[k] <= v[k + 1] and xs[k] > 5 / model.lam]
            for k in loc:
                if best is None or v[k] < best[0]:
                    best = (float(v[k]), float(xs[k]), float(al), float(be))
    return best


def _alive(model, x, y):
    """Condensed neurons by the mean-field split: x + y > 40/λ (``ModeModel.split``)."""
    return (x + y) > 40.0 / model.lam


def population_state(model, per_mode=range(2, 11), seeds=(0, 1), x0=100.0):
    r"""Finite-population state: the lowest-action saddle of :func:`population_saddle` over starts with n
    condensed neurons on every mode pair (n in ``per_mode``, random phases from each seed, power x0).  Neurons that
    the minimisation dissolves (x + y < 40/λ) are returned to the Gaussian background, and every saddle's action is
    re-evaluated with the background of the N − n_alive others, so the actions of different counts compare:

        S(n) = −ln p(W_c | Y) with K = σ² + (σ̃_a²/N)[(N − n)E_prior[φφᵀ] + Σ_{i ≤ n} φ_iφ_iᵀ],

    compared with the all-Gaussian state (n = 0, always a candidate: a condensed saddle above it is metastable and
    listed only), zero temperature for the condensed neurons (their fluctuation entropy, O(10) per neuron, and the
    combinatorial ln C(N, n) are left out: they matter only where the actions of different counts lie within a
    few tens of each other, near the transition).  The condensed fraction p = n_alive/N, the mean power
    x = ⟨(|U_q|² + |V_q|²)/2⟩ of the condensed neurons, and the learned fraction f̄ of the exact predictor of that
    saddle are the predictions; ``extras["saddles"]`` lists every distinct saddle (count, x, f̄, action, the
    condensed weights), ``extras["weights"]`` holds those of the returned one, and
    ``extras["delta_action"]`` = S(condensed) − S(0), the action relative to the all-Gaussian state
    (docs/theory/grokking.md §5, "Finite population")."""
    from .solution import Saddle, Solution
    M = (model.P - 1) // 2
    S0 = marginal_action(np.zeros((0, 2 * model.P)), model, prior_background_kernel(model, model.N))
    found = []
    for n in per_mode:
        for seed in seeds:
            r = population_saddle(model, [n] * M, x0=x0, seed=seed)
            keep = _alive(model, r["x"], r["y"])
            W = r["W"][keep]
            bg = prior_background_kernel(model, model.N - len(W))
            S = marginal_action(W, model, bg) if len(W) else S0
            K = kernel(model, W, bg)
            xm = float(np.mean((r["x"][keep] + r["y"][keep]) / 2)) if keep.any() else None
            found.append({"count": int(keep.sum()), "x": xm, "fbar": fbar(model, K), "action": float(S),
                          "per_mode": np.bincount(r["q"][keep], minlength=M + 1)[1:].tolist(),
                          "converged": r["converged"], "weights": W.tolist()})
    found.append({"count": 0, "x": None, "fbar": fbar(model, kernel(model, None, prior_background_kernel(model, model.N))),
                  "action": float(S0), "per_mode": [0] * M, "converged": True, "weights": []})
    found.sort(key=lambda d: d["action"])
    best = found[0]
    distinct = []
    for d in found:
        if not any(d["count"] == e["count"] and abs(d["action"] - e["action"]) < 1e-6 * abs(e["action"]) + 1e-6
                   for e in distinct):
            distinct.append(d)
    p = best["count"] / model.N
    ops = {"p_condensed": p, "fbar": best["fbar"], "x_condensed": best["x"] if best["x"] is not None else 0.0,
           "delta_action": best["action"] - S0}
    phase = "gaussian" if best["count"] == 0 else ("condensed" if best["count"] >= model.N else "mixed")
    saddles = tuple(Saddle({"count": float(d["count"]), "x": d["x"] or 0.0}, d["action"], 0.0, ())
                    for d in distinct)
    return Solution("modular_addition_population", ops, best["action"], None, None, all(d["converged"] for d in found),
                    0.0, len(found), saddles, "",
                    extras={"phase": phase, "saddles": distinct, "action_gaussian": S0,
                            "delta_action": best["action"] - S0, "counts": sorted({d["count"] for d in found}),
                            "per_mode": best["per_mode"], "x_star": best["x"], "weights": best["weights"]})


def translation_average(Q, P):
    """(1/P²) Σ_{s,t} T_{s,t} Q T_{s,t}ᵀ over the shifts (a, b) → (a+s, b+t): Q made diagonal on the plane waves
    of Z_P² (its plane-wave diagonal kept, the rest dropped) -- the kernel of the random-phase mean field."""
    F = np.exp(2j * np.pi * np.outer(np.arange(P), np.arange(P)) / P) / np.sqrt(P)
    F2 = np.kron(F, F)
    lam = np.real(np.einsum("ij,ik,kj->j", F2.conj(), Q, F2))
    return np.real((F2 * lam) @ F2.conj().T)


__all__ = ["CavityAction", "condensed_minimum_of_new_neuron", "population_state", "fbar", "features", "kernel", "marginal_action",
           "mode_powers", "population_saddle", "prior_background_kernel", "single_mode_weights", "translation_average",
           "two_hot_data"]

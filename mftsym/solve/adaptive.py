r"""Adaptive kernels on data arrays (docs/theory/adaptive_kernel.md; Seroussi, Naveh & Ringel 2023; Rubin,
Seroussi & Ringel 2024) for a two-layer network f(x) = Σ_i a_i φ(w_i·x̃).

Per-neuron action, background (Q, t̄) fixed (x̃ = (x, 1) when the hidden layer has a bias):

    S[w] = ½ wᵀΛ₀w − (σ_a²/(2N)) [ (t̄ᵀφ(X̃w))² − φ(X̃w)ᵀ(Q + σ²I)⁻¹φ(X̃w) ],
    t̄ = (Q + σ²I)⁻¹ y,   Q_μν = σ_a² ⟨φ(w·x̃_μ) φ(w·x̃_ν)⟩_{S[w]},

Λ₀ = diag(d/σ_w², …, 1/σ_b²) the prior precision of w.  Strategies for ⟨·⟩_{S[w]}:

* ``"gaussian"``: w ~ N(0, Σ) (variational).  Stationary points of

      S(Σ) = (N/2)[tr Λ₀Σ − ln det Λ₀Σ − D] + ½ ln det(Q(Σ) + σ²I) + ½ yᵀ(Q(Σ) + σ²I)⁻¹ y,
      Q(Σ)_μν = σ_a² g(x̃_μᵀΣx̃_μ, x̃_μᵀΣx̃_ν, x̃_νᵀΣx̃_ν),  g(K11,K12,K22) = E[φ(u)φ(v)],

  are the equations of state Σ⁻¹ = Λ₀ − (1/N) ∂_Σ Tr[(t̄t̄ᵀ − (Q + σ²I)⁻¹) Q(Σ)]; g and its partial
  derivatives come from the Gaussian-expectation engine and are compiled.  The fixed point is
  iterated with Anderson mixing; S(Σ) is reported as the action.
* ``"langevin"``: Metropolis-adjusted Langevin on the single-neuron distribution e^{−S[w]}, many
  chains at once in torch, with damped updates of Q (Monte Carlo: the residual is statistical).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from ..compile.chain import compile_chain
from ..derive.derivation import Definition, Derivation
from ..errors import ConvergenceError, EvaluationError, SpecError
from ..gaussian import gaussian_expectation
from ..spec import Dense, X
from ..spec.layers import Nonlinearity
from .anderson import anderson_mixing
from .common import _value, as_inputs, noise_expression, noise_value, readout, readout_variance_expr
from .solution import Saddle, Solution

K11, K12, K22 = (sp.Symbol("K11", positive=True), sp.Symbol("K12", real=True), sp.Symbol("K22", positive=True))


def two_layer(network):
    """(hidden Dense, φ expression) of a one-hidden-layer network, or SpecError (readout of any width)."""
    from ..layers import require_supported
    require_supported(network, "the adaptive-kernel theory")
    readout(network, allow_multi=True)
    layers = network.layers
    if not (len(layers) == 3 and isinstance(layers[0], Dense) and isinstance(layers[1], Nonlinearity)) and \
            not (len(layers) == 2 and isinstance(layers[0], Dense)):
        raise SpecError("the adaptive-kernel theory is implemented for one hidden layer: dense -> activation "
                        "-> dense(width 1)", "network.layers")
    phi = layers[1].fn.expr if len(layers) == 3 else X
    return layers[0], phi


@lru_cache(maxsize=32)
def _kernel_derivation(phi):
    g = gaussian_expectation(phi, phi, K11, K12, K22)
    defs = [Definition(sp.Symbol("g", real=True), g, "g", "E[phi(u) phi(v)]")]
    for name, k in (("g1", K11), ("g2", K12), ("g3", K22)):
        defs.append(Definition(sp.Symbol(name, real=True), sp.diff(g, k), rf"\partial g/\partial {k.name}", ""))
    return Derivation("single-neuron kernel", (K11, K12, K22), tuple(defs),
                      {d.symbol.name: d.symbol for d in defs})


def neuron_kernel(phi, k11, k12, k22, derivatives=True):
    """g = E[φ(u)φ(v)] and (∂g/∂K11, ∂g/∂K12, ∂g/∂K22) on arrays (compiled, cached)."""
    der = _kernel_derivation(phi)
    outs = ("g", "g1", "g2", "g3") if derivatives else ("g",)
    chain = compile_chain(der, "numpy", outputs=outs)
    shape = np.broadcast_shapes(np.shape(k11), np.shape(k12), np.shape(k22))
    res = chain({"K11": k11, "K12": k12, "K22": k22})
    return tuple(np.broadcast_to(np.asarray(res[o], dtype=float), shape) for o in outs)


def _is_deep(network) -> bool:
    return sum(isinstance(layer, Dense) for layer in network.layers) > 2


def adaptive_derivation(spec) -> Derivation:
    if _is_deep(spec.network):
        from .deep_adaptive import deep_adaptive_derivation
        return deep_adaptive_derivation(spec)
    hidden, phi = two_layer(spec.network)
    g = gaussian_expectation(phi, phi, K11, K12, K22)
    N = hidden.width
    noise = sp.Symbol("noise", positive=True)
    P = sp.Symbol("P", positive=True, integer=True)
    D = sp.Symbol("D", positive=True, integer=True)
    Sig, L0 = sp.MatrixSymbol("Sigma", D, D), sp.MatrixSymbol("Lambda_0", D, D)
    Qm, y, t = sp.MatrixSymbol("Q", P, P), sp.MatrixSymbol("y", P, 1), sp.MatrixSymbol("tbar", P, 1)
    A = (Qm + noise * sp.Identity(P)).inverse()
    Sa = sp.Symbol("S_Sigma", real=True)
    defs = (Definition(noise, noise_expression(spec), r"\sigma^2", "noise"),
            Definition(sp.Symbol("sigma_a2eff", positive=True), readout_variance_expr(spec.network), r"\sigma_a^2",
                       "readout prior variance times N (a_i ~ N(0, sigma_a^2/N))"),
            Definition(sp.Symbol("g", real=True), g, r"g(K_{11}, K_{12}, K_{22})",
                       "single-neuron kernel E[phi(u) phi(v)]"),
            Definition(t, A * y, r"\bar t", "discrepancy"),
            Definition(Sa, N / 2 * (sp.Trace(L0 * Sig) - sp.log(sp.Determinant(L0 * Sig)) - D)
                       + (sp.log(sp.Determinant(Qm + noise * sp.Identity(P))) + (y.T * A * y)[0, 0]) / 2,
                       r"S(\Sigma)", "variational (Gaussian-closure) action"))
    notes = (r"Adaptive kernel, Gaussian closure $w \sim \mathcal N(0,\Sigma)$, "
             r"$Q_{\mu\nu} = \sigma_a^2\, g(\tilde x_\mu^\top\Sigma\tilde x_\mu, \tilde x_\mu^\top\Sigma\tilde x_\nu, "
             r"\tilde x_\nu^\top\Sigma\tilde x_\nu)$. Per-neuron action "
             r"$S[w] = \tfrac12 w^\top\Lambda_0 w - \frac{\sigma_a^2}{2N}\big[(\bar t^\top\phi(\tilde Xw))^2 - "
             r"\phi^\top(Q+\sigma^2 I)^{-1}\phi\big]$; stationarity of $S(\Sigma)$: "
             r"$\Sigma^{-1} = \Lambda_0 - \frac1N \partial_\Sigma \mathrm{Tr}[(\bar t\bar t^\top - (Q+\sigma^2I)^{-1})Q(\Sigma)]$.",)
    return Derivation("Adaptive kernel: per-neuron action and equations of state", (K11, K12, K22), defs,
                      {"action": Sa}, input_latex={K11: "K_{11}", K12: "K_{12}", K22: "K_{22}", noise: r"\sigma^2"},
                      notes=notes)


class _Setup:
    def __init__(self, spec, x_train, y_train, x_test, params):
        hidden, self.phi = two_layer(spec.network)
        from .multi_output import target_matrix
        x = as_inputs(x_train, "x_train")
        d = x.shape[1]
        values = {**spec.params, **(params or {})}
        self.y, self.K = target_matrix(y_train, len(x), spec.network, values)   # K outputs (multi_output)
        if spec.network.input_dim.is_Symbol:
            values.setdefault(spec.network.input_dim.name, d)
        elif int(spec.network.input_dim) != d:
            raise EvaluationError(f"the spec has input_dim = {spec.network.input_dim} but x_train has dimension {d}")
        spec_v = spec.with_params(**values)
        sw2 = _value(hidden.weight_var, spec_v, "hidden weight_var")
        sb2 = _value(hidden.bias_var, spec_v, "hidden bias_var")
        self.N = _value(hidden.width, spec_v, "hidden width")
        self.sa2 = _value(readout_variance_expr(spec.network), spec_v, "readout weight_var")
        self.noise = noise_value(spec_v)
        if readout(spec.network, allow_multi=True).has_bias:
            raise SpecError("the adaptive-kernel theory has no readout bias; set it to 0", "network.layers[-1]")
        prec = [d / sw2] * d
        cols = [x]
        if sb2 > 0:
            prec.append(1.0 / sb2)
            cols.append(np.ones((len(x), 1)))
        self.L0 = np.diag(prec)
        self.X = np.hstack(cols)
        self.Xt = None
        if x_test is not None:
            xt = as_inputs(x_test, "x_test", d)
            self.Xt = np.hstack([xt] + ([np.ones((len(xt), 1))] if sb2 > 0 else []))

    def kernel(self, Sig, derivatives=True):
        C = self.X @ Sig @ self.X.T
        c = np.diag(C)
        return C, neuron_kernel(self.phi, c[:, None], C, c[None, :], derivatives)

    def background(self, Q):
        A = np.linalg.inv(Q + self.noise * np.eye(len(Q)))
        A = 0.5 * (A + A.T)
        t = A @ self.y
        return A, t

    def action(self, Sig):
        _, (G,) = self.kernel(Sig, derivatives=False)
        Q = self.sa2 * G
        lam = np.linalg.eigvalsh(Q + self.noise * np.eye(len(Q)))
        A, t = self.background(Q)
        M = self.L0 @ Sig
        sign, logdet = np.linalg.slogdet(M)
        return float(self.N / 2 * (np.trace(M) - logdet - len(M)) + 0.5 * self.K * np.sum(np.log(lam))
                     + 0.5 * np.sum(self.y * t))

    def force(self, Sig):
        """(D = ∂_Σ Tr[M Q(Σ)] at fixed M = t̄t̄ᵀ − (Q + σ²I)⁻¹, Q(Σ))."""
        _, (G, g1, g2, g3) = self.kernel(Sig)
        Q = self.sa2 * G
        A, t = self.background(Q)
        tm = t.reshape(len(t), -1)
        M = tm @ tm.T - self.K * A
        s = (M * g1).sum(1) + (M * g3).sum(0)
        Dm = self.sa2 * (self.X.T @ (s[:, None] * self.X) + self.X.T @ (M * g2) @ self.X)
        return 0.5 * (Dm + Dm.T), Q

    def gradient(self, Sig):
        """∂S(Σ)/∂Σ = (N/2)(Λ0 − Σ⁻¹) − D/2."""
        Dm, _ = self.force(Sig)
        return 0.5 * self.N * (self.L0 - np.linalg.inv(Sig)) - 0.5 * Dm

    def update(self, Sig):
        """Σ_new from the equation of state, and Q(Σ)."""
        Dm, Q = self.force(Sig)
        prec = self.L0 - Dm / self.N
        ev = np.linalg.eigvalsh(prec)
        if ev.min() <= 0:
            return None, Q
        new = np.linalg.inv(prec)
        return 0.5 * (new + new.T), Q

    def predict(self, Q, Qs, qss):
        if Qs is None:
            return None, None
        A, t = self.background(Q)
        return Qs @ t, qss - np.einsum("ij,jk,ik->i", Qs, A, Qs)


def _solve_gaussian(st, tol, max_iter, beta):
    D = len(st.L0)
    iu = np.triu_indices(D)

    def unpack(v):
        S = np.zeros((D, D))
        S[iu] = v
        return S + np.triu(S, 1).T

    def fmap(v):
        S = unpack(v)
        if np.linalg.eigvalsh(S).min() <= 0:
            return None
        new, _ = st.update(S)
        return None if new is None else new[iu]

    Sig0 = np.linalg.inv(st.L0)
    v, res, its, ok = anderson_mixing(fmap, Sig0[iu], tol, max_iter, beta)
    if not ok:
        # fall back on minimising S(Σ) over Σ = L Lᵀ (always positive definite), then polish
        Lm = minimise_action(st)
        v, res, its2, ok = anderson_mixing(fmap, (Lm @ Lm.T)[iu], tol, max_iter, beta)
        its += its2
    return unpack(v), res, its, ok


def minimise_action(st, L0=None):
    """Direct minimisation of S(Σ) with Σ = L Lᵀ (L-BFGS, analytic gradient); returns L."""
    from scipy.optimize import minimize
    D = len(st.L0)
    il = np.tril_indices(D)
    L_init = np.linalg.cholesky(np.linalg.inv(st.L0)) if L0 is None else L0

    def unpack(p):
        L = np.zeros((D, D))
        L[il] = p
        return L

    def fun(p):
        L = unpack(p)
        Sig = L @ L.T
        if np.linalg.eigvalsh(Sig).min() <= 1e-300:
            return np.inf, np.zeros_like(p)
        G = st.gradient(Sig)
        return st.action(Sig), (2 * G @ L)[il]

    res = minimize(fun, L_init[il], jac=True, method="L-BFGS-B", options={"maxiter": 5000, "gtol": 1e-12,
                                                                             "ftol": 1e-15})
    return unpack(res.x)


def _torch_phi(phi):
    from .compiled import lambdify
    return lambdify([X], phi, "torch")


def _solve_langevin(st, tol, max_iter, beta, chains, steps, seed, device, Q0=None):
    import torch
    gen = torch.Generator(device=device or "cpu").manual_seed(seed)
    f = _torch_phi(st.phi)
    dt = torch.float64
    Xt = torch.as_tensor(st.X, dtype=dt, device=device)
    y = torch.as_tensor(st.y, dtype=dt, device=device)
    Lh = torch.as_tensor(np.sqrt(np.diag(st.L0)), dtype=dt, device=device)    # w = z / sqrt(Λ0)
    D = len(st.L0)
    coup = st.sa2 / (2 * st.N)

    def phi_of(z):
        return torch.broadcast_to(f((z / Lh) @ Xt.T), (z.shape[0], Xt.shape[0]))

    if Q0 is None:
        _, (G,) = st.kernel(np.linalg.inv(st.L0), derivatives=False)
        Q0 = st.sa2 * G
    Q = torch.as_tensor(Q0, dtype=dt, device=device)
    z = torch.randn(chains, D, generator=gen, dtype=dt, device=device)
    eps = 0.5 / np.sqrt(D)
    history = []
    for it in range(1, max_iter + 1):
        A = torch.linalg.inv(Q + st.noise * torch.eye(len(Q), dtype=dt, device=device))
        A = 0.5 * (A + A.T)
        t = A @ y

        def energy(zz):
            p = phi_of(zz)
            return 0.5 * (zz * zz).sum(1) - coup * (((p @ t) ** 2).reshape(len(p), -1).sum(1)
                                                    - st.K * ((p @ A) * p).sum(1))

        def grad(zz):
            zz = zz.detach().requires_grad_(True)
            e = energy(zz)
            (gz,) = torch.autograd.grad(e.sum(), zz)
            return e.detach(), gz.detach()

        acc_sum, PP, n = 0.0, torch.zeros_like(Q), 0
        e, gz = grad(z)
        for s in range(steps):
            prop = z - eps * gz + np.sqrt(2 * eps) * torch.randn(z.shape, generator=gen, dtype=dt, device=device)
            ep, gp = grad(prop)
            fwd = ((prop - z + eps * gz) ** 2).sum(1) / (4 * eps)
            bwd = ((z - prop + eps * gp) ** 2).sum(1) / (4 * eps)
            log_a = -(ep - e) - bwd + fwd
            accept = torch.log(torch.rand(chains, generator=gen, dtype=dt, device=device)) < log_a
            z = torch.where(accept[:, None], prop, z)
            e = torch.where(accept, ep, e)
            gz = torch.where(accept[:, None], gp, gz)
            acc = accept.double().mean().item()
            acc_sum += acc
            eps *= 1.05 if acc > 0.65 else 0.95
            if s >= steps // 2:
                p = phi_of(z)
                PP += p.T @ p / chains
                n += 1
        if not bool(torch.isfinite(z).all()) or not bool(torch.isfinite(PP).all()):
            raise ConvergenceError("the single-neuron Langevin chains diverged: e^{-S[w]} is not normalisable at "
                                   "this background; try a larger width N or noise")
        Qn = st.sa2 * PP / n
        change = (torch.linalg.norm(Qn - Q) / torch.linalg.norm(Q)).item()
        history.append(change)
        Q = (1 - beta) * Q + beta * Qn
        if change < tol:
            break
    ok = history[-1] < tol
    zf = z / Lh
    return Q.cpu().numpy(), zf.cpu().numpy(), history[-1], it, ok, acc_sum / steps


def solve_adaptive_kernel(spec, x_train, y_train, x_test=None, params=None, strategy=None, tol=None,
                          max_iter=None, beta=None, chains=4000, steps=200, seed=0, device=None,
                          raise_on_failure=True) -> Solution:
    """Solve the adaptive-kernel self-consistency on data (``strategy`` "gaussian" or "langevin").
    Networks with several hidden layers go to the layer-by-layer Gaussian closure of
    :mod:`mftsym.solve.deep_adaptive` (strategy "gaussian") or to the sampled single-neuron measures
    of :mod:`mftsym.solve.deep_adaptive_sampled` (strategy "langevin").  ``strategy`` None reads the
    spec's ``[theory] strategy`` (default "gaussian")."""
    if strategy is None:
        strategy = (spec.theory or {}).get("strategy", "gaussian")
        if strategy not in ("gaussian", "langevin"):
            raise SpecError(f"unknown adaptive-kernel strategy {strategy!r}; use 'gaussian' or 'langevin'",
                            "theory.strategy")
    if _is_deep(spec.network):
        if strategy == "langevin":
            from .deep_adaptive_sampled import solve_deep_adaptive_sampled
            return solve_deep_adaptive_sampled(spec, x_train, y_train, x_test, params=params, chains=chains,
                                               seed=seed)
        if strategy != "gaussian":
            raise SpecError(f"unknown adaptive-kernel strategy {strategy!r}; use 'gaussian' or 'langevin'",
                            "theory.strategy")
        from .deep_adaptive import solve_deep_adaptive_kernel
        kw = {k: v for k, v in (("tol", tol), ("max_iter", max_iter)) if v is not None}
        return solve_deep_adaptive_kernel(spec, x_train, y_train, x_test, params=params,
                                          raise_on_failure=raise_on_failure, **kw)
    st = _Setup(spec, x_train, y_train, x_test, params)
    D = len(st.L0)
    extras = {"strategy": strategy, "noise_var": st.noise, "P": len(st.y), "N": st.N}
    if strategy == "gaussian":
        tol = 1e-11 if tol is None else tol
        Sig, res, its, ok = _solve_gaussian(st, tol, max_iter or 500, 0.5 if beta is None else beta)
        if not ok:
            msg = (f"adaptive kernel (gaussian) did not converge: relative residual {res:.3g} after {its} "
                   "iterations; the Gaussian closure needs Λ0 − D/N positive definite: try a larger width N, a "
                   "larger noise, a smaller beta (mixing), or strategy='langevin'")
            if raise_on_failure:
                raise ConvergenceError(msg)
            return Solution("adaptive_kernel", {}, float("nan"), None, None, False, float(res), its, (), msg, extras)
        C, (G,) = st.kernel(Sig, derivatives=False)
        Q = st.sa2 * G
        Qs = qss = None
        if st.Xt is not None:
            cs = np.einsum("ij,jk,ik->i", st.Xt, Sig, st.Xt)
            c = np.diag(C)
            (Gs,) = neuron_kernel(st.phi, cs[:, None], st.Xt @ Sig @ st.X.T, c[None, :], False)
            (gss,) = neuron_kernel(st.phi, cs, cs, cs, False)
            Qs, qss = st.sa2 * Gs, st.sa2 * gss
        action = st.action(Sig)
        ev = np.linalg.eigvalsh(np.sqrt(st.L0) @ Sig @ np.sqrt(st.L0))
        extras["Sigma"] = Sig.tolist() if D <= 64 else None
        msg = ""
    elif strategy == "langevin":
        tol = 0.02 if tol is None else tol
        Q0 = None
        try:   # start from the Gaussian closure: the sampler then corrects its non-Gaussianity
            Sig0, _, _, ok0 = _solve_gaussian(st, 1e-8, 200, 0.5)
            Q0 = st.sa2 * st.kernel(Sig0, derivatives=False)[1][0] if ok0 else None
        except (np.linalg.LinAlgError, ConvergenceError):
            pass
        Q, W, res, its, ok, acc = _solve_langevin(st, tol, max_iter or 30, 0.5 if beta is None else beta,
                                                  chains, steps, seed, device, Q0)
        if not ok:
            msg = (f"adaptive kernel (langevin) did not settle: relative change of Q {res:.3g} after {its} outer "
                   f"iterations (Monte Carlo noise ~ 1/sqrt(chains)); try more chains/steps, a smaller beta or a "
                   "larger tol")
            if raise_on_failure:
                raise ConvergenceError(msg)
        else:
            msg = ""
        Qs = qss = None
        if st.Xt is not None:
            fnp = lambda a: np.broadcast_to(np.asarray(_torch_phi(st.phi)(__import__("torch").as_tensor(a)),  # noqa
                                                       dtype=float), a.shape)
            ps, p = fnp(W @ st.Xt.T), fnp(W @ st.X.T)
            Qs = st.sa2 * ps.T @ p / len(W)
            qss = st.sa2 * (ps ** 2).mean(0)
        Sig = W.T @ W / len(W)
        ev = np.linalg.eigvalsh(np.sqrt(st.L0) @ Sig @ np.sqrt(st.L0))
        action = float("nan")
        extras["acceptance"] = acc
    else:
        raise SpecError(f"unknown adaptive-kernel strategy {strategy!r}; use 'gaussian' or 'langevin'")
    Q0 = st.sa2 * st.kernel(np.linalg.inv(st.L0), derivatives=False)[1][0]
    mean, var = st.predict(Q, Qs, qss)
    ops = {"sigma_trace_ratio": float(ev.mean()), "sigma_max_eig": float(ev.max()),
           "kernel_trace_ratio": float(np.trace(Q) / np.trace(Q0))}
    extras["Q_eigenvalues"] = np.linalg.eigvalsh(Q).tolist()
    sd = Saddle(ops, action, float(res), ())
    return Solution("adaptive_kernel", ops, action, mean, var, bool(ok), float(res), int(its), (sd,),
                    msg or "stability (Hessian in Σ) not computed for the matrix-valued closure", extras)


def predict_adaptive_kernel(spec, x_train, y_train, x_test) -> dict:
    """``dict(mean=, variance=, order_parameters=)`` for the validation theory hook."""
    return solve_adaptive_kernel(spec, x_train, y_train, x_test).as_prediction()


__all__ = ["adaptive_derivation", "neuron_kernel", "predict_adaptive_kernel", "solve_adaptive_kernel"]

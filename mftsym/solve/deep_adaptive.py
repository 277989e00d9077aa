r"""Deep adaptive kernel: the Gaussian (variational) closure of the adaptive-kernel theory, one
self-consistent kernel per hidden layer (docs/theory/deep_adaptive_kernel.md).

Network h¹ = W¹x̃, h^{l+1} = W^{l+1}φ_l(h^l) (+ bias), f = a·φ_L(h^L), widths N_l, Bayesian posterior
at noise σ².  Which theory: the Gaussian-closure adaptive kernel of Seroussi, Naveh & Ringel
(Nat. Commun. 2023, the "equations of state" of docs/theory/adaptive_kernel.md) applied layer by layer, with
the proportional-limit (mean-field) replacement of each layer's empirical input kernel by its
expectation (as in Li & Sompolinsky's back-propagating kernel renormalization, PRX 2021).  It has
the forward-kernel / backward-conjugate-kernel structure of the leading-order saddle point of
Fischer et al. ("Critical feature learning in deep neural networks", ICML 2024), but the
per-layer non-Gaussian single-site measure of that theory (and of Lauditi et al. 2025) is replaced
by a Gaussian: h^l_i ~ N(0, Σ_l) i.i.d. over neurons.  Its free energy is

    F = N_1 KL(N(0, Σ_1) ‖ N(0, Λ_0⁻¹)) + Σ_{l≥2} N_l KL(N(0, Σ_l) ‖ N(0, K_l))
        + ½ ln det(Q + σ²I) + ½ yᵀ(Q + σ²I)⁻¹ y,
    K_l = σ_{w,l}² G_{l−1} + σ_{b,l}²,   G_l = g_l(Σ̂_l),   Q = σ_a² G_L,
    KL(N(0, Σ) ‖ N(0, K)) = ½ [tr K⁻¹Σ − ln det K⁻¹Σ − dim],

with Σ_1 the D × D covariance of first-layer weights (Σ̂_1 = X̃Σ_1X̃ᵀ on the data, D = d (+1 with
a bias), Λ_0 = diag(d/σ_w², …, 1/σ_b²)), Σ̂_l = Σ_l (P × P) for l ≥ 2, and g_l(Σ̂)_μν =
E[φ_l(u)φ_l(v)] under N(0, [[Σ̂_μμ, Σ̂_μν], [Σ̂_μν, Σ̂_νν]]) from the Gaussian-expectation engine.
Stationarity gives the equations of state (one per layer)

    Σ_L⁻¹ = K_L⁻¹ − (1/N_L) ∂_Σ tr[(t̄t̄ᵀ − (Q + σ²I)⁻¹) σ_a² g_L(Σ)],   t̄ = (Q + σ²I)⁻¹ y,
    Σ_l⁻¹ = K_l⁻¹ − (2/N_l) ∂_{Σ_l} F_{>l}   (F_{>l}: the terms of layers above l and the likelihood),

the backward-propagating conjugate kernels.  Checks: depth 1 is the one-hidden-layer theory of
:mod:`mftsym.solve.adaptive`; linear activations with one training point give Li & Sompolinsky's
scalar renormalizations exactly; N_l → ∞ gives the NNGP.

Solver: F is minimised over Cholesky factors of M_1 = Λ_0^{1/2}Σ_1Λ_0^{1/2} and M_l = R_l⁻¹Σ_lR_l⁻ᵀ
(K_l = R_lR_lᵀ), so that KL = ½[tr M − ln det M − dim]; torch autograd (float64) gives the exact
gradient, scipy L-BFGS the minimum, Newton steps with the autograd Hessian polish it; the residual
is the largest gradient component and the Hessian eigenvalues classify each saddle.
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
from .common import _value, as_inputs, as_targets, noise_expression, noise_value, readout, readout_variance_expr
from .solution import Saddle, Solution

K11, K12, K22 = (sp.Symbol("K11", positive=True), sp.Symbol("K12", real=True), sp.Symbol("K22", positive=True))
JITTER = 1e-12


def hidden_stack(network):
    """[(Dense, φ expression)] for each hidden dense layer (φ = x where no activation follows)."""
    readout(network)
    out = []
    layers = list(network.layers[:-1])
    for i, layer in enumerate(layers):
        if isinstance(layer, Dense):
            act = X
            for nxt in layers[i + 1:]:
                if isinstance(nxt, Dense):
                    break
                if isinstance(nxt, Nonlinearity):
                    act = nxt.fn.expr.subs(X, act)
                else:
                    raise SpecError(f"the deep adaptive kernel handles dense and activation layers only, not "
                                    f"{type(nxt).__name__}", "network.layers")
            out.append((layer, act))
        elif not isinstance(layer, Nonlinearity):
            raise SpecError(f"the deep adaptive kernel handles dense and activation layers only, not "
                            f"{type(layer).__name__}", "network.layers")
    if not out or not isinstance(layers[0], Dense):
        raise SpecError("the adaptive-kernel theory needs a dense first layer and at least one hidden layer",
                        "network.layers")
    return out


@lru_cache(maxsize=32)
def _kernel_derivations(phi):
    g = gaussian_expectation(phi, phi, K11, K12, K22)
    gd = None
    if not any(type(a).__name__ == "GaussianExpectation" for a in sp.preorder_traversal(g)):
        # closed form: the diagonal is g at K12 = K22 = K11 (the arccos/arcsin kernels stay finite there)
        gd = sp.simplify(g.subs({K12: K11, K22: K11}).doit())
        if gd.has(sp.zoo, sp.nan, sp.oo) or gd.has(K12) or gd.has(K22):
            gd = None
    if gd is None:
        gd = gaussian_expectation(phi * phi, sp.Integer(1), K11, sp.Integer(0), sp.Integer(1))
    off = Derivation("g", (K11, K12, K22), (Definition(sp.Symbol("g", real=True), g, "g", ""),),
                     {"g": sp.Symbol("g", real=True)})
    diag = Derivation("g_diag", (K11,), (Definition(sp.Symbol("gd", real=True), gd, "g_d", ""),),
                      {"gd": sp.Symbol("gd", real=True)})
    return off, diag, g, gd


def layer_kernel(phi, C):
    """G = E[φ(u)φ(v)] elementwise for a (torch) covariance matrix C; the diagonal from E[φ(u)²]."""
    import torch
    off, diag, _, _ = _kernel_derivations(phi)
    c = torch.diagonal(C)
    n = C.shape[0]
    eye = torch.eye(n, dtype=C.dtype)
    # the off-diagonal function is never evaluated at correlation 1 (arccos, Cholesky: infinite slope
    # there), so its masked diagonal carries a zero, not a NaN, gradient
    G = compile_chain(off, "torch", outputs=("g",))({"K11": c[:, None].expand(n, n), "K12": C * (1 - eye),
                                                     "K22": c[None, :].expand(n, n)})["g"]
    G = torch.broadcast_to(torch.as_tensor(G, dtype=C.dtype), (n, n))
    gd = compile_chain(diag, "torch", outputs=("gd",))({"K11": c})["gd"]
    gd = torch.broadcast_to(torch.as_tensor(gd, dtype=C.dtype), (n,))
    return G * (1 - eye) + torch.diag(gd)


class DeepSetup:
    """Numbers of one spec and data set: layers (N, σ_w², σ_b², φ), inputs, targets, noise."""

    def __init__(self, spec, x_train, y_train, x_test=None, params=None):
        stack = hidden_stack(spec.network)
        x = as_inputs(x_train, "x_train")
        self.y = as_targets(y_train, len(x))
        d = x.shape[1]
        values = {**spec.params, **(params or {})}
        if spec.network.input_dim.is_Symbol:
            values.setdefault(spec.network.input_dim.name, d)
        elif int(spec.network.input_dim) != d:
            raise EvaluationError(f"the spec has input_dim = {spec.network.input_dim} but x_train has dimension {d}")
        sv = spec.with_params(**values)
        if readout(spec.network).has_bias:
            raise SpecError("the adaptive-kernel theory has no readout bias; set it to 0", "network.layers[-1]")
        self.layers = []
        for i, (layer, phi) in enumerate(stack, 1):
            N = _value(layer.width, sv, f"width of hidden layer {i}")
            if N <= 0:
                raise EvaluationError(f"width of hidden layer {i} must be positive, got {N}")
            self.layers.append({"N": N, "sw2": _value(layer.weight_var, sv, f"weight_var of layer {i}"),
                                "sb2": _value(layer.bias_var, sv, f"bias_var of layer {i}"), "phi": phi})
        self.sa2 = _value(readout_variance_expr(spec.network), sv, "readout weight_var")
        self.noise = noise_value(sv)
        first = self.layers[0]
        prec, cols = [d / first["sw2"]] * d, [x]
        xt = None if x_test is None else as_inputs(x_test, "x_test", d)
        if first["sb2"] > 0:
            prec.append(1.0 / first["sb2"])
            cols.append(np.ones((len(x), 1)))
        self.lam0 = np.array(prec)
        self.X = np.hstack(cols)
        self.Xt = None if xt is None else np.hstack([xt] + ([np.ones((len(xt), 1))] if first["sb2"] > 0 else []))
        self.P, self.D = len(x), len(prec)

    @property
    def depth(self) -> int:
        return len(self.layers)

    # ------------------------------------------------------------------ parameters
    def sizes(self):
        return [self.D] + [self.P] * (self.depth - 1)

    def n_params(self):
        return sum(n * (n + 1) // 2 for n in self.sizes())

    def unpack(self, theta):
        """Lower-triangular factors B_l (diagonal exp(s)) from the flat torch vector θ."""
        import torch
        out, k = [], 0
        for n in self.sizes():
            m = n * (n + 1) // 2
            il = torch.tril_indices(n, n)
            B = torch.zeros(n, n, dtype=theta.dtype)
            B = B.index_put((il[0], il[1]), theta[k:k + m])
            diag = torch.diagonal(B)
            B = B - torch.diag(diag) + torch.diag(torch.exp(diag))
            out.append((B, diag))
            k += m
        return out

    def initial(self, scale=1.0):
        """θ with every M_l = scale · I."""
        th = []
        for n in self.sizes():
            il = np.tril_indices(n)
            v = np.zeros(len(il[0]))
            v[il[0] == il[1]] = 0.5 * np.log(scale)
            th.append(v)
        return np.concatenate(th)

    # ------------------------------------------------------------------ free energy
    def forward(self, theta, test=False):
        """(F, Q on train, per-layer KL, and with test=True the test blocks (Q_*x, Q_**diag))."""
        import torch
        dt = torch.float64
        Bs = self.unpack(theta)
        Xa = self.X if not test or self.Xt is None else np.vstack([self.X, self.Xt])
        Xa = torch.as_tensor(Xa, dtype=dt)
        P = self.P
        s0 = torch.as_tensor(1.0 / np.sqrt(self.lam0), dtype=dt)
        kls = []
        B1, s1 = Bs[0]
        kls.append(0.5 * ((B1 ** 2).sum() - 2 * s1.sum() - self.D))
        Z = Xa * s0[None, :]                      # x̃ Λ0^{-1/2}
        A1 = Z @ B1
        C = A1 @ A1.T                             # Σ̂_1 on train (+ test)
        covs, priors = [C[:P, :P]], [None]
        for l in range(1, self.depth):
            lay, prev = self.layers[l], self.layers[l - 1]
            G = layer_kernel(prev["phi"], C)
            K = lay["sw2"] * G + lay["sb2"]
            Bl, sl = Bs[l]
            kls.append(0.5 * ((Bl ** 2).sum() - 2 * sl.sum() - P))
            Ktt = K[:P, :P]
            jit = JITTER * torch.diagonal(Ktt).mean() * torch.eye(P, dtype=dt)
            R = torch.linalg.cholesky(Ktt + jit)
            Sig = (R @ Bl) @ (R @ Bl).T           # Σ_l = R M Rᵀ on the training points
            if C.shape[0] > P:
                # test points: the prior conditional p(h_* | h) of layer l is kept (the likelihood sees
                # only training points): Σ_*x = K_*x K⁻¹ Σ, Σ_** = K_** − K_*x K⁻¹ K_x* + K_*x K⁻¹ Σ K⁻¹ K_x*
                Kxs = K[:P, P:]
                Asol = torch.cholesky_solve(Kxs, R)            # K⁻¹ K_x*
                Sxs = Sig @ Asol
                Sss = K[P:, P:] - Kxs.T @ Asol + Asol.T @ Sig @ Asol
                C = torch.cat([torch.cat([Sig, Sxs], 1), torch.cat([Sxs.T, Sss], 1)], 0)
            else:
                C = Sig
            covs.append(Sig)
            priors.append(Ktt)
        G = layer_kernel(self.layers[-1]["phi"], C)
        Qa = self.sa2 * G
        Q = Qa[:P, :P]
        A = Q + self.noise * torch.eye(P, dtype=dt)
        L = torch.linalg.cholesky(A)
        y = torch.as_tensor(self.y, dtype=dt)
        t = torch.cholesky_solve(y[:, None], L)[:, 0]
        lik = torch.log(torch.diagonal(L)).sum() + 0.5 * (y * t).sum()
        F = sum(l["N"] * kl for l, kl in zip(self.layers, kls)) + lik
        out = {"F": F, "Q": Q, "kl": kls, "t": t, "L": L, "covariances": covs, "priors": priors}
        if test and C.shape[0] > P:
            out["Qs"] = Qa[P:, :P]
            out["qss"] = torch.diagonal(Qa[P:, P:])
        return out

    def value_and_grad(self, theta_np):
        import torch
        th = torch.tensor(theta_np, dtype=torch.float64, requires_grad=True)
        F = self.forward(th)["F"]
        (g,) = torch.autograd.grad(F, th)
        return float(F.detach()), g.numpy().copy()

    @property
    def closed_form(self) -> bool:
        """True when every layer kernel is a closed form (no quadrature node): autograd Hessians are cheap."""
        for lay in self.layers:
            _, _, g, gd = _kernel_derivations(lay["phi"])
            if any(type(a).__name__ == "GaussianExpectation" for e in (g, gd) for a in sp.preorder_traversal(e)):
                return False
        return True

    def hessian(self, theta_np):
        """∂²F/∂θ²: autograd for closed-form kernels, central differences of the exact gradient otherwise."""
        import torch
        if self.closed_form:
            th = torch.tensor(theta_np, dtype=torch.float64)
            H = torch.autograd.functional.hessian(lambda v: self.forward(v)["F"], th, vectorize=True).numpy()
        else:
            n = len(theta_np)
            H = np.empty((n, n))
            for i in range(n):
                h = 1e-5 * (1 + abs(theta_np[i]))
                e = np.zeros(n)
                e[i] = h
                H[i] = (self.value_and_grad(theta_np + e)[1] - self.value_and_grad(theta_np - e)[1]) / (2 * h)
        return 0.5 * (H + H.T)


def _minimise(st, theta0, tol, max_iter, scale, newton_max=600, hessian_budget_s=10.0):
    """L-BFGS on F(θ), then (when the Hessian is affordable) damped Newton steps; returns
    (θ, F, gradient, Hessian or None, iterations)."""
    import time
    from scipy.optimize import minimize
    t0 = time.perf_counter()
    st.value_and_grad(theta0)
    t_grad = time.perf_counter() - t0
    with np.errstate(all="ignore"):
        res = minimize(lambda v: st.value_and_grad(v), theta0, jac=True, method="L-BFGS-B",
                       options={"maxiter": max_iter, "gtol": tol * 1e-3 * scale, "ftol": 1e-16, "maxcor": 30})
    th = res.x
    its = int(res.nit)
    F, g = st.value_and_grad(th)
    H = None
    affordable = st.closed_form or 2 * len(th) * t_grad < hessian_budget_s
    if not affordable:
        return th, F, g, None, its
    if len(th) <= newton_max and st.closed_form:
        for _ in range(8):
            if np.max(np.abs(g)) <= tol * 1e-3 * scale:
                break
            H = st.hessian(th)
            ev = np.linalg.eigvalsh(H)
            shift = max(0.0, -ev.min() + 1e-10)
            step = np.linalg.solve(H + shift * np.eye(len(th)), g)
            lam = 1.0
            while lam > 1e-4:
                try:
                    F2, g2 = st.value_and_grad(th - lam * step)
                except (RuntimeError, np.linalg.LinAlgError):
                    F2 = np.inf
                if np.isfinite(F2) and F2 <= F + 1e-12 * abs(F):
                    break
                lam /= 2
            else:
                break
            th, F, g = th - lam * step, F2, g2
            its += 1
    H = st.hessian(th)
    return th, F, g, H, its


def solve_deep_adaptive_kernel(spec, x_train, y_train, x_test=None, params=None, tol=1e-9, max_iter=3000,
                               starts=(1.0, 0.3, 3.0), raise_on_failure=True) -> Solution:
    """Minimise the deep Gaussian-closure free energy F from each start (M_l = s·I); returns the
    stable saddle of lowest F, with every distinct stationary point found in ``saddles``."""
    import torch
    st = DeepSetup(spec, x_train, y_train, x_test, params)
    scale = sum(lay["N"] for lay in st.layers) + st.P
    found, iters, best = [], 0, (np.inf, None)
    for s in starts:
        try:
            th, F, g, H, its = _minimise(st, st.initial(s), tol, max_iter, scale)
        except (RuntimeError, np.linalg.LinAlgError):
            continue
        iters += its
        res = float(np.max(np.abs(g)))
        if res < best[0]:
            best = (res, th)
        if not np.isfinite(F) or res > tol * scale:
            continue
        with torch.no_grad():
            Q = st.forward(torch.as_tensor(th))["Q"].numpy()
        ev = np.linalg.eigvalsh(H) if H is not None else ()
        if any(np.allclose(Q, q, rtol=1e-6, atol=1e-10) for q, *_ in found):
            continue
        found.append((Q, th, F, res, ev))
    extras = {"P": st.P, "noise_var": st.noise, "depth": st.depth, "widths": [lay["N"] for lay in st.layers],
              "closure": "gaussian (variational), layer by layer"}
    if not found:
        msg = (f"deep adaptive kernel did not converge: best gradient {best[0]:.3g} (tolerance {tol * scale:.3g}); "
               "try larger widths N_l, a larger noise, or more iterations (max_iter)")
        if raise_on_failure:
            raise ConvergenceError(msg)
        return Solution("adaptive_kernel", {}, float("nan"), None, None, False, float(best[0]), iters, (), msg,
                        extras)
    saddles = []
    for Q, th, F, res, ev in found:
        ops = _order_parameters(st, th)
        saddles.append((Saddle(ops, F, res, ev), Q, th))
    # -1e-8: round-off tolerance on the Hessian eigenvalues of a minimum
    saddles.sort(key=lambda s: (not all(e > -1e-8 for e in s[0].hessian_eigenvalues), s[0].action))
    best_sd, Q, th = saddles[0]
    with torch.no_grad():
        out = st.forward(torch.as_tensor(th), test=st.Xt is not None)
    mean = var = None
    if st.Xt is not None:
        A = Q + st.noise * np.eye(st.P)
        Qs, qss = out["Qs"].numpy(), out["qss"].numpy()
        mean = Qs @ np.linalg.solve(A, st.y)
        var = qss - np.einsum("ij,ji->i", Qs, np.linalg.solve(A, Qs.T))
    extras["Q_eigenvalues"] = np.linalg.eigvalsh(Q).tolist()
    if st.P <= 64:
        extras["layer_covariances"] = [c.numpy().tolist() for c in out["covariances"]]
        extras["layer_prior_kernels"] = [None if k is None else k.numpy().tolist() for k in out["priors"]]
    if not best_sd.hessian_eigenvalues:
        msg = "stability (Hessian) not computed: a quadrature kernel with many parameters (too slow)"
    elif best_sd.stable:
        msg = ""
    else:
        msg = "the stationary point found is not a strict minimum (Hessian eigenvalue <= 0)"
    return Solution("adaptive_kernel", best_sd.order_parameters, best_sd.action, mean, var, True, best_sd.residual,
                    iters, tuple(s[0] for s in saddles), msg, extras)


def _order_parameters(st, th):
    """Per layer: tr M_l / dim (1 at the prior) and the readout-kernel ratio tr Q / tr Q_NNGP."""
    import torch
    with torch.no_grad():
        Bs = st.unpack(torch.as_tensor(th))
        ops = {f"m{l}": float((B ** 2).sum()) / B.shape[0] for l, (B, _) in enumerate(Bs, 1)}
        Q = st.forward(torch.as_tensor(th))["Q"]
        Q0 = st.forward(torch.as_tensor(st.initial(1.0)))["Q"]
    ops["kernel_trace_ratio"] = float(torch.trace(Q) / torch.trace(Q0))
    return ops


def deep_adaptive_derivation(spec) -> Derivation:
    """The free energy, per-layer kernels and equations of state as a Derivation (LaTeX)."""
    stack = hidden_stack(spec.network)
    L = len(stack)
    noise = sp.Symbol("noise", positive=True)
    P = sp.Symbol("P", positive=True, integer=True)
    D = sp.Symbol("D", positive=True, integer=True)
    defs = [Definition(noise, noise_expression(spec), r"\sigma^2", "noise"),
            Definition(sp.Symbol("sigma_a2eff", positive=True), readout_variance_expr(spec.network), r"\sigma_a^2",
                       "readout prior variance (readout-level kernel sigma_a^2 G_L)")]
    Sigs = [sp.MatrixSymbol("Sigma_1", D, D)] + [sp.MatrixSymbol(f"Sigma_{l}", P, P) for l in range(2, L + 1)]
    Ks = [sp.MatrixSymbol("Lambda_0^-1", D, D)] + [sp.MatrixSymbol(f"K_{l}", P, P) for l in range(2, L + 1)]
    Gs = [sp.MatrixSymbol(f"G_{l}", P, P) for l in range(1, L + 1)]
    ones = sp.MatrixSymbol("1", P, 1)
    S = 0
    for l, (layer, phi) in enumerate(stack, 1):
        g = gaussian_expectation(phi, phi, K11, K12, K22)
        defs.append(Definition(sp.Symbol(f"g_{l}", real=True), g, rf"g_{{{l}}}(K_{{11}},K_{{12}},K_{{22}})",
                               f"layer {l}: E[phi_{l}(u) phi_{l}(v)], G_{l} = g_{l}(Sigma-hat_{l}) elementwise"))
        if l >= 2:
            defs.append(Definition(Ks[l - 1], layer.weight_var * Gs[l - 2] + layer.bias_var * ones * ones.T,
                                   rf"K_{{{l}}}", f"prior kernel of layer {l} given layer {l - 1}"))
        dim = D if l == 1 else P
        M = Ks[l - 1].inverse() * Sigs[l - 1]
        S = S + layer.width / 2 * (sp.Trace(M) - sp.log(sp.Determinant(M)) - dim)
    Qm = sp.MatrixSymbol("Q", P, P)
    y = sp.MatrixSymbol("y", P, 1)
    A = (Qm + noise * sp.Identity(P)).inverse()
    S = S + (sp.log(sp.Determinant(Qm + noise * sp.Identity(P))) + (y.T * A * y)[0, 0]) / 2
    Ssym = sp.Symbol("F", real=True)
    defs.append(Definition(Ssym, S, "F", "variational free energy (Gaussian closure per layer)"))
    notes = (r"Deep adaptive kernel, Gaussian closure layer by layer (Seroussi, Naveh \& Ringel 2023 equations "
             r"of state, applied to every hidden layer with the mean-field input kernel $K_l = \sigma_{w,l}^2 "
             r"G_{l-1} + \sigma_{b,l}^2$): $\hat\Sigma_1 = \tilde X\Sigma_1\tilde X^\top$, $\hat\Sigma_l = \Sigma_l$, "
             r"$Q = \sigma_a^2 G_L$, $\bar t = (Q+\sigma^2 I)^{-1}y$. Equations of state: "
             r"$\Sigma_L^{-1} = K_L^{-1} - \frac{1}{N_L}\partial_{\Sigma_L}\mathrm{Tr}[(\bar t\bar t^\top - "
             r"(Q+\sigma^2I)^{-1})\,\sigma_a^2 g_L(\Sigma_L)]$, "
             r"$\Sigma_l^{-1} = K_l^{-1} - \frac{2}{N_l}\partial_{\Sigma_l}F_{>l}$ (conjugate kernels propagate "
             r"backwards). Depth 1: the one-hidden-layer adaptive kernel; linear $\phi$, $P=1$: Li \& Sompolinsky; "
             r"$N_l\to\infty$: NNGP.",)
    return Derivation(f"Deep adaptive kernel ({L} hidden layers): free energy and equations of state",
                      (K11, K12, K22), tuple(defs), {"action": Ssym},
                      input_latex={K11: "K_{11}", K12: "K_{12}", K22: "K_{22}", noise: r"\sigma^2"}, notes=notes)


__all__ = ["DeepSetup", "deep_adaptive_derivation", "hidden_stack", "layer_kernel", "solve_deep_adaptive_kernel"]

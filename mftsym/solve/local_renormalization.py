r"""Local kernel renormalization of a one-hidden-layer CNN (Aiudi et al., Nat. Commun. 16 (2025),
doi:10.1038/s41467-024-55229-3; docs/theory/local_kernel_renormalization.md).

Network ``conv(C channels) -> activation -> flatten -> dense(1)`` with a readout weight per output
position and channel.  In the proportional limit P, C → ∞ the posterior is a GP whose kernel is
renormalized by a matrix of order parameters over the N_p output positions (patches):

    K_Q(x,x') = (σ_a²/N_p) Σ_{ij} Q_ij K_ij(x,x'),    K_ij(x,x') = E[φ(h_i(x)) φ(h_j(x'))],
    S(Q) = (C/2)[Tr Q − ln det Q] + ½ ln det(σ² I + K_Q) + ½ yᵀ (σ² I + K_Q)⁻¹ y,

with (h_i(x), h_j(x')) Gaussian of covariance (C_W/n) p_i(x)·p_j(x') + C_b, p_i(x) the n = C_in |k|
inputs of patch i.  The GP limit is Q = I (K_I is the spec's NNGP); one patch gives the scalar
kernel renormalization of docs/theory/kernel_renormalization.md.  The same convention as the
deepbays ``CONV_1HL`` model (which divides S by C).

The action is minimised in Q = L Lᵀ (L lower triangular with positive diagonal, so Q stays positive
definite) with scipy's trust-region Newton and torch autograd derivatives, from several starts
Q = s I.  The reported residual is max_ij |(Q ∂S/∂Q)_ij| (|u ∂S/∂u| for one patch), converged when
≤ tol · (C + P); stability is read off the Hessian of S in the independent entries Q_ij, i ≤ j.

Validity: S(Q) is exact for the network whose per-channel patch features are Gaussian vectors of
covariance K_ij (Q Wishart), and LKR converges to that network's posterior as C grows; it is
therefore exact up to O(1/C) for a linear activation and accurate when the patch dimension is large,
but not for nonlinear features of low-dimensional patches (4-pixel erf patches: a gap to the exact
CNN posterior that does not shrink with C) -- measured in validation/study_lkr_cnn, see the
"What the Langevin and exact checks establish" section of docs/theory/local_kernel_renormalization.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConvergenceError, EvaluationError, SpecError
from .common import _value, as_inputs, as_targets, feature_kernel, noise_value, readout, readout_variance_expr
from .solution import Saddle, Solution

THEORY = "local_kernel_renormalization"
DEFAULT_STARTS = (1.0, 0.3, 3.0)
ADVICE = "try more starts (starts=[...]) or check the data scale (y of order one, a noise that is not tiny)"


# --------------------------------------------------------------------------- the architecture
@dataclass(frozen=True)
class ConvOneHidden:
    """The parts of a ``conv -> activation(s) -> flatten -> dense(1)`` spec."""

    conv: object
    activations: tuple
    readout: object
    input_shape: tuple          # (*spatial, C_in)
    out_shape: tuple            # output positions
    pad_lo: tuple
    pad_hi: tuple

    @property
    def n_patches(self) -> int:
        return math.prod(self.out_shape)

    @property
    def patch_dim(self) -> int:
        return self.input_shape[-1] * math.prod(self.conv.kernel)


def conv_one_hidden(spec) -> ConvOneHidden:
    """Check that ``spec`` is a one-hidden-layer CNN with a dense readout over flatten."""
    from ..layers.conv import Conv, geometry
    from ..layers.flatten import Flatten
    net = spec.network
    layers = list(net.layers)
    need = ("local kernel renormalization needs a one-hidden-layer CNN: [conv, activation, flatten, "
            "dense(width 1, no bias)] (a readout weight per position and channel)")
    if net.parametrization not in ("ntk", "standard"):
        raise SpecError(f"local kernel renormalization is implemented for the ntk and standard "
                        f"parametrizations, got {net.parametrization!r}", "network.parametrization")
    if len(layers) < 4 or not isinstance(layers[0], Conv) or not isinstance(layers[-2], Flatten):
        raise SpecError(need + f"; got {[getattr(l, 'type', type(l).__name__) for l in layers]}", "network.layers")
    acts = layers[1:-2]
    if not acts or any(getattr(a, "type", None) != "activation" for a in acts):
        raise SpecError(need + "; only activation layers may sit between the conv and the flatten",
                        "network.layers")
    ro = readout(net)
    if ro.has_bias:
        raise SpecError("local kernel renormalization renormalizes the weight part of the readout kernel only; "
                        "set the readout bias_var to 0", "network.layers[-1].bias_var")
    lo, hi, out = geometry(layers[0], tuple(net.input_shape[:-1]))
    return ConvOneHidden(layers[0], tuple(acts), ro, tuple(net.input_shape), tuple(out), tuple(lo), tuple(hi))


def patch_spec(spec, cnn: ConvOneHidden | None = None):
    """The dense network that sees one patch: ``dense(C) -> activation(s) -> dense(1)`` with the conv's
    weight and bias variances and fan-in n = C_in |k|; its NNGP between patch i of x and patch j of
    x' is K_ij(x, x') (the conv is that dense layer applied to every patch with shared weights)."""
    from ..spec.spec import Spec
    cnn = cnn or conv_one_hidden(spec)
    data = spec.to_dict()
    c = cnn.conv
    conv_d = c.to_dict()
    dense = {"type": "dense", "width": conv_d["width"], "weight_var": conv_d["weight_var"]}
    if c.has_bias:
        dense["bias_var"] = conv_d["bias_var"]
    data["network"] = {"input_dim": cnn.patch_dim, "parametrization": spec.network.parametrization,
                       "layers": [dense, *[a.to_dict() for a in cnn.activations],
                                  {"type": "dense", "width": 1, "weight_var": 1.0}]}
    data.pop("theory", None)
    return Spec.from_dict(data)


def patches(cnn: ConvOneHidden, x) -> np.ndarray:
    """(P, N_p, n): the inputs of every conv window (zero or periodic padding), channels last."""
    spatial = cnn.input_shape[:-1]
    x = np.asarray(x, dtype=float).reshape(len(x), *cnn.input_shape)
    c = cnn.conv
    pad = [(0, 0)] + list(zip(cnn.pad_lo, cnn.pad_hi)) + [(0, 0)]
    x = np.pad(x, pad, mode="wrap" if c.padding == "circular" else "constant")
    out = []
    for pos in np.ndindex(*cnn.out_shape):
        sl = tuple(slice(s * st, s * st + k) for s, st, k in zip(pos, c.stride, c.kernel))
        out.append(x[(slice(None), *sl)].reshape(len(x), -1))
    assert len(spatial) == len(cnn.out_shape)
    return np.stack(out, axis=1)


def patch_kernels(spec, x, x2=None, params=None, cnn=None, pspec=None) -> np.ndarray:
    """K_ij(x_μ, x'_ν) as an array (N_p, N_p, P, P')."""
    cnn = cnn or conv_one_hidden(spec)
    pspec = pspec or patch_spec(spec, cnn)
    a = patches(cnn, x)
    b = a if x2 is None else patches(cnn, x2)
    P, Np, n = a.shape
    P2 = b.shape[0]
    K = feature_kernel(pspec, a.reshape(P * Np, n), b.reshape(P2 * Np, n), params=params)
    return np.ascontiguousarray(np.asarray(K).reshape(P, Np, P2, Np).transpose(1, 3, 0, 2))


# --------------------------------------------------------------------------- the problem
@dataclass(frozen=True, eq=False)
class LocalProblem:
    K: np.ndarray               # (Np, Np, P, P) patch kernels, σ_a²/N_p included
    y: np.ndarray
    noise: float
    channels: float
    k_star: np.ndarray | None = None   # (Np, Np, P*, P), σ_a²/N_p included
    k_ss: np.ndarray | None = None     # (Np, Np, P*), σ_a²/N_p included

    @property
    def n_patches(self) -> int:
        return self.K.shape[0]

    @property
    def P(self) -> int:
        return len(self.y)

    @property
    def scale(self) -> float:
        return float(self.channels + self.P)


def prepare(spec, x_train, y_train, x_test=None, params=None) -> LocalProblem:
    cnn = conv_one_hidden(spec)
    pspec = patch_spec(spec, cnn)
    x = as_inputs(x_train, "x_train")
    if x.shape[1] != math.prod(cnn.input_shape):
        raise EvaluationError(f"x_train rows have {x.shape[1]} entries but input_shape {list(cnn.input_shape)} "
                              f"needs {math.prod(cnn.input_shape)}")
    y = as_targets(y_train, len(x))
    C = _value(cnn.conv.width, spec, "conv width", params)
    if C <= 0:
        raise EvaluationError(f"the conv width must be positive, got {C}")
    var = _value(readout_variance_expr(spec.network), spec, "readout weight_var", params)
    w = var / cnn.n_patches
    K = w * patch_kernels(spec, x, params=params, cnn=cnn, pspec=pspec)
    k_star = k_ss = None
    if x_test is not None:
        xt = as_inputs(x_test, "x_test", x.shape[1])
        k_star = w * patch_kernels(spec, xt, x, params=params, cnn=cnn, pspec=pspec)
        kt = patch_kernels(spec, xt, params=params, cnn=cnn, pspec=pspec)
        k_ss = w * np.einsum("ijaa->ija", kt)
    return LocalProblem(K, y, float(noise_value(spec, params)), float(C), k_star, k_ss)


# --------------------------------------------------------------------------- action (torch)
def _torch_action(problem):
    import torch
    K = torch.as_tensor(problem.K, dtype=torch.float64)
    y = torch.as_tensor(problem.y, dtype=torch.float64)
    eye = torch.eye(problem.P, dtype=torch.float64)
    C, s2 = problem.channels, problem.noise

    def action(Q):
        A = s2 * eye + torch.einsum("ij,ijab->ab", Q, K)
        L = torch.linalg.cholesky(A)
        alpha = torch.cholesky_solve(y[:, None], L)[:, 0]
        return (0.5 * C * (torch.trace(Q) - torch.logdet(Q)) + torch.log(torch.diagonal(L)).sum()
                + 0.5 * y @ alpha)
    return action


def _q_of_theta(theta, Np):
    import torch
    L = torch.zeros((Np, Np), dtype=torch.float64)
    il = torch.tril_indices(Np, Np)
    L = L.index_put((il[0], il[1]), theta)
    d = torch.arange(Np)
    L = L.index_put((d, d), torch.exp(L[d, d]))
    return L @ L.T


def _q_of_upper(q, Np):
    import torch
    iu = torch.triu_indices(Np, Np)
    Q = torch.zeros((Np, Np), dtype=torch.float64).index_put((iu[0], iu[1]), q)
    return Q + Q.T - torch.diag(torch.diagonal(Q))


def _theta_of_q(Q):
    L = np.linalg.cholesky(Q)
    L[np.diag_indices_from(L)] = np.log(np.diag(L))
    return L[np.tril_indices_from(L)]


def saddle_at(problem, Q, action=None) -> Saddle:
    """Action, residual max|(Q ∂S/∂Q)_ij| and Hessian eigenvalues in the entries Q_ij (i ≤ j) at Q."""
    import torch
    action = action or _torch_action(problem)
    Np = problem.n_patches
    Qt = torch.as_tensor(Q, dtype=torch.float64).requires_grad_(True)
    S = action(0.5 * (Qt + Qt.T))
    (G,) = torch.autograd.grad(S, Qt)
    resid = float(np.max(np.abs(Q @ G.numpy())))
    iu = np.triu_indices(Np)
    H = torch.autograd.functional.hessian(lambda q: action(_q_of_upper(q, Np)),
                                          torch.as_tensor(Q[iu], dtype=torch.float64)).numpy()
    return Saddle(order_parameters(Q), float(S.detach()), resid, np.linalg.eigvalsh(0.5 * (H + H.T)))


def order_parameters(Q) -> dict:
    Np = len(Q)
    return {f"Q_{i + 1}_{j + 1}": float(Q[i, j]) for i in range(Np) for j in range(i, Np)}


def matrix_of(ops: dict, Np: int) -> np.ndarray:
    Q = np.zeros((Np, Np))
    for i in range(Np):
        for j in range(i, Np):
            Q[i, j] = Q[j, i] = ops[f"Q_{i + 1}_{j + 1}"]
    return Q


def posterior(problem, Q):
    """Mean and variance on the test inputs of the GP with kernel K_Q (None without test inputs)."""
    if problem.k_star is None:
        return None, None
    A = problem.noise * np.eye(problem.P) + np.einsum("ij,ijab->ab", Q, problem.K)
    ks = np.einsum("ij,ijab->ab", Q, problem.k_star)
    kss = np.einsum("ij,ija->a", Q, problem.k_ss)
    sol = np.linalg.solve(A, np.column_stack([problem.y, ks.T]))
    mean = ks @ sol[:, 0]
    var = kss - np.einsum("ab,ba->a", ks, sol[:, 1:])
    return mean, var


# --------------------------------------------------------------------------- solver
def solve_problem(problem, starts=None, tol=1e-10, max_iter=500, raise_on_failure=True) -> Solution:
    """Minima of S(Q) reached from ``starts`` (scalars s for Q = s I, or N_p x N_p matrices)."""
    import torch
    from scipy.optimize import minimize
    Np = problem.n_patches
    action = _torch_action(problem)

    def f(theta):
        th = torch.as_tensor(theta, dtype=torch.float64).requires_grad_(True)
        S = action(_q_of_theta(th, Np))
        (g,) = torch.autograd.grad(S, th)
        return float(S.detach()), g.numpy().copy()

    def hess(theta):
        return torch.autograd.functional.hessian(lambda th: action(_q_of_theta(th, Np)),
                                                 torch.as_tensor(theta, dtype=torch.float64)).numpy()

    starts = DEFAULT_STARTS if starts is None else starts
    found, iters, best = [], 0, np.inf
    for s0 in starts:
        Q0 = float(s0) * np.eye(Np) if np.ndim(s0) == 0 else np.asarray(s0, dtype=float)
        try:
            with np.errstate(all="ignore"):
                r = minimize(f, _theta_of_q(Q0), jac=True, hess=hess, method="trust-exact",
                             options={"gtol": 1e-13 * problem.scale, "maxiter": max_iter})
        except (RuntimeError, np.linalg.LinAlgError):   # a step to a singular σ²I + K_Q
            continue
        iters += int(r.nit)
        if not np.all(np.isfinite(r.x)):
            continue
        Q = _q_of_theta(torch.as_tensor(r.x, dtype=torch.float64), Np).numpy()
        sd = saddle_at(problem, Q, action)
        best = min(best, sd.residual)
        if sd.residual <= tol * problem.scale and not any(
                np.allclose(matrix_of(sd.order_parameters, Np), matrix_of(t.order_parameters, Np),
                            rtol=1e-6, atol=1e-10) for t in found):
            found.append(sd)
    if not found:
        msg = (f"local kernel renormalization did not converge: best residual {best:.3g} "
               f"(tolerance {tol * problem.scale:.3g}); {ADVICE}")
        if raise_on_failure:
            raise ConvergenceError(msg)
        return Solution(THEORY, {}, float("nan"), None, None, False, float(best), iters, (), msg)
    found.sort(key=lambda s: (not s.stable, s.action))
    sd = found[0]
    Q = matrix_of(sd.order_parameters, Np)
    mean, var = posterior(problem, Q)
    msg = "" if sd.stable else "the saddle found is not a minimum of the action (Hessian eigenvalue <= 0)"
    return Solution(THEORY, sd.order_parameters, sd.action, mean, var, True, sd.residual, iters, tuple(found), msg,
                    extras={"noise_var": problem.noise, "P": problem.P, "patches": Np, "channels": problem.channels,
                            "Q": Q.tolist()})


def solve_local_kernel_renormalization(spec, x_train, y_train, x_test=None, params=None, starts=None,
                                       tol=1e-10) -> Solution:
    """Solve the local kernel renormalization of a one-hidden-layer CNN ``spec`` on data."""
    return solve_problem(prepare(spec, x_train, y_train, x_test, params), starts=starts, tol=tol)


__all__ = ["ConvOneHidden", "LocalProblem", "conv_one_hidden", "matrix_of", "order_parameters", "patch_kernels",
           "patch_spec", "patches", "posterior", "prepare", "saddle_at", "solve_local_kernel_renormalization",
           "solve_problem"]


# --------------------------------------------------------------------------- derivation
def local_renormalization_derivations(spec) -> list:
    """[the action and saddle-point equations over the N_p × N_p matrix Q, the patch kernel K_ij]
    (the registry's derivation of ``"local_kernel_renormalization"``)."""
    import sympy as sp
    from ..derive.derivation import Definition, Derivation
    from ..derive.kernels import derive_kernels
    from .common import feature_network
    from .derive import _noise_definition
    from .symbols import NOISE
    cnn = conv_one_hidden(spec)
    Np, n = cnn.n_patches, cnn.patch_dim
    P = sp.Symbol("P", positive=True, integer=True)
    i, j = sp.symbols("i j", integer=True, positive=True)
    Q = sp.MatrixSymbol("Q", Np, Np)
    Kij = sp.MatrixSymbol(r"K^{(ij)}", P, P)
    y = sp.MatrixSymbol("y", P, 1)
    KQ, A = sp.MatrixSymbol("K_Q", P, P), sp.MatrixSymbol("A", P, P)
    C = cnn.conv.width
    sa2 = sp.Symbol("sigma_a2", positive=True)
    Kidx = sp.IndexedBase("K")
    S, G = sp.Symbol("S", real=True), sp.Symbol("G_ij", real=True)
    Ai = A.inverse()
    defs = (
        _noise_definition(spec),
        Definition(sa2, readout_variance_expr(spec.network), r"\sigma_a^2", "readout prior variance"),
        Definition(sp.Symbol("K_Q", real=True),
                   sa2 / Np * sp.Sum(sp.Indexed(sp.IndexedBase("Q"), i, j) * Kidx[i, j], (i, 1, Np), (j, 1, Np)),
                   "K_Q", "locally renormalized kernel; K_ij(x,x') = E[phi(h_i(x)) phi(h_j(x'))] of patches i, j"),
        Definition(sp.Symbol("A", real=True), NOISE * sp.Identity(P) + KQ, "A", "sigma^2 I + K_Q on the training set"),
        Definition(S, C / 2 * (sp.Trace(Q) - sp.log(sp.Determinant(Q))) + sp.log(sp.Determinant(A)) / 2
                   + sp.Trace(y.T * Ai * y) / 2, "S", "effective action (Aiudi et al. 2025)"),
        Definition(G, sp.Trace(Ai * Kij) - sp.Trace(y.T * Ai * Kij * Ai * y), "G_{ij}",
                   "data term of the gradient"),
    )
    Qinv = sp.Symbol(r"(Q^{-1})_{ij}", real=True)
    delta = sp.KroneckerDelta(i, j)
    eq = sp.Eq(C / 2 * (delta - Qinv) + sa2 / (2 * Np) * G, 0)
    notes = (
        rf"Local kernel renormalization of a one-hidden-layer CNN (Aiudi et al., Nat. Commun. 2025): "
        rf"$N_p = {Np}$ patches of $n = {n}$ inputs, $C$ channels. The readout (one weight per patch and "
        r"channel) is integrated out exactly; the filters, shared by every patch, leave one order "
        r"parameter $Q_{ij}$ per pair of patches. Saddle point $\partial S/\partial Q_{ij} = 0$ "
        r"(symmetric $Q$); GP limit $Q = I$; predictor $\bar f(x_*) = k_{Q*}^\top A^{-1} y$, variance "
        r"$k_Q(x_*,x_*) - k_{Q*}^\top A^{-1} k_{Q*}$. $K_{ij}$: the NNGP of the patch network below "
        r"between patch $i$ of $x$ and patch $j$ of $x'$.",
    )
    action = Derivation(title="Local kernel renormalization: action and saddle-point equations", inputs=(),
                        definitions=defs, outputs={"action": S}, equations=(eq,),
                        input_latex={NOISE: r"\sigma^2"}, notes=notes)
    pnet = feature_network(patch_spec(spec, cnn).network)
    return [action, derive_kernels(pnet, ntk=False)]

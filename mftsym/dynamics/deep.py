r"""DMFT of gradient descent for deep fully connected μP networks (L ≥ 1 hidden layers), exact for
linear networks (Bordelon & Pehlevan, NeurIPS 2022; docs/theory/dynamics.md, "Deep networks").

Network (``parametrization = "mu_p"``; dense layers k = 0..L, k = L the width-1 readout without bias)

    h¹ = sqrt(v₀/d) W⁰x + √b₀ b⁰,   h^{k+1} = sqrt(v_k/N) W^k φ(h^k) + √b_k b^k,
    f  = (1/(γ₀N)) Σ_i √v_L a_i φ(h^L_i),

trained by GD on ½Σ_μ(f_μ − y_μ)² with raw step η₀γ₀²N.  With g^L = √v_L a φ'(h^L),
g^k = φ'(h^k) ∘ sqrt(v_k/N) W^{kᵀ} g^{k+1} (so ∂f/∂h^k = g^k/(γ₀N)) the exact infinite-width limit of
the discrete dynamics (time t = η₀ × steps, dt = η₀) is a single site per layer k = 1..L driven by two
independent Gaussian sources, u^k ~ GP(0, Φ̃^{k−1}) (all points) and r^k ~ GP(0, Ĝ^{k+1}) (training
points):

    h^k(t) = u^k(t) + Σ_{s<t} [R^{k−1}(t,s) + dt γ₀ Φ̃^{k−1}(t,s) diag Δ(s)] g^k(s)
    z^k(t) = r^k(t) + Σ_{s≤t} Bᵏ(t,s) φ(h^k(s)) + Σ_{s<t} dt γ₀ Ĝ^{k+1}(t,s) diag Δ(s) φ(h^k(s)),
    g^k = φ'(h^k) z^k,

    Φ̃^0 = K^x = v₀ x·x'/d + b₀ (u¹(t) = h¹(0) for all t),  Φ̃^k = v_k ⟨φ(h^k)φ(h^k)⟩ + b_k,
    Ĝ^{k+1} = v_k ⟨g^{k+1} g^{k+1}⟩  (Ĝ^{L+1} = v_L: r^L = √v_L a(0)),
    R^k(t,s) = v_k ⟨∂φ(h^k(t))/∂r^k(s)⟩,   Bᵏ(t,s) = v_k ⟨∂g^{k+1}(t)/∂u^{k+1}(s)⟩   (R^0 = B^L = 0),

the response functions (B&P's A^k = R^k/(dtγ₀), B^k = Bᵏ/(dtγ₀)).  The output is
f(t) = (1/γ₀) ⟨z^L(t) φ(h^L(t))⟩ and Δ = y − f on the training points; the NTK is
Θ(t) = Σ_{k=0}^{L} Φ̃^k(t,t) ∘ G^{k+1}(t,t)  (G^k = ⟨g^k g^k⟩, G^{L+1} = 1, Φ̃^L = v_L Φ^L).

**Linear φ (exact).**  Every field is linear in its layer's sources ζ^k = (u^k(0), r^k(0), u^k(1), …):
h^k(t) = H^k_t ζ^k, z^k(t) = Z^k_t ζ^k.  The kernels are H C Hᵀ, Z C Zᵀ with C^k the (causally
filled) source covariance, and the responses are coefficient blocks: R^{k}(t,s) = v_k × (the r^k(s)
block of H^k_t), Bᵏ(t,s) = v_k × (the u^{k+1}(s) block of Z^{k+1}_t).  One causal sweep over time
(layers upward for h, downward for z, then f and Δ) solves the theory exactly; no sampling, no
matrix inverse.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import sympy as sp

from ..derive.kernels import almost_everywhere_derivative
from ..errors import EvaluationError, SpecError
from ..spec import Dense, Nonlinearity
from ..spec.expressions import X
from ..spec.spec import Spec
from .model import _value


@dataclass(frozen=True)
class DeepModel:
    """A μP fully connected network with L = len(phis) hidden layers of a common width N."""

    weight_vars: tuple       # v_0 .. v_L (v_L = σ_a², the readout)
    bias_vars: tuple         # b_0 .. b_{L-1} (the readout has none)
    phis: tuple              # φ of hidden layer 1..L (X for none)
    input_dim: int
    spec: Spec

    @property
    def depth(self) -> int:
        return len(self.phis)

    @property
    def linear(self) -> bool:
        return all(sp.expand(p - X).is_zero is True for p in self.phis)

    @property
    def readout_var(self) -> float:
        return self.weight_vars[-1]

    def input_kernel(self, x) -> np.ndarray:
        x = np.asarray(x, float)
        return self.weight_vars[0] * (x @ x.T) / self.input_dim + self.bias_vars[0]

    def initial_ntk(self, x) -> np.ndarray:
        """Θ(0): the NTK of the same network in the ``ntk`` parametrization, from :func:`mftsym.kernel`."""
        import mftsym
        spec_ntk = replace(self.spec, network=replace(self.spec.network, parametrization="ntk"))
        return np.asarray(mftsym.kernel(spec_ntk, np.asarray(x, float), kind="ntk"), float)

    def activations(self, backend: str = "numpy"):
        """[(φ, φ', φ'')] per hidden layer as callables of the backend."""
        from ..compile.backends import lambdify_expr
        from .model import _broadcasting
        out = []
        for phi in self.phis:
            d1 = almost_everywhere_derivative(phi)
            d2 = almost_everywhere_derivative(d1)
            out.append(tuple(_broadcasting(lambdify_expr(X, e, backend), backend) for e in (phi, d1, d2)))
        return out


def smooth_kinks(phi: sp.Expr, width: float):
    r"""φ with every kink (a jump J of φ' at x = c) smoothed by a Gaussian of standard deviation ``width``:
    φ_w(x) = φ(x) + Σ_c J [w ϕ((x−c)/w) − |x−c| Φ(−|x−c|/w)], the Gaussian convolution of the kink's
    J·relu(x − c) part (exact for piecewise-linear φ: relu, leaky_relu, abs).  φ_w' is continuous and
    φ_w'' = a.e. φ'' + Σ_c J N(x − c; 0, w²), so pathwise derivatives of φ_w carry the kink's Dirac mass
    (docs/theory/dynamics.md, "Deep networks").  ``None`` if φ' has no step to smooth."""
    d1 = almost_everywhere_derivative(phi)
    if d1.has(sp.Piecewise):
        raise SpecError(f"the derivative of {phi} is piecewise with conditions the deep Monte Carlo DMFT cannot "
                        "locate; write the activation with Max/Abs/Heaviside or use a smooth one", "network.layers")
    full = sp.expand(sp.diff(d1, X))
    deltas = full.atoms(sp.DiracDelta)
    if not deltas:
        return None
    w = sp.Float(width)
    corr = sp.S.Zero
    for d in deltas:
        a = d.args[0]
        k = sp.diff(a, X)
        c = -a.subs(X, 0) / k if k.is_number and k != 0 else None
        jump = full.coeff(d).subs(X, c) / sp.Abs(k) if c is not None else None     # f(x) δ(x−c) = f(c) δ(x−c)
        if len(d.args) > 1 or jump is None or not jump.is_number:
            raise SpecError(f"the kink of {phi} ({d}) is not a plain slope jump at a fixed point; use a smooth "
                            "activation", "network.layers")
        if jump == 0:                                                  # φ' continuous there (e.g. x² H(x))
            continue
        u = a / k
        corr += jump * (w * sp.exp(-u ** 2 / (2 * w ** 2)) / sp.sqrt(2 * sp.pi)
                        - sp.Abs(u) * (1 - sp.erf(sp.Abs(u) / (sp.sqrt(2) * w))) / 2)
    return phi + corr if corr != 0 else None


def dense_chain(net) -> tuple:
    """(dense layers, activation expressions φ_l(x) of the hidden layers; identity where none follows)
    of a fully connected network ``dense -> [activation] -> ... -> dense``; other layers are refused."""
    layers = list(net.layers)
    dense, phis, i = [], [], 0
    while i < len(layers):
        if not isinstance(layers[i], Dense):
            raise SpecError(f"layer {i} ({type(layers[i]).__name__}): the DMFT handles fully connected networks "
                            "dense -> [activation] -> ... -> dense(1)", f"network.layers[{i}]")
        dense.append(layers[i])
        i += 1
        if i < len(layers) and isinstance(layers[i], Nonlinearity):
            phis.append(layers[i].fn.expr)
            i += 1
        elif i < len(layers):
            phis.append(X)
    if len(dense) < 2 or len(phis) != len(dense) - 1:
        raise SpecError("the DMFT needs at least one hidden layer and a dense readout last", "network.layers")
    return dense, phis


def deep_model(spec, input_dim: int, params=None) -> DeepModel:
    """Read a μP fully connected spec ``dense(N) [-> act] -> ... -> dense(N) [-> act] -> dense(1)``."""
    net = spec.network
    if net.parametrization != "mu_p":
        raise SpecError(f"the DMFT describes the mu_p parametrization; this spec uses {net.parametrization!r}. "
                        "Set parametrization = \"mu_p\" and give gamma0 in [params]", "network.parametrization")
    dense, phis = dense_chain(net)
    readout = dense[-1]
    if not (readout.width.is_Integer and int(readout.width) == 1):
        raise SpecError(f"the readout must have width 1, got {readout.width}", "network.layers[-1].width")
    if readout.has_bias:
        raise SpecError("the DMFT solver needs a readout without bias (bias_var = 0 on the last layer)",
                        "network.layers[-1].bias_var")
    widths = {sp.srepr(d.width) for d in dense[:-1]}
    if len(widths) != 1:
        raise SpecError("the deep DMFT needs all hidden layers of one width N (got "
                        f"{[str(d.width) for d in dense[:-1]]})", "network.layers")
    values = {**spec.params, **(params or {})}
    d = net.input_dim
    dim = int(d) if d.is_Integer else int(round(_value(d, {**values, d.name: input_dim}, "network.input_dim")))
    if dim != int(input_dim):
        raise SpecError(f"the spec has input_dim = {dim} but the data has dimension {input_dim}", "network.input_dim")
    spec_d = spec if d.is_Integer else spec.with_params(**{d.name: float(input_dim)})
    if params:
        spec_d = spec_d.with_params(**params)
    wv = tuple(_value(l.weight_var, values, f"network.layers weight_var of dense layer {k}") for k, l in enumerate(dense))
    bv = tuple(_value(l.bias_var, values, f"network.layers bias_var of dense layer {k}") for k, l in enumerate(dense[:-1]))
    return DeepModel(wv, bv, tuple(phis), dim, spec_d)


class DeepLinearSweep:
    """Exact causal solution of the deep DMFT for linear φ (see the module docstring).

    ``run(delta_in=None)``: one sweep over T steps of size dt; the error signal driving the fields is
    Δ(t) = y − f(t) (causal), or ``delta_in[t]`` if given (then the returned Δ is the one the
    resulting fields produce, for the self-consistency residual)."""

    def __init__(self, model: DeepModel, Kx, y, P, gamma0, dt, steps, output="exact"):
        self.m, self.Kx, self.y, self.P = model, np.asarray(Kx, float), np.asarray(y, float), P
        self.g0, self.dt, self.T, self.output = gamma0, dt, steps, output

    def run(self, delta_in=None):
        m, Kx, P, T, g0, dt = self.m, self.Kx, self.P, self.T, self.g0, self.dt
        L, Pa = m.depth, len(Kx)
        v, b = m.weight_vars, m.bias_vars
        B = 2 * Pa                                   # coordinates per time block: u(t), r(t) (all points)
        D = (T + 1) * B
        ou = lambda t: t * B                         # offset of u(t)
        orr = lambda t: t * B + Pa                   # offset of r(t)
        C = [np.zeros((D, D)) for _ in range(L)]
        H = [np.zeros((T + 1, Pa, D)) for _ in range(L)]
        Z = [np.zeros((T + 1, Pa, D)) for _ in range(L)]
        Phi = [np.zeros((T + 1, T + 1, Pa, Pa)) for _ in range(L)]     # Φ^k(t,s), k = 1..L
        G = [np.zeros((T + 1, T + 1, Pa, Pa)) for _ in range(L)]       # G^k(t,s)
        f = np.zeros((T + 1, Pa))
        deltas = np.zeros((T + 1, P))
        eg = dt * g0
        for t in range(T + 1):
            n = (t + 1) * B                          # active coordinates up to time t
            # ---- forward: h^k(t), k = 1..L
            for k in range(L):
                Ht = H[k][t]
                Ht[:, ou(t):ou(t) + Pa] = np.eye(Pa)
                for s in range(t):                   # u-block covariance Φ̃^{k-1}(t, s), and the drive
                    if k == 0:
                        phit = Kx
                        resp = 0.0
                    else:
                        phit = v[k] * Phi[k - 1][t, s] + b[k]
                        resp = v[k] * H[k - 1][t][:, orr(s):orr(s) + P]
                    kern = resp + eg * phit[:, :P] * deltas[s][None, :]
                    Ht[:, :n] += kern @ Z[k][s][:P, :n]
                    C[k][ou(t):ou(t) + Pa, ou(s):ou(s) + Pa] = phit
                    C[k][ou(s):ou(s) + Pa, ou(t):ou(t) + Pa] = phit.T
                C[k][ou(t):ou(t) + Pa, ou(t):ou(t) + Pa] = Kx if k == 0 else v[k] * Phi[k - 1][t, t] + b[k]
                CH = C[k][:n, :n] @ Ht[:, :n].T
                # (Φ^k(t,s) for s ≤ t needs r^k(t) only through h^k(t), which does not depend on it)
                Phi[k][t, :t + 1] = np.einsum("spd,dq->sqp", H[k][:t + 1, :, :n], CH)
                Phi[k][:t + 1, t] = np.transpose(Phi[k][t, :t + 1], (0, 2, 1))
            # ---- backward: z^k(t), k = L..1
            for k in reversed(range(L)):
                Zt = Z[k][t]
                Zt[:, orr(t):orr(t) + Pa] = np.eye(Pa)
                for s in range(t + 1):
                    if k == L - 1:
                        gt = np.full((Pa, Pa), v[L])
                        bresp = None
                    else:
                        gt = v[k + 1] * G[k + 1][t, s]
                        bresp = v[k + 1] * Z[k + 1][t][:, ou(s):ou(s) + P]
                    C[k][orr(t):orr(t) + Pa, orr(s):orr(s) + Pa] = gt
                    C[k][orr(s):orr(s) + Pa, orr(t):orr(t) + Pa] = gt.T
                    kern = 0.0 if bresp is None else bresp
                    if s < t:
                        kern = kern + eg * gt[:, :P] * deltas[s][None, :]
                    if not np.isscalar(kern):
                        Zt[:, :n] += kern @ H[k][s][:P, :n]
                CZ = C[k][:n, :n] @ Zt[:, :n].T
                G[k][t, :t + 1] = np.einsum("spd,dq->sqp", Z[k][:t + 1, :, :n], CZ)
                G[k][:t + 1, t] = np.transpose(G[k][t, :t + 1], (0, 2, 1))
            # ---- output f(t) = (1/γ0) <z^L(t) h^L(t)>, error signal
            top = L - 1
            if self.output == "exact" or t == 0:
                f[t] = (Z[top][t][0, :n] @ C[top][:n, :n] @ H[top][t][:, :n].T) / g0
            else:                  # Euler: f(t) = f(t-1) + dt Θ(t-1) Δ(t-1) (what the Monte Carlo solver does)
                f[t] = f[t - 1] + dt * self._theta_all({"Phi": Phi, "G": G}, t - 1) @ deltas[t - 1]
            if not np.all(np.isfinite(f[t])):
                raise EvaluationError(f"the DMFT outputs diverged at step {t}: lower lr (dt = {dt:g}); the "
                                      "discrete dynamics need dt * lambda_max(NTK) < 2")
            deltas[t] = (self.y - f[t, :P]) if delta_in is None else delta_in[t]
        produced = self.y[None, :] - f[:, :P]
        return {"f": f, "delta": produced, "Phi": Phi, "G": G}

    def _theta_all(self, out, t):
        """Θ(t) on (all points) x (training points): Σ_k Φ̃^k(t,t) ∘ G^{k+1}(t,t)."""
        m, P, L = self.m, self.P, self.m.depth
        v, b = m.weight_vars, m.bias_vars
        Phi, G = out["Phi"], out["G"]
        theta = self.Kx[:, :P] * G[0][t, t][:, :P]
        for k in range(1, L + 1):
            phit = v[k] * Phi[k - 1][t, t][:, :P] + (b[k] if k < L else 0.0)
            theta = theta + phit * (G[k][t, t][:, :P] if k < L else 1.0)
        return theta

    def ntk(self, out, t):
        """Θ(t) on the training points."""
        return self._theta_all(out, t)[:self.P]

r"""Connected four-point function of a deep network's output at several inputs, to O(1/n)
(the multi-input four-point vertex recursion of Roberts, Yaida & Hanin 2022, ch. 4).

Derivation (done here, checked against Monte Carlo in ``tests/nnft/test_deep_multi.py``).  Given
layer l, the preactivations of layer l+1 are Gaussian, i.i.d. over neurons, with covariance

    G^_{ab} = C_b + (C_W / n_l) sum_j phi(z_{j;a}) phi(z_{j;b})        (a, b = the P inputs)

so E[z_{i1 a1} .. z_{i4 a4}]_conn = d_{i1i2} d_{i3i4} Cov(G^_{a1a2}, G^_{a3a4}) + 2 perms.  Write
Cov(G^_{ab}, G^_{cd}) = V^{(l+1)}_{(ab)(cd)} / n_l.  Splitting the double neuron sum into j = k
(Gaussian to leading order) and j != k (two distinct neurons of layer l share the fluctuating
covariance G^^{(l)}, whose covariance is V^{(l)}/n_{l-1}; expand <phi_a phi_b>_{G^} to first
order in G^ - K) gives

    V^{(l+1)}_{(a1a2)(a3a4)} = C_W^2 [ <phi_a1 phi_a2 phi_a3 phi_a4>_{K^l} - M_{a1a2} M_{a3a4} ]
        + (n_l / n_{l-1}) C_W^2 sum_{b1..b4} J_{(a1a2),(b1b2)} V^{(l)}_{(b1b2)(b3b4)} J_{(a3a4),(b3b4)},

    K^{l+1} = C_b + C_W M(K^l),   M_{ab}(K) = <phi(z_a) phi(z_b)>_K,
    J_{(ab),(ef)} = (1/2) <d^2 (phi_a phi_b) / dz_e dz_f>_K   (e, f ordered; sums run over all P^2 pairs)
                  = the symmetric derivative dM_{ab}/dK_{ef}  (Price's theorem),

i.e. the (C_W^2/4) sum V <d^2(phi phi)/dz dz> <d^2(phi phi)/dz dz> of RYH, written as C_W^2 J V J^T on pair space.
Concretely, for a != b with (u, v) = (z_a, z_b): J_{(ab),(aa)} = dM/dK11 = <phi'' phi>/2,
J_{(ab),(bb)} = dM/dK22, J_{(ab),(ab)} = J_{(ab),(ba)} = (1/2) dM/dK12 = <phi' phi'>/2, and
J_{(aa),(aa)} = g'(K_aa).  V^{(1)} = 0 (the first layer is Gaussian), and at the output

    G4c_{a1a2a3a4} = (1/n_{L-1}) [ V_{(a1a2)(a3a4)} + V_{(a1a3)(a2a4)} + V_{(a1a4)(a2a3)} ].

The code propagates C^l = V^l / n_{l-1} = Cov(G^^{(l)}) directly (no width ratios needed):
C^{l+1} = C_W^2 [(M4 - M (x) M) / n_l + J C^l J^T].  At P = 1 this is exactly the single-input
chain of :mod:`.deep` (V^{l+1} = C_W^2(<phi^4> - g^2) + (n_l/n_{l-1}) chi_par^2 V^l, G4c = 3V/n), and
at one hidden layer it is :mod:`.single_layer`'s G4c.

Derivatives dM/dK: symbolic differentiation of the closed form when the Gaussian engine closes
M (erf, ReLU, polynomials, ...), Price's theorem on the unevaluated node otherwise (tanh: <phi''
phi> by quadrature), and the Gaussian-weight (Stein) form
dM/dK_{ef} = (1/2) <phi_a phi_b [(K^-1 z)_e (K^-1 z)_f - K^-1_{ef}]> (ordered e, f) when phi'' is a
distribution and M does not close (``derivatives="stein"`` forces it; it needs distinct inputs,
det K > 0).  Four-point moments: 1-D / 2-D engine where at most two inputs are distinct,
:func:`~.moments4.moment4` (closed or Gauss-Hermite in 4-D) otherwise.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp

from ..derive.derivation import Definition, Derivation
from ..errors import EvaluationError, MftsymError
from ..gaussian import GaussianExpectation, gaussian_expectation
from ..spec import X as _X
from ..spec.expressions import as_expr
from ._common import dense_blocks, effective_weight_vars
from .deep import _k as _K1, single_input_moments
from .moments4 import PAIRS4, Unclosed4, _grid, closed_moment4

_k11 = sp.Symbol("k11", positive=True)
_k22 = sp.Symbol("k22", positive=True)
_k12 = sp.Symbol("k12", real=True)
DEFAULT_ORDER_3 = 64     # Gauss-Hermite nodes per axis, 3 distinct inputs (64^3 nodes)
DEFAULT_ORDER_4 = 32     # 4 distinct inputs (32^4 nodes)
_PAIR_OUT = ("M", "dM11", "dM12", "dM22", "M31", "M22")


def _has_distribution(expr):
    return expr.has(sp.DiracDelta) or any(
        e.f.has(sp.DiracDelta) or e.g.has(sp.DiracDelta) for e in expr.atoms(GaussianExpectation))


def _ge(f, g):
    return gaussian_expectation(f, g, _k11, _k12, _k22)


def _stein_derivatives(phi):
    """(dM/dK11, dM/dK12, dM/dK22) of M = <phi(u) phi(v)> by the Gaussian-weight (Stein) form:
    no derivative of phi is taken.  With w = K^-1 (u, v), D = det K:
    dM/dK11 = <phi phi (w1^2 - K22/D)>/2, dM/dK22 = <phi phi (w2^2 - K11/D)>/2,
    dM/dK12 = <phi phi (w1 w2 + K12/D)>."""
    D = _k11 * _k22 - _k12**2
    u, v = sp.symbols("_u _v", real=True)
    w1 = (_k22 * u - _k12 * v) / D
    w2 = (-_k12 * u + _k11 * v) / D

    def expect(poly):
        total = sp.S.Zero
        for (i, j), c in sp.Poly(sp.expand(poly), u, v).terms():
            total += c * _ge(_X**i * phi, _X**j * phi)
        return total
    return (expect(w1**2 - _k22 / D) / 2, expect(w1 * w2 + _k12 / D), expect(w2**2 - _k11 / D) / 2)


_PAIR: dict = {}
_ONE: dict = {}
_FOUR: dict = {}


def _pair_chain(phi, derivatives):
    """Compiled (k11, k12, k22) -> {M, dM11, dM12, dM22, M31 = <phi^3(u) phi(v)>, M22 = <phi^2 phi^2>}."""
    from ..compile.chain import compile_chain
    key = (phi, derivatives)
    if key in _PAIR:
        return _PAIR[key]
    M = _ge(phi, phi)
    d = None
    if derivatives == "auto":
        d = tuple(sp.diff(M, s) for s in (_k11, _k12, _k22))
        if any(_has_distribution(e) for e in d):
            d = None
    elif derivatives != "stein":
        raise MftsymError(f"derivatives must be 'auto' or 'stein', got {derivatives!r}")
    if d is None:
        d = _stein_derivatives(phi)
    exprs = (M,) + d + (_ge(phi**3, phi), _ge(phi**2, phi**2))
    defs = tuple(Definition(sp.Symbol(f"out_{n}", real=True), e, n) for n, e in zip(_PAIR_OUT, exprs))
    der = Derivation(title=f"pair moments of {phi}", inputs=(_k11, _k12, _k22), definitions=defs,
                     outputs={n: dd.symbol for n, dd in zip(_PAIR_OUT, defs)})
    _PAIR[key] = compile_chain(der, "numpy")
    return _PAIR[key]


def _one_chain(phi):
    """Compiled k -> {g, dg, phi4}: the very expressions of :func:`.deep.single_input_moments`."""
    from ..compile.chain import compile_chain
    if phi not in _ONE:
        mom = single_input_moments(phi)
        defs = tuple(Definition(sp.Symbol(f"one_{n}", real=True), mom[n], n) for n in ("g", "dg", "phi4"))
        der = Derivation(title=f"single-input moments of {phi}", inputs=(_K1,), definitions=defs,
                         outputs={dd.latex_name: dd.symbol for dd in defs})
        _ONE[phi] = compile_chain(der, "numpy")
    return _ONE[phi]


def _four_fn(phi):
    """(10 covariance entries, PAIRS4 order) -> <phi phi phi phi> in closed form, or None."""
    if phi not in _FOUR:
        syms = sp.symbols("q0:10", real=True)
        try:
            _FOUR[phi] = sp.lambdify(syms, closed_moment4(phi, list(syms)), modules="numpy")
        except Unclosed4:
            _FOUR[phi] = None
    return _FOUR[phi]


def _phi_numeric(phi):
    from ..compile.backends import lambdify_expr
    return lambdify_expr(_X, phi, "numpy")


def _moment_distinct(phi, Ksub, powers, order):
    """<prod_i phi(z_i)^{powers[i]}>, z ~ N(0, Ksub) (d = len(powers) distinct inputs): tensor
    Gauss-Hermite in the eigenbasis of Ksub, order^d nodes (the 4 x 4 rule of .moments4 would
    spend a whole axis on the null direction of a 3-distinct tuple)."""
    d = len(powers)
    Z, W = _grid(int(order), d)
    lam, Q = np.linalg.eigh(Ksub)
    A = Q * np.sqrt(np.clip(lam, 0, None))
    fn = _phi_numeric(phi)
    vals = np.broadcast_to(np.asarray(fn(Z @ A.T), dtype=float), (len(Z), d))
    return float((np.prod(vals ** np.asarray(powers), axis=1) * W).sum())


def _call(chain, env, shape):
    out = chain(env)
    return {k: np.broadcast_to(np.asarray(v, dtype=float), shape).copy() for k, v in out.items()}


def layer_statistics(phi, K, derivatives: str = "auto", order: int | None = None):
    """(M (P,P), J (P,P,P,P), M4 (P,P,P,P)) of activation ``phi`` at kernel ``K`` (P x P):
    M_ab = <phi_a phi_b>, J_{ab,ef} = symmetric dM_ab/dK_ef, M4 = <phi_a phi_b phi_c phi_d>."""
    phi = as_expr(phi)
    K = np.asarray(K, dtype=float)
    P = K.shape[0]
    diag = np.diag(K).copy()
    one = _call(_one_chain(phi), {_K1.name: diag}, diag.shape)
    M = np.diag(one["g"])
    J = np.zeros((P, P, P, P))
    M4 = np.zeros((P, P, P, P))
    for a in range(P):
        J[a, a, a, a] = one["dg"][a]
    ia, ib = np.triu_indices(P, 1)
    pair = {}
    if len(ia):
        if np.any(K[ia, ia] * K[ib, ib] - K[ia, ib] ** 2 <= 1e-12 * K[ia, ia] * K[ib, ib]):
            raise EvaluationError("four_point_deep needs distinct, non-collinear inputs at every layer "
                                  "(a 2 x 2 kernel block is singular)")
        env = {_k11.name: K[ia, ia], _k12.name: K[ia, ib], _k22.name: K[ib, ib]}
        res = _call(_pair_chain(phi, derivatives), env, ia.shape)
        # <phi^3(z_b) phi(z_a)>: the same function with the roles swapped
        swapped = _call(_pair_chain(phi, derivatives),
                        {_k11.name: K[ib, ib], _k12.name: K[ia, ib], _k22.name: K[ia, ia]}, ia.shape)
        for i, (a, b) in enumerate(zip(ia, ib)):
            M[a, b] = M[b, a] = res["M"][i]
            for x, y in ((a, b), (b, a)):
                J[x, y, a, a] = res["dM11"][i]
                J[x, y, b, b] = res["dM22"][i]
                J[x, y, a, b] = J[x, y, b, a] = res["dM12"][i] / 2
            pair[(a, b)] = (res["M31"][i], swapped["M31"][i], res["M22"][i])
    many = []
    for t in itertools.combinations_with_replacement(range(P), 4):
        dist = sorted(set(t))
        if len(dist) == 1:
            val = one["phi4"][t[0]]
        elif len(dist) == 2:
            a, b = dist
            ca = t.count(a)
            m31, m13, m22 = pair[(a, b)]
            val = m31 if ca == 3 else (m13 if ca == 1 else m22)
        else:
            many.append(t)
            continue
        for perm in set(itertools.permutations(t)):
            M4[perm] = val
    if many:
        closed = _four_fn(phi)
        for t in many:
            if closed is not None:
                v = float(closed(*[K[t[i], t[j]] for i, j in PAIRS4]))
            else:
                dist = sorted(set(t))
                v = _moment_distinct(phi, K[np.ix_(dist, dist)], [t.count(a) for a in dist],
                                     order or (DEFAULT_ORDER_3 if len(dist) == 3 else DEFAULT_ORDER_4))
            for perm in set(itertools.permutations(t)):
                M4[perm] = v
    return M, J, M4


def _number(expr, env, what):
    expr = as_expr(expr)
    try:
        return float(expr.subs({s: env[s.name] for s in expr.free_symbols}))
    except KeyError as exc:
        raise EvaluationError(f"no value for {exc.args[0]} ({what}); give it in params") from None


def four_point_deep_layers(spec, X, params=None, derivatives: str = "auto", order: int | None = None):
    """[(K^l, C^l)] for every dense layer l = 1..L (the last is the output): K^l (P,P) the kernel,
    C^l (P,P,P,P) = Cov(G^_{ab}, G^_{cd}) = V^l / n_{l-1} to O(1/n) (zero at l = 1)."""
    from ..compile.kernel_fn import parameter_env
    network = getattr(spec, "network", spec)
    xa = np.atleast_2d(np.asarray(X, dtype=float))
    P, d = xa.shape
    env = parameter_env(network, {**getattr(spec, "params", {}), **(params or {})}, d)
    blocks = dense_blocks(network)
    cws = effective_weight_vars(network)
    fans = network.fan_ins()
    first = blocks[0][0]
    K = _number(first.bias_var, env, "bias_var") + \
        _number(cws[0], env, "weight_var") * (xa @ xa.T) / _number(network.input_dim, env, "input_dim")
    C = np.zeros((P,) * 4)
    out = [(K, C)]
    for l in range(1, len(blocks)):
        phi = blocks[l - 1][1]
        cw = _number(cws[l], env, "weight_var")
        cb = _number(blocks[l][0].bias_var, env, "bias_var")
        n = _number(fans[l], env, "width")
        M, J, M4 = layer_statistics(phi, K, derivatives, order)
        Jm = J.reshape(P * P, P * P)
        prop = (Jm @ C.reshape(P * P, P * P) @ Jm.T).reshape((P,) * 4)
        C = cw**2 * ((M4 - np.einsum("ab,cd->abcd", M, M)) / n + prop)
        K = cb + cw * M
        out.append((K, C))
    return out


def four_point_deep(spec, X, params=None, derivatives: str = "auto", order: int | None = None):
    """(K (P,P), G4c (P,P,P,P)) of the network output at the rows of ``X``, to leading order in 1/n.

    G4c_abcd = E[f_a f_b f_c f_d] - (K_ab K_cd + K_ac K_bd + K_ad K_bc) to O(1/n): the multi-input
    vertex recursion of the module docstring.  ``params`` override the spec's (widths included);
    ``derivatives``: "auto" (closed form / Price) or "stein" (Gaussian-weight forms, no phi'');
    Repeated rows of ``X`` are fine; distinct inputs whose kernel block is singular at some layer
    (collinear inputs without bias) raise :class:`~mftsym.errors.EvaluationError`.
    ``order``: Gauss-Hermite nodes per axis for the moments over 3 or 4 distinct inputs that do
    not close (default 64 for 3, 32 for 4)."""
    xa = np.atleast_2d(np.asarray(X, dtype=float))
    rows, inv = np.unique(xa, axis=0, return_inverse=True)      # repeated inputs: compute once
    inv = np.asarray(inv).reshape(-1)
    K, C = four_point_deep_layers(spec, rows, params, derivatives, order)[-1]
    G4 = C + C.transpose(0, 2, 1, 3) + C.transpose(0, 3, 2, 1)
    return K[np.ix_(inv, inv)], G4[np.ix_(inv, inv, inv, inv)]


__all__ = ["four_point_deep", "four_point_deep_layers", "layer_statistics"]

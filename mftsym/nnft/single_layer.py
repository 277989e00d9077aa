r"""One hidden layer at finite width: G2, the connected four-point function G4c and their compiled
forms as functions of four input points (Halverson, Maiti & Stoner 2021; docs/theory/nnft.md).

For f(x) = sum_i w_i phi(z_i(x)) + b with w_i ~ N(0, C_W/N), b ~ N(0, C_b), z ~ GP(0, K1)::

    G2(x, x')        = C_W M2(x, x') + C_b,                 M2 = E[phi phi']
    G4c(x1..x4)      = (C_W^2 / N) [3 M4 - (M12 M34 + M13 M24 + M14 M23)],   M4 = E[phi1 phi2 phi3 phi4]

(exact at every N: the neurons are i.i.d. given the inputs).  The chain's inputs are the ten inner
products x_a.x_b (a <= b) of the four points; the mean-field readout uses C_W/N instead of C_W.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp

from ..derive.derivation import Definition, Derivation
from ..errors import MftsymError
from ..gaussian import GaussianExpectation, gaussian_expectation
from ._common import dense_blocks, effective_weight_vars
from .moments4 import PAIRS4, GaussianExpectation4, moment4

INPUT4 = {p: sp.Symbol(f"x{p[0] + 1}{p[1] + 1}", real=True, **({"nonnegative": True} if p[0] == p[1] else {}))
          for p in PAIRS4}
INPUT4_LATEX = {s: rf"x_{{{a + 1}}}\cdot x_{{{b + 1}}}" for (a, b), s in INPUT4.items()}


def _ksym(a, b):
    name = f"K{a + 1}{b + 1}"
    return sp.Symbol(name, positive=True) if a == b else sp.Symbol(name, real=True)


def single_hidden_layer(network):
    """(first Dense, phi, readout Dense, C_W of the readout, N) or a clear error."""
    blocks = dense_blocks(network)
    if len(blocks) != 2:
        raise MftsymError(
            f"the multi-input G4c and NNFT action need exactly one hidden layer; this network has "
            f"{len(blocks) - 1}. For deep networks use mftsym.nnft.derive_deep_recursion (single input).")
    (first, phi), (readout, _) = blocks
    cws = effective_weight_vars(network)
    return first, phi, readout, cws[1], first.width


def derive_single_layer(spec, method: str = "auto") -> Derivation:
    """G2 and G4c of a one-hidden-layer spec as a chain in the inner products of four points.

    Outputs: ``G2`` (between x1 and x2), ``G4c``, ``M4``, and ``lambda_single`` (the quartic
    coupling at one input, -G4c/G2^4 when all four points coincide).
    ``method``: "auto" (closed forms where the engine closes, numerical nodes otherwise),
    "quadrature" (always numerical).
    """
    network = getattr(spec, "network", spec)
    first, phi, readout, cw2, N = single_hidden_layer(network)
    cw1, cb1 = first.weight_var, first.bias_var
    d = network.input_dim
    defs = []
    K = {}
    for (a, b), x in INPUT4.items():
        s = _ksym(a, b)
        defs.append(Definition(s, cw1 * x / d + cb1, rf"K_{{{a + 1}{b + 1}}}", "first-layer kernel"))
        K[(a, b)] = K[(b, a)] = s
    M = {}
    gmethod = "quadrature" if method == "quadrature" else "auto"
    for a, b in itertools.combinations(range(4), 2):
        s = sp.Symbol(f"M{a + 1}{b + 1}", real=True)
        e = gaussian_expectation(phi, phi, K[(a, a)], K[(a, b)], K[(b, b)], method=gmethod)
        defs.append(Definition(s, e, rf"M_{{{a + 1}{b + 1}}}", "E[phi(z_a) phi(z_b)]"))
        M[(a, b)] = s
    m4 = sp.Symbol("Mfour", real=True)
    m4expr = moment4(phi, [K[p] for p in PAIRS4], method="quadrature" if method == "quadrature" else "auto")
    defs.append(Definition(m4, m4expr, r"M_{1234}", "E[phi(z_1) phi(z_2) phi(z_3) phi(z_4)]"))
    g2 = sp.Symbol("Gtwo", real=True)
    defs.append(Definition(g2, cw2 * M[(0, 1)] + readout.bias_var, r"G_2(x_1, x_2)", "two-point function"))
    g4 = sp.Symbol("Gfourc", real=True)
    disc = M[(0, 1)] * M[(2, 3)] + M[(0, 2)] * M[(1, 3)] + M[(0, 3)] * M[(1, 2)]
    defs.append(Definition(g4, cw2**2 / N * (3 * m4 - disc), r"G_{4,c}(x_1, x_2, x_3, x_4)",
                           "connected four-point function"))
    closed = not any(d_.expr.has(GaussianExpectation, GaussianExpectation4) for d_ in defs)
    notes = [r"One hidden layer of width $N$, readout prior variance $C_W$ (Halverson, Maiti \& Stoner 2021): "
             r"$G_{4,c} = \frac{C_W^2}{N}\left[3M_{1234} - (M_{12}M_{34} + M_{13}M_{24} + M_{14}M_{23})\right]$, "
             r"exact at every width (the 3 is $\mathbb{E}[a^4]/\sigma_a^4$)."]
    if not closed:
        notes.append(r"Some Gaussian expectations have no closed form in the engine; they are kept as "
                     r"$\mathbb{E}[\cdot]$ nodes and evaluated by quadrature when compiled.")
    return Derivation(title="Finite width, one hidden layer: two- and connected four-point functions",
                      inputs=tuple(INPUT4.values()), definitions=tuple(defs),
                      outputs={"G2": g2, "G4c": g4, "M4": m4}, input_latex=INPUT4_LATEX, notes=tuple(notes))


# ----------------------------------------------------------------------------- compiled evaluation
def compiled_single_layer(derivation, backend: str = "numpy", outputs=None, order: int | None = None):
    """A cached compiled chain that also understands :class:`GaussianExpectation4` nodes."""
    from ..compile.chain import CACHE_LOCK, CompiledChain
    from .moments4 import DEFAULT_ORDER, numeric_moment4

    order = order or DEFAULT_ORDER

    class _Chain(CompiledChain):
        def _prepare(self, expr):
            def node4(e):
                name = f"mft_g4_{abs(hash(e.args[0])) % 10**8}"
                self.namespace[name] = numeric_moment4(e.phi, self.backend, order)
                return sp.Function(name)(*e.args[1:])
            expr = expr.replace(lambda e: isinstance(e, GaussianExpectation4), node4)
            return super()._prepare(expr)

    key = ("nnft4", backend, tuple(outputs or derivation.outputs), order)
    with CACHE_LOCK:
        cache = derivation.__dict__.setdefault("_compiled", {})
        if key not in cache:
            cache[key] = _Chain(derivation, backend, outputs)
        return cache[key]


_DER: dict = {}


def _derivation(network, method):
    key = (network, method)
    if key not in _DER:
        _DER[key] = derive_single_layer(network, method)
    return _DER[key]


def _env(spec, params, dim):
    from ..compile.kernel_fn import parameter_env
    return parameter_env(spec.network, {**spec.params, **(params or {})}, dim)


def four_point(spec, x1, x2, x3, x4, params=None, backend: str = "numpy", method: str = "auto") -> dict:
    """{"G2": G2(x1, x2), "G4c": G4c(x1, x2, x3, x4), "M4": ...} for single points (1-D arrays)."""
    xs = [np.asarray(v, dtype=float).reshape(-1) for v in (x1, x2, x3, x4)]
    der = _derivation(spec.network, method)
    env = _env(spec, params, xs[0].size)
    for (a, b), s in INPUT4.items():
        env[s.name] = float(xs[a] @ xs[b])
    if backend == "mpmath":
        import mpmath
        env = {k: mpmath.mpf(v) for k, v in env.items()}
    out = compiled_single_layer(der, backend)(env)
    return out


def connected_four_point_tensor(spec, x, params=None, backend: str = "numpy", method: str = "auto",
                                order: int | None = None):
    """(G2 (P, P), G4c (P, P, P, P)) at the rows of ``x`` (numpy arrays; torch for backend="torch").

    G4c is evaluated once per unordered 4-tuple and symmetrised."""
    xa = np.atleast_2d(np.asarray(x, dtype=float))
    P = xa.shape[0]
    gram = xa @ xa.T
    der = _derivation(spec.network, method)
    env = _env(spec, params, xa.shape[1])
    tuples = np.array(list(itertools.combinations_with_replacement(range(P), 4)))
    for (a, b), s in INPUT4.items():
        env[s.name] = gram[tuples[:, a], tuples[:, b]]
    if backend == "torch":
        import torch
        env = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in env.items()}
    chain = compiled_single_layer(der, backend, outputs=("G4c",), order=order)
    vals = np.broadcast_to(np.asarray(chain(env)["G4c"], dtype=float), (len(tuples),))
    G4 = np.empty((P, P, P, P))
    for t, v in zip(tuples, vals):
        for perm in set(itertools.permutations(t)):
            G4[perm] = v
    G2 = _two_point(spec, xa, params, method)
    return G2, G4


def single_layer_matrices(spec, x, params=None, method: str = "auto") -> dict:
    """Numbers for contractions of G4c at the rows of ``x`` (n points) without building it:
    ``K1`` (n, n) first-layer kernel, ``M`` (n, n) = E[phi phi'], ``G2`` = C_W M + C_b, ``c`` = C_W^2 / N
    (so G4c = c [3 M4 - (M M + 2 perms)]), ``phi`` a numpy callable of the activation, ``phi_expr``
    its SymPy expression in x."""
    from .deep_multi import _number, _phi_numeric
    network = getattr(spec, "network", spec)
    first, phi, readout, cw2, N = single_hidden_layer(network)
    xa = np.atleast_2d(np.asarray(x, dtype=float))
    env = _env(spec, params, xa.shape[1])

    def num(expr, what):
        return _number(expr, env, what)
    d = num(network.input_dim, "input dimension")
    K1 = num(first.weight_var, "first-layer weight variance") * (xa @ xa.T) / d + num(first.bias_var, "bias")
    cw, cb, n = num(cw2, "readout weight variance"), num(readout.bias_var, "readout bias"), num(N, "width")
    G2 = _two_point(spec, xa, params, method)
    M = (G2 - cb) / cw if cw else np.zeros_like(G2)
    return {"K1": K1, "M": M, "G2": G2, "c": cw**2 / n, "phi": _phi_numeric(phi), "phi_expr": phi}


def _two_point(spec, xa, params, method):
    P = xa.shape[0]
    gram = xa @ xa.T
    der = _derivation(spec.network, method)
    env2 = _env(spec, params, xa.shape[1])
    ii, jj = np.meshgrid(range(P), range(P), indexing="ij")
    for (a, b), s in INPUT4.items():
        first = ii if a == 0 else jj
        second = ii if b == 0 else jj
        env2[s.name] = gram[first, second]
    G2 = np.asarray(compiled_single_layer(der, "numpy", outputs=("G2",))(env2)["G2"], dtype=float)
    return np.broadcast_to(G2, (P, P)).copy()


__all__ = ["INPUT4", "compiled_single_layer", "connected_four_point_tensor", "derive_single_layer",
           "four_point", "single_hidden_layer", "single_layer_matrices"]

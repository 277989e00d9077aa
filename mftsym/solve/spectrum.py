r"""Kernel spectra on a data measure, for the spectral learning curves (docs/theory/learning_curves.md).

Two routes:

* **Sphere (rotation invariance).**  For a fully connected spec and inputs uniform on the sphere of
  radius √d, the kernel is a function of t = x·x'/d alone, K(x, x') = k(t), and its Mercer
  decomposition on the uniform (probability) measure is the Funk-Hecke / Gegenbauer expansion

      k(t) = Σ_ℓ N(d, ℓ) η_ℓ P_ℓ(t),
      η_ℓ  = c_d ∫_{-1}^{1} k(t) P_ℓ(t) (1 − t²)^{(d−3)/2} dt,   c_d = Γ(d/2) / (√π Γ((d−1)/2)),

  with P_ℓ the Legendre polynomial of dimension d (P_ℓ(1) = 1; Gegenbauer C_ℓ^{(d−2)/2} normalised)
  and N(d, ℓ) = (2ℓ + d − 2)/(ℓ + d − 2) · binom(ℓ + d − 2, ℓ) the number of spherical harmonics of
  degree ℓ.  k(t) is evaluated with the spec's compiled kernel at pairs of points on the sphere, and
  the integral by Gauss-Jacobi quadrature (weight (1 − t²)^{(d−3)/2}).  Gaussian inputs
  x ~ N(0, I_d) are approximated by this sphere: |x|²/d = 1 + O(d^{-1/2}) (radial concentration),
  so the approximation neglects the radial fluctuations, which vanish as d grows; for the exact
  finite-d Gaussian spectrum sample x and use the Nyström route.
* **Nyström (data arrays).**  The eigenvalues of K(x_i, x_j)/n on a sample of n inputs are those of
  the kernel operator on the empirical measure; a target y on the sample has mode coefficients
  v_k = V_kᵀ y / √n.  Faithful for the learning curve while P ≪ n.

The part of the trace k(1) not resolved by the degrees kept (``tail_trace``) is carried as a
continuum of modes with Pη ≪ κ (it adds to the effective ridge); likewise the target power beyond
the degrees kept (``tail_power``) is never learned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, roots_jacobi

from ..errors import EvaluationError, SpecError
from ..spec import Dense
from ..spec.layers import Nonlinearity
from .common import _value


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Eigenvalues ``eta`` (one per degree / mode) with ``degeneracy``, of a kernel of trace
    ``trace`` on a probability measure; ``tail_trace`` = trace − Σ degeneracy·eta (unresolved)."""

    eta: np.ndarray
    degeneracy: np.ndarray
    trace: float
    measure: str
    labels: np.ndarray | None = None      # the degree ℓ of each entry (sphere) or the mode index

    @property
    def tail_trace(self) -> float:
        return max(self.trace - float(np.sum(self.degeneracy * self.eta)), 0.0)


# --------------------------------------------------------------------------- sphere
def degeneracy(d: int, ell) -> np.ndarray:
    """N(d, ℓ): the number of linearly independent spherical harmonics of degree ℓ on S^{d−1}."""
    ell = np.asarray(ell, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logb = gammaln(ell + d - 1) - gammaln(ell + 1) - gammaln(d - 1)
        n = (2 * ell + d - 2) / (ell + d - 2) * np.exp(logb)
    n = np.where(n < 2.0 ** 52, np.round(n), n)      # integers (exp∘gammaln rounds off)
    return np.where(ell == 0, 1.0, n)


def legendre_d(d: int, lmax: int, t) -> np.ndarray:
    """P_ℓ(t) of dimension d for ℓ = 0..lmax (rows), by the three-term recurrence
    (ℓ + d − 2) P_{ℓ+1} = (2ℓ + d − 2) t P_ℓ − ℓ P_{ℓ−1}, P_0 = 1, P_1 = t."""
    t = np.asarray(t, dtype=float)
    out = np.empty((lmax + 1,) + t.shape)
    out[0] = 1.0
    if lmax >= 1:
        out[1] = t
    for ell in range(1, lmax):
        out[ell + 1] = ((2 * ell + d - 2) * t * out[ell] - ell * out[ell - 1]) / (ell + d - 2)
    return out


def sphere_quadrature(d: int, n: int):
    """Nodes t and weights of ∫ f(t) dμ_d(t), μ_d the law of x̂·e for x̂ uniform on S^{d−1}
    (density c_d (1 − t²)^{(d−3)/2}); the weights sum to 1."""
    if d < 2:
        raise SpecError(f"the sphere spectrum needs input dimension d >= 2, got {d}", "network.input_dim")
    a = (d - 3) / 2.0
    t, w = roots_jacobi(n, a, a)
    return t, w / w.sum()


def gegenbauer_coefficients(f_values, t, w, d: int, lmax: int) -> np.ndarray:
    """η_ℓ = E_μd[f(t) P_ℓ(t)] for ℓ = 0..lmax from values of f at the quadrature nodes."""
    return legendre_d(d, lmax, t) @ (w * np.asarray(f_values, dtype=float))


def input_dimension(spec, params=None) -> int:
    d = _value(spec.network.input_dim, spec, "network.input_dim", params)
    if d != int(d) or d < 2:
        raise SpecError(f"input_dim must be an integer >= 2 for the sphere spectrum, got {d}", "network.input_dim")
    return int(d)


def check_rotation_invariant(network) -> None:
    for i, layer in enumerate(network.layers):
        if not isinstance(layer, (Dense, Nonlinearity)):
            raise SpecError(f"layer {i} ({type(layer).__name__}) is not rotation invariant: the Gegenbauer "
                            "spectrum needs a fully connected network; give data arrays (--data) for the "
                            "Nyström spectrum instead", f"network.layers[{i}]")


def dot_product_function(spec, t, d: int, kind: str = "nngp", params=None) -> np.ndarray:
    """k(t) = K(x, x') for x, x' on the sphere of radius √d with x·x'/d = t (the compiled kernel)."""
    import mftsym
    t = np.asarray(t, dtype=float)
    x1 = np.zeros((1, d))
    x1[0, 0] = np.sqrt(d)
    x2 = np.zeros((len(t), d))
    x2[:, 0] = np.sqrt(d) * t
    x2[:, 1] = np.sqrt(d) * np.sqrt(np.clip(1 - t ** 2, 0, None))
    values = {**spec.params, **(params or {})}
    if spec.network.input_dim.is_Symbol:
        values.setdefault(spec.network.input_dim.name, d)
    return np.asarray(mftsym.kernel(spec, x1, x2, kind=kind, params=values), dtype=float)[0]


def sphere_spectrum(spec, d: int | None = None, lmax: int = 40, kind: str = "nngp", params=None,
                    nodes: int | None = None) -> Spectrum:
    """The Gegenbauer spectrum of the spec's ``kind`` kernel ("nngp" | "ntk") on the sphere of
    radius √d: η_ℓ, N(d, ℓ) for ℓ = 0..lmax, trace k(1).  Round-off below 1e-14·k(1) is set to 0."""
    check_rotation_invariant(spec.network)
    d = input_dimension(spec, params) if d is None else int(d)
    if lmax < 0:
        raise EvaluationError(f"lmax must be >= 0, got {lmax}")
    n = nodes or max(200, 4 * lmax + 50)
    t, w = sphere_quadrature(d, n)
    k = dot_product_function(spec, t, d, kind, params)
    trace = float(dot_product_function(spec, np.array([1.0]), d, kind, params)[0])
    eta = gegenbauer_coefficients(k, t, w, d, lmax)
    floor = 1e-14 * abs(trace)
    if eta.min() < -1e3 * floor - 1e-12 * abs(trace):
        raise EvaluationError(f"the kernel has a negative Gegenbauer coefficient ({eta.min():.3g}): it is not "
                              "positive definite on the sphere, or the quadrature is too coarse (raise nodes)")
    eta = np.where(eta > floor, eta, 0.0)
    ell = np.arange(lmax + 1)
    return Spectrum(eta, degeneracy(d, ell), trace, f"sphere(d={d})", ell)


def sphere_target_power(g, d: int, lmax: int, nodes: int | None = None):
    """Target power per degree for a single-index target y = g(z), z = w*·x, |w*| = 1, x on the
    sphere of radius √d (so z = √d t): V_ℓ = N(d, ℓ) ĝ_ℓ², ĝ_ℓ = E_μd[g(√d t) P_ℓ(t)].
    Returns (V[0..lmax], tail power E[g²] − Σ V_ℓ)."""
    n = nodes or max(200, 4 * lmax + 50)
    t, w = sphere_quadrature(d, n)
    gv = np.broadcast_to(np.asarray(g(np.sqrt(d) * t), dtype=float), t.shape)
    coef = gegenbauer_coefficients(gv, t, w, d, lmax)
    V = degeneracy(d, np.arange(lmax + 1)) * coef ** 2
    total = float(np.sum(w * gv ** 2))
    return V, max(total - float(V.sum()), 0.0)


# --------------------------------------------------------------------------- Nyström
def nystrom_spectrum(spec, x, kind: str = "nngp", params=None):
    """(Spectrum, eigenvectors V) of K(x_i, x_j)/n on the sample x (n, d), eigenvalues descending."""
    import mftsym
    from .common import as_inputs, eig_psd
    x = as_inputs(x, "x")
    values = {**spec.params, **(params or {})}
    if spec.network.input_dim.is_Symbol:
        values.setdefault(spec.network.input_dim.name, x.shape[1])
    K = np.asarray(mftsym.kernel(spec, x, kind=kind, params=values), dtype=float)
    lam, V = eig_psd(K / len(x))
    order = np.argsort(lam)[::-1]
    lam, V = lam[order], V[:, order]
    return Spectrum(lam, np.ones_like(lam), float(np.trace(K)) / len(x), f"empirical(n={len(x)})",
                    np.arange(len(lam))), V


def nystrom_target_power(V, y) -> np.ndarray:
    """v_k² with v_k = V_kᵀ y / √n: the target's power in each empirical eigenmode (Σ = mean y²)."""
    y = np.asarray(y, dtype=float).reshape(len(V))
    return (V.T @ y) ** 2 / len(y)


__all__ = ["Spectrum", "degeneracy", "dot_product_function", "gegenbauer_coefficients", "legendre_d",
           "nystrom_spectrum", "nystrom_target_power", "sphere_quadrature", "sphere_spectrum",
           "sphere_target_power"]

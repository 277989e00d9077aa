"""The paper's printed modular-addition reduction (Rubin, Seroussi & Ringel 2024, Sec. 3.2, App. B; docs/theory/
grokking.md §6): the target eigenvalue of the kernel checked by brute force over the P² two-hot inputs (it is
4P²σ_a²⟨|w_k|²|v_k|²⟩, not the printed σ_a²⟨|w_k|²|v_k|²⟩), the data term of Eq. 16 by brute force, and the
printed-eigenvalue solution against the values stated with the paper's Fig. 3."""

import numpy as np
import pytest

from mftsym.errors import SpecError
from mftsym.solve.modular_addition_paper import PaperModularModel

FIG3 = dict(P=401, N=1000, sa2=0.002 / 1000, gamma=1e-4)          # the parameters of the paper's Fig. 3


def _two_hot(P):
    a, b = np.meshgrid(np.arange(P), np.arange(P), indexing="ij")
    return a.ravel(), b.ravel()


def _fourier(w):
    """w_k of the paper's convention w_n = Σ_k w_k e^{−2πikn/P}."""
    P = len(w)
    return np.array([np.sum(w * np.exp(2j * np.pi * k * np.arange(P) / P)) / P for k in range(P)])


@pytest.mark.parametrize("P", [5, 7])
def test_target_eigenvalue_by_brute_force(P):
    """Q = σ_a²⟨φφᵀ⟩ over neurons on one mode k with random phases: its eigenvalue on the target plane wave
    e^{2πik(n+m)/P}/P is 4P²σ_a²|w_k|²|v_k|²; and for w ~ N(0, I) (the NNGP kernel, Eq. 21) it is 4σ_a²."""
    sa2, k, A, B = 0.3, 2, 0.7, 1.3
    a, b = _two_hot(P)
    psi = np.exp(2j * np.pi * k * (a + b) / P) / P
    n = np.arange(P)
    lam = 0.0
    phases = np.linspace(0, 2 * np.pi, 8, endpoint=False)                 # exact average of the phase harmonics
    for al in phases:
        for be in phases:
            u, v = A * np.cos(2 * np.pi * k * n / P + al), B * np.cos(2 * np.pi * k * n / P + be)
            phi = (u[a] + v[b]) ** 2
            lam += sa2 * abs(np.vdot(psi, phi)) ** 2 / len(phases) ** 2
    wk, vk = abs(_fourier(u)[k]) ** 2, abs(_fourier(v)[k]) ** 2
    assert lam == pytest.approx(4 * P ** 2 * sa2 * wk * vk, rel=1e-10)
    assert abs(lam - sa2 * wk * vk) > 0.5 * lam                             # the printed normalisation is off
    K = (a[:, None] == a[None, :]).astype(float) + (b[:, None] == b[None, :])   # Eq. 21, w ~ N(0, I)
    Q = sa2 * (np.outer(np.diag(K), np.diag(K)) + 2 * K ** 2)
    assert np.real(np.vdot(psi, Q @ psi)) == pytest.approx(4 * sa2, rel=1e-12)   # = 4P²σ_a²⟨|w_k|²|v_k|²⟩, ⟨…⟩ = 1/P²


def test_data_term_of_eq16_by_brute_force():
    """(σ_a²/2N) Σ_p (Σ_nm t^p_nm φ_nm)² with σ²t = a y equals (2σ_a²a²P³/(Nσ⁴)) Σ_{k≥1} |w_k|²|v_k|² (Eq. 31-32)."""
    P, N, sa2, s2, amp = 7, 50.0, 0.4, 0.3, 0.8
    rng = np.random.default_rng(1)
    u, v = rng.standard_normal(P), rng.standard_normal(P)
    a, b = _two_hot(P)
    phi = (u[a] + v[b]) ** 2
    Y = np.stack([((a + b) % P == p) - 1 / P for p in range(P)])
    brute = sa2 / (2 * N) * np.sum((amp / s2 * Y @ phi) ** 2)
    wk, vk = np.abs(_fourier(u)) ** 2, np.abs(_fourier(v)) ** 2
    assert brute == pytest.approx(2 * sa2 * amp ** 2 * P ** 3 / (N * s2 ** 2) * np.sum(wk[1:] * vk[1:]), rel=1e-10)


def test_saddle_is_the_minimum_of_the_action():
    m = PaperModularModel(**FIG3)
    phi, S = m.saddle(0.2, 0.9)
    grid = np.linspace(0.5 * phi, 1.5 * phi, 2001)
    assert grid[np.argmin(m.action(grid, 0.2, 0.9))] == pytest.approx(phi, rel=1e-3)
    assert m.saddle(0.3, 1.0) == (None, None)                               # u a² < √γ: no condensed saddle


def test_printed_eigenvalue_reproduces_the_papers_figure_3():
    """Stated with Fig. 3: GMFL-I begins near σ² ≈ 0.227, GMFL-II at σ² ≈ 0.175, a goes from 1 to about 0.7."""
    out = PaperModularModel(**FIG3, eigenvalue="printed").sweep(np.linspace(0.15, 0.26, 12))
    b = {(t["from"], t["to"]): t["value"] for t in out["boundaries"]}
    assert 0.17 < b[("gmfl_2", "gmfl_1")] < 0.18
    assert 0.225 < b[("gmfl_1", "gfl")] < 0.24
    assert b[("gmfl_2", "gmfl_1")] < b[("S<0", "S>0")] < b[("gmfl_1", "gfl")]
    a_end = PaperModularModel(**FIG3, eigenvalue="printed").solve(b[("gmfl_2", "gmfl_1")] + 1e-4)["a"]
    assert 0.7 < a_end < 0.78


def test_derived_eigenvalue_has_no_gmfl2():
    """With λ = 4P²σ_a²⟨…⟩ a condensed fraction p_k ~ 1e−6 fits the target; S_k(Φ*) stays near ln(4/p_k) > 0."""
    m = PaperModularModel(**FIG3)
    states = [m.solve(s) for s in (0.15, 0.18, 0.2, 0.23)]
    assert all(s["phase"] == "gmfl_1" for s in states)
    assert all(s["p_k"] < 1e-5 and s["S"] > 10 for s in states)
    assert states[0]["a"] < 0.7                      # the kernel is still fitted: a falls as in the printed version


def test_bad_input():
    with pytest.raises(SpecError, match="eigenvalue"):
        PaperModularModel(5, 10, 0.1, 1e-3, eigenvalue="other")
    with pytest.raises(SpecError, match="positive"):
        PaperModularModel(5, 10, 0.1, -1.0)

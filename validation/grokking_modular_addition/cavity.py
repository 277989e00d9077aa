"""Why the mean-field phases miss p, x and f̄ of the Langevin ensembles: exact finite-N cavity diagnosis of the
measured chain states, and the finite-population saddle against the measured table.

Needs weights_N1000_s0.001.npz and weights_N1000_s0.0005.npz (``python run.py --width 1000 1e-3 6000
--save-weights``, same for 5e-4: the chains of results.json, seeds 7 = prior start, 108 = planted start, the last
thinned sample).  Writes results_cavity.json.  About 3 minutes on one core.

A. Cavity diagnosis (mftsym.solve.modular_addition_cavity.CavityAction).  For every condensed neuron i of the final
   sample of a chain (x + y > 40/λ), its exact conditional action given the other N − 1 measured neurons (readout
   integrated exactly, the Langevin target), minimised over all 2P weights from its measured w_i; then the kernel of
   the others is replaced by the mean-field theory's ingredients one at a time:
     exact           measured background + measured other condensed neurons
     bg_translation  background replaced by its translation average (plane-wave diagonal)
     bg_prior        background replaced by the prior kernel of N − n_c neurons (closed form)
     no_off_target   plane-wave components off (0,0), (k,0), (0,k), (k,±k) removed (ρ = 1/σ² there, the theory's)
     rephased        other condensed neurons given new random phases (3 draws; same modes and powers)
     split_m         each other condensed neuron replaced by m copies with random phases and kernel weight 1/m
                     (same average kernel, m times more neurons per mode: m = 2, 4, 16)
     cond_translation other condensed neurons translation-averaged: the random-phase mixture of the mean field,
                     with the measured count and powers
     cond_translation_over_n   the same with each neuron's kernel divided by its n_j = 1 + σ̃_a²E_j/N (the theory's
                     self-consistency weights the condensed kernel by 1/n)
     theory_kernel   the mean-field self-consistent plane-wave kernel (τ, ρ₀, ρ₂; 1/σ² elsewhere)
     theory_population  the others are the mean field's own state made explicit: round(pN/M) neurons per mode at x*
                     with random phases, prior background (probe: one neuron per mode, from x*)
   Reported: how many neurons keep a condensed local minimum, their mean x = (|U_q|² + |V_q|²)/2 there, and the mean
   minimum of S_i − S_i(0).
B. Finite-population saddle (``solve_modular_addition_phases(..., population="finite")``) at every σ² of
   results.json, the N = 4000 points, and σ² = 2.2e−3 … 2.7e−3 (the finite-population first-order point and the end
   of the condensed saddles), against the
   measured p, x, f̄ and the mean field.
C. The mean field's split (20/λ per mode coordinate, i.e. x + y > 40/λ) varied to 10/λ and 30/λ.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from mftsym.solve import modular_addition_phases as mp  # noqa: E402
from mftsym.solve.modular_addition_cavity import (CavityAction, features, kernel, mode_powers,  # noqa: E402
                                                  prior_background_kernel, single_mode_weights, translation_average)
from mftsym.spec import Spec  # noqa: E402

P, SW2, SA2 = 11, 1.0, 1.0
M = (P - 1) // 2
QUICK = "--quick" in sys.argv


def spec(N):
    return Spec.from_toml(ROOT / "derivations" / "grokking" / "modular_addition.toml").with_params(
        P=P, d=2 * P, N=N, sigma_w2=SW2, sigma_a2=SA2)


def plane_wave_classes():
    k = np.arange(P)
    K, L = [a.ravel() for a in np.meshgrid(k, k, indexing="ij")]
    off = (K != 0) & (L != 0) & (K != L) & ((K + L) % P != 0)
    F = np.exp(2j * np.pi * np.outer(k, k) / P) / np.sqrt(P)
    F2 = np.kron(F, F)
    return F2, off


F2, OFF = plane_wave_classes()


def drop_off_target(Q):
    Qh = F2.conj().T @ Q @ F2
    Qh[OFF, :] = 0
    Qh[:, OFF] = 0
    return np.real(F2 @ Qh @ F2.conj().T)


def eigen_summary(Q):
    """Mean plane-wave diagonal of Q by class: target (k,k), mirror (k,−k), (k,0)/(0,k), (0,0), off-target."""
    lam = np.real(np.einsum("ij,ik,kj->j", F2.conj(), Q, F2))
    k = np.arange(P)
    K, L = [a.ravel() for a in np.meshgrid(k, k, indexing="ij")]
    cls = {"target": (K == L) & (K != 0), "mirror": ((K + L) % P == 0) & (K != 0),
           "k0": (K == 0) ^ (L == 0), "00": (K == 0) & (L == 0), "off": OFF}
    return {n: float(lam[m].mean()) for n, m in cls.items()}


def probe(model, K_others, w0):
    S = CavityAction(model, K_others)
    w, s = S.minimum(w0)
    x, y, _ = mode_powers(w[None], P)
    return float((x[0] + y[0]) / 2), s - S(np.zeros(2 * P))


def diagnose(s2, seed_key, sample=-1):
    m = mp.mode_model(spec(1000), {"sigma2": s2})
    c = m.sa2 / m.N
    W = np.load(HERE / f"weights_N1000_s{s2:g}.npz")[seed_key][sample].astype(float)
    x, y, q = mode_powers(W, P)
    cond = np.nonzero((x + y) > 40 / m.lam)[0]
    bgi = np.setdiff1d(np.arange(len(W)), cond)
    Phi = features(W, P)
    Qb = c * Phi[:, bgi] @ Phi[:, bgi].T
    Qc = c * Phi[:, cond] @ Phi[:, cond].T
    I = s2 * np.eye(P * P)
    th = mp.solve_modular_addition_phases(spec(1000), {"sigma2": s2})
    op = th.order_parameters
    Kth = np.linalg.inv(mp.kernel_inverse_matrix(mp.plane_wave_eigenvalues(
        P, s2, op["tau"], op["rho0_noise"] / s2, op["rho2_noise"] / s2)))
    Qb_T, Qb_prior = translation_average(Qb, P), prior_background_kernel(m, len(bgi))
    # n_j of every condensed neuron in its measured cavity
    nj = {}
    for j in cond:
        Aj = np.linalg.inv(Qb + Qc - c * np.outer(Phi[:, j], Phi[:, j]) + I)
        nj[j] = 1 + c * Phi[:, j] @ Aj @ Phi[:, j]
    rng = np.random.default_rng(11)
    variants = {k: [] for k in ("exact", "bg_translation", "bg_prior", "no_off_target", "rephased",
                                "cond_translation", "cond_translation_over_n", "theory_kernel")}
    for i in cond:
        Qci = Qc - c * np.outer(Phi[:, i], Phi[:, i])
        others = [j for j in cond if j != i]
        Qci_n = c * sum(np.outer(Phi[:, j], Phi[:, j]) / nj[j] for j in others)
        Ks = {"exact": Qb + Qci + I, "bg_translation": Qb_T + Qci + I, "bg_prior": Qb_prior + Qci + I,
              "no_off_target": drop_off_target(Qb + Qci) + I, "cond_translation": Qb + translation_average(Qci, P) + I,
              "cond_translation_over_n": Qb + translation_average(Qci_n, P) + I, "theory_kernel": Kth}
        for name, K in Ks.items():
            variants[name].append(probe(m, K, W[i]))
        reph = []
        for _ in range(3):
            Wr = np.array([single_mode_weights(P, q[j], x[j], y[j], *rng.uniform(0, 2 * np.pi, 2)) for j in others])
            reph.append(probe(m, Qb + kernel(m, Wr), W[i]))
        variants["rephased"].extend(reph)
        for mrep in (2, 4, 16):          # each other condensed neuron split into m random-phase copies of weight 1/m
            Wr = np.array([single_mode_weights(P, q[j], x[j], y[j], *rng.uniform(0, 2 * np.pi, 2))
                           for j in others for _ in range(mrep)])
            variants.setdefault(f"split_{mrep}", []).append(probe(m, Qb + I + kernel(m, Wr) / mrep - I / mrep, W[i]))
    # the mean field's own state made explicit
    n_th = int(round(op["p_condensed"] * m.N / M))
    xs = th.extras["x_star"]
    tp = []
    for qq in range(1, M + 1):
        Wt = np.array([single_mode_weights(P, q2, xs, xs, *rng.uniform(0, 2 * np.pi, 2))
                       for q2 in range(1, M + 1) for _ in range(n_th - (q2 == qq))])
        Kt = prior_background_kernel(m, m.N - n_th * M) + kernel(m, Wt)
        tp.append(probe(m, Kt, single_mode_weights(P, qq, xs, xs, 0.4, 1.3)))
    variants["theory_population"] = tp
    out = {"sigma2": s2, "chain": seed_key, "n_condensed": int(len(cond)),
           "per_mode": np.bincount(q[cond], minlength=M + 1)[1:].tolist(),
           "x_measured": float(np.mean((x[cond] + y[cond]) / 2)), "n_j_mean": float(np.mean(list(nj.values()))),
           "theory": {"p": op["p_condensed"], "x_star": xs, "fbar": op["fbar"], "per_mode": n_th},
           "kernel_measured": eigen_summary(Qb + Qc), "kernel_background": eigen_summary(Qb),
           "kernel_prior_background": eigen_summary(Qb_prior),
           "kernel_theory": eigen_summary(Kth - I), "variants": {}}
    for name, v in variants.items():
        v = np.array(v)
        keep = v[:, 0] > 20 / m.lam
        out["variants"][name] = {"condensed": int(keep.sum()), "of": len(v),
                                 "x": float(v[keep, 0].mean()) if keep.any() else None,
                                 "dS": float(v[keep, 1].mean()) if keep.any() else None}
    return out


def population_rows():
    res = json.loads((HERE / "results.json").read_text())
    rows = [(1000, r["sigma2"], {"p": r["p"], "x": r["x_condensed"], "fbar": r["fbar"],
                                 "chains": [{k: ch[k][0] if ch[k] else None for k in ("p", "fbar", "x_condensed")}
                                            for ch in r["chains"]]}) for r in res["rows"]]
    for s2 in (5e-4, 1e-3):
        r = json.loads((HERE / f"results_N4000_s{s2:g}.json").read_text())["rows"][0]
        rows.append((4000, s2, {"p": r["p"], "x": r["x_condensed"], "fbar": r["fbar"],
                                "chains": [{k: ch[k][0] if ch[k] else None for k in ("p", "fbar", "x_condensed")}
                                           for ch in r["chains"]]}))
    rows += [(1000, v, None) for v in (2.2e-3, 2.3e-3, 2.4e-3, 2.5e-3, 2.7e-3)]
    out = []
    for N, s2, meas in rows:
        t = time.time()
        fin = mp.solve_modular_addition_phases(spec(N), {"sigma2": s2}, population="finite")
        mf = mp.solve_modular_addition_phases(spec(N), {"sigma2": s2})
        row = {"N": N, "sigma2": s2, "measured": meas,
               "finite": {"phase": fin.extras["phase"], "p": fin.order_parameters["p_condensed"], "x": fin.extras["x_star"],
                          "fbar": fin.order_parameters["fbar"], "delta_action": fin.extras["delta_action"],
                          "per_mode": fin.extras["per_mode"], "counts": fin.extras["counts"],
                          "saddles": [{k: d[k] for k in ("count", "x", "fbar", "action")} for d in fin.extras["saddles"]]},
               "mean_field": {"p": mf.order_parameters["p_condensed"], "x": mf.extras["x_star"],
                              "fbar": mf.order_parameters["fbar"], "phase": mf.extras["phase"]},
               "seconds": time.time() - t}
        print(json.dumps({k: (v if k != "finite" else {a: b for a, b in v.items() if a != "saddles"})
                          for k, v in row.items()}), flush=True)
        out.append(row)
    return out


def split_check():
    out = []
    orig = mp.ModeModel.split
    try:
        for f in (10.0, 20.0, 30.0):
            mp.ModeModel.split = lambda self, f=f: f / self.lam
            for s2 in (5e-4, 1e-3):
                s = mp.solve_modular_addition_phases(spec(1000), {"sigma2": s2})
                out.append({"split_per_coordinate_times_lambda": f, "sigma2": s2, "p": s.order_parameters["p_condensed"],
                            "fbar": s.order_parameters["fbar"], "x_star": s.extras["x_star"]})
    finally:
        mp.ModeModel.split = orig
    return out


if __name__ == "__main__":
    t0 = time.time()
    diag = []
    for s2 in ((1e-3,) if QUICK else (1e-3, 5e-4)):
        for key in (("seed7",) if QUICK else ("seed7", "seed108")):
            d = diagnose(s2, key)
            print(json.dumps({k: v for k, v in d.items() if k.startswith("kernel") is False}), flush=True)
            diag.append(d)
    pop = [] if QUICK else population_rows()
    split = [] if QUICK else split_check()
    (HERE / ("results_cavity_quick.json" if QUICK else "results_cavity.json")).write_text(json.dumps(
        {"diagnosis": diag, "population": pop, "split": split, "seconds": time.time() - t0}, indent=1, default=float))
    print("seconds", time.time() - t0)

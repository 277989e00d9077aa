"""Finite-n readout of the teacher-student saddle point against the Langevin predictor (d = 20, N = 93, n = 400).

Per sigma2 and treatment (paper / relaxed) of the reduced action:
  population   f3/eps of the theory (n -> infinity at fixed sigma^2/n; modes He1, He3), as in run.py;
  pop. 1-7     the same population readout at the saddle's weights with modes He1, He3, He5, He7 in the ridge system;
  eigenlearn.  the population readout with sigma^2 replaced by the renormalised ridge kappa of kernel regression on
               n = 400 samples (kappa = sigma^2 + kappa sum_i eta_i/(n eta_i + kappa), eta_i the readout kernel's
               operator eigenvalues from the Gram matrix on 1000 test points);
  finite n     the GP posterior mean K(x*, X)(K(X, X) + sigma^2 I)^{-1} y on the study's training set (teacher_data
               seed 0), K = sigma_a^2/N E_w[erf(w.x) erf(w.x')] by Monte Carlo over REPLICAS x NW weights sampled
               from the saddle's (Phi, r) mixture, cubic fraction by run.py's least squares on the 2000 test points;
               Monte Carlo error: the replicas' spread / sqrt(REPLICAS).
Measured (finite_n_chains/, the chains of run.py rerun with the same seeds): the posterior mean (mean_f), its
Rao-Blackwellised version (rb_mean_f: the exact readout conditional given each recorded first layer, averaged over
40 samples per chain), the conditional given only each chain's final first layer, the GP with the kernel of the
744 pooled final neurons (N -> infinity readout at the measured single-neuron distribution) and the same with each
neuron's (Phi, |w_perp|) kept and w_perp's direction redrawn isotropically (ISO copies).
Also: the finite-n predictor of each treatment on OTHER training sets (seeds 1..NSETS) to see how typical seed 0 is.

    python validation/grokking_teacher_student/finite_n.py      # about 15 minutes on one core
writes finite_n.json (and prints the table).
"""
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from run_setup import EPS, NTEST, NTRAIN, SIGMA2, D, cubic_fraction, data, spec  # noqa: E402

from mftsym.solve.data_model_readout import (finite_n_predictor, gp_posterior_mean, mc_readout_kernel,  # noqa: E402
                                             population_modes, renormalised_ridge, saddle_state)
from mftsym.validate import teacher_data  # noqa: E402

NW, REPLICAS, ISO, NSETS = 20000, 4, 30, 3
t0 = time.time()


def se(a):
    a = np.asarray(a)
    return float(a.std(ddof=1) / np.sqrt(len(a)))


def measured(s2, sa2, noise):
    f = np.load(HERE / "finite_n_chains" / f"sigma2_{s2}.npz")
    W, ws = f["weights"], data.teacher_direction
    xtr, ytr, xte = data.x_train, data.y_train[:, 0], data.x_test
    cm, crb = cubic_fraction(f["mean_f"]), cubic_fraction(f["rb_mean_f"])
    final = [gp_posterior_mean(mc_readout_kernel(Wc, xtr, scale=sa2), mc_readout_kernel(Wc, xte, xtr, scale=sa2),
                               ytr, noise) for Wc in W]
    cfin = cubic_fraction(np.array(final))
    pool = W.reshape(-1, D)
    cpool = float(cubic_fraction(gp_posterior_mean(mc_readout_kernel(pool, xtr, scale=sa2),
                                                   mc_readout_kernel(pool, xte, xtr, scale=sa2), ytr, noise)))
    # jackknife over chains for the pooled value
    jk = [float(cubic_fraction(gp_posterior_mean(mc_readout_kernel(np.delete(W, i, 0).reshape(-1, D), xtr, scale=sa2),
                                                 mc_readout_kernel(np.delete(W, i, 0).reshape(-1, D), xte, xtr,
                                                                   scale=sa2), ytr, noise))) for i in range(len(W))]
    m = len(W)
    cpool_se = float(np.sqrt((m - 1) / m * ((np.array(jk) - np.mean(jk)) ** 2).sum()))
    rng = np.random.default_rng(7)
    phi = pool @ ws
    rperp = np.sqrt(np.maximum((pool * pool).sum(1) - phi ** 2, 0))
    iso = []
    for _ in range(ISO):
        u = rng.standard_normal(pool.shape)
        u -= np.outer(u @ ws, ws)
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        iso.append(phi[:, None] * ws + rperp[:, None] * u)
    iso = np.concatenate(iso)
    ciso = float(cubic_fraction(gp_posterior_mean(mc_readout_kernel(iso, xtr, scale=sa2),
                                                  mc_readout_kernel(iso, xte, xtr, scale=sa2), ytr, noise)))
    st = saddle_state(dataclasses.replace(spec, theory={"kind": "adaptive_kernel", "reduced_action": "relaxed"})
                      .with_params(sigma2=s2))
    cpop = float(population_modes(st, neurons=(phi, rperp ** 2))[3] / EPS)
    return {"mean_f": float(cm.mean()), "mean_f_se": se(cm), "rb": float(crb.mean()), "rb_se": se(crb),
            "final_conditional": float(cfin.mean()), "final_conditional_se": se(cfin),
            "pooled_final": cpool, "pooled_final_se": cpool_se, "pooled_isotropic": ciso, "pooled_population": cpop,
            "mean_rho": float((W * W).sum(-1).mean()), "rhat_max": float(f["rhat_max"])}


def theory(s2, tr):
    s_ = dataclasses.replace(spec, theory={"kind": "adaptive_kernel", "reduced_action": tr}).with_params(sigma2=s2)
    st = saddle_state(s_)
    sol = st[3]
    out = finite_n_predictor(s_, data.x_train, data.y_train, data.x_test, data.teacher_direction, n_weights=NW,
                             replicas=REPLICAS, seed=11, state=st, spectrum_points=1000)
    reps = cubic_fraction(out["replicas"])
    kappa = renormalised_ridge(out["eigs"], NTRAIN, out["noise"])
    other = []
    for seed in range(1, NSETS + 1):
        dset = teacher_data(NTRAIN, NTEST, D, teacher="hermite", coeffs={1: 1.0, 3: EPS * np.sqrt(6)}, seed=seed)
        # the same teacher direction is not guaranteed: rotate the set so that its teacher is data's
        from scipy.linalg import null_space
        def frame(v):
            return np.column_stack([v, null_space(v[None])])
        R = frame(data.teacher_direction) @ frame(dset.teacher_direction).T
        o = finite_n_predictor(s_, dset.x_train @ R.T, dset.y_train, data.x_test, data.teacher_direction,
                               n_weights=NW // 2, replicas=2, seed=20 + seed, state=st)
        other.append(float(cubic_fraction(o["mean"])))
    return {"population": sol.order_parameters["fbar3"] / EPS,
            "population_modes_1357": float(population_modes(st, modes=[1, 3, 5, 7], spec=s_)[3] / EPS),
            "kappa": kappa, "eigenlearning": float(population_modes(st, ridge=kappa)[3] / EPS),
            "finite_n": float(cubic_fraction(out["mean"])), "finite_n_mc_se": float(reps.std(ddof=1) / np.sqrt(REPLICAS)),
            "finite_n_replica_mean": float(reps.mean()), "finite_n_other_sets": other,
            "mean_rho": sol.order_parameters["mean_rho"], "sa2": out["scale"], "noise": out["noise"]}


def droplet(s2):
    """Grid moments <m_k m_j> (k, j in 1, 3) and the aligned droplet (|Phi| beyond each treatment's barrier) of the
    theory's weight distribution and of the 744 pooled final neurons."""
    f = np.load(HERE / "finite_n_chains" / f"sigma2_{s2}.npz")
    W = f["weights"].reshape(-1, D)
    phi = W @ data.teacher_direction
    r = (W * W).sum(1) - phi ** 2
    out = {}
    for tr in ("paper", "relaxed"):
        num, w, _, sol = saddle_state(dataclasses.replace(spec, theory={"kind": "adaptive_kernel", "reduced_action": tr})
                                      .with_params(sigma2=s2))
        split = sol.extras["split_Phi"]
        Mm = np.stack([m(phi, r) for m in num.m])
        per_chain = np.einsum("kcn,lcn->ckl", Mm.reshape(len(Mm), 8, -1), Mm.reshape(len(Mm), 8, -1)) / (len(phi) / 8)
        G = {"theory": {"G": np.einsum("kij,lij,ij->kl", num.M, num.M, w).tolist()},
             "measured": {"G": (Mm @ Mm.T / len(phi)).tolist(), "G_se": (per_chain.std(0, ddof=1) / np.sqrt(8)).tolist()}}
        if split is None:     # a single well: no droplet
            out[tr] = {"split": None, **G}
            continue
        al = np.abs(num.P) > split
        a = np.abs(phi) > split
        G["theory"].update(fraction=float(w[al].sum()), abs_Phi=float((w * np.abs(num.P))[al].sum() / w[al].sum()),
                           r=float((w * num.R)[al].sum() / w[al].sum()))
        G["measured"].update(fraction=float(a.mean()), abs_Phi=float(np.abs(phi[a]).mean()), r=float(r[a].mean()))
        out[tr] = {"split": split, **G}
    return out


if __name__ == "__main__":
    path = HERE / "finite_n.json"
    res = json.loads(path.read_text()) if path.exists() else {}
    for s2 in SIGMA2:
        row = res.setdefault(str(s2), {})
        for tr in ("paper", "relaxed"):
            if tr not in row:
                row[tr] = theory(s2, tr)
                path.write_text(json.dumps(res, indent=1))
                print(f"sigma2 = {s2} {tr}: {row[tr]}  {time.time() - t0:.0f} s", flush=True)
        if "measured" not in row and (HERE / "finite_n_chains" / f"sigma2_{s2}.npz").exists():
            row["measured"] = measured(s2, row["paper"]["sa2"], row["paper"]["noise"])
            path.write_text(json.dumps(res, indent=1))
            print(f"sigma2 = {s2} measured: {row['measured']}  {time.time() - t0:.0f} s", flush=True)
        if any("G_se" not in row.get("droplet", {}).get(tr, {}).get("measured", {}) for tr in ("paper", "relaxed")) and (HERE / "finite_n_chains" / f"sigma2_{s2}.npz").exists():
            row["droplet"] = droplet(s2)
            path.write_text(json.dumps(res, indent=1))
    # plot: cubic fraction against sigma2 (population curves from run.py's results.json)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    curves = json.loads((HERE / "results.json").read_text())["theory"]
    s2s = [float(k) for k in res]
    meas = np.array([res[k]["measured"]["rb"] for k in res])
    meas_se = np.array([res[k]["measured"]["rb_se"] for k in res])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    for tr, c in (("paper", "C0"), ("relaxed", "C1")):
        ax.plot([r["sigma2"] for r in curves[tr]], [r["cubic"] for r in curves[tr]], "-", color=c,
                label=f"theory {tr}, population readout")
        ax.errorbar(s2s, [res[k][tr]["finite_n"] for k in res], [res[k][tr]["finite_n_mc_se"] for k in res], fmt="s",
                    color=c, mfc="none", ms=6, label=f"theory {tr}, GP readout on the training set")
    scp = HERE / "finite_n_selfconsistent.json"
    sc = json.loads(scp.read_text()) if scp.exists() else {}
    for tr, c in (("paper", "C0"), ("relaxed", "C1")):
        if all(tr in sc.get(k, {}) for k in res):
            ax.plot(s2s, [sc[k][tr]["cubic"] for k in res], "D", color=c, ms=5,
                    label=f"theory {tr}, self-consistent with the training-set readout")
    ax.errorbar(s2s, meas, meas_se, fmt="ko", ms=4, label="Langevin posterior mean (8 chains)")
    ax.plot(s2s, [res[k]["measured"]["pooled_final"] for k in res], "^", color="0.5", ms=6,
            label="GP readout of the chains' own neurons (pooled)")
    ax.set_xlabel("sigma2")
    ax.set_ylabel("cubic fraction f3/eps (least squares, 2000 test points)")
    ax.legend(fontsize=7)
    ax = axes[1]
    for tr, c in (("paper", "C0"), ("relaxed", "C1")):
        ax.plot(s2s, [res[k][tr]["population"] for k in res] - meas, "-o", color=c, label=f"{tr}, population")
        ax.errorbar(s2s, [res[k][tr]["finite_n"] for k in res] - meas,
                    np.hypot([res[k][tr]["finite_n_mc_se"] for k in res], meas_se), fmt="--s", color=c, mfc="none",
                    label=f"{tr}, GP on the training set")
    for tr, c in (("paper", "C0"), ("relaxed", "C1")):
        if all(tr in sc.get(k, {}) for k in res):
            ax.plot(s2s, [sc[k][tr]["cubic"] for k in res] - meas, "-.D", color=c, ms=5,
                    label=f"{tr}, self-consistent with it")
    ax.plot(s2s, [res[k]["measured"]["pooled_final"] for k in res] - meas, ":^", color="0.5",
            label="chains' own neurons, GP")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("sigma2")
    ax.set_ylabel("theory - measured cubic fraction")
    ax.legend(fontsize=7)
    fig.suptitle("teacher-student, d = 20, N = 93, n = 400: readout of the saddle's weights on the training set",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(HERE / "finite_n.png", dpi=110)

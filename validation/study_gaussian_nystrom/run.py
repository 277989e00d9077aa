"""Why the Nystrom learning curve underestimates kernel regression for Gaussian inputs at d = 4
(docs/theory/learning_curves.md, "Approximation for Gaussian inputs").

Experiments (ReLU NNGP with bias 0.1, ridge 0.01, label noise 0.05, target sin z + z^2/2):
  A. discrete measure: the data measure IS the n sampled points (training points drawn from them
     with replacement, test error over all n); the spectrum of K/n is then exact, so only the
     theory's own approximation (Gaussian equivalence / large-P asymptotics) remains;
  B. Gaussian measure, Nystrom spectrum on n = 1000, 3000, 6000 samples vs kernel regression;
  C. d = 4, 8, 16 on the discrete measure (n = 3000), at P = 5 d and 25 d;
  D. control for A: the discrete measure of n points on the sphere of radius 2 (= sqrt(d));
  E. the fourth moments of the empirical eigenfunctions (Gaussian vs sphere, d = 4, 16).
Usage: OMP_NUM_THREADS=1 python validation/study_gaussian_nystrom/run.py [A|B|C ...]
"""
import sys
import time

import numpy as np

import mftsym
from mftsym.solve.learning_curves import learning_curve
from mftsym.solve.spectrum import nystrom_spectrum, nystrom_target_power
from mftsym.spec import Spec

RELU = """
[network]
input_dim = {d}
[[network.layers]]
type = "dense"
width = 64
weight_var = 2.0
bias_var = 0.1
[[network.layers]]
type = "activation"
fn = "relu"
[[network.layers]]
type = "dense"
width = 1
weight_var = 1.0
"""
NOISE, RIDGE = 0.05, 0.01


def g(z):
    return np.sin(z) + 0.5 * z ** 2


def spec(d):
    return Spec.from_toml_string(RELU.format(d=d))


def theory(sp, x, y, Ps):
    S, V = nystrom_spectrum(sp, x)
    return learning_curve(Ps, S.eta, nystrom_target_power(V, y), ridge=RIDGE, noise=NOISE).Eg


def discrete(sp, x, y, Ps, draws, rng, replace=True):
    """Kernel regression with training points drawn from the n points, error over all n points."""
    K = np.asarray(mftsym.kernel(sp, x), dtype=float)
    n = len(x)
    out = []
    for P in Ps:
        e = []
        for _ in range(draws):
            idx = rng.choice(n, P, replace=replace)
            yt = y[idx] + np.sqrt(NOISE) * rng.standard_normal(P)
            f = K[:, idx] @ np.linalg.solve(K[np.ix_(idx, idx)] + RIDGE * np.eye(P), yt)
            e.append(np.mean((f - y) ** 2))
        out.append((np.mean(e), np.std(e, ddof=1) / np.sqrt(draws)))
    return out


def gaussian_kr(sp, d, Ps, draws, rng, ntest=20000):
    xt = rng.standard_normal((ntest, d))
    ft = g(xt[:, 0])
    out = []
    for P in Ps:
        e = []
        for _ in range(draws):
            x = rng.standard_normal((P, d))
            yt = g(x[:, 0]) + np.sqrt(NOISE) * rng.standard_normal(P)
            f = mftsym.kernel(sp, xt, x) @ np.linalg.solve(mftsym.kernel(sp, x) + RIDGE * np.eye(P), yt)
            e.append(np.mean((f - ft) ** 2))
        out.append((np.mean(e), np.std(e, ddof=1) / np.sqrt(draws)))
    return out


def row(tag, P, th, mc):
    print(f"{tag:28s} P={P:5d}  theory={th:.4g}  KR={mc[0]:.4g} +- {mc[1]:.2g}  ratio={th / mc[0]:.3f}", flush=True)


def exp_A(ns=(1000, 3000), reps=(6, 4), Ps=(10, 30, 100, 300), draws=24, sphere=False):
    """Discrete measure = the n sampled points (Gaussian, or on the sphere of radius 2 with sphere=True);
    several independent samples, the theory/KR ratio averaged over them."""
    sp = spec(4)
    tag = "sphere" if sphere else "gauss"
    for n, nrep in zip(ns, reps):
        ratios, ths, krs = [], [], []
        for r in range(nrep):
            rng = np.random.default_rng(1000 * n + r)
            x = rng.standard_normal((n, 4))
            if sphere:
                x *= 2.0 / np.linalg.norm(x, axis=1, keepdims=True)
            y = g(x[:, 0])
            th = theory(sp, x, y, np.array(Ps))
            mc = discrete(sp, x, y, Ps, draws, rng)
            ths.append(th)
            krs.append([m[0] for m in mc])
            ratios.append([t / m[0] for t, m in zip(th, mc)])
        ratios, ths, krs = np.array(ratios), np.array(ths), np.array(krs)
        for i, P in enumerate(Ps):
            print(f"A discrete {tag} d=4 n={n} ({nrep} samples) P={P:4d}  theory={ths[:, i].mean():.4g}"
                  f"  KR={krs[:, i].mean():.4g}  ratio={ratios[:, i].mean():.3f} +- "
                  f"{ratios[:, i].std(ddof=1) / np.sqrt(nrep):.3f}", flush=True)


def exp_D():
    exp_A(ns=(3000,), reps=(3,), sphere=True)


def exp_B(ns=(1000, 3000, 6000), Ps=(10, 100, 300), draws=24):
    sp = spec(4)
    rng = np.random.default_rng(0)
    mcs = gaussian_kr(sp, 4, Ps, draws, rng)
    for n in ns:
        t0 = time.time()
        x = np.random.default_rng(100 + n).standard_normal((n, 4))
        th = theory(sp, x, g(x[:, 0]), np.array(Ps))
        for P, t, mc in zip(Ps, th, mcs):
            row(f"B gaussian d=4 n={n}", P, t, mc)
        print(f"  ({time.time() - t0:.0f} s)", flush=True)


def exp_C(ds=(4, 8, 16), n=3000, reps=3, draws=24):
    """The discrete-measure ratio of A against d, at P = 5 d and 25 d (mean +- s.e. over samples)."""
    for d in ds:
        sp = spec(d)
        Ps = [5 * d, 25 * d]
        ratios = []
        for r in range(reps):
            rng = np.random.default_rng(100 * d + r)
            x = rng.standard_normal((n, d))
            y = g(x[:, 0])
            th = theory(sp, x, y, np.array(Ps))
            ratios.append([t / m[0] for t, m in zip(th, discrete(sp, x, y, Ps, draws, rng))])
        ratios = np.array(ratios)
        for i, P in enumerate(Ps):
            print(f"C discrete gauss d={d} n={n} ({reps} samples) P={P:4d}  ratio={ratios[:, i].mean():.3f} +- "
                  f"{ratios[:, i].std(ddof=1) / np.sqrt(reps):.3f}", flush=True)


def exp_E(n=2000):
    """Fourth moment E[phi_k^4] of the empirical eigenfunctions phi_k = sqrt(n) V_k, modes 2..41
    (3 for Gaussian features, the theory's assumption; bounded harmonics on the sphere give < 3)."""
    for d in (4, 16):
        for sph in (False, True):
            x = np.random.default_rng(2).standard_normal((n, d))
            if sph:
                x *= np.sqrt(d) / np.linalg.norm(x, axis=1, keepdims=True)
            _, V = nystrom_spectrum(spec(d), x)
            k = ((np.sqrt(n) * V[:, 1:41]) ** 4).mean(0)
            print(f"E d={d} {'sphere' if sph else 'gauss '} E[phi^4], modes 2-41: median {np.median(k):.2f}"
                  f"  max {k.max():.1f}", flush=True)


if __name__ == "__main__":
    for a in sys.argv[1:] or ["A", "B", "C", "D", "E"]:
        globals()[f"exp_{a}"]()

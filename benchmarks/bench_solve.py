"""Benchmark (not a test): kernel renormalization over 100 noise values at P = 1000.

Batched torch Newton (one call for all 100 values) against one scipy solve per value, same run.
    python benchmarks/bench_solve.py
"""

import platform
import time

import numpy as np
import torch

from mftsym.spec import Spec
from mftsym.solve.renormalization import prepare, solve_batch, solve_problem

SPEC = """
[network]
input_dim = "d"
[[network.layers]]
type = "dense"
width = "N1"
weight_var = "sigma_w**2"
bias_var = "sigma_b**2"
[[network.layers]]
type = "activation"
fn = "erf"
[[network.layers]]
type = "dense"
width = 1
weight_var = "sigma_a**2"
[params]
sigma_w = 1.5
sigma_b = 0.1
sigma_a = 1.0
N1 = 500
sigma2 = 0.1
[posterior]
noise_var = "sigma2"
[theory]
kind = "kernel_renormalization"
"""


def main(P=1000, B=100, d=50):
    torch.set_num_threads(torch.get_num_threads())
    spec = Spec.from_toml_string(SPEC)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((P, d))
    y = np.tanh(x[:, 0]) + 0.3 * rng.standard_normal(P)
    noises = np.logspace(-3, 1, B)
    t0 = time.perf_counter()
    problem = prepare(spec, x, y)
    t_prep = time.perf_counter() - t0
    solve_batch(problem, {"noise": noises[:2]})          # compile (cached) outside the timing
    solve_problem(problem)
    t0 = time.perf_counter()
    batch = solve_batch(problem, {"noise": noises})
    t_batch = time.perf_counter() - t0
    t0 = time.perf_counter()
    from mftsym.solve.renormalization import Problem
    ref = []
    for s2 in noises:
        pb = Problem(problem.theory, problem.lam, problem.V, problem.ytil, {**problem.env, "noise": float(s2)})
        ref.append(solve_problem(pb, starts=(1.0,)))
    t_scipy = time.perf_counter() - t0
    dev = max(abs(b.order_parameters["u1"] / r.order_parameters["u1"] - 1) for b, r in zip(batch, ref))
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}")
    print(f"P = {P}, B = {B}: kernel + eigendecomposition {t_prep:.3f} s")
    print(f"torch batched Newton (all {B} values): {t_batch:.4f} s, all converged: "
          f"{all(b.converged for b in batch)}, max iterations {max(b.iterations for b in batch)}")
    print(f"scipy, one solve per value:          {t_scipy:.4f} s  ({t_scipy / B * 1e3:.2f} ms each)")
    print(f"speed-up {t_scipy / t_batch:.1f}x; max relative difference of u1: {dev:.2e}")


if __name__ == "__main__":
    main()

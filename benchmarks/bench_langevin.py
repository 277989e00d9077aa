"""Langevin training of an ensemble of 16 two-layer erf networks (issue 4, Performance).

    python benchmarks/bench_langevin.py [--steps 20] [--json out.json] [--device cuda] [--members 16]

For P = 500, d = 50, N in {64, 1024}, float32 and float64: steps/s of the vectorised ensemble
(mftsym.validate.Langevin on an EnsembleNetwork: the hand-written one-hidden-layer forward/backward
of mftsym.validate.fast, in-place update, one generator per member) against a straightforward per-network loop
(16 torch.nn.Modules, autograd, one after another) measured in the same run; and the achieved
FLOP rate (the matmul FLOPs of a step) against a plain matmul of the same shapes (X @ W for all
members at once) and a square 1024^3 matmul, both measured in the same run (the roofline).
Ratios are reported, never asserted.  With ``--device cuda`` everything runs on the GPU (each
timed block ends with a synchronisation) and the ensemble draws its noise per chunk, the
Langevin default there.
"""

import argparse
import json
import os
import platform
import time

import torch

from mftsym.spec import Spec
from mftsym.validate import Langevin
from mftsym.validate.torch_network import EnsembleNetwork, SpecNetwork, member_generators, network_plan

M, P, D = 16, 500, 50

SPEC = Spec.from_dict({"network": {"input_dim": "d", "parametrization": "ntk", "layers": [
    {"type": "dense", "width": "N1", "weight_var": 1.5, "bias_var": 0.05}, {"type": "activation", "fn": "erf"},
    {"type": "dense", "width": 1, "weight_var": 1.0}]}, "posterior": {"noise_var": 1.0}})


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def timeit(fn, steps, warm=2, device="cpu"):
    for _ in range(warm):
        fn()
    sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    sync(device)
    return (time.perf_counter() - t) / steps


def step_flops(N, members=M):
    # forward X@W1 (2PDN) + readout (2PN); backward dW1 (2PDN) + d(hidden) (2PN) + d(readout) (2PN)
    return members * (4 * P * D * N + 6 * P * N)


def bench(N, dtype, steps, device="cpu", members=M):
    plan = network_plan(SPEC, N, D)
    x = torch.randn(P, D, dtype=dtype, device=device)
    y = torch.randn(P, 1, dtype=dtype, device=device)
    tr = Langevin(step_size=1e-5, steps=10 ** 9, noise_var=1.0)
    object.__setattr__(tr, "_s2", 1.0)
    ens = EnsembleNetwork(plan, members, dtype, device)
    gens = member_generators(0, members, device=device)
    params = ens.init_params(gens)
    bufs = [torch.empty_like(p) for p in params]
    k = [0]

    def ens_step():
        tr.step(ens, params, gens, x, y, k[0], 1e30, bufs)
        k[0] += 1

    nets = [SpecNetwork(plan, seed=m, dtype=dtype).to(device) for m in range(members)]
    eps = 1e-5

    def loop_step():
        for net in nets:
            net.zero_grad(set_to_none=True)
            loss = 0.5 * ((net(x) - y) ** 2).sum()
            loss.backward()
            with torch.no_grad():
                for p, v in zip(net.weights, net.prior_vars):
                    p.mul_(1 - eps).add_(p.grad, alpha=-eps * v).add_(torch.randn_like(p), alpha=(2 * eps * v) ** 0.5)

    W = torch.randn(D, members * N, dtype=dtype, device=device)
    A = torch.randn(1024, 1024, dtype=dtype, device=device)
    # interleaved rounds: the machine is shared, so each round times every candidate back to back
    # and the medians over rounds are reported (a load spike hits one round, not one candidate)
    rounds = max(3, steps // 2)
    n_ens = max(2, steps // 2)
    t_ens, t_loop, t_mm, t_sq = [], [], [], []
    ens_step(), loop_step(), x @ W, A @ A
    gpu = torch.device(device).type == "cuda"
    for _ in range(rounds):
        t_ens.append(timeit(ens_step, n_ens, warm=0, device=device))
        t_loop.append(timeit(loop_step, 1, warm=0, device=device))
        t_mm.append(timeit(lambda: x @ W, 50 if gpu else 5, warm=0, device=device))
        t_sq.append(timeit(lambda: A @ A, 50 if gpu else 2, warm=0, device=device))
    ratios = sorted(l / e for l, e in zip(t_loop, t_ens))
    t_ens, t_loop, t_mm, t_sq = (sorted(v)[len(v) // 2] for v in (t_ens, t_loop, t_mm, t_sq))
    fl = step_flops(N, members)
    return {"N": N, "members": members, "device": str(device), "dtype": str(dtype).replace("torch.", ""), "ensemble_steps_per_s": 1 / t_ens,
            "loop_steps_per_s": 1 / t_loop, "speedup_vs_loop": ratios[len(ratios) // 2],
            "speedup_range": [ratios[0], ratios[-1]], "rounds": rounds,
            "ensemble_gflops": fl / t_ens / 1e9, "same_shape_matmul_gflops": 2 * P * D * members * N / t_mm / 1e9,
            "square_matmul_gflops": 2 * 1024 ** 3 / t_sq / 1e9,
            "fraction_of_same_shape_matmul": (fl / t_ens) / (2 * P * D * members * N / t_mm),
            "fraction_of_square_matmul": (fl / t_ens) / (2 * 1024 ** 3 / t_sq)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=12, help="sets the rounds (steps/2) and steps per round")
    ap.add_argument("--json")
    ap.add_argument("--sizes", default="64,1024")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--members", type=int, default=M, help="ensemble size (the issue's figure: 16)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    info = {"torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.processor() or
            platform.machine(), "cpus": os.cpu_count(), "load_avg": os.getloadavg(), "device": args.device}
    if torch.device(args.device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(args.device)
    print(info)
    rows = []
    for N in map(int, args.sizes.split(",")):
        for dtype in (torch.float32, torch.float64):
            r = bench(N, dtype, args.steps, args.device, args.members)
            rows.append(r)
            print(f"N={N:5d} {r['dtype']:8s} ensemble {r['ensemble_steps_per_s']:8.1f} steps/s  loop "
                  f"{r['loop_steps_per_s']:8.1f} steps/s  speedup {r['speedup_vs_loop']:5.2f}x "
                  f"[{r['speedup_range'][0]:.2f}-{r['speedup_range'][1]:.2f}]  "
                  f"{r['ensemble_gflops']:6.2f} GFLOP/s = {r['fraction_of_same_shape_matmul']:.2f} of same-shape "
                  f"matmul ({r['same_shape_matmul_gflops']:.1f}), {r['fraction_of_square_matmul']:.2f} of square "
                  f"matmul ({r['square_matmul_gflops']:.1f})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"info": info, "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()

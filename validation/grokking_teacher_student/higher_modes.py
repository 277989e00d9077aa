"""Higher teacher modes in the per-neuron coupling: the closed-loop relaxed theory with He5 (and He7) of z kept.

The reduction projects the coupling (sigma_a~^2/(2N)) (t^T erf(Xw))^2 on the training points onto the teacher's modes,
kappa (tau1 m1 + tau3 m3)^2.  With `[data] modes = [1, 3, 5]` the reduction keeps tau5 m5 as well (c5 = 0): the
population theory (`solve_data_model`) then has tau5 = -f_bar5/sigma^2, and the closed loop on the training set
(`solve_on_training_set`) takes tau5 = (1/(5! n)) sum_mu t_mu He5(z_mu) from the training-set discrepancy.
Same estimators as finite_n_selfconsistent.py (its `solve`, seed 0 pools); the droplet fraction is given both beyond
the barrier of the population theory with these modes and beyond the (1, 3) one (where it was measured).

    python validation/grokking_teacher_student/higher_modes.py                 # sigma2 = 0.05, 0.09; modes 1,3,5
    python validation/grokking_teacher_student/higher_modes.py 7 0.05          # modes 1,3,5,7 at sigma2 = 0.05
    python validation/grokking_teacher_student/higher_modes.py seed=1 5 0.05   # independent Monte Carlo pools
writes higher_modes.json (merged; keys "1,3,5", "1,3,5,7", ... under each sigma2, "_seed1" for seed 1); about 15 s
of CPU per point (plus the symbolic m_k, slower for k = 9).
"""
import dataclasses
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import finite_n_selfconsistent as fsc  # noqa: E402
from run_setup import EPS, spec  # noqa: E402

from mftsym.solve.data_model import solve_data_model  # noqa: E402


BASE = json.loads((HERE / "finite_n_selfconsistent.json").read_text())
_drawn = {}


def _capture(*a, **kw):   # keep finite_n_selfconsistent.solve's fresh neurons for the droplet at a fixed split
    _drawn["W"] = W = _sample(*a, **kw)
    return W


_sample, fsc.sample_saddle_weights = fsc.sample_saddle_weights, _capture


def with_modes(modes):
    return dataclasses.replace(spec, data={**spec.data, "modes": list(modes)})


if __name__ == "__main__":
    path = HERE / "higher_modes.json"
    res = json.loads(path.read_text()) if path.exists() else {}
    args = sys.argv[1:]
    seed = int(args.pop(0)[5:]) if args and args[0].startswith("seed=") else 0
    top = int(args.pop(0)) if args and "." not in args[0] else 5
    modes = tuple(range(1, top + 1, 2))
    key = ",".join(map(str, modes)) + (f"_seed{seed}" if seed else "")
    fsc.spec = with_modes(modes)
    for s2 in (map(float, args) if args else (0.05, 0.09)):
        t0 = time.process_time()
        s_ = dataclasses.replace(fsc.spec, theory={"kind": "adaptive_kernel", "reduced_action": "relaxed"}).with_params(
            sigma2=s2)
        pop = solve_data_model(s_).order_parameters
        out = fsc.solve(s2, "relaxed", seed=seed)
        split = BASE[str(s2)]["relaxed"]["split"]   # the (1, 3) relaxed barrier, at which the droplet was measured
        a = abs(_drawn["W"] @ fsc.ws) > split
        out["droplet_fraction_at_13_split"], out["split_13"] = float(a.mean()), split
        out["population"] = {k: float(v) for k, v in pop.items() if k.startswith(("tau", "fbar"))}
        out["population"].update(cubic=float(pop["fbar3"] / EPS), aligned_fraction=float(pop["aligned_fraction"]))
        out["cpu_s"] = time.process_time() - t0
        res.setdefault(str(s2), {})[key] = out
        path.write_text(json.dumps(res, indent=1))
        print(s2, key, {k_: v for k_, v in out.items() if k_ != "G"}, "G", [round(g, 5) for g in
              [out["G"][i][i] for i in range(len(modes))]], flush=True)

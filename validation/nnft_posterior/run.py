"""NNFT posterior study: does the O(1/N) correction move the GP prediction toward finite-width
Langevin ensembles?  (issue 5; docs/theory/nnft.md)

    python validation/nnft_posterior/run.py [--quick | --stepsize]

Trains Langevin ensembles of a one-hidden-layer erf network at several small widths with
``mftsym.validate.validate`` and compares them with two theories evaluated at the same width:
``"gp"`` (the NNGP posterior, infinite width) and ``"nnft"`` (mftsym.nnft.predict: GP + the O(1/N)
Edgeworth correction from the connected four-point function G4c, mean and variance).  Writes
report.md/report.json/PNGs (validate's) and summary.md + nnft_vs_gp.png (this script's) here.
"""

import sys
import time
from pathlib import Path

import numpy as np

from mftsym.spec import Spec
from mftsym.validate import Langevin, teacher_data, validate
from mftsym.validate.theory import noise_var

HERE = Path(__file__).parent
WIDTHS = (4, 8, 16, 32)
MEMBERS = 32
STEPS, BURN_IN, THIN, STEP_SIZE = 5000, 1000, 5, 4e-3
Y_SCALE = 1.5


def nnft_theory(spec, data, trainer=None):
    """The O(1/N)-corrected posterior (mean and variance of f(x*)) at the spec's width N1."""
    from mftsym.nnft import predict
    s2 = noise_var(spec, getattr(trainer, "noise_var", None))
    p = predict(spec, data.x_train, data.y_train[:, 0], data.x_test, s2, method="tensor")  # the exact path, as recorded
    return {"mean": p["mean"][:, None], "var": p["var"][:, None],
            "order_parameters": {"max_abs_mean_correction": float(np.abs(p["correction"]).max()),
                                 "max_abs_var_correction": float(np.abs(p["var_correction"]).max())},
            "equations": [r"\bar f_* = k_{*X}u + \tfrac16 \tilde k_{bcd}(u_bu_cu_d - 3\Sigma^{-1}_{bc}u_d),\ "
                          r"\tilde k_{bcd} = G_{4,c}(*,b,c,d) - w_aG_{4,c}(a,b,c,d)",
                          r"\mathrm{Var} f_* = s^2 + \tfrac1{24}\mathrm{Cov}_{GP}\big((f_*-m)^2,\ "
                          r"G_{4,c}^{IJKL}\mathrm{He}_{IJKL}(y, f_*)\big)"]}


def dataset():
    """P = 6 training points in d = 4 (Hermite teacher He1 + He3/2, targets x1.5), 6 test points."""
    d = teacher_data(6, 6, 4, teacher="hermite", coeffs={1: 1.0, 3: 0.5}, seed=5)
    return type(d)(d.x_train, Y_SCALE * d.y_train, d.x_test, Y_SCALE * d.y_test, d.meta)


def main(quick=False):
    from concurrent.futures import ProcessPoolExecutor
    widths = WIDTHS[:2] if quick else WIDTHS
    tr = Langevin(step_size=STEP_SIZE, steps=STEPS // (4 if quick else 1), burn_in=BURN_IN // (4 if quick else 1),
                  thin=THIN)
    t0 = time.time()
    with ProcessPoolExecutor(2) as ex:
        rep = validate(Spec.from_toml(HERE / "spec.toml"), dataset(), list(widths), MEMBERS // (4 if quick else 1),
                       HERE, trainer=tr, theory={"gp": _gp, "nnft": nnft_theory}, chunks=2, executor=ex,
                       progress=False, threads=1)
    print(f"{time.time() - t0:.0f} s")
    if not quick:
        stepsize_check()
    from summary import summarise
    summarise(HERE, rep)
    return rep


def stepsize_check(width=32):
    """Langevin bias check: the same ensemble at width 32 with ε/2 (twice the steps) -> stepsize_check/."""
    from concurrent.futures import ProcessPoolExecutor
    tr = Langevin(step_size=STEP_SIZE / 2, steps=2 * STEPS, burn_in=2 * BURN_IN, thin=2 * THIN)
    with ProcessPoolExecutor(2) as ex:
        return validate(Spec.from_toml(HERE / "spec.toml"), dataset(), [width], MEMBERS, HERE / "stepsize_check",
                        trainer=tr, theory={"gp": _gp, "nnft": nnft_theory}, chunks=2, executor=ex, progress=False,
                        threads=1, seed=1, plots=False)


def _gp(spec, data, trainer=None):
    from mftsym.validate.theory import gp_posterior
    return gp_posterior(spec, data, trainer)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    if "--stepsize" in sys.argv:
        stepsize_check()
        from summary import summarise
        summarise(HERE)
    else:
        main("--quick" in sys.argv)

"""The main job: the whole pipeline on one spec, spec -> derive -> solve -> validate -> report.

``mftsym run SPEC --out DIR`` (or :func:`run_pipeline`) writes into DIR:

* ``spec.toml``           the spec as run (parameters included);
* ``derivation.tex``      every derived equation (kernels, action, saddle-point equations);
* ``data.npz``            the teacher data set it generated (Gaussian inputs, He1 + He3 teacher);
* ``solution.json``       the theory's saddle point and predictions (``mftsym solve``);
* ``validation/``         finite-width Langevin ensembles vs theory: report.json, report.md, plots;
* ``README.md``           a summary pointing at all of the above.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .io import atomic_save_npz, atomic_write_json, atomic_write_text


def run_pipeline(spec, out_dir, *, input_dim: int = 8, n_train: int = 48, n_test: int = 16,
                 widths=(16, 64, 256), ensemble: int = 8, steps: int = 12000, step_size: float = 2e-3,
                 seed: int = 0, progress: bool = True, device="cpu", log=print) -> dict:
    """Run derive -> solve -> validate on ``spec`` and write everything into ``out_dir``
    (the networks are trained on ``device``, e.g. "cuda")."""
    from . import derive_kernels, load_spec
    from .export.latex import write_latex
    from .solve.api import solve
    from .solve.derive import derive_theory
    from .validate import Langevin, teacher_data, validate

    t0 = time.perf_counter()
    spec = load_spec(spec)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec.save(out / "spec.toml")

    derivations = [derive_kernels(spec)] + list(derive_theory(spec))
    write_latex(out / "derivation.tex", derivations, title="mftsym: the built-in example")
    log(f"[1/3] derived {sum(len(d.definitions) + len(d.equations) for d in derivations)} equations "
        f"-> {out / 'derivation.tex'}")

    data = teacher_data(n_train, n_test, input_dim, teacher="hermite", coeffs={1: 1.0, 3: 0.5}, seed=seed)
    atomic_save_npz(out / "data.npz", x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
                    y_test=data.y_test)
    solution = solve(spec, data.x_train, data.y_train, data.x_test)
    atomic_write_json(out / "solution.json", solution.to_dict())
    ops = ", ".join(f"{k} = {float(np.ravel(v)[0]):.6g}" for k, v in solution.order_parameters.items())
    log(f"[2/3] solved {solution.theory}: {ops} (converged={solution.converged}, residual={solution.residual:.2e})"
        f" -> {out / 'solution.json'}")

    theories = list(dict.fromkeys(("gp", solution.theory)))       # the NNGP reference and the spec's theory
    trainer = Langevin(step_size=step_size, steps=steps, burn_in=steps // 4, thin=10)
    report = validate(spec, data, widths, ensemble, out / "validation", trainer=trainer, theory=theories,
                      seed=seed, progress=progress, device=device)
    log(f"[3/3] trained {ensemble} Langevin networks at widths {list(widths)} -> {out / 'validation' / 'report.md'}")

    summary = _summary(spec, solution, report, widths, ensemble, time.perf_counter() - t0)
    atomic_write_text(out / "README.md", summary)
    atomic_write_json(out / "run.json", {"seconds": time.perf_counter() - t0, "widths": list(widths),
                                         "ensemble": ensemble, "theories": theories})
    log(f"done in {time.perf_counter() - t0:.0f} s: open {out / 'README.md'}")
    return report


def _summary(spec, solution, report, widths, ensemble, seconds) -> str:
    lines = ["# mftsym run", "", f"Spec: `spec.toml` ({spec.source or 'python'}). Finished in {seconds:.0f} s.", "",
             "- `derivation.tex`: the derived kernels, action and saddle-point equations (compile with pdflatex).",
             f"- `solution.json`: the {solution.theory} saddle point: "
             + ", ".join(f"{k} = {float(np.ravel(v)[0]):.6g}" for k, v in solution.order_parameters.items())
             + f" (converged: {solution.converged}, residual {solution.residual:.2e}).",
             f"- `validation/report.md`: {ensemble} Langevin-trained networks per width {list(widths)} "
             "against theory, with plots.", ""]
    theories = sorted({t for w in report.get("widths", []) for t in w["observables"]["mean"]["theory"]})
    if theories:
        lines += ["Root-mean-square discrepancy of the posterior mean on the test points, theory vs the",
                  "finite-width ensemble (in units of the ensemble's standard error in brackets):", "",
                  "| width | " + " | ".join(theories) + " | split-R̂ (max) |", "|---" * (len(theories) + 2) + "|"]
        for w in report["widths"]:
            obs = w["observables"]["mean"]
            exp, se = np.asarray(obs["experiment"]), np.asarray(obs["se"])
            cells = []
            for t in theories:
                diff = exp - np.asarray(obs["theory"][t])
                cells.append(f"{np.sqrt(np.mean(diff ** 2)):.4f} ({np.sqrt(np.mean((diff / se) ** 2)):.1f} SE)")
            lines.append(f"| {w['width']} | " + " | ".join(cells) + f" | {w.get('rhat_max', float('nan')):.3f} |")
        for t in theories:
            fit = report.get("scaling", {}).get(t, {}).get("mean")
            if fit:
                lines.append("")
                lines.append(f"Fitted slope of log rms discrepancy vs log N for {t}: "
                             f"{fit['slope']:.2f} ± {fit['slope_se']:.2f}.")
    return "\n".join(lines) + "\n"

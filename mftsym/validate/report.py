"""Theory-vs-experiment reports: ``report.json`` (numbers) and ``report.md`` (+ PNG plots).

For each width and observable (posterior/ensemble ``mean`` and ``var`` of the output on the test
points, and for Langevin the posterior mean of the ``readout_kernel`` there) the report holds the theory values, the ensemble estimate, its standard error (across
members; jackknife for the variance), the discrepancy in standard errors, and across widths a
weighted log–log fit of the (noise-debiased) rms discrepancy |theory − experiment| against N.
"""

from __future__ import annotations

import io
import math

import numpy as np

from ..io import atomic_write_bytes, atomic_write_json, atomic_write_text
from .observables import discrepancy, jackknife, loglog_slope, mean_and_se, test_error


def _var_stat(mean_f, mean_f2):
    def stat(idx_samples):
        m, m2 = idx_samples[..., 0], idx_samples[..., 1]
        return m2.mean(0) - m.mean(0) ** 2
    return stat


def variance_chi2_z(sample_var, theory_var, members: int) -> dict:
    """z of a sample variance of ``members`` independent values against a theory variance.

    For Gaussian outputs (M − 1) s²/σ² ~ χ²_{M−1}; its Wilson–Hilferty normal approximation gives
    z = ((s²/σ²)^{1/3} − (1 − 2/(9k))) / √(2/(9k)), k = M − 1.  Unlike (s² − σ²)/SE_jackknife, whose SE
    is proportional to the *measured* s² (so a low draw looks many SE away), this uses the theory's
    own spread; with M = 16 a sample variance of a third of the truth is z ≈ −2.4, not −8.
    """
    k = members - 1
    ratio = np.clip(np.asarray(sample_var, float).ravel() / np.asarray(theory_var, float).ravel(), 0, None)
    z = (np.cbrt(ratio) - (1 - 2 / (9 * k))) / math.sqrt(2 / (9 * k))
    return {"max_abs_z_chi2": float(np.max(np.abs(z))), "rms_z_chi2": float(np.sqrt(np.mean(z ** 2))),
            "z_chi2": z.tolist()}


def width_summary(result: dict, predictions: dict, data) -> dict:
    """Ensemble statistics of one width and their comparison with each theory's prediction."""
    mean_f, mean_f2 = np.asarray(result["mean_f"]), np.asarray(result["mean_f2"])
    mean, mean_se = mean_and_se(mean_f)
    # one sample per member (gradient descent): the variance is a sample variance of M values
    one_sample = bool(np.allclose(mean_f2, mean_f ** 2, rtol=1e-10, atol=1e-300))
    obs = {}
    for suffix, (mf, mf2) in {"": (mean_f, mean_f2), "_rb": (result.get("rb_mean_f"), result.get("rb_mean_f2"))}.items():
        if mf is None or mf2 is None:
            continue
        mf, mf2 = np.asarray(mf, float), np.asarray(mf2, float)
        m, m_se = mean_and_se(mf)
        var, var_se = jackknife(lambda s: s[..., 1].mean(0) - s[..., 0].mean(0) ** 2, np.stack([mf, mf2], -1))
        obs["mean" + suffix] = {"experiment": m, "se": m_se}
        obs["var" + suffix] = {"experiment": var, "se": var_se}
    if "readout_kernel" in result:
        k, k_se = mean_and_se(np.asarray(result["readout_kernel"], float))
        obs["readout_kernel"] = {"experiment": k, "se": k_se}
    for key in obs:
        obs[key]["theory"], obs[key]["discrepancy"] = {}, {}
        for name, pred in predictions.items():
            base = {"mean_rb": "mean", "var_rb": "var"}.get(key, key)
            if pred.get(base) is None:
                continue
            obs[key]["theory"][name] = np.asarray(pred[base])
            obs[key]["discrepancy"][name] = discrepancy(obs[key]["experiment"], obs[key]["se"], pred[base])
            if base == "var" and one_sample and len(mean_f) > 1:
                obs[key]["discrepancy"][name].update(variance_chi2_z(obs[key]["experiment"], pred[base], len(mean_f)))
    ops = {name: pred["order_parameters"] for name, pred in predictions.items() if pred.get("order_parameters")}
    out = {"width": result["width"], "members": int(result["members"]), "observables": obs,
           "theory_order_parameters": ops,
           "train_loss": float(np.mean(result["train_loss"])),
           "qbar": dict(zip(("value", "se"), map(float, mean_and_se(np.asarray(result["qbar"])))))}
    if "rhat" in result:
        rh = np.asarray(result["rhat"], float)
        out["rhat_max"] = float(np.nanmax(rh)) if np.isfinite(rh).any() else None
        out["n_samples"] = int(result.get("n_samples", 0))
    if data.y_test is not None:
        per_member = [test_error(m, data.y_test) for m in mean_f]
        out["test_error"] = {"ensemble_mean_prediction": test_error(mean, data.y_test),
                             "per_member": float(np.mean(per_member)),
                             "per_member_se": float(np.std(per_member, ddof=1) / math.sqrt(len(per_member)))
                             if len(per_member) > 1 else None}
        for name, pred in predictions.items():
            out["test_error"][f"theory_{name}"] = test_error(pred["mean"], data.y_test)
    if "overlap" in result:
        ov = np.asarray(result["overlap"])
        out["teacher_overlap"] = {"mean_abs": float(np.mean(np.abs(ov))), "rms": float(np.sqrt(np.mean(ov ** 2))),
                                  "max_abs": float(np.max(np.abs(ov)))}
    return out


def scaling_fits(summaries: list) -> dict:
    """{theory: {observable: slope fit of log rms discrepancy vs log width}}."""
    fits = {}
    if len(summaries) < 2:
        return fits
    keys = [k for k in summaries[0]["observables"] if all(k in s["observables"] for s in summaries)]
    for key in keys:
        names = set.intersection(*(set(s["observables"][key]["discrepancy"]) for s in summaries))
        for name in sorted(names):
            ds = [s["observables"][key]["discrepancy"][name] for s in summaries]
            widths = [s["width"] for s in summaries]
            fit = loglog_slope(widths, [d["rms_discrepancy"] for d in ds], [d["sigma_log_discrepancy"] for d in ds])
            fit["all_resolved"] = all(d["resolved"] for d in ds)
            fits.setdefault(name, {})[key] = fit
    return fits


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return obj


def build_report(spec, data, trainer, results: dict, predictions: dict, theory_info: dict) -> dict:
    """The report dict from {width: merged results} and {width: {theory: prediction}}."""
    summaries = [width_summary(results[w], predictions[w], data) for w in sorted(results)]
    return {"spec": spec.to_dict(), "trainer": trainer.config(),
            "data": {"n_train": data.n_train, "n_test": len(data.x_test), "input_dim": data.input_dim},
            "theories": theory_info, "widths": summaries, "scaling": scaling_fits(summaries)}


# --------------------------------------------------------------------------- plots
def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return buf.getvalue()


def make_plots(report: dict, results: dict) -> dict:
    """{filename: png bytes}."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    plots = {}
    ws = report["widths"]
    # 1. prediction vs theory at every width
    fig, ax = plt.subplots(figsize=(4.5, 4))
    lo, hi = np.inf, -np.inf
    for s in ws:
        o = s["observables"]["mean"]
        for name, th in o["theory"].items():
            th = np.ravel(th)
            ax.errorbar(th, np.ravel(o["experiment"]), yerr=2 * np.ravel(o["se"]), fmt="o", ms=3, capsize=2,
                        label=f"N={s['width']} vs {name}")
            lo, hi = min(lo, th.min()), max(hi, th.max())
    if np.isfinite(lo):
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel("theory prediction on test points")
    ax.set_ylabel("ensemble mean ± 2 SE")
    ax.legend(fontsize=7)
    plots["prediction_vs_theory.png"] = _png(fig)
    # 2. discrepancy vs width
    if len(ws) >= 2:
        fig, ax = plt.subplots(figsize=(4.5, 4))
        widths = np.array([s["width"] for s in ws], float)
        for key in [k for k in ws[0]["observables"] if all(k in s["observables"] for s in ws)]:
            for name in ws[0]["observables"][key]["discrepancy"]:
                d = np.array([s["observables"][key]["discrepancy"][name]["rms_discrepancy"] for s in ws])
                sl = np.array([s["observables"][key]["discrepancy"][name]["sigma_log_discrepancy"] for s in ws])
                se = np.array([s["observables"][key]["discrepancy"][name]["mean_abs_se"] for s in ws])
                line = ax.errorbar(widths, d, yerr=[d * (1 - np.exp(-sl)), d * (np.exp(sl) - 1)], fmt="o-",
                                   label=f"{key} vs {name}")
                ax.plot(widths, se, ":", color=line[0].get_color(), lw=1)
                fit = report["scaling"].get(name, {}).get(key)
                if fit:
                    ax.plot(widths, np.exp(fit["intercept"]) * widths ** fit["slope"], "--",
                            color=line[0].get_color(), lw=1,
                            label=f"slope {fit['slope']:.2f} ± {fit['slope_se']:.2f}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("width N")
        ax.set_ylabel("rms |theory − experiment| (dotted: mean SE)")
        ax.legend(fontsize=7)
        plots["discrepancy_vs_width.png"] = _png(fig)
    # 3. learning curves (GD with record_every; Langevin's loss trace, burn-in included)
    if any("curve_loss" in r for r in results.values()):
        fig, ax = plt.subplots(figsize=(4.5, 3.5))
        for w, r in sorted(results.items()):
            if "curve_loss" in r:
                c = np.asarray(r["curve_loss"])
                ax.plot(r.get("curve_steps", np.arange(1, c.shape[1] + 1)), c.mean(0), label=f"N={w}")
        for name, th in report.get("theories", {}).items():     # a dynamical theory's loss curve (dmft)
            if th.get("loss_curve") is not None:
                lc = np.ravel(th["loss_curve"])
                ax.plot(np.arange(1, len(lc) + 1), lc, "k--", lw=1, label=f"{name} (N = ∞)")
        burn_in = report.get("trainer", {}).get("burn_in")
        if report.get("trainer", {}).get("trainer") == "langevin" and burn_in:
            ax.axvline(burn_in, color="k", ls=":", lw=1, label="end of burn-in")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("train loss ½Σ(f−y)²")
        ax.legend(fontsize=7)
        plots["learning_curves.png"] = _png(fig)
    # 4. teacher overlaps
    if any("overlap" in r for r in results.values()):
        fig, ax = plt.subplots(figsize=(4.5, 3.5))
        for w, r in sorted(results.items()):
            if "overlap" in r:
                ov = np.ravel(r["overlap"])
                ax.hist(ov * math.sqrt(w), bins=40, histtype="step", density=True, label=f"N={w}")
        ax.set_xlabel("√N · w_i·w* (first-layer neurons)")
        ax.legend(fontsize=7)
        plots["teacher_overlaps.png"] = _png(fig)
    return plots


def _fmt(v, spec=".3g"):
    return "—" if v is None else format(v, spec)


def render_markdown(report: dict, plots) -> str:
    tr = report["trainer"]
    lines = ["# mftsym validation report", "",
             f"Trainer: `{tr}`  ", f"Data: {report['data']}", "", "## Theories", ""]
    for name, info in report["theories"].items():
        lines.append(f"**{name}** (kernels from `{info.get('kernel_source', '?')}`):")
        lines += [f"$$ {eq} $$" for eq in info.get("equations", [])]
        lines.append("")
    lines += ["## Per width", "",
              "| N | members | observable | theory | max \\|z\\| | rms z | rms discrepancy | mean SE | R̂ max | q̄ | max \\|z\\| (χ²) |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in report["widths"]:
        for key in s["observables"]:
            for name, d in s["observables"][key]["discrepancy"].items():
                lines.append(f"| {s['width']} | {s['members']} | {key} | {name} | {_fmt(d['max_abs_z'], '.2f')} | "
                             f"{_fmt(d['rms_z'], '.2f')} | {_fmt(d['rms_discrepancy'])} | {_fmt(d['mean_abs_se'])} | "
                             f"{_fmt(s.get('rhat_max'), '.3f')} | {_fmt(s['qbar']['value'], '.3f')} | "
                             f"{_fmt(d.get('max_abs_z_chi2'), '.2f')} |")
    if any("test_error" in s for s in report["widths"]):
        lines += ["", "| N | test error (ensemble mean) | per member | " +
                  " | ".join(f"theory {n}" for n in report["theories"]) + " |",
                  "|---|---|---|" + "---|" * len(report["theories"])]
        for s in report["widths"]:
            te = s.get("test_error")
            if te:
                lines.append(f"| {s['width']} | {_fmt(te['ensemble_mean_prediction'])} | {_fmt(te['per_member'])} | " +
                             " | ".join(_fmt(te.get(f'theory_{n}')) for n in report["theories"]) + " |")
    if report["scaling"]:
        lines += ["", "## Scaling of the discrepancy with width", "",
                  "Weighted fit of log(rms |theory − experiment|) against log N (rms debiased for Monte Carlo noise).", "",
                  "| theory | observable | slope | ± | all widths resolved |", "|---|---|---|---|---|"]
        for name, fits in report["scaling"].items():
            for key, f in fits.items():
                lines.append(f"| {name} | {key} | {_fmt(f['slope'], '.3f')} | {_fmt(f['slope_se'], '.3f')} | "
                             f"{f['all_resolved']} |")
    lines += ["", "z = (experiment − theory)/SE per test point; SE across independent members "
              "(jackknife for the variance).  Where each member is one sample (gradient descent), the "
              "variance is also tested against χ²_{M−1} scaled by the theory variance (Wilson–Hilferty z, "
              "last column): the jackknife SE of a sample variance scales with the measured value, so a "
              "low draw from few members shows as a large jackknife z."]
    if any("mean_rb" in s["observables"] for s in report["widths"]):
        lines += ["`mean_rb`/`var_rb`: Rao–Blackwellised estimates (readout integrated out exactly at every "
                  "sample: same expectation as `mean`/`var`, less Monte Carlo noise)."]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def write_report(out_dir, report: dict, results: dict, plots: bool = True) -> dict:
    """Write PNGs, ``report.json`` and ``report.md`` atomically; returns the JSON-able report."""
    from pathlib import Path
    out_dir = Path(out_dir)
    pngs = make_plots(report, results) if plots else {}
    for name, data in pngs.items():
        atomic_write_bytes(out_dir / name, data)
    rep = _jsonable(report)
    rep["plots"] = sorted(pngs)
    atomic_write_json(out_dir / "report.json", rep)
    atomic_write_text(out_dir / "report.md", render_markdown(rep, sorted(pngs)))
    return rep


__all__ = ["build_report", "make_plots", "render_markdown", "scaling_fits", "width_summary", "write_report"]

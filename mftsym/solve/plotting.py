"""Plots of order parameters against a control parameter (matplotlib, Agg backend)."""

from __future__ import annotations

import numpy as np


def plot_sweep(path, param, values, order_parameters, transitions=(), title=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = sorted({k for ops in order_parameters for k in ops})
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in names:
        ax.plot(values, [ops.get(name, np.nan) for ops in order_parameters], "o-", ms=3, label=name)
    for t in transitions:
        ax.axvline(t, color="k", ls="--", lw=0.8)
    ax.set_xlabel(param)
    ax.set_ylabel("order parameter")
    if title:
        ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_data_model_sweep(path, param, values, solutions, transitions=(), title=None):
    """|Φ| of the dominant minimum (line) and of the metastable minima (open circles) against the
    control parameter, the aligned fraction on a second axis, located transitions marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    dom, meta_x, meta_y = [], [], []
    for v, s in zip(values, solutions):
        mins = sorted({(round(abs(x.order_parameters["Phi"]), 9), x.action) for x in s.saddles if x.stable},
                      key=lambda m: m[1])
        dom.append(mins[0][0] if mins else np.nan)
        for m in mins[1:]:
            meta_x.append(v)
            meta_y.append(m[0])
    ax.plot(values, dom, "o-", ms=3, color="C0", label="|Φ| dominant minimum")
    if meta_x:
        ax.plot(meta_x, meta_y, "o", mfc="none", ms=5, color="C1", label="|Φ| metastable minima")
    ax2 = ax.twinx()
    ax2.plot(values, [s.order_parameters.get("aligned_fraction", np.nan) for s in solutions], "s--", ms=2,
             color="C2", lw=0.8, label="aligned fraction")
    ax2.set_ylabel("fraction of neurons in the largest-|Φ| well", color="C2")
    ax2.set_ylim(-0.02, 1.02)
    for t in transitions:
        if "value" not in t:
            continue
        limit = str(t.get("definition", "")).startswith("d_to_infinity")
        ax.axvline(t["value"], color="C3" if limit else "k", lw=0.8,
                   ls=":" if t.get("kind") == "spinodal" else "--")
        if t.get("kind") == "spinodal":
            continue
        if "Phi_from" in t:
            ax.plot([t["value"]] * 2, [t["Phi_from"], t["Phi_to"]], "k-", lw=2)
        ax.annotate(f"{param}* = {t['value']:.4g}", (t["value"], ax.get_ylim()[1]), xytext=(3, -12),
                    textcoords="offset points", fontsize=8)
    if min(values) > 0 and max(values) / min(values) > 20:
        ax.set_xscale("log")
    ax.set_xlabel(param)
    ax.set_ylabel("|Φ| = |w·w*| at the minima")
    if title:
        ax.set_title(title, fontsize=9)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="center left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

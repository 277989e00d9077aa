"""Phase-diagram plot of the winning pattern.

One width (two-layer network): the (d, N) plane on log-log axes.  Several widths: the plane of
the first two width exponents gamma_l = log N_l / log d (widths beyond the first two at
exponent 1).  Colours are phases (the cheapest patterns); the boundaries are lines N = d**r.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_phases(res, path, degree_index: int = 0, span: float = 7.0, steps: int = 281):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from .phases import classify_grid

    dr = res.per_degree[degree_index]
    names = res.scale_variables
    ref = res.architecture.input_dim_name
    widths = [n for n in names if n != ref]
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    if len(widths) == 1:
        gam = np.linspace(0.0, span, steps)
        labels, codes = classify_grid(dr.scalings, widths[0], ref, gam, [1.0], {})
        # homogeneous costs: the winner depends on gamma = log N / log d only
        xs = np.linspace(1, 6, steps)                              # log10 d
        ys = np.linspace(0, 6 * span / 2, steps)                   # log10 N
        grid = np.zeros((len(ys), len(xs)), dtype=int)
        g_index = np.clip(np.searchsorted(gam, ys[:, None] / xs[None, :]), 0, len(gam) - 1)
        grid[:] = codes[0][g_index]
        extent = (xs[0], xs[-1], ys[0], ys[-1])
        xlabel, ylabel = f"log10 {ref}", f"log10 {widths[0]}"
    else:
        gx = np.linspace(0.0, span, steps)
        gy = np.linspace(0.0, span, steps)
        fixed = {ref: 1.0, **{w: 1.0 for w in widths[2:]}}
        labels, grid = classify_grid(dr.scalings, widths[0], widths[1], gx, gy, fixed)
        extent = (gx[0], gx[-1], gy[0], gy[-1])
        xlabel, ylabel = f"log {widths[0]} / log {ref}", f"log {widths[1]} / log {ref}"
    cmap = ListedColormap(plt.get_cmap("tab10").colors[:max(len(labels), 1)])
    ax.imshow(grid, origin="lower", extent=extent, aspect="auto", cmap=cmap, vmin=-0.5, vmax=len(labels) - 0.5,
              interpolation="nearest")
    for i, lab in enumerate(labels):
        ax.plot([], [], "s", color=cmap(i), label=lab, markersize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"winning pattern, target {res.target.text} (degree {dr.degree})")
    ax.legend(fontsize=7, loc="upper left", framealpha=0.85)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


__all__ = ["plot_phases"]

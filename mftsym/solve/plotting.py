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

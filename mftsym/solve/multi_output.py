r"""Multi-output readouts (docs/theory/grokking.md, "Multi-output readouts"): a last dense layer of
width K (an integer or a [params] name such as ``"P"``) has K i.i.d. readout vectors a_k ~ N(0, σ_a²/N),
so the K outputs are independent given the features:

* GP: Y = (y_1 … y_K) ∈ R^{n×K}, f̄_k = k*ᵀ (K + σ²I)⁻¹ y_k, one shared posterior variance, and the
  negative log evidence Σ_k [½ ln det(K + σ²I) + ½ y_kᵀ(K + σ²I)⁻¹y_k];
* adaptive kernel (Rubin, Seroussi & Ringel 2024, modular addition): integrating out a_1 … a_K gives
  the per-neuron action S[w] = ½wᵀΛ₀w − (σ_a²/(2N)) Σ_k [(t̄_kᵀφ)² − φᵀ(Q + σ²I)⁻¹φ], t̄_k = (Q + σ²I)⁻¹y_k,
  the kernel Q shared; the force matrix is M = Σ_k t̄_k t̄_kᵀ − K (Q + σ²I)⁻¹.
"""

from __future__ import annotations

import numpy as np

from ..errors import EvaluationError, SpecError
from ..spec.expressions import as_expr, make_symbol
from .common import readout


def readout_width(network, values=None):
    """The readout width as an int, or None when it is a name without a value (taken from the data)."""
    w = as_expr(readout(network, allow_multi=True).width)
    if values:
        w = w.subs({make_symbol(k): v for k, v in values.items()})
    if not w.is_number:
        return None
    if not (float(w).is_integer() and float(w) >= 1):
        raise SpecError(f"the readout width must be a positive integer, got {w}", "network.layers[-1].width")
    return int(w)


def target_matrix(y, n, network, values=None):
    """(y, K): y as given for one output ((n,) array) or as an (n, K) matrix for K > 1 outputs,
    checked against the spec's readout width."""
    y = np.asarray(y, dtype=float)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim not in (1, 2):
        raise EvaluationError(f"y_train must be (P,) or (P, outputs), got shape {y.shape}")
    if len(y) != n:
        raise EvaluationError(f"y_train has {len(y)} rows but x_train has {n}")
    if not np.all(np.isfinite(y)):
        raise EvaluationError("y_train contains NaN or inf")
    K = 1 if y.ndim == 1 else y.shape[1]
    width = readout_width(network, values)
    if width is not None and width != K:
        raise EvaluationError(f"the readout has width {width} but y_train has {K} output(s); give y_train "
                              f"shaped (P, {width})")
    return y, K


__all__ = ["readout_width", "target_matrix"]

r"""Learning curves of a spec's kernel (docs/theory/learning_curves.md): the spectrum of its NNGP or
NTK on the data measure (Gegenbauer on the sphere of radius √d for Gaussian-like inputs, Nyström on
data arrays), a target, and the self-consistent κ of :mod:`mftsym.solve.learning_curves`.

Targets: ``"gp"`` (a teacher drawn from the kernel's own prior: V_k = N_k η_k, E_g averaged over
teachers), or an expression in ``z`` = w*·x with |w*| = 1 (e.g. ``"He1(z) + 0.3*He3(z)"``; the
spec's ``[data] teacher`` is the default when present), or, with data arrays, the sample's labels.
The ridge defaults to the spec's posterior noise variance (the Bayesian posterior mean of the
infinitely wide network is kernel regression with λ = σ²), the label noise to 0.
"""

from __future__ import annotations

import numpy as np

from ..errors import EvaluationError, SpecError
from ..spec.expressions import make_symbol, parse_expression
from .learning_curves import learning_curve
from .spectrum import input_dimension, nystrom_spectrum, nystrom_target_power, sphere_spectrum, sphere_target_power

APPROXIMATION_NOTE = ("Gaussian inputs approximated by the uniform measure on the sphere of radius sqrt(d) "
                      "(|x|^2/d = 1 + O(d^-1/2)); exact for spherical inputs")


def default_target(spec) -> str:
    data = spec.data or {}
    return str(data["teacher"]) if "teacher" in data else "gp"


def target_function(spec, text: str):
    """A numpy function g(z) of the target expression (whitelist parser; symbols z and [params])."""
    expr = parse_expression(text, "target", allowed_symbols={"z"} | set(spec.params))
    expr = expr.subs({make_symbol(k): v for k, v in spec.params.items()})
    z = make_symbol("z")
    extra = expr.free_symbols - {z}
    if extra:
        raise SpecError(f"the target has symbols without a value: {sorted(map(str, extra))}; give them in "
                        "[params] or with --set", "target")
    from ..compile.backends import lambdify_expr
    f = lambdify_expr([z], expr, "numpy")
    return lambda zz: np.broadcast_to(np.asarray(f(zz), dtype=float), np.shape(zz))


def ridge_default(spec, params=None) -> float:
    if spec.posterior and "noise_var" in spec.posterior:
        from .common import noise_value
        return noise_value(spec, params)
    return 0.0


def spec_learning_curve(spec, P, target: str | None = None, ridge: float | None = None, noise: float = 0.0,
                        kind: str = "nngp", lmax: int = 40, d: int | None = None, x=None, y=None, params=None):
    """The learning curve E_g(P) of kernel regression with the spec's ``kind`` kernel.

    Without ``x``: the Gegenbauer spectrum on the sphere of radius √d (d from the spec or ``d``),
    degrees 0..``lmax``.  With ``x`` (n, d): the Nyström spectrum of the sample; the target is ``y``
    when given (its mode powers), else ``target``.
    """
    from ..spec import load_spec
    spec = load_spec(spec)
    if kind not in ("nngp", "ntk"):
        raise EvaluationError(f"kind must be 'nngp' or 'ntk', got {kind!r}")
    ridge = ridge_default(spec, params) if ridge is None else float(ridge)
    if ridge < 0 or noise < 0:
        raise EvaluationError("the ridge and the label noise must be >= 0")
    target = default_target(spec) if target is None else target
    if x is None:
        d = input_dimension(spec, params) if d is None else int(d)
        spec_d = spec.with_params(**{spec.network.input_dim.name: d}) if spec.network.input_dim.is_Symbol else spec
        S = sphere_spectrum(spec_d, d=d, lmax=lmax, kind=kind, params=params)
        if target == "gp":
            V, tail_power = S.degeneracy * S.eta, S.tail_trace
        else:
            V, tail_power = sphere_target_power(target_function(spec, target), d, lmax)
        meta = {"measure": S.measure, "approximation": APPROXIMATION_NOTE, "lmax": lmax,
                "degeneracy": S.degeneracy.tolist(), "eta": S.eta.tolist(), "tail_trace": S.tail_trace}
    else:
        S, Vecs = nystrom_spectrum(spec, x, kind=kind, params=params)
        if y is not None:
            V = nystrom_target_power(Vecs, y)
        elif target == "gp":
            V = S.eta.copy()
        else:
            xs = np.asarray(x, dtype=float)
            w = np.zeros(xs.shape[1])
            w[0] = 1.0
            g = target_function(spec, target)
            V = nystrom_target_power(Vecs, g(xs @ w))
        tail_power = 0.0
        meta = {"measure": S.measure, "approximation": "Nystrom: eigenvalues of K/n on the sample; "
                "faithful while P << n", "eta": S.eta.tolist()}
    meta.update({"kernel": kind, "target": "labels of the data" if (x is not None and y is not None) else target})
    return learning_curve(P, S.eta, V, S.degeneracy, ridge=ridge, noise=noise, tail_trace=S.tail_trace,
                          tail_power=tail_power, labels=S.labels, meta=meta)


__all__ = ["APPROXIMATION_NOTE", "spec_learning_curve", "target_function"]

"""Numbers from a spec: an expression evaluated with the spec's ``[params]`` (and overrides), and
the likelihood variance σ² of ``[posterior] noise_var``."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import EvaluationError, SpecError
from ..spec.expressions import as_expr, make_symbol, parse_expression


def _value(expr, spec, where, params=None):
    values = {**spec.params, **(params or {})}
    val = as_expr(expr).subs({make_symbol(k): v for k, v in values.items()})
    if not val.is_number:
        missing = sorted(map(str, val.free_symbols))
        raise EvaluationError(f"{where}: no value for {', '.join(missing)}; give it in [params] "
                              f"or with --set NAME=VALUE")
    v = float(val)
    if not np.isfinite(v):
        raise EvaluationError(f"{where}: evaluates to {v}")
    return v


def noise_expression(spec) -> sp.Expr:
    """The likelihood variance σ² of ``[posterior] noise_var`` as a SymPy expression."""
    post = spec.posterior or {}
    if "noise_var" not in post:
        raise SpecError("the spec has no [posterior] noise_var; add one, e.g. noise_var = \"sigma2\" "
                        "with sigma2 in [params]", "posterior.noise_var")
    unknown = set(post) - {"noise_var"}
    if unknown:
        raise SpecError(f"unknown keys {sorted(unknown)} in [posterior]; known: noise_var", "posterior")
    return parse_expression(post["noise_var"], "posterior.noise_var")


def raw_noise_value(spec, params=None) -> float:
    """σ² of ``[posterior] noise_var`` as written (what a trainer's ``noise_var`` is compared with)."""
    v = _value(noise_expression(spec), spec, "posterior.noise_var", params)
    if v <= 0:
        raise SpecError(f"noise_var must be positive, got {v}", "posterior.noise_var")
    return v


def likelihood_multiplier(spec, params=None) -> float:
    """γ₀²N for a ``mu_p`` spec (N the readout's fan-in), 1 otherwise.  In μP the likelihood carries
    gradient descent's learning-rate multiplier, p(θ|D) ∝ p₀(θ) exp(−γ₀²N Σ(f − y)²/(2σ²))
    (docs/theory/dynamics.md, "Langevin under μP"), so every Bayesian theory of a μP spec sees the
    effective noise σ²/(γ₀²N) with the μP kernels -- the same posterior the Langevin trainer samples."""
    if spec.network.parametrization != "mu_p":
        return 1.0
    from ..layers.finite import network_plan
    return float(network_plan(spec, None, None, params).lr_multiplier)


def noise_value(spec, params=None) -> float:
    """The likelihood variance every Bayesian theory uses: ``raw_noise_value`` divided by
    :func:`likelihood_multiplier` (σ² itself except in ``mu_p``)."""
    return raw_noise_value(spec, params) / likelihood_multiplier(spec, params)


value = _value

__all__ = ["likelihood_multiplier", "noise_expression", "noise_value", "raw_noise_value", "value"]

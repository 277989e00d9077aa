r"""The parametrization rules (``ntk`` / ``standard`` / ``mean_field``), in one place.

A linear layer (dense, conv, attention projection) with prior variances (C_W, C_b) =
(weight_var, bias_var) and fan-in n holds raw parameters W, b with a fixed multiplier and a prior:

================  ==================================  ===================  ===================
parametrization   effective weight / bias             raw prior of W       raw prior of b
================  ==================================  ===================  ===================
``ntk``           sqrt(C_W/n) W,  sqrt(C_b) b         N(0, 1)              N(0, 1)
``standard``      W, b                                N(0, C_W/n)          N(0, C_b)
``mean_field``    hidden layers as ntk; readout (sqrt(C_W)/n) W, all N(0, 1)
``mu_p``          hidden layers as ntk; readout (sqrt(C_W)/n) W/g0 + sqrt(C_b/n) b/g0, all N(0, 1)
================  ==================================  ===================  ===================

so every parametrization has the same prior of the effective weights (hence the same NNGP), except
the mean-field readout whose variance C_W/n^2 makes f = (1/n) sum_i a_i phi_i (Mei et al. 2018;
Rubin, Seroussi & Ringel 2024), and the mu_p readout, the ntk output divided by g0 sqrt(n) with
g0 = ``gamma0`` the richness (Bordelon & Pehlevan 2022; its kernel variances C_W/(g0^2 n) and
C_b/(g0^2 n); trainers scale the learning rate by g0^2 n, see docs/theory/dynamics.md).  The NTK differs: the gradient with respect to the raw
parameters contributes (Jacot et al. 2018; neural-tangents' ``parameterization``)

    ntk:        C_W <phi phi'> + C_b          (= the layer's own NNGP)
    standard:   n <phi phi'> + 1              (grows with the width)

with <phi phi'> the input covariance per fan-in unit the layer sees (for a convolution: the patch
average of the position-pair kernel).  See docs/theory/layers.md.
"""

from __future__ import annotations

import math

from ..spec.expressions import as_expr

PARAMETRIZATIONS = ("ntk", "standard", "mean_field", "mu_p")

#: The [params] name of the mu_p richness g0 (f = f_ntk / (g0 sqrt(n)), docs/theory/dynamics.md).
MUP_RICHNESS = "gamma0"


def _richness():
    from ..spec.expressions import make_symbol
    return make_symbol(MUP_RICHNESS)


def kernel_weight_var(parametrization: str, weight_var, fan_in, is_readout: bool):
    """C_W as it enters the kernel recursion: weight_var, or weight_var / fan_in for the mean-field readout."""
    if parametrization == "mean_field" and is_readout:
        return weight_var / fan_in
    if parametrization == "mu_p" and is_readout:
        return weight_var / (_richness() ** 2 * fan_in)
    return weight_var


def kernel_bias_var(parametrization: str, bias_var, fan_in, is_readout: bool):
    """C_b as it enters the kernel recursion: bias_var, or bias_var / (g0^2 fan_in) for the mu_p readout."""
    if parametrization == "mu_p" and is_readout:
        return bias_var / (_richness() ** 2 * fan_in)
    return bias_var


def ntk_own_term(parametrization: str, nngp_12, post_12, fan_in, has_bias: bool):
    """The NTK contribution of a linear layer's own parameters: its NNGP ``nngp_12`` (ntk,
    mean_field) or ``fan_in * post_12 + [has_bias]`` (standard)."""
    if parametrization == "standard":
        return fan_in * post_12 + (1 if has_bias else 0)
    return nngp_12


def ntk_own_description(parametrization: str) -> str:
    if parametrization == "standard":
        return "standard parametrization: n E[phi phi] + 1 from the weights and bias"
    return "NTK parametrization: the layer's own parameters contribute K"


def numeric_multipliers(parametrization: str, weight_var: float, bias_var: float, fan_in: float,
                        is_readout: bool, richness: float | None = None):
    """(w_mult, b_mult, w_prior_var, b_prior_var) of a linear layer's raw parameters (table above);
    ``richness``: the value of g0, needed for the mu_p readout.

    The bias has no parameter when b_mult or b_prior_var is 0."""
    wv, bv, fan = float(weight_var), float(bias_var), float(fan_in)
    if parametrization == "mu_p" and is_readout:
        g0 = float(richness)
        return math.sqrt(wv) / (g0 * fan), math.sqrt(bv / fan) / g0, 1.0, (1.0 if bv else 0.0)
    if parametrization == "standard":
        return 1.0, (1.0 if bv else 0.0), wv / fan, bv
    if parametrization == "mean_field" and is_readout:
        return math.sqrt(wv) / fan, math.sqrt(bv), 1.0, (1.0 if bv else 0.0)
    return math.sqrt(wv / fan), math.sqrt(bv), 1.0, (1.0 if bv else 0.0)


def is_nonzero(expr) -> bool:
    """Whether a variance is non-zero (a float 0.0 counts as zero: SymPy's Float(0.0) != 0)."""
    expr = as_expr(expr)
    return not bool(expr.is_zero)


__all__ = ["MUP_RICHNESS", "PARAMETRIZATIONS", "is_nonzero", "kernel_bias_var", "kernel_weight_var", "ntk_own_term", "numeric_multipliers"]

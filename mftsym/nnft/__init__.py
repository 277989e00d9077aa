"""Finite width: the NNFT action, connected correlators, deep recursions, criticality and the
1/N-corrected posterior mean (docs/theory/nnft.md).

Public API::

    derive_single_layer(spec, method="auto") -> Derivation        # G2, G4c (one hidden layer)
    four_point(spec, x1, x2, x3, x4, backend="numpy") -> dict       # compiled G2, G4c, M4
    connected_four_point_tensor(spec, X) -> (G2 (P,P), G4c (P,P,P,P))
    derive_deep_recursion(spec) -> Derivation                       # K, V, G1, chi_par, chi_perp
    deep_recursion(spec, x, params=None, backend="numpy") -> dict
    four_point_deep(spec, X, params=None) -> (K (P,P), G4c (P,P,P,P))   # deep, several inputs, O(1/n)
    nnft_action(spec, X) -> NNFTAction                              # A, lambda to O(1/N)
    derive_action(spec, P) -> Derivation
    criticality(spec, ...) -> CriticalityResult
    predict(spec, x_train, y_train, x_test, noise_var, method="auto") -> dict   # 1/N-corrected posterior
        # mean, var (+ SE); "tensor" (exact, ~(P+T)^4) or "contract" (matrix products + Monte Carlo)
    mc_susceptibilities / mc_critical_weight_var / mc_critical_point  # criticality on MC deep networks
    derive_finite_width(spec) -> list[Derivation]
    sample_outputs / sample_readout_covariance / fourth_cumulant_from_covariance   # Monte Carlo
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "derive_single_layer": ".single_layer", "four_point": ".single_layer",
    "connected_four_point_tensor": ".single_layer",
    "derive_deep_recursion": ".deep", "deep_recursion": ".deep", "single_input_moments": ".deep",
    "four_point_deep": ".deep_multi", "four_point_deep_layers": ".deep_multi",
    "GaussianExpectation4": ".moments4", "moment4": ".moments4",
    "nnft_action": ".action", "derive_action": ".action", "NNFTAction": ".action",
    "criticality": ".critical", "CriticalityResult": ".critical", "susceptibilities": ".critical",
    "predict": ".posterior",
    "mc_susceptibilities": ".critical_mc", "mc_critical_weight_var": ".critical_mc",
    "mc_critical_point": ".critical_mc",
    "derive_finite_width": ".derive",
    "sample_outputs": ".sampler", "sample_readout_covariance": ".sampler",
    "fourth_cumulant_from_covariance": ".sampler", "fourth_cumulant_from_outputs": ".sampler",
    "second_moment_from_covariance": ".sampler",
    "loglog_slope": ".fit", "leading_coefficient": ".fit",
}


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module 'mftsym.nnft' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)

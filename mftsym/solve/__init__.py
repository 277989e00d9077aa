"""Mean-field theory of Bayesian networks: actions, saddle-point equations and their solvers.

Public API (heavy modules are imported on first use)::

    solve(spec, x_train, y_train, x_test=None, theory=None, params=None, **options) -> Solution
    solve_gp / solve_kernel_renormalization / solve_adaptive_kernel(...)         -> Solution
    sweep_kernel_renormalization(spec, x_train, y_train, grid, x_test=None)      -> [Solution]
    predict_gp / predict_kernel_renormalization / predict_adaptive_kernel(spec, x_train, y_train, x_test)
    derive_theory(spec) -> [Derivation];  renormalization_theory(spec) -> ModeAction
    data_model_theory(spec) -> DataModelTheory;  solve_data_model(spec, ...) ; sweep_data_model(...)
    register_theory(name, solver, ...) / get_theory(name) / solvable_theories()   # the one theory registry
    spec_learning_curve(spec, P, target=, ridge=, noise=) -> LearningCurve (spectral learning curves)
    solve_deep_adaptive_kernel(spec, x_train, y_train, x_test) -> Solution (several hidden layers)
"""

from __future__ import annotations

from .solution import Saddle, Solution

_LAZY = {
    "derive_theory": "derive", "renormalization_theory": "derive", "gp_derivation": "derive",
    "solve_gp": "gp", "predict_gp": "gp",
    "solve_kernel_renormalization": "renormalization", "predict_kernel_renormalization": "renormalization",
    "sweep_kernel_renormalization": "renormalization", "confirm_root": "renormalization",
    "solve_adaptive_kernel": "adaptive", "predict_adaptive_kernel": "adaptive",
    "adaptive_derivation": "adaptive",
    "data_model_theory": "data_model", "solve_data_model": "data_model", "sweep_data_model": "data_model_sweep",
    "solve": "api", "theory_hooks": "api", "feature_kernel": "common", "readout_kernel": "common",
    "register_theory": "registry", "get_theory": "registry", "solvable_theories": "registry",
    "solve_deep_adaptive_kernel": "deep_adaptive", "deep_adaptive_derivation": "deep_adaptive",
    "spec_learning_curve": "curves", "learning_curve": "learning_curves", "sphere_spectrum": "spectrum",
    "nystrom_spectrum": "spectrum",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Saddle", "Solution", *sorted(_LAZY)]

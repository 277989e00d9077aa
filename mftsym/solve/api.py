"""One entry point: ``solve(spec, x_train, y_train, x_test)`` dispatches on ``[theory] kind``."""

from __future__ import annotations

from ..spec import load_spec
from .common import theory_kind


def solve(spec, x_train, y_train, x_test=None, theory=None, params=None, **options):
    """Solve the spec's theory ("gp" | "kernel_renormalization" | "adaptive_kernel") on data."""
    spec = load_spec(spec)
    kind = theory or theory_kind(spec)
    if kind == "gp":
        from .gp import solve_gp
        return solve_gp(spec, x_train, y_train, x_test, params=params)
    if kind == "kernel_renormalization":
        from .renormalization import solve_kernel_renormalization
        return solve_kernel_renormalization(spec, x_train, y_train, x_test, params=params, **options)
    if kind == "adaptive_kernel":
        from .adaptive import solve_adaptive_kernel
        return solve_adaptive_kernel(spec, x_train, y_train, x_test, params=params, **options)
    if kind == "dmft":   # training dynamics (docs/theory/dynamics.md)
        from ..dynamics import solve_dmft
        return solve_dmft(spec, x_train, y_train, x_test, params=params, **options)
    from ..errors import SpecError
    raise SpecError(f"unknown theory {kind!r}", "theory.kind")


def theory_hooks() -> dict:
    """{name: predict(spec, x_train, y_train, x_test) -> dict(mean, variance, order_parameters)}."""
    from .adaptive import predict_adaptive_kernel
    from .gp import predict_gp
    from .renormalization import predict_kernel_renormalization
    return {"gp": predict_gp, "kernel_renormalization": predict_kernel_renormalization,
            "adaptive_kernel": predict_adaptive_kernel}

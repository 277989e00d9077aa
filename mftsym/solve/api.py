"""One entry point: ``solve(spec, x_train, y_train, x_test)`` dispatches on ``[theory] kind``
through :mod:`mftsym.solve.registry`."""

from __future__ import annotations

from ..spec import load_spec
from .common import theory_kind
from .registry import get_theory, solvable_theories


def solve(spec, x_train, y_train, x_test=None, theory=None, params=None, **options):
    """Solve the spec's theory (or ``theory``: a name from
    :func:`~mftsym.solve.registry.solvable_theories`, e.g. "gp", "kernel_renormalization",
    "adaptive_kernel") on data."""
    spec = load_spec(spec)
    kind = theory or theory_kind(spec)
    return get_theory(kind).solve(spec, x_train, y_train, x_test, params=params, **options)


def theory_hooks() -> dict:
    """{name: predict(spec, x_train, y_train, x_test) -> dict(mean, variance, order_parameters)}
    for every theory with a solver."""
    return {name: get_theory(name).predict for name in solvable_theories()}

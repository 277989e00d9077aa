"""mftsym: symbolic mean-field and field theory of neural networks.

Pipeline: spec -> derive -> compile -> solve -> validate.  The public API is this thin layer;
heavy modules (torch, the solvers) are imported lazily on first use.
"""

from __future__ import annotations

from functools import lru_cache

from .errors import (ConvergenceError, EvaluationError, ExpressionError, MftsymError, SpecError,
                     TrainingDivergedError)
from .spec import Dense, Network, Spec, load_spec, resolve_activation
from .spec.layers import Nonlinearity as Activation
from .layers.attention import Attention
from .layers.avg_pool import AvgPool
from .layers.conv import Conv
from .layers.flatten import Flatten
from .layers.global_avg_pool import GlobalAvgPool
from .layers.layer_norm import LayerNorm
from .layers.residual import Residual

__version__ = "0.1.0"


@lru_cache(maxsize=64)
def _derive_kernels_cached(network, ntk, method, order):
    from .derive.kernels import derive_kernels as _derive
    return _derive(network, ntk=ntk, method=method, order=order)


def derive_kernels(spec, ntk: bool = True, method: str = "auto", order: int | None = None):
    """The NNGP/NTK recursion of a spec (Spec, Network, TOML path) as a Derivation (cached).

    ``method``: "auto" (closed forms, quadrature nodes otherwise), "hermite" (dual-activation
    series to ``order``, default 10) or "quadrature".
    """
    return _derive_kernels_cached(load_spec(spec).network, ntk, method, order)


def kernel(spec, x, x2=None, kind: str = "nngp", params=None, backend: str = "numpy",
           device=None, dtype=None, method: str = "auto", order: int | None = None):
    """The infinite-width ``kind`` ("nngp"/"ntk") kernel at the network output between rows of x and x2.

    ``kind`` may be a tuple, e.g. ("nngp", "ntk"), to get both from one pass (returns a tuple).
    ``params`` override the spec's [params]; ``backend`` is "numpy", "torch" (float64 default,
    differentiable, CPU or CUDA via ``device``) or "mpmath" (arbitrary precision, slow);
    ``method``/``order`` choose how Gaussian expectations are taken (see :func:`derive_kernels`).
    """
    from .compile.kernel_fn import evaluate_kernel
    spec = load_spec(spec)
    derivation = derive_kernels(spec, ntk=True, method=method, order=order)
    values = {**spec.params, **(params or {})}
    return evaluate_kernel(derivation, spec.network, x, x2, kind=kind, params=values,
                           backend=backend, device=device, dtype=dtype)


def example_spec(name: str = "two_layer_erf") -> Spec:
    """A built-in example spec (``mftsym/examples/NAME.toml``)."""
    from importlib.resources import files
    path = files("mftsym") / "examples" / f"{name}.toml"
    if not path.is_file():
        avail = sorted(p.name[:-5] for p in (files("mftsym") / "examples").iterdir() if p.name.endswith(".toml"))
        raise SpecError(f"no built-in example {name!r}; available: {avail}")
    return Spec.from_toml_string(path.read_text(), source=f"example:{name}")


__all__ = ["Activation", "Attention", "AvgPool", "Conv", "ConvergenceError", "Flatten", "GlobalAvgPool", "LayerNorm",
           "Residual", "Dense", "EvaluationError", "ExpressionError", "MftsymError",
           "Network", "Spec", "SpecError", "TrainingDivergedError", "derive_kernels", "example_spec",
           "kernel", "load_spec", "resolve_activation"]

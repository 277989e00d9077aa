"""The optional compiled-torch path: falls back to eager torch with a warning, and agrees with it."""

import numpy as np
import pytest
import torch

import mftsym as mf
from mftsym.compile import kernel_fn
from tests.derive.test_kernels import deep_spec
from tests.tolerances import BACKEND_RTOL


def _eager_and_compiled(spec, x):
    der = mf.derive_kernels(spec)
    args = dict(derivation=der, network=spec.network, x=x, kind=("nngp", "ntk"), params=dict(spec.params),
                backend="torch")
    eager = kernel_fn.evaluate_kernel(**args, torch_compile=False)
    fused = kernel_fn.evaluate_kernel(**args, torch_compile=True)
    return eager, fused


def test_compile_failure_falls_back_to_eager(monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("no compiler here")
    monkeypatch.setattr(torch, "compile", broken)
    spec = deep_spec("erf", 2)
    x = np.random.default_rng(0).normal(size=(6, 3))
    with pytest.warns(RuntimeWarning, match="torch.compile of the kernel chain failed"):
        eager, fused = _eager_and_compiled(spec, x)
    assert isinstance(eager, tuple) and len(eager) == 2
    for a, b in zip(eager, fused):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
def test_compiled_agrees_with_eager():
    spec = deep_spec("relu", 3)
    x = np.random.default_rng(1).normal(size=(40, 5))
    eager, fused = _eager_and_compiled(spec, x)
    assert isinstance(eager, tuple) and len(eager) == 2
    for a, b in zip(eager, fused):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=BACKEND_RTOL)

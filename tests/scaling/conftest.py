import pytest

from mftsym import Spec


def erf_network(widths, parametrization="standard", act="erf"):
    layers = []
    for w in widths:
        layers += [{"type": "dense", "width": w, "weight_var": 1}, {"type": "activation", "fn": act}]
    layers.append({"type": "dense", "width": 1, "weight_var": 1})
    return Spec.from_dict({"network": {"input_dim": "d", "parametrization": parametrization, "layers": layers}})


@pytest.fixture(scope="module")
def two_layer():
    from mftsym.scaling.derive import derive_scaling
    return derive_scaling(erf_network(["N1"]), "He3")


@pytest.fixture(scope="module")
def three_layer():
    from mftsym.scaling.derive import derive_scaling
    return derive_scaling(erf_network(["N1", "N2"]), "He3", steps=41)

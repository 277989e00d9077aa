import pytest

from mftsym.spec import Spec


def make_spec(act="erf", depth=1, param="ntk", width="N1", noise_var=0.1, bias_var=0.1):
    layers = []
    for l in range(depth):
        layers += [{"type": "dense", "width": width if l == 0 else f"{width}", "weight_var": 1.5 if act == "erf" else 2.0,
                    "bias_var": bias_var}, {"type": "activation", "fn": act}]
    layers.append({"type": "dense", "width": 1, "weight_var": 1.0})
    return Spec.from_dict({"network": {"input_dim": "d", "parametrization": param, "layers": layers},
                           "posterior": {"noise_var": noise_var}})


def linear_model_spec(noise_var=0.1):
    """f = sqrt(weight_var/d) W x + sqrt(bias_var) b: the GP posterior is exact at any size."""
    return Spec.from_dict({"network": {"input_dim": "d", "parametrization": "ntk",
                                       "layers": [{"type": "dense", "width": 1, "weight_var": 1.0, "bias_var": 0.2}]},
                           "posterior": {"noise_var": noise_var}})


@pytest.fixture
def erf_spec():
    return make_spec()

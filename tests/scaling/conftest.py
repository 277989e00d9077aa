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


def cnn_network(pooling="flatten", width="N", length=32, kernel=8, channels=1, stride=None, padding="valid"):
    """conv(kernel = stride, valid) -> erf -> pooling -> dense(1): n = length/kernel patches of
    dimension p = kernel*channels."""
    layers = [{"type": "conv", "width": width, "kernel": [kernel], "stride": [stride or kernel],
               "padding": padding, "weight_var": 1},
              {"type": "activation", "fn": "erf"}, {"type": pooling},
              {"type": "dense", "width": 1, "weight_var": 1}]
    return Spec.from_dict({"network": {"input_shape": [length, channels], "layers": layers}})


def attention_network(pooling="global_avg_pool", width="N", heads=1, length=8, dim=16):
    """softmax attention (H heads, N channels) -> erf -> pooling -> dense(1) on L tokens of dimension d."""
    layers = [{"type": "attention", "width": width, "heads": heads, "key_width": dim, "value_width": dim},
              {"type": "activation", "fn": "erf"}, {"type": pooling},
              {"type": "dense", "width": 1, "weight_var": 1}]
    return Spec.from_dict({"network": {"input_shape": [length, dim], "layers": layers}})


@pytest.fixture(scope="module")
def cnn_flatten():
    from mftsym.scaling.derive import derive_scaling
    return derive_scaling(cnn_network("flatten"), "He3", steps=33)


@pytest.fixture(scope="module")
def cnn_pooled():
    from mftsym.scaling.derive import derive_scaling
    return derive_scaling(cnn_network("global_avg_pool"), "He3", steps=33)


@pytest.fixture(scope="module")
def attention_head():
    from mftsym.scaling.derive import derive_scaling
    return derive_scaling(attention_network(), "He3", steps=25)

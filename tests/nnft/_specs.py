import mftsym as mf


def make_spec(act, depth=1, sw=1.3, sb=0.2, sa=1.0, sc=0.0, d=3, N=64, parametrization="ntk"):
    layers = []
    for _ in range(depth):
        layers += [mf.Dense("N", "sigma_w**2", "sigma_b**2"), mf.Activation(act)]
    layers.append(mf.Dense(1, "sigma_a**2", "sigma_c**2" if sc else 0))
    params = {"sigma_w": sw, "sigma_b": sb, "sigma_a": sa, "N": N}
    if sc:
        params["sigma_c"] = sc
    return mf.Spec(mf.Network(tuple(layers), input_dim=d, parametrization=parametrization), params=params)

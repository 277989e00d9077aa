r"""Infinite-width kernels of a spec: the NNGP and NTK recursions as a chain of definitions.

For a dense layer ``l`` with prior variances (C_W, C_b) = (weight_var, bias_var) and fan-in n
(Neal 1996; Lee et al. 2018; Matthews et al. 2018; Jacot et al. 2018)::

    K^(1)(x,x')   = C_W x.x'/d + C_b
    K^(l+1)(x,x') = C_W E_{(u,v)~N(0,K^(l))}[phi(u) phi(v)] + C_b
    Theta^(1)     = K^(1),   Theta^(l+1) = K^(l+1) + C_W E[phi'(u) phi'(v)] Theta^(l)      ("ntk")

In the ``"standard"`` parametrization (W ~ N(0, C_W/n), b ~ N(0, C_b) trained directly) the
weight gradient contributes n E[phi phi] instead of C_W E[phi phi] and the bias 1 instead of C_b,
as in neural-tangents' ``Dense(parameterization='standard')``:
``Theta^(l+1) = n E[phi phi] + 1 + C_W E[phi' phi'] Theta^(l)`` -- it grows with width.
In ``"mean_field"`` the readout's C_W is divided by its fan-in N (f = (1/N) sum_i a_i phi_i), so
its NNGP and NTK are O(1/N).  In ``"mu_p"`` (f = f_ntk / (gamma0 sqrt(N))) the readout's C_W and
C_b are divided by gamma0^2 N: NNGP and bare NTK are the ``"ntk"`` ones over gamma0^2 N; the NTK
times the learning-rate multiplier gamma0^2 N is the ``"ntk"`` one (docs/theory/dynamics.md).

Each kernel is tracked at the three entries (x,x), (x,x'), (x',x') of the 2x2 covariance; the
diagonal entries feed the Gaussian expectations of the off-diagonal one.
"""

from __future__ import annotations


from ..layers import KernelBuilder, fold_kernel, input_state
from ..layers.activation import almost_everywhere_derivative  # noqa: F401 (re-exported)
from ..layers.state import INPUT_LATEX, INPUT_SYMBOLS, PAIRS  # noqa: F401 (re-exported)
from ..spec import Network
from .derivation import Derivation


def derive_kernels(network, ntk: bool = True, method: str = "auto", order: int | None = None) -> Derivation:
    """The NNGP (and NTK) recursion of ``network`` as a :class:`Derivation`.

    The layers' kernel maps (:mod:`mftsym.layers`) fold over the input kernel, each recording its
    named definitions.  ``method`` is passed to :func:`mftsym.gaussian.gaussian_expectation`:
    ``"auto"`` (closed forms where they exist, quadrature nodes otherwise), ``"hermite"`` or
    ``"quadrature"``.  Outputs: ``"nngp"`` and ``"ntk"`` (the kernel at the network output between
    x and x'), and ``"nngp_11"``/``"nngp_22"`` (its diagonal).  For spatial networks the inputs are
    the per-position-pair inner products and the kernels carry position axes until a pooling or
    flatten layer removes them (docs/theory/layers.md).
    """
    if not isinstance(network, Network):
        network = network.network  # a Spec
    par = network.parametrization
    builder = KernelBuilder(par, ntk=ntk, method=method, order=order)
    state = fold_kernel(network.layers, input_state(network), builder, top_level=True)
    outputs = {"nngp": state.nngp["12"], "nngp_11": state.nngp["11"], "nngp_22": state.nngp["22"]}
    if ntk:
        outputs["ntk"] = state.ntk
    notes = (
        rf"Parametrization: \texttt{{{par.replace('_', ' ')}}}. "
        r"$K^{(l)}$: NNGP of the pre-activations of dense layer $l$; "
        r"$C^{(l)} = \mathbb{E}[\phi(u)\phi(v)]$, $\dot C^{(l)} = \mathbb{E}[\phi'(u)\phi'(v)]$ with "
        r"$(u,v) \sim \mathcal{N}(0, K^{(l)})$; $\Theta^{(l)}$: NTK. "
        r"Neal 1996; Lee et al. 2018; Matthews et al. 2018; Jacot et al. 2018.",
    )
    if getattr(network, "input_shape", None) is not None:
        notes = notes + (
            r"Spatial network (inputs of shape $" + r" \times ".join(str(n) for n in network.input_shape)
            + r"$, channels last): kernels are indexed by positions $s, s'$; $x \cdot x'$ is the inner product "
            r"over channels at each position pair. $\mathcal{P}$: patch average of a convolution, "
            r"$\mathcal{W}$: pooling-window average, $\mathrm{mean}_{s,s'}$: global average pooling, "
            r"$\mathrm{mean}_s K(s,s)$: flatten. Novak et al. 2019; Garriga-Alonso et al. 2019; "
            r"neural-tangents (Novak et al. 2020).",)
    defs = [d_ for d_ in builder.definitions if ntk or not d_.symbol.name.startswith(("Theta", "Cdot"))]
    return Derivation(title="Infinite-width kernels (NNGP and NTK)", inputs=tuple(INPUT_SYMBOLS.values()),
                      definitions=tuple(defs), outputs=outputs, input_latex=INPUT_LATEX, notes=notes)


__all__ = ["derive_kernels", "INPUT_SYMBOLS"]

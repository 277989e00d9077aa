"""The tolerances of every comparison in the test suite, in one table (DESIGN.md).

| comparison                                   | tolerance                                  |
|----------------------------------------------|--------------------------------------------|
| symbolic vs symbolic (literature closed form)| exact: simplify(a - b) == 0                |
| backend vs backend (numpy/mpmath/torch, f64) | BACKEND_RTOL relative                      |
| closed form vs quadrature                    | QUADRATURE_RTOL (tied to the quadrature)   |
| theory vs Monte Carlo / trained ensembles    | MC_SIGMAS standard errors, plus a slope fit|
"""

BACKEND_RTOL = 1e-10
QUADRATURE_RTOL = 1e-6
QUADRATURE_ATOL = 1e-8
MC_SIGMAS = 4.0          # |theory - mean| <= MC_SIGMAS * standard error
SLOPE_SIGMAS = 3.0       # a fitted log-log slope is within SLOPE_SIGMAS of its target

# dynamics (DMFT, docs/theory/dynamics.md)
DMFT_NTK_LIMIT_ATOL = 1e-6       # gamma0 -> 0 DMFT vs the NTK predictor over the whole time course
DMFT_CLOSED_FORM_RTOL = 5e-3     # single-point linear kernel vs its closed form (O(dt) discretisation)

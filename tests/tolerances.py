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
SCALING_OPT_RTOL = 1e-6  # exact monomial-sum optimum vs scipy minimisation of the same sum
SCALING_SLOPE_ATOL = 0.05  # log-log slope of a numerically minimised variational bound vs derived exponent
MC_WIDTH_BIAS = 1.0      # finite random networks of width n deeper than one hidden layer: their mean
                         # kernel differs from the NNGP by O(1/n); allowed: MC_WIDTH_BIAS * |K| / n on top
                         # of MC_SIGMAS standard errors
EMPIRICAL_NTK_RTOL = 0.06  # empirical NTK (autograd, a few networks of width >= 512) vs the NTK:
                           # O(1/sqrt(n)) fluctuations and O(1/n) bias, relative to max |NTK|
CORRELATION_ONE_RTOL = 1e-7  # two exact routes to one kernel through arccos-type closed forms: at
                             # correlation rho = 1 (x = x', s = s') sqrt(1 - rho^2) turns the 1e-16
                             # rounding of rho into ~1e-8

# dynamics (DMFT, docs/theory/dynamics.md)
DMFT_NTK_LIMIT_ATOL = 1e-6       # gamma0 -> 0 DMFT vs the NTK predictor over the whole time course
DMFT_CLOSED_FORM_RTOL = 5e-3     # single-point linear kernel vs its closed form (O(dt) discretisation)
POWER_LAW_EXPONENT_ATOL = 0.05   # fitted E_g(P) exponent over P in [1e3, 1e4] vs min(a-1, 2b): the
#                                  pre-asymptotic corrections of the kappa equation are below this there
NYSTROM_RTOL = 0.1       # Nystrom eigenvalue group sums on n ~ 1500 samples vs the Gegenbauer eta_l
#                          (sampling fluctuation O(n^-1/2) ~ 3%, plus the finite-n bias)
GAUSSIAN_NYSTROM_RTOL = 0.2  # learning curve from a 3000-sample Nystrom spectrum vs kernel regression on
#                              Gaussian inputs (d = 4, P <= 100), one-sided (the theory is low): 10-20% from
#                              the theory's Gaussian-equivalence approximation (15% on an exact discrete
#                              spectrum) plus ~5% sample-to-sample scatter of the n = 3000 spectrum
#                              (docs/theory/learning_curves.md, validation/study_gaussian_nystrom)
GAUSSIAN_EQUIVALENCE_RTOL = 0.25  # theory on the exact spectrum of a discrete Gaussian measure (d = 4,
#                                   P = 30-300) vs kernel regression on it: measured 15-19% low
LKR_REDUCTION_RTOL = 1e-8  # local kernel renormalization with one patch vs the scalar kernel renormalization
LKR_PEER_RTOL = 1e-6       # local kernel renormalization vs deepbays CONV_1HL (fsolve, xtol 1e-12)

"""The MAP solvers, one module per algorithm.

- :mod:`~bayeswd.solvers.problem`: :class:`Problem`, the data of one fit with its closed-form
  likelihood gradient and Gram statistics (the model gives the prior's part by autograd).
- :mod:`~bayeswd.solvers.newton`: Newton's method with the constant Hessian (gaussian prior).
- :mod:`~bayeswd.solvers.lbfgs`: L-BFGS with a strong Wolfe line search.
- :mod:`~bayeswd.solvers.lasso`: the one lasso solver (FISTA with adaptive restart and an exact
  active-set step) on the centred Gram statistics, and its warm-started path; used by
  ``map_fit(prior="laplace")``, ``lam_sweep`` and ``cv_curve``.
- :mod:`~bayeswd.solvers.ridge`: the exact ridge path from one SVD of the centred design.
- :mod:`~bayeswd.solvers.loops`: the classic training loops (SGD, Adam, AdamW, subgradient).
"""

"""Newton's method for the gaussian-prior MAP: ``U`` is quadratic, its Hessian constant."""

from __future__ import annotations

import torch

from bayeswd.exact import cholesky_of_precision
from bayeswd.solvers.problem import Problem, grad, hessian

__all__ = ["newton"]


def newton(prob: Problem, max_iter: int, tol: float) -> tuple[torch.Tensor, int, bool, float, torch.Tensor]:
    """Newton's method on U with its constant Hessian; returns theta, steps, converged, optimality, residual.

    U is quadratic, so the first step is exact up to rounding; later steps (if any) are iterative
    refinement with the gradient recomputed from the residual. Stops when ``max |grad U|`` is below
    ``tol`` times its value at zero. The gradient at zero, ``-A^T y / sigma^2``, comes with the
    Gram matrix, so a one-step fit reads ``X`` twice: the Gram statistics and one gradient.

    With an intercept the steps are solved in the centred coordinates ``(w, b + mean(X) w)``, where
    the Hessian is block diagonal (``Xc^T Xc / sigma^2`` plus the prior's, and ``n / sigma^2``),
    starting from ``w = 0, b = mean(y)``: the Hessian in ``(w, b)`` has a condition number that
    grows with the square of a column's mean over its spread, and a gradient at ``b = 0`` that
    grows with ``mean(y)``; both lost every digit of ``w`` for offsets like 1e6 in ``X`` or 1e9 in
    ``y``.
    """
    theta, d = prob.zeros(), prob.d
    g = -prob.gram()[1] / prob.sigma**2 + grad(prob.neg_log_prior, theta)
    scale = max(1.0, float(g.abs().max()))  # at w = 0 the gaussian prior's gradient is zero
    if prob.fit_intercept:
        cs = prob.centred()
        m, hb = cs.x_mean, cs.n / prob.sigma**2
        hw = cs.gram / prob.sigma**2 + hessian(prob.neg_log_prior, theta)[:d, :d]
        chol = cholesky_of_precision(hw)
        theta[d] = cs.y_mean  # the residual there is the centred y: A^T r = (Xc^T yc, 0)
        g = torch.cat([-cs.xty / prob.sigma**2, g.new_zeros(1)])
    else:
        chol = cholesky_of_precision(prob.hessian())
    for it in range(1, max_iter + 1):
        if prob.fit_intercept:  # the step T H_c^{-1} T^T g, T = [[I, 0], [-m^T, 1]]
            step_w = torch.cholesky_solve((g[:d] - m * g[d]).unsqueeze(-1), chol).squeeze(-1)
            step = torch.cat([step_w, (g[d] / hb - m @ step_w).reshape(1)])
        else:
            step = torch.cholesky_solve(g.unsqueeze(-1), chol).squeeze(-1)
        theta = theta - step
        g, r = prob.gradient(theta)
        optimality = float(g.abs().max()) / scale
        if optimality <= tol:
            return theta, it, True, optimality, r
    return theta, max_iter, False, optimality, r

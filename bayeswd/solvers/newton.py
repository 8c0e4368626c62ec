"""Newton's method for the gaussian-prior MAP: ``U`` is quadratic, its Hessian constant."""

from __future__ import annotations

import torch

from bayeswd.solvers.problem import Problem, grad

__all__ = ["newton"]


def newton(prob: Problem, max_iter: int, tol: float) -> tuple[torch.Tensor, int, bool, float, torch.Tensor]:
    """Newton's method on U with its constant Hessian; returns theta, steps, converged, optimality, residual.

    U is quadratic, so the first step is exact up to rounding; later steps (if any) are iterative
    refinement with the gradient recomputed from the residual. Stops when ``max |grad U|`` is below
    ``tol`` times its value at zero. The gradient at zero, ``-A^T y / sigma^2``, comes with the
    Gram matrix, so a one-step fit reads ``X`` twice: the Gram statistics and one gradient.
    """
    theta = prob.zeros()
    chol = torch.linalg.cholesky(prob.hessian())
    g = -prob.gram()[1] / prob.sigma**2 + grad(prob.neg_log_prior, theta)
    scale = max(1.0, float(g.abs().max()))  # at w = 0 the gaussian prior's gradient is zero
    for it in range(1, max_iter + 1):
        theta = theta - torch.cholesky_solve(g.unsqueeze(-1), chol).squeeze(-1)
        g, r = prob.gradient(theta)
        optimality = float(g.abs().max()) / scale
        if optimality <= tol:
            return theta, it, True, optimality, r
    return theta, max_iter, False, optimality, r

"""L-BFGS on the MAP objective, restarted while its line search stalls."""

from __future__ import annotations

import torch

from bayeswd.solvers.problem import Problem, grad

__all__ = ["lbfgs"]


def lbfgs(prob: Problem, max_iter: int, tol: float) -> tuple[torch.Tensor, int, bool]:
    """L-BFGS (strong Wolfe line search) on ``U * 2 sigma^2 / n`` (the mean-squared-error scale).

    Converged when ``max |grad|`` has fallen by the factor ``tol`` from its value at zero.
    """
    theta = prob.zeros().requires_grad_(True)
    scale = 2 * prob.sigma**2 / prob.X.shape[0]

    def grad_max() -> float:
        return float(grad(prob.neg_log_density, theta).abs().max()) * scale

    target = tol * max(grad_max(), 1e-300)
    n_iter = 0
    # LBFGS returns when its line search stalls; restart it (fresh curvature pairs) until the
    # gradient is small enough or the budget is spent.
    while n_iter < max_iter:
        opt = torch.optim.LBFGS(
            [theta], lr=1.0, max_iter=max_iter - n_iter, tolerance_grad=target,
            tolerance_change=1e-300, history_size=100, line_search_fn="strong_wolfe",
        )

        def closure(opt: torch.optim.LBFGS = opt) -> torch.Tensor:
            opt.zero_grad()
            loss = scale * prob.neg_log_density(theta)
            loss.backward()
            return loss

        opt.step(closure)
        done = int(opt.state[theta]["n_iter"])
        n_iter += done
        if grad_max() <= target:
            return theta.detach(), n_iter, True
        if done <= 1:  # no progress possible from here
            break
    return theta.detach(), n_iter, False

"""The classic training loops: ``nn.Linear``, ``MSELoss`` and a ``torch.optim`` optimiser.

They show what weight decay in SGD, Adam and AdamW, and an L1 subgradient, do and do not give:
full-batch SGD reaches the gaussian-prior MAP; the others only approach it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bayeswd.conventions import l1_subgradient_lambda, sgd_weight_decay
from bayeswd.solvers.problem import Problem

__all__ = ["LOOP_METHODS", "lipschitz_mse", "training_loop"]

#: The :func:`bayeswd.map_fit` methods that run a training loop.
LOOP_METHODS = ("sgd", "adam", "adamw", "subgradient")


def lipschitz_mse(prob: Problem, wd: float) -> float:
    """Lipschitz constant of the gradient of ``mean(r^2) + wd ||w||^2 / 2``.

    The top eigenvalue of ``A^T A``, or of the smaller ``A A^T = X X^T (+ 1)`` when ``n`` is below
    the number of parameters.
    """
    n = prob.X.shape[0]
    if n >= prob.d + int(prob.fit_intercept):
        gram = prob.gram()[0]
    else:
        gram = prob.X @ prob.X.T + float(prob.fit_intercept)
    return 2.0 * float(torch.linalg.eigvalsh(gram).max()) / n + wd


def _linear_at_zero(prob: Problem) -> nn.Linear:
    """``nn.Linear(d, 1)`` at ``w = 0`` with the bias at 0, or frozen at the fixed intercept."""
    # skip_init: no Kaiming initialisation, so the caller's global RNG is not consumed
    net = torch.nn.utils.skip_init(nn.Linear, prob.d, 1, dtype=prob.X.dtype, device=prob.X.device)
    with torch.no_grad():
        net.weight.zero_()
        net.bias.fill_(0.0 if prob.fit_intercept else prob.intercept)
    net.bias.requires_grad_(prob.fit_intercept)  # frozen: removed from the optimisation
    return net


def training_loop(
    prob: Problem, method: str, *, lr: float | None, max_iter: int, tol: float,
    batch_size: int | None, seed: int,
) -> tuple[torch.Tensor, int, bool]:
    """The classic loop: ``nn.Linear``, ``MSELoss`` (mean), an optimiser with parameter groups.

    Weight decay (``sgd``/``adam``/``adamw``) is put on the weight only; the bias has
    ``weight_decay=0`` (flat prior) or is frozen with ``requires_grad=False``. ``subgradient``
    adds ``lam_l1 * sign(w)`` to the weight's gradient and uses plain SGD. Parameters start at 0.
    Only full-batch SGD has a stopping rule (relative step size below ``tol``).
    """
    n = prob.X.shape[0]
    net = _linear_at_zero(prob)
    if method == "subgradient":
        wd, l1 = 0.0, l1_subgradient_lambda(prob.sigma, prob.tau, n)
    else:
        wd, l1 = sgd_weight_decay(prob.sigma, prob.tau, n, "mse_mean"), 0.0
    groups: list[dict[str, Any]] = [{"params": [net.weight], "weight_decay": wd}]
    if prob.fit_intercept:
        groups.append({"params": [net.bias], "weight_decay": 0.0})
    if lr is None:
        lr = 1e-3 if method in ("adam", "adamw") else 1.0 / lipschitz_mse(prob, wd)
    optimiser_cls = {"sgd": torch.optim.SGD, "subgradient": torch.optim.SGD,
                     "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[method]
    opt = optimiser_cls(groups, lr=lr)
    loss_fn = nn.MSELoss()
    full_batch = batch_size is None or batch_size >= n
    gen = torch.Generator().manual_seed(int(seed))
    steps = 0
    while steps < max_iter:
        if full_batch:
            Xb, yb = prob.X, prob.y
        else:  # a fresh uniformly random subset at every step ("b-nice" sampling)
            idx = torch.randperm(n, generator=gen)[:batch_size].to(prob.X.device)
            Xb, yb = prob.X[idx], prob.y[idx]
        before = net.weight.detach().clone()
        opt.zero_grad()
        loss_fn(net(Xb).squeeze(-1), yb).backward()
        if l1:
            with torch.no_grad():
                net.weight.grad.add_(l1 * torch.sign(net.weight))
        opt.step()
        steps += 1
        if full_batch and method == "sgd":
            change = float((net.weight.detach() - before).norm())
            if change <= tol * (float(net.weight.detach().norm()) + tol):
                break
    theta = net.weight.detach().squeeze(0)
    if prob.fit_intercept:
        theta = torch.cat([theta, net.bias.detach()])
    converged = full_batch and method == "sgd" and steps < max_iter
    return theta, steps, converged

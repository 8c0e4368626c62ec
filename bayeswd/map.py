r"""MAP estimation by autograd, and the training loops that it equals (or does not).

The MAP minimises the negative log posterior of :func:`bayeswd.model.linear_regression_model`,

.. math::

    U(w, b) = \frac{\lVert y - Xw - b\rVert_2^2}{2\sigma^2} + R(w),\qquad
    R(w) = \frac{\lVert w\rVert_2^2}{2\tau^2}\ \text{(gaussian)},\quad
    R(w) = \frac{\lVert w\rVert_1}{\tau}\ \text{(laplace)},

with an unpenalised intercept ``b``. ``2 sigma^2 U`` is the sum-of-squares objective
``||r||^2 + lam ||w||_2^2`` (``lam = sigma^2/tau^2``) or ``||r||^2 + lam1 ||w||_1``
(``lam1 = 2 sigma^2/tau``). See :mod:`bayeswd.conventions` for every other tool's scaling.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from bayeswd._validation import (
    as_design,
    as_target,
    check_bool,
    check_choice,
    check_positive,
    check_positive_int,
    check_seed,
    resolve_device,
)
from bayeswd.conventions import PRIORS, l1_subgradient_lambda, lam_from_tau, sgd_weight_decay
from bayeswd.exceptions import ConvergenceWarning
from bayeswd.model import log_density
from bayeswd.stats import BLOCK_BYTES, sufficient_statistics

__all__ = ["MAP_METHODS", "MAPResult", "map_fit", "map_objective"]

#: Methods of :func:`map_fit` for each prior; ``"auto"`` picks the first.
MAP_METHODS: dict[str, tuple[str, ...]] = {
    "gaussian": ("newton", "lbfgs", "sgd", "adam", "adamw"),
    "laplace": ("proximal", "subgradient"),
}
_ALL_METHODS = ("auto", *MAP_METHODS["gaussian"], *MAP_METHODS["laplace"])
_LOOP_METHODS = ("sgd", "adam", "adamw", "subgradient")


@dataclass(frozen=True)
class MAPResult:
    """A MAP fit (or a training run) of linear regression under a gaussian or laplace prior.

    Attributes
    ----------
    coef : torch.Tensor, shape (d,)
        Weights ``w`` (float64, on the CPU).
    intercept : float
        Intercept ``b`` (0.0, or the frozen value, when it was not fitted).
    prior : {"gaussian", "laplace"}
    sigma, tau : float
        Noise sd and prior scale used.
    lam : float
        Penalty in the sum-of-squares form: ``sigma^2/tau^2`` (gaussian, the ``Ridge`` alpha) or
        ``2 sigma^2/tau`` (laplace, in ``||r||^2 + lam1 ||w||_1``).
    objective : float
        ``U(w, b) = ||y - Xw - b||^2 / (2 sigma^2) + R(w)`` at the result, constants dropped
        (see :func:`map_objective`).
    n_iter : int
        Newton steps, L-BFGS / proximal iterations, or optimiser steps of a training loop.
    converged : bool
        Whether the method's stopping rule was met. Minibatch and subgradient runs with a fixed
        learning rate have no such rule: they never report convergence.
    optimality : float
        First-order optimality residual at the result, from the gradient of ``U`` (the
        likelihood's part from the residual in closed form, the prior's by autograd of the model):
        ``max |grad U|`` (gaussian), or the largest violation of the subgradient condition
        ``0 in grad + sign(w)/tau`` (laplace), both divided by the size of the penalty gradient
        scale ``1/tau`` (laplace) or ``max(1, |grad of the likelihood at 0|)`` (gaussian).
    method : str
        The method that produced the result.
    n_train : int
        Number of training rows.
    fit_intercept : bool
        Whether the intercept was estimated (``False``: it was frozen).
    feature_names : tuple of str
        Names of the columns of ``X``.
    """

    coef: torch.Tensor
    intercept: float
    prior: str
    sigma: float
    tau: float
    lam: float
    objective: float
    n_iter: int
    converged: bool
    optimality: float
    method: str
    n_train: int
    fit_intercept: bool
    feature_names: tuple[str, ...] = field(default=())

    @property
    def weight_decay(self) -> float:
        """``torch.optim.SGD`` ``weight_decay`` on ``MSELoss`` (mean) equal to this gaussian prior.

        Raises ``ValueError`` for the laplace prior, which no weight decay represents.
        """
        if self.prior != "gaussian":
            raise ValueError("`weight_decay` exists for the gaussian prior only; this fit is laplace.")
        return sgd_weight_decay(self.sigma, self.tau, self.n_train, "mse_mean")

    def predict(self, X: Any) -> torch.Tensor:
        """Predicted means ``X w + b`` (computed under ``torch.no_grad``).

        Parameters
        ----------
        X : array_like, shape (m, d)
            New rows with the training columns.

        Returns
        -------
        torch.Tensor, shape (m,)
        """
        Xt, _ = as_design(X, min_rows=1)
        if Xt.shape[1] != self.coef.numel():
            raise ValueError(
                f"`X` must have {self.coef.numel()} columns like the training data; "
                f"got {Xt.shape[1]}."
            )
        with torch.no_grad():
            return Xt @ self.coef + self.intercept

    def __repr__(self) -> str:
        return (
            f"MAPResult(prior={self.prior!r}, method={self.method!r}, d={self.coef.numel()}, "
            f"intercept={self.intercept:.6g}, sigma={self.sigma:.6g}, tau={self.tau:.6g}, "
            f"lam={self.lam:.6g}, objective={self.objective:.6g}, n_iter={self.n_iter}, "
            f"converged={self.converged})"
        )


def map_objective(
    X: Any, y: Any, coef: Any, intercept: float = 0.0, *, prior: str = "gaussian",
    sigma: float, tau: float,
) -> float:
    """``U(w, b) = ||y - Xw - b||^2 / (2 sigma^2) + R(w)``, the MAP objective without constants.

    ``R(w) = ||w||_2^2 / (2 tau^2)`` (gaussian) or ``||w||_1 / tau`` (laplace). It differs from
    the model's negative log density by a constant that depends on ``n``, ``d``, ``sigma``
    and ``tau`` only.

    Returns
    -------
    float
    """
    Xt, _ = as_design(X, min_rows=1)
    yt = as_target(y, Xt.shape[0])
    w = as_target(coef, Xt.shape[1], name="coef")
    prior = check_choice(prior, "prior", PRIORS)
    sigma = check_positive(sigma, "sigma")
    tau = check_positive(tau, "tau")
    return _objective(Xt, yt, w, float(intercept), prior, sigma, tau)


def _objective(X, y, w, b, prior, sigma, tau) -> float:  # noqa: ANN001
    return _objective_from_residual(y - X @ w - b, w, prior, sigma, tau)


def _objective_from_residual(r, w, prior, sigma, tau) -> float:  # noqa: ANN001
    penalty = (w @ w) / (2 * tau**2) if prior == "gaussian" else w.abs().sum() / tau
    return float((r @ r) / (2 * sigma**2) + penalty)


@dataclass
class _Problem:
    """Data and fixed settings of one fit, with (coef, intercept) packed into one vector theta.

    With sigma fixed the likelihood is gaussian with a mean linear in theta: its negative log
    density is ``||y - X w - b||^2 / (2 sigma^2)`` plus a constant, a quadratic whose gradient
    ``-A^T r / sigma^2`` (``r`` the residual, ``A = [X 1]``, or ``X`` with a frozen intercept) and
    Hessian ``A^T A / sigma^2`` are computed in that closed form, without forming ``A``. The
    prior's gradient and Hessian come from the model by autograd. ``tests/test_map.py`` checks
    both sums against autograd of the full model, so the model stays the one definition of ``U``.
    """

    X: torch.Tensor
    y: torch.Tensor
    prior: str
    sigma: float
    tau: float
    fit_intercept: bool
    intercept: float
    _gram: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, init=False, repr=False)

    @property
    def d(self) -> int:
        return self.X.shape[1]

    @property
    def model_kwargs(self) -> dict[str, Any]:
        return {
            "prior": self.prior, "sigma": self.sigma, "tau": self.tau,
            "fit_intercept": self.fit_intercept, "intercept": self.intercept,
        }

    def unpack(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        values = {"coef": theta[: self.d]}
        if self.fit_intercept:
            values["intercept"] = theta[self.d]
        return values

    def neg_log_density(self, theta: torch.Tensor, part: str = "joint") -> torch.Tensor:
        return -log_density(self.unpack(theta), self.X, self.y, part=part, **self.model_kwargs)

    def neg_log_prior(self, theta: torch.Tensor) -> torch.Tensor:
        """``-log p(w, b)`` from the model, traced on one row (the prior does not see the data)."""
        return -log_density(
            self.unpack(theta), self.X[:1], self.y[:1], part="prior", **self.model_kwargs
        )

    def block_rows(self) -> int:
        """Rows of ``X`` per block in :meth:`gradient` (the blocks of ``sufficient_statistics``)."""
        n, d = self.X.shape
        return n if self.X.is_cuda else max(1, BLOCK_BYTES // (self.X.element_size() * d))

    def gram(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``A^T A`` and ``A^T y0`` (``y0 = y - b`` for a frozen intercept ``b``), computed once.

        From :func:`bayeswd.stats.sufficient_statistics`: one pass over ``X`` in blocks of rows,
        ``[X 1]`` never materialised. Its ``A^T y_c`` is for ``y_c = y - mean(y)``; adding back
        ``mean(y) A^T 1`` (the last column of ``A^T A``) gives ``A^T y``.
        """
        if self._gram is None:
            y0 = self.y if self.fit_intercept else self.y - self.intercept
            stats = sufficient_statistics(self.X, y0, self.fit_intercept)
            aty = stats.aty + stats.shift * stats.gram[:, -1] if self.fit_intercept else stats.aty
            self._gram = (stats.gram, aty)
        return self._gram

    def gradient(self, theta: torch.Tensor, part: str = "joint") -> tuple[torch.Tensor, torch.Tensor]:
        """Gradient of ``-log density`` (``part`` "joint" or "likelihood") and the residual.

        The likelihood's part is ``-A^T r / sigma^2`` from the residual ``r = y - X w - b``
        itself (accurate near the optimum, where ``r`` is small, unlike ``g0 + H theta``). ``X`` is
        read in blocks of rows that stay in cache between ``r_B = y_B - B w - b`` and
        ``B^T r_B``: one pass over memory instead of two (about twice as fast on a large ``X``).
        For "joint" the prior's gradient is added by autograd of the model.
        """
        X, y, d, theta, rows = self.X, self.y, self.d, theta.detach(), self.block_rows()
        w, b = theta[:d], theta[d] if self.fit_intercept else self.intercept
        r, gw = torch.empty_like(y), X.new_zeros(d)
        for i in range(0, X.shape[0], rows):
            B, rb = X[i : i + rows], r[i : i + rows]
            torch.sub(y[i : i + rows], B @ w, out=rb).sub_(b)
            gw.addmv_(B.T, rb)
        g = gw.neg_() / self.sigma**2
        if self.fit_intercept:
            g = torch.cat([g, (-r.sum() / self.sigma**2).unsqueeze(0)])
        if part == "joint":
            g = g + _grad(self.neg_log_prior, theta)
        return g, r

    def hessian(self, part: str = "joint") -> torch.Tensor:
        """Hessian of ``-log density`` in theta (constant: sigma is fixed, the mean is linear).

        The likelihood's Hessian is ``A^T A / sigma^2`` with ``A = [X 1]``, the Gauss-Newton form
        that is exact for a gaussian likelihood with a linear mean; it costs one ``O(n d^2)``
        product instead of ``d`` backward passes over the data. The prior's Hessian comes from the
        model by autograd (zero for the laplace prior away from w = 0, which the proximal step
        handles). ``tests/test_map.py`` checks the sum against autograd of the full model.
        """
        H = self.gram()[0] / self.sigma**2
        if part == "joint" and self.prior == "gaussian":
            H = H + _hessian(self.neg_log_prior, self.zeros())
        return H

    def zeros(self) -> torch.Tensor:
        return self.X.new_zeros(self.d + int(self.fit_intercept))

    def coef_intercept(self, theta: torch.Tensor) -> tuple[torch.Tensor, float]:
        b = float(theta[self.d]) if self.fit_intercept else self.intercept
        return theta[: self.d].detach().cpu().clone(), b


def _grad(fn: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor) -> torch.Tensor:
    theta = theta.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(theta), theta)
    return g.detach()


def _hessian(fn: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor) -> torch.Tensor:
    return torch.autograd.functional.hessian(fn, theta.detach(), vectorize=True).detach()


def _newton(
    prob: _Problem, max_iter: int, tol: float
) -> tuple[torch.Tensor, int, bool, float, torch.Tensor]:
    """Newton's method on U with its constant Hessian; also returns the final residual.

    U is quadratic, so the first step is exact up to rounding; later steps (if any) are iterative
    refinement with the gradient recomputed from the residual. Stops when ``max |grad U|`` is below
    ``tol`` times its value at zero. The gradient at zero, ``-A^T y / sigma^2``, comes with the
    Gram matrix, so a one-step fit reads ``X`` twice: the Gram statistics and one gradient.
    """
    theta = prob.zeros()
    chol = torch.linalg.cholesky(prob.hessian())
    g = -prob.gram()[1] / prob.sigma**2 + _grad(prob.neg_log_prior, theta)
    scale = max(1.0, float(g.abs().max()))  # at w = 0 the gaussian prior's gradient is zero
    for it in range(1, max_iter + 1):
        theta = theta - torch.cholesky_solve(g.unsqueeze(-1), chol).squeeze(-1)
        g, r = prob.gradient(theta)
        optimality = float(g.abs().max()) / scale
        if optimality <= tol:
            return theta, it, True, optimality, r
    return theta, max_iter, False, optimality, r


def _lbfgs(prob: _Problem, max_iter: int, tol: float) -> tuple[torch.Tensor, int, bool]:
    """L-BFGS (strong Wolfe line search) on ``U * 2 sigma^2 / n`` (the mean-squared-error scale).

    Converged when ``max |grad|`` has fallen by the factor ``tol`` from its value at zero.
    """
    theta = prob.zeros().requires_grad_(True)
    scale = 2 * prob.sigma**2 / prob.X.shape[0]

    def grad_max() -> float:
        return float(_grad(prob.neg_log_density, theta).abs().max()) * scale

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


def _soft_threshold(v: torch.Tensor, t: float) -> torch.Tensor:
    return torch.sign(v) * torch.clamp(v.abs() - t, min=0.0)


def _kkt_violation(prob: _Problem, grad_smooth: torch.Tensor, theta: torch.Tensor) -> float:
    """Largest violation of ``0 in grad_smooth + (1/tau) d||w||_1`` (and ``grad_b = 0``), times tau."""
    d, inv_tau = prob.d, 1.0 / prob.tau
    w, gw = theta[:d], grad_smooth[:d]
    nz = w != 0
    viol = torch.where(nz, (gw + inv_tau * torch.sign(w)).abs(), (gw.abs() - inv_tau).clamp(min=0.0))
    worst = float(viol.max()) if d else 0.0
    if prob.fit_intercept:
        worst = max(worst, float(grad_smooth[d].abs()))
    return worst * prob.tau


def _proximal(
    prob: _Problem, max_iter: int, tol: float
) -> tuple[torch.Tensor, int, bool, float, torch.Tensor]:
    """FISTA with adaptive restart and soft-thresholding, then an exact solve on the support.

    The smooth part ``s(theta) = -log p(y | w, b)`` is quadratic (sigma fixed), so its gradient is
    ``g0 + H theta`` with ``g0 = -A^T y / sigma^2`` and ``H = A^T A / sigma^2`` from one pass of
    Gram statistics: every iteration costs ``O(d^2)``, not ``O(n d)``. Whenever the support and
    signs of ``w`` have been stable for 5 iterations (and at least every 50 iterations) they are
    frozen and the optimality system on them is solved exactly; if the result keeps the signs and
    satisfies the subgradient conditions off the support, it is the lasso optimum to machine
    precision (the active-set "polish"). A pattern that failed is not tried again: its solve would
    be the same. The reported optimality (and the returned residual) is recomputed from the
    residual at the result.
    """
    theta = prob.zeros()
    H = prob.hessian(part="likelihood")
    g0 = -prob.gram()[1] / prob.sigma**2
    step = 1.0 / float(torch.linalg.eigvalsh(H).max())
    d, thr = prob.d, step / prob.tau
    penalised = torch.zeros_like(theta, dtype=torch.bool)
    penalised[:d] = True

    def prox(v: torch.Tensor) -> torch.Tensor:
        return torch.where(penalised, _soft_threshold(v, thr), v)

    def full_obj(th: torch.Tensor) -> float:
        return float(g0 @ th + 0.5 * th @ (H @ th) + th[:d].abs().sum() / prob.tau)

    def polish(th: torch.Tensor) -> torch.Tensor | None:
        keep = th != 0
        keep[d:] = True
        idx = keep.nonzero().squeeze(-1)
        sign = torch.sign(th[idx]) * penalised[idx]
        try:
            chol = torch.linalg.cholesky(H[idx][:, idx])
        except RuntimeError:  # singular on this support
            return None
        rhs = -(g0[idx] + sign / prob.tau)
        sol = torch.cholesky_solve(rhs.unsqueeze(-1), chol).squeeze(-1)
        if bool((torch.sign(sol) != sign)[penalised[idx]].any()):
            return None
        cand = torch.zeros_like(th)
        cand[idx] = sol
        return cand if _kkt_violation(prob, g0 + H @ cand, cand) <= tol else None

    def finish(th: torch.Tensor, n_iter: int, converged: bool) -> tuple[Any, ...]:
        g, r = prob.gradient(th, part="likelihood")
        return th, n_iter, converged, _kkt_violation(prob, g, th), r

    x = z = theta
    t_k, f_prev = 1.0, full_obj(theta)
    pattern, tried, stable = torch.sign(x[:d]), None, 0
    for it in range(1, max_iter + 1):
        x_new = prox(z - step * (g0 + H @ z))
        f_new = full_obj(x_new)
        if f_new > f_prev:  # adaptive restart (O'Donoghue & Candes, 2015)
            t_k, z = 1.0, x
            x_new = prox(x - step * (g0 + H @ x))
            f_new = full_obj(x_new)
        t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t_k**2))
        z = x_new + ((t_k - 1.0) / t_next) * (x_new - x)
        x, t_k, f_prev = x_new, t_next, f_new
        new_pattern = torch.sign(x[:d])
        stable = stable + 1 if torch.equal(new_pattern, pattern) else 0
        pattern = new_pattern
        if (stable == 5 or it % 50 == 0) and (tried is None or not torch.equal(pattern, tried)):
            tried, cand = pattern, polish(x)
            if cand is not None:
                return finish(cand, it, True)
    cand = polish(x)
    if cand is not None:
        return finish(cand, max_iter, True)
    return finish(x, max_iter, _kkt_violation(prob, g0 + H @ x, x) <= tol)


def _lipschitz_mse(prob: _Problem, wd: float) -> float:
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


def _training_loop(
    prob: _Problem, method: str, *, lr: float | None, max_iter: int, tol: float,
    batch_size: int | None, seed: int,
) -> tuple[torch.Tensor, int, bool]:
    """The classic loop: ``nn.Linear``, ``MSELoss`` (mean), an optimiser with parameter groups.

    Weight decay (``sgd``/``adam``/``adamw``) is put on the weight only; the bias has
    ``weight_decay=0`` (flat prior) or is frozen with ``requires_grad=False``. ``subgradient``
    adds ``lam_l1 * sign(w)`` to the weight's gradient and uses plain SGD. Parameters start at 0.
    """
    n, d = prob.X.shape
    # skip_init: no Kaiming initialisation, so the caller's global RNG is not consumed
    net = torch.nn.utils.skip_init(nn.Linear, d, 1, dtype=prob.X.dtype, device=prob.X.device)
    with torch.no_grad():
        net.weight.zero_()
        net.bias.fill_(0.0 if prob.fit_intercept else prob.intercept)
    net.bias.requires_grad_(prob.fit_intercept)  # frozen: removed from the optimisation
    if method == "subgradient":
        wd, l1 = 0.0, l1_subgradient_lambda(prob.sigma, prob.tau, n)
    else:
        wd, l1 = sgd_weight_decay(prob.sigma, prob.tau, n, "mse_mean"), 0.0
    groups: list[dict[str, Any]] = [{"params": [net.weight], "weight_decay": wd}]
    if prob.fit_intercept:
        groups.append({"params": [net.bias], "weight_decay": 0.0})
    if lr is None:
        lr = 1e-3 if method in ("adam", "adamw") else 1.0 / _lipschitz_mse(prob, wd)
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
        loss = loss_fn(net(Xb).squeeze(-1), yb)
        loss.backward()
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


_DEFAULT_MAX_ITER = {"newton": 50, "lbfgs": 10_000, "proximal": 100_000, "sgd": 200_000,
                     "adam": 200_000, "adamw": 200_000, "subgradient": 200_000}
_DEFAULT_TOL = {"newton": 1e-10, "lbfgs": 1e-8, "proximal": 1e-10, "sgd": 1e-13,
                "adam": 0.0, "adamw": 0.0, "subgradient": 0.0}


def _optimality(prob: _Problem, theta: torch.Tensor) -> tuple[float, torch.Tensor]:
    """:attr:`MAPResult.optimality` at ``theta``, and the residual there."""
    if prob.prior == "laplace":
        g, r = prob.gradient(theta, part="likelihood")
        return _kkt_violation(prob, g, theta), r
    g, r = prob.gradient(theta)
    g_at_zero = prob.gradient(prob.zeros(), part="likelihood")[0]
    return float(g.abs().max()) / max(1.0, float(g_at_zero.abs().max())), r


def map_fit(
    X: Any,
    y: Any,
    *,
    prior: str = "gaussian",
    sigma: float,
    tau: float | None = None,
    lam: float | None = None,
    fit_intercept: bool = True,
    intercept: float | None = None,
    method: str = "auto",
    lr: float | None = None,
    max_iter: int | None = None,
    tol: float | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> MAPResult:
    r"""Maximum a posteriori linear regression under a gaussian (L2) or laplace (L1) prior.

    Minimises the negative log posterior of :func:`bayeswd.model.linear_regression_model`

    .. math::

        U(w, b) = \frac{\lVert y - Xw - b\rVert^2}{2\sigma^2} + R(w),\quad
        R = \frac{\lVert w\rVert_2^2}{2\tau^2}\ \text{(gaussian)},\quad
        R = \frac{\lVert w\rVert_1}{\tau}\ \text{(laplace)},

    with a flat (unpenalised) intercept. Equivalently ``||r||^2 + lam ||w||_2^2`` with
    ``lam = sigma^2/tau^2`` (scikit-learn ``Ridge(alpha=lam)``) or ``||r||^2 + lam1 ||w||_1`` with
    ``lam1 = 2 sigma^2/tau`` (scikit-learn ``Lasso(alpha=lam1 / (2 n))``).

    Parameters
    ----------
    X : array_like, shape (n, d)
        numpy array, torch tensor or pandas DataFrame (column names become feature names).
    y : array_like, shape (n,)
    prior : {"gaussian", "laplace"}, default "gaussian"
    sigma : float
        Noise standard deviation (known).
    tau : float, optional
        Prior scale: sd of the gaussian prior, scale of the laplace prior (its sd is
        ``sqrt(2) tau``). Give exactly one of ``tau`` and ``lam``.
    lam : float, optional
        Penalty of the sum-of-squares form instead of ``tau``: ``tau = sigma / sqrt(lam)``
        (gaussian) or ``tau = 2 sigma^2 / lam`` (laplace).
    fit_intercept : bool, default True
        Estimate the intercept (unpenalised). ``False`` freezes it at ``intercept`` (default 0):
        it is left out of the optimisation (``requires_grad=False`` in the training loops).
    intercept : float, optional
        Frozen intercept value; only with ``fit_intercept=False``.
    method : str, default "auto"
        Gaussian prior: ``"newton"`` (default; exact Hessian from the Gram matrix), ``"lbfgs"``,
        or a training loop: ``"sgd"`` (``torch.optim.SGD`` with ``weight_decay`` computed from
        ``(sigma, tau, n)`` on ``MSELoss`` mean, weight only), ``"adam"``, ``"adamw"`` (the same
        decay in Adam / AdamW: *not* the MAP in general). Laplace prior: ``"proximal"`` (default;
        FISTA with soft-thresholding, exact zeros) or ``"subgradient"``
        (``w <- w - lr (grad mean(r^2) + lam_l1 sign(w))``, ``lam_l1 = 2 sigma^2 / (n tau)``:
        close in objective, never exactly sparse).
    lr : float, optional
        Learning rate of the training loops. Default ``1/L`` for SGD and subgradient (``L`` the
        Lipschitz constant of the full-batch gradient), ``1e-3`` for Adam and AdamW.
    max_iter : int, optional
        Iteration or optimiser-step budget (defaults depend on the method).
    tol : float, optional
        Stopping tolerance: ``max |grad U|`` divided by ``max(1, max |grad U at 0|)`` (newton), the
        gradient relative to its value at zero (lbfgs), relative step size (sgd), KKT violation
        times ``tau`` (proximal).
    batch_size : int, optional
        Minibatch size for the training loops (default: full batch). Each step draws a fresh
        uniformly random subset of ``batch_size`` rows (the sampling of the standard SGD theory).
        With minibatches and a fixed learning rate SGD wanders around the MAP and never reports
        convergence.
    seed : int, default 0
        Seed of the minibatch draws (the only randomness; parameters start at zero and the
        caller's global random state is not used).
    device : {"cpu", "cuda", "auto"} or torch.device, default "cpu"
        Where the computation runs; the result is returned on the CPU.

    Returns
    -------
    MAPResult

    Raises
    ------
    ValueError, TypeError
        For invalid data or settings; the message names the argument.

    Warns
    -----
    ConvergenceWarning
        When a method with a stopping rule (newton, lbfgs, proximal, full-batch sgd) exhausts
        ``max_iter``.

    Notes
    -----
    The MAP equals weight-decay training only at the optimum of full-batch (or converged)
    gradient descent; minibatch SGD with a fixed learning rate only wanders around it. Adam's
    and AdamW's weight decay do not give the gaussian-prior MAP.

    Examples
    --------
    >>> from bayeswd import map_fit, seed_problem
    >>> p = seed_problem()
    >>> fit = map_fit(p.train.X, p.train.y, sigma=p.sigma, tau=p.tau)
    >>> round(fit.weight_decay, 6)
    3.0
    """
    prior = check_choice(prior, "prior", PRIORS)
    method = check_choice(method, "method", _ALL_METHODS)
    if method == "auto":
        method = MAP_METHODS[prior][0]
    elif method not in MAP_METHODS[prior]:
        valid = ", ".join(repr(m) for m in MAP_METHODS[prior])
        raise ValueError(f"`method` must be one of {valid} for prior={prior!r}; got {method!r}.")
    sigma = check_positive(sigma, "sigma")
    if tau is not None and lam is not None:
        raise ValueError(f"give `tau` or `lam`, not both; got tau={tau!r} and lam={lam!r}.")
    if tau is None and lam is None:
        raise ValueError("one of `tau` (prior scale) or `lam` (penalty) is required; got neither.")
    if tau is None:
        from bayeswd.conventions import tau_from_lam

        tau = tau_from_lam(sigma, check_positive(lam, "lam"), prior)
    tau = check_positive(tau, "tau")
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    seed = check_seed(seed)
    if intercept is not None:
        if fit_intercept:
            raise ValueError(
                "`intercept` freezes the intercept and needs fit_intercept=False; "
                f"got intercept={intercept!r} with fit_intercept=True."
            )
        if not isinstance(intercept, (int, float)) or not math.isfinite(intercept):
            raise ValueError(f"`intercept` must be a finite number; got {intercept!r}.")
    lr = check_positive(lr, "lr", allow_none=True)
    max_iter = _DEFAULT_MAX_ITER[method] if max_iter is None else check_positive_int(max_iter, "max_iter")
    tol = _DEFAULT_TOL[method] if tol is None else float(check_positive(tol, "tol"))
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
        if method not in _LOOP_METHODS:
            raise ValueError(
                f"`batch_size` applies to the training loops {_LOOP_METHODS}; got method={method!r}."
            )
    dev = resolve_device(device)
    Xt, names = as_design(X, device=dev)
    yt = as_target(y, Xt.shape[0], device=dev)

    prob = _Problem(Xt, yt, prior, sigma, tau, fit_intercept, float(intercept or 0.0))
    if method == "newton":
        theta, n_iter, converged, optimality, resid = _newton(prob, max_iter, tol)
    elif method == "proximal":
        theta, n_iter, converged, optimality, resid = _proximal(prob, max_iter, tol)
    else:
        if method == "lbfgs":
            theta, n_iter, converged = _lbfgs(prob, max_iter, tol)
        else:
            theta, n_iter, converged = _training_loop(
                prob, method, lr=lr, max_iter=max_iter, tol=tol, batch_size=batch_size, seed=seed
            )
        optimality, resid = _optimality(prob, theta)
    if not converged and method in ("newton", "lbfgs", "proximal") or (
        method == "sgd" and not converged and (batch_size is None or batch_size >= Xt.shape[0])
    ):
        warnings.warn(
            f"map_fit(method={method!r}) stopped after {n_iter} iterations without meeting its "
            f"tolerance {tol:g}; increase `max_iter` or check the scaling of X.",
            ConvergenceWarning,
            stacklevel=2,
        )
    coef, b = prob.coef_intercept(theta)
    return MAPResult(
        coef=coef,
        intercept=b,
        prior=prior,
        sigma=sigma,
        tau=tau,
        lam=lam_from_tau(sigma, tau, prior),
        objective=_objective_from_residual(resid, theta[: prob.d], prior, sigma, tau),
        n_iter=n_iter,
        converged=converged,
        optimality=optimality,
        method=method,
        n_train=Xt.shape[0],
        fit_intercept=fit_intercept,
        feature_names=tuple(names),
    )

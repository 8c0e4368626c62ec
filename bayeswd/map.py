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
from dataclasses import dataclass, field
from typing import Any

import torch

from bayeswd._validation import (
    as_design,
    as_target,
    check_bool,
    check_choice,
    check_positive,
    check_positive_int,
    check_seed,
    is_dask_input,
    resolve_device,
)
from bayeswd.conventions import PRIORS, lam_from_tau, sgd_weight_decay, tau_from_lam
from bayeswd.exceptions import ConvergenceWarning
from bayeswd.solvers import lasso
from bayeswd.solvers.lbfgs import lbfgs
from bayeswd.solvers.loops import LOOP_METHODS, training_loop
from bayeswd.solvers.newton import newton
from bayeswd.solvers.problem import Problem

__all__ = ["MAP_METHODS", "MAPResult", "map_fit", "map_objective"]

#: Methods of :func:`map_fit` for each prior; ``"auto"`` picks the first.
MAP_METHODS: dict[str, tuple[str, ...]] = {
    "gaussian": ("newton", "lbfgs", "sgd", "adam", "adamw"),
    "laplace": ("proximal", "subgradient"),
}
_ALL_METHODS = ("auto", *MAP_METHODS["gaussian"], *MAP_METHODS["laplace"])


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
        Newton steps, L-BFGS iterations, proximal-gradient (FISTA) iterations (0 when the exact
        active-set step from ``w = 0`` alone solves the lasso), or optimiser steps of a training
        loop.
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


_DEFAULT_MAX_ITER = {"newton": 50, "lbfgs": 10_000, "proximal": lasso.DEFAULT_MAX_ITER, "sgd": 200_000,
                     "adam": 200_000, "adamw": 200_000, "subgradient": 200_000}
_DEFAULT_TOL = {"newton": 1e-10, "lbfgs": 1e-8, "proximal": lasso.DEFAULT_TOL, "sgd": 1e-13,
                "adam": 0.0, "adamw": 0.0, "subgradient": 0.0}


def _optimality(prob: Problem, theta: torch.Tensor) -> tuple[float, torch.Tensor]:
    """:attr:`MAPResult.optimality` at ``theta``, and the residual there.

    Laplace: the lasso KKT violation of the weights (:func:`bayeswd.solvers.lasso.kkt_violation`
    on the gradient of ``U``, with the penalty slope ``1/tau``: the violation times ``tau``) and
    ``tau |grad_b U|``. Gaussian: ``max |grad U|`` over ``max(1, max |grad U at 0|)``.
    """
    if prob.prior == "laplace":
        g, r = prob.gradient(theta, part="likelihood")
        d, g_np, w = prob.d, g.cpu().numpy(), theta[: prob.d].cpu().numpy()
        worst = lasso.kkt_violation(g_np[:d], w, 1.0 / prob.tau)
        if prob.fit_intercept:
            worst = max(worst, abs(float(g_np[d])) * prob.tau)
        return worst, r
    g, r = prob.gradient(theta)
    g_at_zero = prob.gradient(prob.zeros(), part="likelihood")[0]
    return float(g.abs().max()) / max(1.0, float(g_at_zero.abs().max())), r


def _check_penalty(prior: str, sigma: Any, tau: Any, lam: Any) -> tuple[float, float, float]:
    """``(sigma, tau, lam)`` from ``sigma`` and exactly one of ``tau`` and ``lam``.

    A given ``lam`` is kept as given (the lasso is solved at exactly that penalty, as in
    ``lam_sweep``); otherwise it is computed from ``tau``.
    """
    sigma = check_positive(sigma, "sigma")
    if tau is not None and lam is not None:
        raise ValueError(f"give `tau` or `lam`, not both; got tau={tau!r} and lam={lam!r}.")
    if tau is None and lam is None:
        raise ValueError("one of `tau` (prior scale) or `lam` (penalty) is required; got neither.")
    if tau is None:
        lam = check_positive(lam, "lam")
        tau = tau_from_lam(sigma, lam, prior)
    tau = check_positive(tau, "tau")
    return sigma, tau, lam_from_tau(sigma, tau, prior) if lam is None else lam


def _check_method(prior: str, method: Any) -> str:
    method = check_choice(method, "method", _ALL_METHODS)
    if method == "auto":
        return MAP_METHODS[prior][0]
    if method not in MAP_METHODS[prior]:
        valid = ", ".join(repr(m) for m in MAP_METHODS[prior])
        raise ValueError(f"`method` must be one of {valid} for prior={prior!r}; got {method!r}.")
    return method


def _check_intercept(fit_intercept: Any, intercept: Any) -> tuple[bool, float]:
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    if intercept is not None:
        if fit_intercept:
            raise ValueError(
                "`intercept` freezes the intercept and needs fit_intercept=False; "
                f"got intercept={intercept!r} with fit_intercept=True."
            )
        if not isinstance(intercept, (int, float)) or not math.isfinite(intercept):
            raise ValueError(f"`intercept` must be a finite number; got {intercept!r}.")
    return fit_intercept, float(intercept or 0.0)


def _solve(
    prob: Problem, method: str, lam: float, *, lr: float | None, max_iter: int, tol: float,
    batch_size: int | None, seed: int,
) -> tuple[torch.Tensor, int, bool, float, torch.Tensor]:
    """Dispatch to the solver: theta, iterations, converged, optimality and the final residual."""
    if method == "newton":
        return newton(prob, max_iter, tol)
    if method == "proximal":
        theta, n_iter, converged = lasso.proximal(prob, lam, max_iter, tol)
    elif method == "lbfgs":
        theta, n_iter, converged = lbfgs(prob, max_iter, tol)
    else:
        theta, n_iter, converged = training_loop(
            prob, method, lr=lr, max_iter=max_iter, tol=tol, batch_size=batch_size, seed=seed
        )
    return (theta, n_iter, converged, *_optimality(prob, theta))


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
        numpy array, torch tensor or pandas DataFrame (column names become feature names); or a
        ``dask.array`` / ``dask.dataframe`` (with ``y`` of the same partitions), reduced to its
        sufficient statistics in one Dask pass (methods ``"newton"`` and ``"proximal"``; docs/dask.md).
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
    method = _check_method(prior, method)
    sigma, tau, lam = _check_penalty(prior, sigma, tau, lam)
    fit_intercept, b0 = _check_intercept(fit_intercept, intercept)
    seed = check_seed(seed)
    lr = check_positive(lr, "lr", allow_none=True)
    max_iter = _DEFAULT_MAX_ITER[method] if max_iter is None else check_positive_int(max_iter, "max_iter")
    tol = _DEFAULT_TOL[method] if tol is None else float(check_positive(tol, "tol"))
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
        if method not in LOOP_METHODS:
            raise ValueError(
                f"`batch_size` applies to the training loops {LOOP_METHODS}; got method={method!r}."
            )
    dev = resolve_device(device)
    if is_dask_input(X, y):  # one Dask pass; the solvers run on its statistics (bayeswd._dask)
        from bayeswd._dask import map_problem

        prob, names = map_problem(X, y, prior=prior, sigma=sigma, tau=tau, fit_intercept=fit_intercept,
                                  intercept=b0, method=method, device=dev)
        Xt = prob.X
    else:
        Xt, names = as_design(X, device=dev)
        yt = as_target(y, Xt.shape[0], device=dev)
        prob = Problem(Xt, yt, prior, sigma, tau, fit_intercept, b0)
    theta, n_iter, converged, optimality, resid = _solve(
        prob, method, lam, lr=lr, max_iter=max_iter, tol=tol, batch_size=batch_size, seed=seed
    )
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
        lam=lam,
        objective=_objective_from_residual(resid, theta[: prob.d], prior, sigma, tau),
        n_iter=n_iter,
        converged=converged,
        optimality=optimality,
        method=method,
        n_train=Xt.shape[0],
        fit_intercept=fit_intercept,
        feature_names=tuple(names),
    )

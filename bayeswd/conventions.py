r"""One prior, every convention: the factors of 2 and n that link a prior to a regulariser.

The model is ``y_i ~ Normal(x_i . w + b, sigma^2)`` with, on the weights only,

- a **gaussian** prior ``w_j ~ Normal(0, tau^2)``, or
- a **laplace** prior ``w_j ~ Laplace(0, tau)`` (density ``exp(-|w|/tau) / (2 tau)``, variance ``2 tau^2``).

The negative log posterior (sigma and tau fixed, constants dropped) is

.. math::

    U(w, b) = \frac{\lVert y - Xw - b\rVert^2}{2\sigma^2} + R(w),\qquad
    R_\text{gauss} = \frac{\lVert w\rVert_2^2}{2\tau^2},\quad
    R_\text{laplace} = \frac{\lVert w\rVert_1}{\tau}.

Multiplying by ``2 sigma^2`` gives the "sum of squares" form ``||r||^2 + lam ||w||_2^2`` with
``lam = sigma^2 / tau^2`` (gaussian) or ``||r||^2 + lam1 ||w||_1`` with ``lam1 = 2 sigma^2 / tau``
(laplace). Every other tool rescales that objective by ``1/n`` or ``1/2``; the functions here do the
bookkeeping, each tested against the library it names. ``n`` is always the number of training rows.
The derivation of every row: docs/mathematics.md, section 2.3.

=============================================  ============================  ==========================
tool and objective                              gaussian prior                laplace prior
=============================================  ============================  ==========================
``||r||^2 + lam ||w||^2``, sklearn ``Ridge``    ``alpha = sigma^2/tau^2``     --
sklearn ``Lasso``: ``||r||^2/(2n) + a||w||_1``  --                            ``a = sigma^2/(n tau)``
``SGD(weight_decay)`` on ``MSELoss`` (mean)     ``wd = 2 sigma^2/(n tau^2)``  --
``SGD(weight_decay)`` on ``MSELoss`` (sum)      ``wd = 2 sigma^2/tau^2``      --
``0.5 * mean(r^2)`` + ``lam_fs ||w||^2 / 2``    ``wd = sigma^2/(n tau^2)``    --
L1 subgradient on ``mean(r^2)``                 --                            ``lam = 2 sigma^2/(n tau)``
sklearn ``BayesianRidge``                       ``alpha_ = 1/sigma^2``,       --
                                                ``lambda_ = 1/tau^2``
=============================================  ============================  ==========================
"""

from __future__ import annotations

import math
from typing import Literal

from bayeswd._validation import check_choice, check_positive, check_positive_int

__all__ = [
    "LOSSES",
    "PRIORS",
    "bayesian_ridge_precisions",
    "conventions_table",
    "l1_subgradient_lambda",
    "lam_from_tau",
    "lasso_alpha",
    "ridge_alpha",
    "sgd_weight_decay",
    "tau_from_bayesian_ridge",
    "tau_from_l1_subgradient_lambda",
    "tau_from_lam",
    "tau_from_lasso_alpha",
    "tau_from_ridge_alpha",
    "tau_from_weight_decay",
]

PRIORS = ("gaussian", "laplace")
#: Loss conventions of a torch training loop: ``MSELoss(reduction="mean")``,
#: ``MSELoss(reduction="sum")`` and the from-scratch ``0.5 * mean(r^2)``.
LOSSES = ("mse_mean", "mse_sum", "half_mse_mean")
Loss = Literal["mse_mean", "mse_sum", "half_mse_mean"]
Prior = Literal["gaussian", "laplace"]


def lam_from_tau(sigma: float, tau: float, prior: Prior = "gaussian") -> float:
    """Penalty of the sum-of-squares objective equal to the prior with scale ``tau``.

    Parameters
    ----------
    sigma : float
        Noise standard deviation.
    tau : float
        Prior scale: the sd of the gaussian prior, the scale ``b`` of the laplace prior.
    prior : {"gaussian", "laplace"}
        Gaussian: ``lam = sigma^2 / tau^2`` in ``||r||^2 + lam ||w||_2^2``.
        Laplace: ``lam1 = 2 sigma^2 / tau`` in ``||r||^2 + lam1 ||w||_1``.

    Returns
    -------
    float
    """
    sigma = check_positive(sigma, "sigma")
    tau = check_positive(tau, "tau")
    if check_choice(prior, "prior", PRIORS) == "gaussian":
        return sigma**2 / tau**2
    return 2.0 * sigma**2 / tau


def tau_from_lam(sigma: float, lam: float, prior: Prior = "gaussian") -> float:
    """Inverse of :func:`lam_from_tau`: ``tau = sigma / sqrt(lam)`` or ``tau = 2 sigma^2 / lam1``."""
    sigma = check_positive(sigma, "sigma")
    lam = check_positive(lam, "lam")
    if check_choice(prior, "prior", PRIORS) == "gaussian":
        return sigma / math.sqrt(lam)
    return 2.0 * sigma**2 / lam


def ridge_alpha(sigma: float, tau: float) -> float:
    """scikit-learn ``Ridge(alpha)`` equal to the gaussian prior: ``alpha = sigma^2 / tau^2``.

    ``Ridge`` minimises ``||y - Xw - b||^2 + alpha ||w||^2`` (no ``1/n``, no ``1/2``), with an
    unpenalised intercept.
    """
    return lam_from_tau(sigma, tau, "gaussian")


def tau_from_ridge_alpha(alpha: float, sigma: float) -> float:
    """Gaussian prior sd equal to ``Ridge(alpha)``: ``tau = sigma / sqrt(alpha)``."""
    return tau_from_lam(sigma, check_positive(alpha, "alpha"), "gaussian")


def lasso_alpha(sigma: float, tau: float, n: int) -> float:
    """scikit-learn ``Lasso(alpha)`` equal to the laplace prior: ``alpha = sigma^2 / (n tau)``.

    ``Lasso`` minimises ``||y - Xw - b||^2 / (2 n) + alpha ||w||_1``; multiplying
    ``U`` by ``sigma^2 / n`` gives it.
    """
    n = check_positive_int(n, "n")
    return lam_from_tau(sigma, tau, "laplace") / (2.0 * n)


def tau_from_lasso_alpha(alpha: float, sigma: float, n: int) -> float:
    """Laplace prior scale equal to ``Lasso(alpha)`` on ``n`` rows: ``tau = sigma^2 / (n alpha)``."""
    sigma = check_positive(sigma, "sigma")
    alpha = check_positive(alpha, "alpha")
    n = check_positive_int(n, "n")
    return sigma**2 / (n * alpha)


_WD_FACTOR = {"mse_mean": 2.0, "mse_sum": 2.0, "half_mse_mean": 1.0}


def _rows(loss: str, n: int) -> int:
    # MSELoss(reduction="sum") has no 1/n, so n drops out of the conversion.
    return 1 if loss == "mse_sum" else n


def sgd_weight_decay(sigma: float, tau: float, n: int, loss: Loss = "mse_mean") -> float:
    """``torch.optim.SGD(weight_decay=wd)`` that makes training a MAP fit under the gaussian prior.

    SGD adds ``wd * w`` to the gradient of the loss; this equals the gradient of
    ``loss + wd ||w||^2 / 2``. Matching it to ``U`` times a constant:

    - ``loss="mse_mean"`` (``nn.MSELoss()``, ``mean(r^2)``): ``wd = 2 sigma^2 / (n tau^2)``;
    - ``loss="mse_sum"`` (``nn.MSELoss(reduction="sum")``): ``wd = 2 sigma^2 / tau^2``;
    - ``loss="half_mse_mean"`` (``0.5 * mean(r^2)``, the from-scratch ``squared_loss``, or a
      penalty ``lam_fs ||w||^2 / 2``): ``wd = lam_fs = sigma^2 / (n tau^2)``.

    The decay must be applied to the weights only (an SGD parameter group with
    ``weight_decay=0`` for the bias), because the intercept has a flat prior.

    Parameters
    ----------
    sigma, tau : float
        Noise sd and gaussian prior sd.
    n : int
        Number of training rows the loss averages over.
    loss : {"mse_mean", "mse_sum", "half_mse_mean"}

    Returns
    -------
    float

    Examples
    --------
    >>> round(sgd_weight_decay(0.01, 1.8257418583505537e-3, 20), 12)
    3.0
    """
    sigma = check_positive(sigma, "sigma")
    tau = check_positive(tau, "tau")
    n = check_positive_int(n, "n")
    loss = check_choice(loss, "loss", LOSSES)
    return _WD_FACTOR[loss] * sigma**2 / (_rows(loss, n) * tau**2)


def tau_from_weight_decay(
    weight_decay: float, sigma: float, n: int, loss: Loss = "mse_mean"
) -> float:
    """Gaussian prior sd that ``SGD(weight_decay)`` assumes (inverse of :func:`sgd_weight_decay`).

    ``tau = sqrt(c sigma^2 / (n wd))`` with ``c = 2`` for ``mean(r^2)``, ``c = 1`` for
    ``0.5 * mean(r^2)``, and ``n`` replaced by 1 for ``MSELoss(reduction="sum")``.

    Examples
    --------
    The classic demo (``n = 20``, noise sd 0.01, ``weight_decay=3`` on ``MSELoss``) believes each
    weight has prior sd 0.0018:

    >>> round(tau_from_weight_decay(3.0, sigma=0.01, n=20), 7)
    0.0018257
    """
    weight_decay = check_positive(weight_decay, "weight_decay")
    sigma = check_positive(sigma, "sigma")
    n = check_positive_int(n, "n")
    loss = check_choice(loss, "loss", LOSSES)
    return math.sqrt(_WD_FACTOR[loss] * sigma**2 / (_rows(loss, n) * weight_decay))


def l1_subgradient_lambda(sigma: float, tau: float, n: int) -> float:
    """L1 strength of ``w <- w - lr (grad mean(r^2) + lam sign(w))`` equal to the laplace prior.

    ``lam = 2 sigma^2 / (n tau)``: ``mean(r^2) + lam ||w||_1`` is ``2 sigma^2 U / n``.
    """
    return lam_from_tau(sigma, tau, "laplace") / check_positive_int(n, "n")


def tau_from_l1_subgradient_lambda(lam: float, sigma: float, n: int) -> float:
    """Laplace scale equal to the subgradient L1 strength ``lam``: ``tau = 2 sigma^2 / (n lam)``."""
    lam = check_positive(lam, "lam")
    n = check_positive_int(n, "n")
    return tau_from_lam(sigma, lam * n, "laplace")


def bayesian_ridge_precisions(sigma: float, tau: float) -> tuple[float, float]:
    """scikit-learn ``BayesianRidge`` precisions ``(alpha_, lambda_) = (1/sigma^2, 1/tau^2)``.

    Beware: ``BayesianRidge.alpha_`` is the *noise* precision, unrelated to ``Ridge(alpha)``;
    the equivalent ridge penalty is ``lambda_ / alpha_``.
    """
    sigma = check_positive(sigma, "sigma")
    tau = check_positive(tau, "tau")
    return 1.0 / sigma**2, 1.0 / tau**2


def tau_from_bayesian_ridge(alpha_: float, lambda_: float) -> tuple[float, float]:
    """``(sigma, tau)`` from ``BayesianRidge``'s fitted ``alpha_`` and ``lambda_``."""
    alpha_ = check_positive(alpha_, "alpha_")
    lambda_ = check_positive(lambda_, "lambda_")
    return 1.0 / math.sqrt(alpha_), 1.0 / math.sqrt(lambda_)


def conventions_table(sigma: float, tau: float, n: int, prior: Prior = "gaussian") -> dict[str, float]:
    """Every tool's setting for one prior, as a name -> value mapping (for reports and tables).

    Parameters
    ----------
    sigma, tau : float
        Noise sd and prior scale.
    n : int
        Number of training rows.
    prior : {"gaussian", "laplace"}

    Returns
    -------
    dict
        For the gaussian prior: ``tau``, ``prior_sd``, ``lam`` (sum of squares), ``ridge_alpha``,
        ``sgd_weight_decay_mse_mean``, ``sgd_weight_decay_mse_sum``,
        ``sgd_weight_decay_half_mse_mean``, ``bayesian_ridge_alpha_``,
        ``bayesian_ridge_lambda_``. For the laplace prior: ``tau``, ``prior_sd``, ``lam1``,
        ``lasso_alpha``, ``l1_subgradient_lambda``.
    """
    prior = check_choice(prior, "prior", PRIORS)
    if prior == "gaussian":
        a, lam_ = bayesian_ridge_precisions(sigma, tau)
        return {
            "tau": tau,
            "prior_sd": tau,
            "lam": lam_from_tau(sigma, tau),
            "ridge_alpha": ridge_alpha(sigma, tau),
            **{f"sgd_weight_decay_{loss}": sgd_weight_decay(sigma, tau, n, loss) for loss in LOSSES},
            "bayesian_ridge_alpha_": a,
            "bayesian_ridge_lambda_": lam_,
        }
    return {
        "tau": tau,
        "prior_sd": math.sqrt(2.0) * tau,
        "lam1": lam_from_tau(sigma, tau, "laplace"),
        "lasso_alpha": lasso_alpha(sigma, tau, n),
        "l1_subgradient_lambda": l1_subgradient_lambda(sigma, tau, n),
    }

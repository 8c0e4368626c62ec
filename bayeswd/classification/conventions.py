r"""One prior, every convention, for logistic and softmax regression.

The model (:func:`bayeswd.model.linear_regression_model` with ``family="bernoulli"`` or
``"categorical"``) puts a gaussian ``Normal(0, tau^2)`` or laplace ``Laplace(0, tau)`` prior on every
weight and a flat prior on the intercepts. Its negative log posterior, constants dropped, is

.. math::

    U(W, b) = \sum_i \mathrm{CE}_i(W, b) + R(W),\qquad
    R_\text{gauss} = \frac{\lVert W\rVert_F^2}{2\tau^2},\quad
    R_\text{laplace} = \frac{\lVert W\rVert_1}{\tau},

``CE_i = -log p(y_i | x_i, W, b)`` the cross-entropy (log loss) of row ``i``, summed, not averaged.
There is no noise scale, so ``U`` itself is the "sum" form: ``U = sum CE + lam ||W||^2 / 2``
with ``lam = 1/tau^2`` (gaussian) or ``U = sum CE + lam ||W||_1`` with ``lam = 1/tau`` (laplace);
in both cases ``lam = 1/C`` for scikit-learn's ``C``. Every other tool rescales ``U`` by ``1/n``;
``n`` is always the number of training rows.

=============================================================  =====================  ================
tool and objective                                             gaussian prior         laplace prior
=============================================================  =====================  ================
``U = sum CE + lam R0(W)`` (``map_classifier(lam=...)``)       ``lam = 1/tau^2``      ``lam = 1/tau``
sklearn ``LogisticRegression(C)``: ``C sum CE + R0(W)``        ``C = tau^2``          ``C = tau``
``SGD(weight_decay=wd)`` on ``BCEWithLogitsLoss`` /            ``wd = 1/(n tau^2)``   --
``CrossEntropyLoss`` (mean), weight-only group
the same with ``reduction="sum"``                              ``wd = 1/tau^2``       --
from scratch: ``mean CE + lam_fs R0(W)``                       ``1/(n tau^2)``        ``1/(n tau)``
from scratch: ``sum CE + lam_fs R0(W)``                        ``1/tau^2``            ``1/tau``
=============================================================  =====================  ================

``R0(W) = ||W||_F^2 / 2`` (gaussian; the ``l2_penalty`` of the from-scratch recipes, and what
``weight_decay`` differentiates) or ``||W||_1`` (laplace). A penalty written without the half,
``lam' ||W||^2``, is ``lam' = lam_fs / 2``. Derivations: docs/classification.md.
"""

from __future__ import annotations

import math
from typing import Literal

from bayeswd._validation import check_choice, check_positive, check_positive_int

__all__ = [
    "CLASSIFIER_LOSSES",
    "classifier_conventions_table",
    "classifier_lam",
    "logistic_C",
    "scratch_penalty",
    "tau_from_classifier_lam",
    "tau_from_logistic_C",
    "tau_from_scratch_penalty",
    "tau_from_torch_weight_decay",
    "torch_weight_decay",
]

PRIORS = ("gaussian", "laplace")
#: Reductions of ``BCEWithLogitsLoss`` / ``CrossEntropyLoss`` (or of a from-scratch cross-entropy).
CLASSIFIER_LOSSES = ("mean", "sum")
Prior = Literal["gaussian", "laplace"]
Reduction = Literal["mean", "sum"]


def classifier_lam(tau: float, prior: Prior = "gaussian") -> float:
    """Penalty ``lam`` of ``U = sum CE + lam R0(W)`` equal to the prior with scale ``tau``.

    Parameters
    ----------
    tau : float
        Prior scale: sd of the gaussian prior, scale ``b`` of the laplace prior.
    prior : {"gaussian", "laplace"}
        Gaussian: ``lam = 1/tau^2`` with ``R0 = ||W||^2 / 2``. Laplace: ``lam = 1/tau`` with
        ``R0 = ||W||_1``. In both cases ``lam = 1/C`` (scikit-learn).

    Returns
    -------
    float
    """
    tau = check_positive(tau, "tau")
    return 1.0 / tau**2 if check_choice(prior, "prior", PRIORS) == "gaussian" else 1.0 / tau


def tau_from_classifier_lam(lam: float, prior: Prior = "gaussian") -> float:
    """Inverse of :func:`classifier_lam`: ``tau = 1/sqrt(lam)`` (gaussian) or ``1/lam`` (laplace)."""
    lam = check_positive(lam, "lam")
    return 1.0 / math.sqrt(lam) if check_choice(prior, "prior", PRIORS) == "gaussian" else 1.0 / lam


def logistic_C(tau: float, prior: Prior = "gaussian") -> float:
    """scikit-learn ``LogisticRegression(C)`` equal to the prior: ``C = tau^2`` or ``C = tau``.

    ``LogisticRegression`` minimises ``C sum CE + ||W||^2 / 2`` (``l1_ratio=0``) or
    ``C sum CE + ||W||_1`` (``l1_ratio=1``): that is ``C U``. The intercept is not penalised by
    the solvers ``lbfgs``, ``newton-cg``, ``newton-cholesky``, ``sag`` and ``saga``; ``liblinear``
    penalises it (it is the weight of a constant column) and is then *not* this prior.

    Parameters
    ----------
    tau : float
        Prior scale.
    prior : {"gaussian", "laplace"}

    Returns
    -------
    float

    Examples
    --------
    >>> logistic_C(0.5), logistic_C(0.5, "laplace")
    (0.25, 0.5)
    """
    tau = check_positive(tau, "tau")
    return tau**2 if check_choice(prior, "prior", PRIORS) == "gaussian" else tau


def tau_from_logistic_C(C: float, prior: Prior = "gaussian") -> float:
    """Prior scale equal to ``LogisticRegression(C)``: ``tau = sqrt(C)`` (gaussian) or ``C`` (laplace)."""
    C = check_positive(C, "C")
    return math.sqrt(C) if check_choice(prior, "prior", PRIORS) == "gaussian" else C


def _rows(loss: str, n: int) -> int:
    # reduction="sum" has no 1/n, so n drops out of the conversion.
    return n if loss == "mean" else 1


def scratch_penalty(tau: float, n: int, prior: Prior = "gaussian", loss: Reduction = "mean") -> float:
    """``lam_fs`` of a from-scratch objective ``loss + lam_fs R0(W)`` equal to the prior.

    ``R0(W) = ||W||_F^2 / 2`` (gaussian; the usual ``l2_penalty(w) = (w**2).sum() / 2``) or
    ``||W||_1`` (laplace), on the weights only, the intercepts unpenalised. With ``loss`` the mean
    cross-entropy, ``loss + lam_fs R0 = U / n``:

    - gaussian: ``lam_fs = 1/(n tau^2)`` (mean) or ``1/tau^2`` (sum);
    - laplace: ``lam_fs = 1/(n tau)`` (mean) or ``1/tau`` (sum).

    A penalty written without the half, ``lam' ||W||^2``, needs ``lam' = lam_fs / 2``.

    Parameters
    ----------
    tau : float
        Prior scale.
    n : int
        Number of training rows the loss averages over.
    prior : {"gaussian", "laplace"}
    loss : {"mean", "sum"}
        Reduction of the cross-entropy.

    Returns
    -------
    float
    """
    n = check_positive_int(n, "n")
    loss = check_choice(loss, "loss", CLASSIFIER_LOSSES)
    return classifier_lam(tau, prior) / _rows(loss, n)


def tau_from_scratch_penalty(
    lam_fs: float, n: int, prior: Prior = "gaussian", loss: Reduction = "mean"
) -> float:
    """Inverse of :func:`scratch_penalty`: the prior scale a from-scratch penalty assumes."""
    lam_fs = check_positive(lam_fs, "lam_fs")
    n = check_positive_int(n, "n")
    loss = check_choice(loss, "loss", CLASSIFIER_LOSSES)
    return tau_from_classifier_lam(lam_fs * _rows(loss, n), prior)


def torch_weight_decay(tau: float, n: int, loss: Reduction = "mean") -> float:
    """``torch.optim.SGD(weight_decay=wd)`` whose optimum is the gaussian-prior MAP.

    SGD adds ``wd * W`` to the gradient of the loss: the gradient of ``loss + wd ||W||^2 / 2``.
    With ``BCEWithLogitsLoss()`` or ``CrossEntropyLoss()`` (mean) that is ``U / n`` when
    ``wd = 1/(n tau^2)``; with ``reduction="sum"`` it is ``U`` when ``wd = 1/tau^2``. The decay
    must act on the weights only (an SGD parameter group with ``weight_decay=0`` for the bias),
    because the intercepts have a flat prior. For ``CrossEntropyLoss`` on ``nn.Linear(d, K)``
    the decay is the iid gaussian prior on all ``K`` rows of the weight: the symmetric categorical
    model of :func:`bayeswd.classification.map_classifier`.

    Parameters
    ----------
    tau : float
        Gaussian prior sd.
    n : int
        Number of training rows.
    loss : {"mean", "sum"}
        Reduction of the loss.

    Returns
    -------
    float

    Examples
    --------
    >>> torch_weight_decay(1.0, 100)
    0.01
    """
    return scratch_penalty(tau, n, "gaussian", loss)


def tau_from_torch_weight_decay(weight_decay: float, n: int, loss: Reduction = "mean") -> float:
    """Gaussian prior sd assumed by ``SGD(weight_decay)``: ``tau = 1/sqrt(n wd)`` (mean loss)."""
    weight_decay = check_positive(weight_decay, "weight_decay")
    n = check_positive_int(n, "n")
    loss = check_choice(loss, "loss", CLASSIFIER_LOSSES)
    return 1.0 / math.sqrt(weight_decay * _rows(loss, n))


def classifier_conventions_table(tau: float, n: int, prior: Prior = "gaussian") -> dict[str, float]:
    """Every tool's setting for one classifier prior, as a name -> value mapping.

    Parameters
    ----------
    tau : float
        Prior scale.
    n : int
        Number of training rows.
    prior : {"gaussian", "laplace"}

    Returns
    -------
    dict
        ``tau``, ``prior_sd``, ``lam`` (of ``U``), ``logistic_C``, ``scratch_penalty_mean``,
        ``scratch_penalty_sum``; for the gaussian prior also ``torch_weight_decay_mean`` and
        ``torch_weight_decay_sum``.
    """
    prior = check_choice(prior, "prior", PRIORS)
    table = {
        "tau": check_positive(tau, "tau"),
        "prior_sd": tau if prior == "gaussian" else math.sqrt(2.0) * tau,
        "lam": classifier_lam(tau, prior),
        "logistic_C": logistic_C(tau, prior),
        **{f"scratch_penalty_{loss}": scratch_penalty(tau, n, prior, loss) for loss in CLASSIFIER_LOSSES},
    }
    if prior == "gaussian":
        table.update({f"torch_weight_decay_{loss}": torch_weight_decay(tau, n, loss)
                      for loss in CLASSIFIER_LOSSES})
    return table

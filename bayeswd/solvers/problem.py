"""One MAP problem: the data, the fixed settings, and the closed-form parts of the likelihood.

The one definition of ``U`` stays the model (:func:`bayeswd.model.log_density`): the prior's
gradient and Hessian come from it by autograd, and ``tests/test_map.py`` checks the closed-form
likelihood parts here against autograd of the full model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from bayeswd.model import log_density
from bayeswd.stats import BLOCK_BYTES, CentredStats, SufficientStats, sufficient_statistics

__all__ = ["Problem", "grad", "hessian"]


def grad(fn: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor) -> torch.Tensor:
    """Gradient of the scalar ``fn`` at ``theta`` by autograd (detached)."""
    theta = theta.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(theta), theta)
    return g.detach()


def hessian(fn: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor) -> torch.Tensor:
    """Hessian of the scalar ``fn`` at ``theta`` by autograd (detached)."""
    return torch.autograd.functional.hessian(fn, theta.detach(), vectorize=True).detach()


@dataclass
class Problem:
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
    _stats: SufficientStats | None = field(default=None, init=False, repr=False)

    @property
    def d(self) -> int:
        """Number of weights."""
        return self.X.shape[1]

    @property
    def model_kwargs(self) -> dict[str, Any]:
        """The settings of :func:`bayeswd.model.log_density`."""
        return {
            "prior": self.prior, "sigma": self.sigma, "tau": self.tau,
            "fit_intercept": self.fit_intercept, "intercept": self.intercept,
        }

    def unpack(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """The model's values ``coef`` (and ``intercept``) from ``theta``."""
        values = {"coef": theta[: self.d]}
        if self.fit_intercept:
            values["intercept"] = theta[self.d]
        return values

    def neg_log_density(self, theta: torch.Tensor, part: str = "joint") -> torch.Tensor:
        """``-log p`` of the model (``part`` "joint", "likelihood" or "prior") at ``theta``."""
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

    def statistics(self) -> SufficientStats:
        """:func:`bayeswd.stats.sufficient_statistics` of ``(X, y0)``, computed once per problem.

        ``y0 = y - b`` for a frozen intercept ``b``; one pass over ``X`` in blocks of rows.
        """
        if self._stats is None:
            y0 = self.y if self.fit_intercept else self.y - self.intercept
            self._stats = sufficient_statistics(self.X, y0, self.fit_intercept)
        return self._stats

    def centred(self) -> CentredStats:
        """The centred Gram statistics of the same pass (:meth:`SufficientStats.centred`)."""
        return self.statistics().centred()

    def gram(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``A^T A`` and ``A^T y0``, ``[X 1]`` never materialised.

        The statistics' ``A^T y_c`` is for ``y_c = y - mean(y)``; adding back ``mean(y) A^T 1``
        (the last column of ``A^T A``) gives ``A^T y``.
        """
        stats = self.statistics()
        aty = stats.aty + stats.shift * stats.gram[:, -1] if self.fit_intercept else stats.aty
        return stats.gram, aty

    def gradient(self, theta: torch.Tensor, part: str = "joint") -> tuple[torch.Tensor, torch.Tensor]:
        """Gradient of ``-log density`` (``part`` "joint" or "likelihood") and the residual.

        The likelihood's part is ``-A^T r / sigma^2`` from the residual ``r = y - X w - b``
        itself (accurate near the optimum, where ``r`` is small, unlike ``g0 + H theta``). ``X`` is
        read in blocks of rows that stay in cache between ``r_B = y_B - B w - b`` and
        ``B^T r_B``: one pass over memory instead of two. For "joint" the prior's gradient is
        added by autograd of the model.
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
            g = g + grad(self.neg_log_prior, theta)
        return g, r

    def hessian(self, part: str = "joint") -> torch.Tensor:
        """Hessian of ``-log density`` in theta (constant: sigma is fixed, the mean is linear).

        The likelihood's Hessian is ``A^T A / sigma^2`` with ``A = [X 1]``, the Gauss-Newton form
        that is exact for a gaussian likelihood with a linear mean; it costs one ``O(n d^2)``
        product instead of ``d`` backward passes over the data. The prior's Hessian comes from the
        model by autograd (zero for the laplace prior away from w = 0). ``tests/test_map.py``
        checks the sum against autograd of the full model.
        """
        H = self.gram()[0] / self.sigma**2
        if part == "joint" and self.prior == "gaussian":
            H = H + hessian(self.neg_log_prior, self.zeros())
        return H

    def zeros(self) -> torch.Tensor:
        """``theta = 0`` (the start of every solver)."""
        return self.X.new_zeros(self.d + int(self.fit_intercept))

    def pack(self, coef: torch.Tensor, intercept: float) -> torch.Tensor:
        """``theta`` from weights and an intercept (dropped when the intercept is frozen)."""
        if not self.fit_intercept:
            return coef
        return torch.cat([coef, coef.new_tensor([intercept])])

    def coef_intercept(self, theta: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Weights (a CPU copy) and intercept (the frozen value if not fitted) from ``theta``."""
        b = float(theta[self.d]) if self.fit_intercept else self.intercept
        return theta[: self.d].detach().cpu().clone(), b

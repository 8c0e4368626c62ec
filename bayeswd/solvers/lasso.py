r"""The one lasso solver, on the centred Gram statistics, and its warm-started path.

With the flat intercept profiled out by centring (:meth:`bayeswd.stats.SufficientStats.centred`),
the laplace MAP in the sum-of-squares form ``||y - Xw - b||^2 + lam ||w||_1`` is

.. math::

    \min_w\ w^\top G w - 2 c^\top w + \lambda \lVert w\rVert_1,\qquad G = X_c^\top X_c,\ c = X_c^\top y_c,

so every iteration costs ``O(d^2)`` whatever ``n``. :class:`LassoGram` solves it for one ``lam``
from a warm start (:meth:`LassoGram.solve`) and along a grid from the largest ``lam`` down
(:meth:`LassoGram.path`, as scikit-learn's ``ElasticNet`` reuses its ``path``). It is the solver of
``map_fit(prior="laplace", method="proximal")`` (:func:`proximal`), ``lam_sweep`` and ``cv_curve``:
at a ``lam`` where the active-set solve finishes all three give the same coefficients, bit for bit.

Convergence is the KKT violation ``max_j viol_j / lam`` of ``0 in 2 (G w - c) + lam d||w||_1``,
which is ``tau`` times the violation in ``U = (sum of squares) / (2 sigma^2)`` (``lam = 2 sigma^2 /
tau``): the ``tol`` of ``map_fit``'s proximal method and of ``lam_sweep``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.sparse.linalg
import torch

from bayeswd.solvers.problem import Problem
from bayeswd.stats import CentredStats, intercept_from_centred

__all__ = ["DEFAULT_MAX_ITER", "DEFAULT_TOL", "LassoFit", "LassoGram", "LassoPath", "kkt_violation",
           "proximal"]

#: Default tolerance on the scaled KKT violation, and FISTA budget per penalty.
DEFAULT_TOL = 1e-10
DEFAULT_MAX_ITER = 100_000

#: The active-set solve is tried when the support and signs have been stable this many iterations,
#: and at least every ``_POLISH_EVERY`` iterations (docs/benchmarks.md, "Measurements behind the
#: solver defaults").
_STABLE_ITERS = 5
_POLISH_EVERY = 50


class LassoFit(NamedTuple):
    """One lasso solution: weights, FISTA iterations (0: the active-set step alone), converged."""

    coef: np.ndarray
    n_iter: int
    converged: bool


class LassoPath(NamedTuple):
    """Solutions along a grid of penalties: ``coef`` (m, d), ``n_iter`` (m,), ``converged`` (m,)."""

    coef: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray


def kkt_violation(g: np.ndarray, w: np.ndarray, lam: float) -> float:
    """Largest violation of ``0 in g + lam d||w||_1``, divided by ``lam`` (``g`` the smooth gradient)."""
    viol = np.where(w != 0, np.abs(g + lam * np.sign(w)), np.maximum(np.abs(g) - lam, 0.0))
    return float(viol.max()) / lam if viol.size else 0.0


def kkt_met(g: np.ndarray, w: np.ndarray, lam: float, tol: float, G: np.ndarray, c: np.ndarray) -> bool:
    """The optimality test of the solver: each KKT violation within ``tol`` or its rounding floor.

    ``g = 2 (G w - c)`` is computed in float64, so each entry carries a rounding error of about
    ``sqrt(d) eps (|G| |w| + |c|)_i`` (``d`` terms accumulated); on a tall problem (``G`` of order
    ``n``) that floor exceeds a ``tol`` of ``1e-10 lam``. A violation below ``4`` times it is rounding.
    """
    viol = np.where(w != 0, np.abs(g + lam * np.sign(w)), np.maximum(np.abs(g) - lam, 0.0))
    if not viol.size:
        return True
    floor = 8.0 * math.sqrt(w.size) * np.finfo(float).eps * (np.abs(G) @ np.abs(w) + np.abs(c))
    return bool(np.all(viol <= np.maximum(tol * lam, floor)))


#: From this many unknowns up, the active-set solve runs in torch (see :func:`_solve`).
_TORCH_LAPACK_SIZE = 64


def _solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``A^{-1} b``, in torch from ``_TORCH_LAPACK_SIZE`` unknowns up.

    torch's thread pool also reads ``X`` in ``map_fit``; numpy's BLAS threads, left spinning after
    a large LAPACK call, slow the next pass over ``X`` on a machine with few cores
    (docs/benchmarks.md, "Measurements behind the solver defaults"). Small systems stay in numpy,
    whose per-call cost is lower.
    """
    if b.size < _TORCH_LAPACK_SIZE:
        return np.linalg.solve(A, b)
    return torch.linalg.solve(torch.from_numpy(A), torch.from_numpy(b)).numpy()


def _top_eigenvalue(G: np.ndarray) -> float:
    """Largest eigenvalue of the symmetric positive semi-definite ``G``.

    From ``_TORCH_LAPACK_SIZE`` up by Lanczos (ARPACK, matrix-vector products only, from a fixed
    start, so deterministic) rather than a full ``eigvalsh``: the dense LAPACK call is slower and
    its BLAS threads compete with the caller's (docs/benchmarks.md, "Measurements behind the
    solver defaults").
    """
    d = G.shape[0]
    if d < _TORCH_LAPACK_SIZE:
        return float(np.linalg.eigvalsh(G)[-1])
    v0 = np.random.default_rng(0).standard_normal(d)
    try:
        top = scipy.sparse.linalg.eigsh(G, k=1, which="LA", v0=v0, return_eigenvectors=False)
    except scipy.sparse.linalg.ArpackNoConvergence:
        return float(np.linalg.eigvalsh(G)[-1])
    return float(top[0])


class LassoGram:
    """``min_w w^T G w - 2 c^T w + lam ||w||_1`` from the Gram statistics ``G`` (d, d) and ``c`` (d,)."""

    def __init__(self, gram: np.ndarray, xty: np.ndarray) -> None:
        self.G, self.c = gram, xty
        self._lipschitz: float | None = None
        self._step_operator: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def from_stats(cls, stats: CentredStats) -> LassoGram:
        """From :class:`bayeswd.stats.CentredStats` (moved to the CPU as numpy arrays)."""
        return cls(stats.gram.cpu().numpy(), stats.xty.cpu().numpy())

    @property
    def lam_max(self) -> float:
        """``2 max |c|``: the smallest ``lam`` whose solution is ``w = 0``."""
        return 2.0 * float(np.abs(self.c).max()) if self.c.size else 0.0

    @property
    def lipschitz(self) -> float:
        """``2 eig_max(G)``, the Lipschitz constant of the gradient; computed once, when needed."""
        if self._lipschitz is None:
            top = 2.0 * _top_eigenvalue(self.G) if self.c.size else 0.0
            self._lipschitz = top if top > 0 else 1.0
        return self._lipschitz

    def _gradient_step_operator(self) -> tuple[np.ndarray, np.ndarray]:
        """``(2 G / L, 2 c / L)``: a gradient step of size ``1/L`` is ``z - (G' z - c')``."""
        if self._step_operator is None:
            step2 = 2.0 / self.lipschitz
            self._step_operator = (step2 * self.G, step2 * self.c)
        return self._step_operator

    def gradient(self, w: np.ndarray) -> np.ndarray:
        """``2 (G w - c)``, the gradient of the smooth part."""
        return 2.0 * (self.G @ w - self.c)

    def active_set(
        self, lam: float, idx: np.ndarray, signs: np.ndarray, tol: float
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Solve the optimality system on the support ``idx`` (sorted) with ``signs``.

        ``G_SS w_S = c_S - lam s / 2``. Returns the solution if it keeps the signs and meets the
        KKT conditions off the support (then it is the optimum to machine precision), else None;
        and the gradient there when it was computed. A support on which ``G_SS`` is singular
        (more columns than the rank) fails: exactly (an error) or by the sign and KKT checks.
        """
        cand = np.zeros(self.c.size)
        if idx.size:
            try:
                sol = _solve(self.G[idx][:, idx], self.c[idx] - 0.5 * lam * signs)
            except (np.linalg.LinAlgError, torch.linalg.LinAlgError):  # exactly singular on this support
                return None, None
            if np.any(np.sign(sol) != signs):
                return None, None
            cand[idx] = sol
            g = 2.0 * (sol @ self.G[idx] - self.c)  # G symmetric: its rows are its columns
        else:
            g = -2.0 * self.c
        return (cand if kkt_met(g, cand, lam, tol, self.G, self.c) else None), g

    def _polish(self, lam: float, w: np.ndarray, tol: float) -> np.ndarray | None:
        idx = np.flatnonzero(w)
        return self.active_set(lam, idx, np.sign(w[idx]), tol)[0]

    def _warm_step(self, lam: float, w0: np.ndarray, tol: float) -> np.ndarray | None:
        """The active-set solve on the warm start's support and signs, then on it plus the violators.

        The coordinates at 0 that violate the optimality condition enter with the sign opposite to
        their gradient.
        """
        idx = np.flatnonzero(w0)
        sol, g = self.active_set(lam, idx, np.sign(w0[idx]), tol)
        if sol is not None:
            return sol
        g = self.gradient(w0) if g is None else g
        enter = np.flatnonzero((w0 == 0) & (np.abs(g) > lam))
        if not enter.size:
            return None
        both = np.concatenate([idx, enter])
        signs = np.concatenate([np.sign(w0[idx]), -np.sign(g[enter])])
        order = np.argsort(both)
        return self.active_set(lam, both[order], signs[order], tol)[0]

    def solve(self, lam: float, w0: np.ndarray | None = None, *, tol: float = DEFAULT_TOL,
              max_iter: int = DEFAULT_MAX_ITER) -> LassoFit:
        """The solution at ``lam`` from the warm start ``w0`` (default 0).

        First the active-set step (:meth:`_warm_step`); if it fails, FISTA with adaptive restart
        and soft-thresholding (:meth:`_fista`). ``n_iter`` counts FISTA iterations.
        """
        w0 = np.zeros(self.c.size) if w0 is None else w0
        sol = self._warm_step(lam, w0, tol)
        if sol is not None:
            return LassoFit(sol, 0, True)
        return self._fista(lam, w0, tol, max_iter)

    def _fista(self, lam: float, w0: np.ndarray, tol: float, max_iter: int) -> LassoFit:
        """FISTA with adaptive restart, then the active-set "polish".

        The momentum restarts when it points against the last step (the gradient scheme of
        O'Donoghue & Candes, 2015): one product with ``G`` per iteration and no objective values.
        Whenever the support and signs have been stable for ``_STABLE_ITERS`` iterations (and at
        least every ``_POLISH_EVERY``) the optimality system on them is solved exactly; a pattern
        that failed is not tried again (its solve would be the same).
        """
        G, c = self._gradient_step_operator()
        thr = lam / self.lipschitz
        x = z = w0.copy()
        t_k, pattern, tried, stable = 1.0, np.sign(x), None, 0
        for it in range(1, max_iter + 1):
            u = z - (G @ z - c)  # z - step * gradient, with the step folded into G and c
            x_new = u - np.minimum(np.maximum(u, -thr), thr)  # soft-thresholding, exact zeros
            dx = x_new - x
            if (z - x_new) @ dx > 0.0:  # adaptive restart
                t_k = 1.0
            t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t_k * t_k))
            z = x_new + ((t_k - 1.0) / t_next) * dx
            x, t_k = x_new, t_next
            new_pattern = np.sign(x)
            stable = stable + 1 if (new_pattern == pattern).all() else 0
            pattern = new_pattern
            due = stable == _STABLE_ITERS or it % _POLISH_EVERY == 0
            if due and (tried is None or not (pattern == tried).all()):
                tried, sol = pattern, self._polish(lam, x, tol)
                if sol is not None:
                    return LassoFit(sol, it, True)
        sol = self._polish(lam, x, tol)
        if sol is not None:
            return LassoFit(sol, max_iter, True)
        return LassoFit(x, max_iter, kkt_met(self.gradient(x), x, lam, tol, self.G, self.c))

    def path(
        self, lams: np.ndarray, *, tol: float = DEFAULT_TOL, max_iter: int = DEFAULT_MAX_ITER
    ) -> LassoPath:
        """Solutions at each of ``lams`` (increasing), warm-started from the largest down."""
        m, d = lams.size, self.c.size
        coef = np.zeros((m, d))
        n_iter = np.zeros(m, dtype=np.int64)
        ok = np.ones(m, dtype=bool)
        w = np.zeros(d)
        for i in range(m - 1, -1, -1):
            w, n_iter[i], ok[i] = self.solve(float(lams[i]), w, tol=tol, max_iter=max_iter)
            coef[i] = w
        return LassoPath(coef, n_iter, ok)


def proximal(prob: Problem, lam: float, max_iter: int, tol: float) -> tuple[torch.Tensor, int, bool]:
    """The laplace MAP of ``prob`` at the sum-of-squares penalty ``lam = 2 sigma^2 / tau``.

    :class:`LassoGram` on the centred statistics of the problem's one pass over ``X``; the
    intercept is ``mean(y) - mean(X) @ w`` (or the frozen value). Returns theta, FISTA
    iterations and whether the tolerance was met.
    """
    stats = prob.centred()
    fit = LassoGram.from_stats(stats).solve(lam, tol=tol, max_iter=max_iter)
    coef = torch.from_numpy(fit.coef).to(device=prob.X.device, dtype=prob.X.dtype)
    return prob.pack(coef, float(intercept_from_centred(stats, fit.coef))), fit.n_iter, fit.converged

"""The NUTS transition of bayeswd's sampler: Stan's multinomial NUTS, in a lean loop.

One transition (:meth:`NUTSKernel.transition`) builds a trajectory by doubling (biased progressive
sampling, the generalised no-U-turn criterion with the extra checks across merged subtrees;
Betancourt 2017) on the preconditioned potential ``U(mu + L diag(s) x)``. The state and the
per-transition statistics are :class:`NUTSState` and :class:`NUTSInfo`; step-size and metric
adaptation live in :mod:`bayeswd.infer.adaptation`, the chain loop in :mod:`bayeswd.infer.nuts`.

The kernel runs on torch tensors (any device) or on NumPy arrays: it uses only arithmetic
operators, ``@`` and a few methods both share. NumPy is the CPU's fast path: on the vectors of a
few dozen to a few hundred coordinates of a leapfrog step, a NumPy operation costs about a third
to a half of torch's dispatch (``docs/benchmarks.md``, "A NumPy leapfrog on the CPU").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch

__all__ = ["MAX_DELTA_H", "NUTSInfo", "NUTSKernel", "NUTSState"]

#: A vector of the sampler: a torch tensor or a NumPy array (one kind throughout a chain).
Array = torch.Tensor | np.ndarray

#: Stan's divergence threshold on the energy error of a leapfrog step.
MAX_DELTA_H = 1000.0


def _logaddexp(a: float, b: float) -> float:
    """``log(e^a + e^b)`` of two floats (NumPy's ufunc costs several times this on scalars)."""
    if a < b:
        a, b = b, a
    if b == -math.inf:
        return a
    return a + math.log1p(math.exp(b - a))


class NUTSState(NamedTuple):
    """A point of the chain in the sampler's coordinates ``x``.

    Attributes
    ----------
    position : torch.Tensor or numpy.ndarray, shape (P,)
        ``x``, with ``q = mu + L diag(s) x`` the model's unconstrained coordinates.
    potential_energy : float
        ``U`` at ``x``.
    grad : torch.Tensor or numpy.ndarray, shape (P,)
        ``dU/dx``.
    """

    position: Array
    potential_energy: float
    grad: Array


class NUTSInfo(NamedTuple):
    """Statistics of one NUTS transition.

    Attributes
    ----------
    tree_depth : int
        Number of doublings of the trajectory.
    acceptance_rate : float
        Mean Metropolis acceptance over the trajectory's leapfrog steps (what dual averaging
        adapts to its target).
    diverging : bool
        A leapfrog step's energy error exceeded :data:`MAX_DELTA_H`.
    num_steps : int
        Leapfrog steps (gradient evaluations) of the transition.
    """

    tree_depth: int
    acceptance_rate: float
    diverging: bool
    num_steps: int


class NUTSKernel:
    """Multinomial NUTS on ``U(mu + L diag(s) x)`` with identity mass in ``x``.

    Parameters
    ----------
    potential : callable
        ``q -> (U(q), dU/dq)``, e.g. a :mod:`bayeswd.infer.potentials` class; takes and returns
        the same kind of array as ``mu``.
    mu, L : torch.Tensor or numpy.ndarray
        Centre and fixed factor of the preconditioner ``q = mu + L diag(s) x``.
    normal : callable
        ``() -> `` a vector of independent standard normals like ``mu`` (the momenta).
    rng : numpy.random.Generator
        Draws the directions and the multinomial choices.
    max_tree_depth : int
        Maximum number of trajectory doublings.
    """

    def __init__(
        self, potential: Callable[[Array], tuple[float, Array]], mu: Array, L: Array,
        normal: Callable[[], Array], rng: np.random.Generator, max_tree_depth: int,
    ) -> None:
        self.potential, self.mu, self.L = potential, mu, L
        self.normal, self.rng, self.max_depth = normal, rng, max_tree_depth
        self.numpy = isinstance(mu, np.ndarray)
        # a diagonal factor (e.g. the laplace scale mixture) is applied elementwise: a dense
        # matrix-vector product over a few hundred coordinates costs more than the potential
        diag = L.diagonal()
        self.diagonal = bool((L == (np.diag(diag) if self.numpy else torch.diag(diag))).all())
        self.set_scale(mu * 0.0 + 1.0)

    def set_scale(self, s: Array) -> None:
        """Set the adapted diagonal ``s`` of the preconditioner."""
        self.s = s
        if self.diagonal:
            self.Ls = self.L.diagonal() * s
            return
        self.Ls = self.L * s  # scales the columns
        self.LsT = self.Ls.T.copy() if self.numpy else self.Ls.T.contiguous()

    def to_q(self, x: Array) -> Array:
        """The model's coordinates ``q = mu + L diag(s) x`` of the sampler's ``x``."""
        if self.numpy:
            return self.mu + (self.Ls * x if self.diagonal else self.Ls @ x)
        if self.diagonal:
            return torch.addcmul(self.mu, self.Ls, x)
        return torch.addmv(self.mu, self.Ls, x)

    def energy_grad(self, x: Array) -> tuple[float, Array]:
        """Potential energy at ``x`` and its gradient in ``x``.

        A point so far out that a scale's ``exp`` overflows or underflows to 0 in the potential's
        Python float arithmetic (``OverflowError``, ``ZeroDivisionError``, or ``ValueError`` from
        ``math.log(0)``: only a diverging trajectory gets there) has an infinite energy: a
        divergence, as in NumPy or torch arithmetic.
        """
        try:
            U, g = self.potential(self.to_q(x))
        except (ArithmeticError, ValueError):
            return math.inf, (np.zeros_like(x) if self.numpy else torch.zeros_like(x))
        if self.diagonal:
            return U, (g * self.Ls if self.numpy else g.mul_(self.Ls))
        return U, self.LsT @ g

    def leapfrog(self, x, p, g, eps):  # noqa: ANN001, ANN202 - hot path
        """One leapfrog step of size ``eps``: ``(x, p, g, U)`` at its end."""
        if self.numpy:
            p = p - (0.5 * eps) * g
            x = x + eps * p
            U, g = self.energy_grad(x)
            return x, p - (0.5 * eps) * g, g, U
        p = torch.add(p, g, alpha=-0.5 * eps)
        x = torch.add(x, p, alpha=eps)
        U, g = self.energy_grad(x)
        p = p.add_(g, alpha=-0.5 * eps)
        return x, p, g, U

    def find_step(self, x: Array, U: float, g: Array, eps: float) -> float:
        """Stan's heuristic: double or halve ``eps`` until one step's acceptance crosses 0.8."""
        direction = 0
        for _ in range(100):
            p = self.normal()
            H0 = U + 0.5 * float(p @ p)
            _, p1, _, U1 = self.leapfrog(x, p, g, eps)
            H1 = U1 + 0.5 * float(p1 @ p1)
            delta = H0 - H1 if math.isfinite(H1) else -math.inf
            step_dir = 1 if delta > math.log(0.8) else -1
            if direction == 0:
                direction = step_dir
            elif step_dir != direction:
                break
            eps = eps * 2.0 if direction == 1 else eps * 0.5
            if eps > 1e7 or eps < 1e-12:
                break
        return eps

    def transition(self, state: NUTSState, eps: float) -> tuple[NUTSState, NUTSInfo]:
        """One NUTS transition of step size ``eps`` from ``state``: the new state and its info."""
        x, U, g = state
        p = self.normal()
        H0 = U + 0.5 * float(p @ p)
        # the two ends of the trajectory: (x, p, g, U)
        fwd = bck = (x, p, g, U)
        p_fwd_fwd = p_fwd_bck = p_bck_fwd = p_bck_bck = p
        rho = p
        sample = state
        log_w = 0.0
        depth, self.n_leap, self.sum_metro, self.divergent = 0, 0, 0.0, False
        while depth < self.max_depth:
            if self.rng.random() > 0.5:
                rho_bck = rho  # the trajectory so far becomes the backward subtree
                p_bck_fwd = p_fwd_fwd
                ok, end, prop, lw_sub, p_fwd_bck, p_fwd_fwd, rho_fwd = self._build(
                    fwd, depth, eps, H0)
                fwd = end
            else:
                rho_fwd = rho
                p_fwd_bck = p_bck_bck
                ok, end, prop, lw_sub, p_bck_fwd, p_bck_bck, rho_bck = self._build(
                    bck, depth, -eps, H0)
                bck = end
            if not ok:
                break
            depth += 1
            if lw_sub > log_w or self.rng.random() < math.exp(lw_sub - log_w):
                sample = prop
            log_w = _logaddexp(log_w, lw_sub)
            rho = rho_bck + rho_fwd
            if not (self._uturn_ok(p_bck_bck, p_fwd_fwd, rho)
                    and self._uturn_ok(p_bck_bck, p_fwd_bck, rho_bck + p_fwd_bck)
                    and self._uturn_ok(p_bck_fwd, p_fwd_fwd, rho_fwd + p_bck_fwd)):
                break
        accept = self.sum_metro / max(self.n_leap, 1)
        return sample, NUTSInfo(depth, accept, self.divergent, self.n_leap)

    @staticmethod
    def _uturn_ok(p_minus: Array, p_plus: Array, rho: Array) -> bool:
        return float(p_plus @ rho) > 0.0 and float(p_minus @ rho) > 0.0

    def _build(self, start, depth: int, eps: float, H0: float):  # noqa: ANN001, ANN202
        """Subtree of ``2**depth`` steps from ``start``.

        Returns (valid, end state, proposal, log weight, p at its first step, p at its last
        step, sum of its p).
        """
        if depth == 0:
            x, p, g, _ = start
            x, p, g, U = self.leapfrog(x, p, g, eps)
            self.n_leap += 1
            H = U + 0.5 * float(p @ p)
            if not math.isfinite(H):
                H = math.inf
            if H - H0 > MAX_DELTA_H:
                self.divergent = True
            lw = H0 - H
            self.sum_metro += 1.0 if lw > 0 else math.exp(lw)
            return not self.divergent, (x, p, g, U), NUTSState(x, U, g), lw, p, p, p
        ok, mid, prop, lw_init, p_beg, p_init_end, rho_init = self._build(start, depth - 1, eps, H0)
        if not ok:
            return False, mid, prop, lw_init, p_beg, p_init_end, rho_init
        ok, end, prop_final, lw_final, p_final_beg, p_end, rho_final = self._build(
            mid, depth - 1, eps, H0)
        if not ok:
            return False, end, prop, lw_init, p_beg, p_end, rho_init
        lw = _logaddexp(lw_init, lw_final)
        if self.rng.random() < math.exp(lw_final - lw):
            prop = prop_final
        rho = rho_init + rho_final
        ok = (self._uturn_ok(p_beg, p_end, rho)
              and self._uturn_ok(p_beg, p_final_beg, rho_init + p_final_beg)
              and self._uturn_ok(p_init_end, p_end, rho_final + p_init_end))
        return ok, end, prop, lw, p_beg, p_end, rho

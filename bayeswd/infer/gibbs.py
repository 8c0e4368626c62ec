r"""The laplace posterior by a blocked Gibbs sampler (:class:`bayeswd.infer.Gibbs`).

The laplace prior is a scale mixture of normals, ``w_j | v_j ~ Normal(0, v_j)``, ``v_j ~
Exponential(rate 1 / (2 tau^2))`` (Park and Casella 2008). Given the mixing variances ``v`` the
model is conjugate gaussian; given the weights the ``v_j`` are independent reciprocal inverse
gaussians. The sampler alternates two blocks (docs/mathematics.md, section 2.11):

* **A** ``(sigma, w, b) | v, y``: ``sigma`` from its conditional with ``w`` and ``b`` integrated out
  (one slice-sampling update of ``log sigma``; bayeswd's prior on ``w`` is not scaled by
  ``sigma``, so this is not the inverse gamma of Rajaratnam, Sparks, Khare and Zhang 2019, but
  the same two-block structure), then ``w | sigma, v, y`` exactly (a Cholesky factor of the
  ``d x d`` precision from the centred sufficient statistics when ``n > d``; the algorithm of
  Bhattacharya, Chakraborty and Mallick 2016 on the centred design, ``O(n^2 d)``, when
  ``n <= d``), then ``b | w, sigma, y ~ Normal(mean(y) - mean(X) w, sigma^2 / n)``;
* **B** ``(tau, v) | w``: ``tau`` from ``p(tau) prod_j Laplace(w_j; tau)`` and once more from
  ``p(tau | w / tau, sigma, y)``, the weights rescaled with it (the interweaving of centred and
  non-centred forms of Yu and Meng 2011: without it ``sigma`` and ``tau`` crawl along their
  ridge when ``n < d``), each by independence Metropolis-Hastings whose proposal is the
  conditional without the prior (a gamma in ``1 / tau``, a truncated normal in ``tau``); then
  ``1 / v_j | w_j, tau ~ InverseGaussian(mean 1 / (tau |w_j|), shape 1 / tau^2)`` by the method
  of Michael, Schucany and Haas (1976).

A fixed ``sigma`` or ``tau`` skips its updates. All chains advance together: the chain is
the leading axis of every tensor, so one iteration is a few batched torch operations (one
batched Cholesky or eigendecomposition) whatever the number of chains.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch

from bayeswd._validation import DTYPE
from bayeswd.infer.options import Gibbs
from bayeswd.infer.runtime import one_thread_if_small
from bayeswd.infer.start import InferenceProblem, MethodOutput, gaussian_start

__all__ = [
    "check_gibbs",
    "inverse_gaussian",
    "reciprocal_inverse_gaussian",
    "sample_gibbs",
    "slice_update",
    "uses_design",
]

#: Unconstrained scales (``log sigma``, ``log tau``) are kept within +-LOG_BOUND: a slice
#: interval stepped out beyond it meets a density of zero, so ``exp`` never overflows.
LOG_BOUND = 300.0
#: Stepping-out steps of a slice update (Neal 2003, the ``m`` of his figure 3).
MAX_STEP_OUT = 20
#: Shrinkage steps of a slice update before it gives up and keeps the current point.
MAX_SHRINK = 200
#: Metropolis-Hastings steps of each independence update of ``log tau`` (:func:`gamma_update`,
#: :func:`truncated_normal_update`). Measured acceptance rates of one step, half-normal prior:
#: 0.97 and 1.00 (100 x 300), 0.78 and 0.99 (100 x 5), 0.82 and 1.00 (diabetes, 442 x 10).
TAU_MH_STEPS = 2
#: Most iterations per kept draw that ``Gibbs(thin=None)`` chooses (:class:`ThinPilot`).
MAX_AUTO_THIN = 10
#: Numbers of the warm-up's draws :class:`ThinPilot` keeps (every k-th coordinate beyond it).
THIN_PILOT_NUMBERS = 2_000_000
#: Fewest iterations in the last half of the warm-up from which ``thin`` is chosen (else 1).
THIN_PILOT_MIN = 50
#: Rows from which :class:`GaussianBlock` forms ``Xc V Xc^T`` by NumPy's symmetric product on the
#: CPU (at 4 x 20 x 60 torch's batched product is faster: 18 against 24 us; at 4 x 50 x 150,
#: 86 against 106 us the other way).
SYRK_MIN_ROWS = 32
#: Above this standardised lower bound (``-mean / sd``) the truncated normal is left to the slice
#: update: its tail probability ``ndtr(-a)`` nears underflow.
TRUNCATION_MAX = 30.0


def check_gibbs(prior: str) -> None:
    """Raise unless the Gibbs sampler exists for ``prior``: the laplace prior only."""
    if prior != "laplace":
        raise ValueError(
            "`method` 'gibbs' needs prior='laplace' (it samples the laplace prior's scale mixture "
            f"of normals); got prior={prior!r}: use method='exact' (sigma and tau fixed: "
            "independent draws of the conjugate posterior) or method='nuts'."
        )


# ------------------------------------------------------------------------------------------
# inverse gaussian draws


def _msh(a: torch.Tensor, shape: torch.Tensor | float, generator: torch.Generator
         ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The Michael-Schucany-Haas construction in terms of ``a = 1 / mean``, free of overflow.

    With ``nu ~ Normal(0, 1)`` and ``s = nu^2 / (2 shape)``, the smaller root of the MSH
    quadratic is ``x = 1 / D``, ``D = a + s + sqrt(s^2 + 2 a s)`` (the usual
    ``mu + mu^2 y / (2 lambda) - ...`` multiplied through by ``a``, with no cancellation); it is
    kept with probability ``mean / (mean + x) = D / (D + a)``, else ``mean^2 / x = D / a^2``.
    Returns ``(first, D)``: which root was kept, and ``D``. ``a = 0`` (an infinite mean) gives
    the Levy limit ``x = shape / nu^2``.
    """
    nu = torch.randn(a.shape, generator=generator, dtype=a.dtype, device=a.device)
    u = torch.rand(a.shape, generator=generator, dtype=a.dtype, device=a.device)
    return _msh_roots(a, shape, nu, u)


def _msh_roots(a: Any, shape: Any, nu: Any, u: Any) -> tuple[Any, Any]:
    """:func:`_msh` from its normal ``nu`` and uniform ``u``: arithmetic only (torch or NumPy)."""
    s = nu * nu / (2.0 * shape)
    D = a + s + (s * (s + 2.0 * a)) ** 0.5
    return u * (D + a) <= D, D


def inverse_gaussian(mean: torch.Tensor, shape: torch.Tensor | float,
                     generator: torch.Generator) -> torch.Tensor:
    r"""Draws of ``InverseGaussian(mean, shape)``, elementwise (Michael, Schucany and Haas 1976).

    The density is :math:`\sqrt{\lambda / (2\pi x^3)}\exp(-\lambda(x - \mu)^2 / (2\mu^2 x))`
    (``scipy.stats.invgauss(mu=mean / shape, scale=shape)``). ``mean`` may be ``inf``.

    Parameters
    ----------
    mean : torch.Tensor
        Positive means (the draws have its shape, dtype and device).
    shape : torch.Tensor or float
        Positive shape parameters, broadcastable to ``mean``.
    generator : torch.Generator

    Returns
    -------
    torch.Tensor
    """
    a = 1.0 / mean
    first, D = _msh(a, shape, generator)
    return torch.where(first, 1.0 / D, D / (a * a))


def reciprocal_inverse_gaussian(inv_mean: torch.Tensor, shape: torch.Tensor | float,
                                generator: torch.Generator) -> torch.Tensor:
    r"""Draws of ``1 / x`` for ``x ~ InverseGaussian(1 / inv_mean, shape)``, elementwise.

    The laplace mixing variance: ``v_j = 1 / x`` with ``x ~ InverseGaussian(1 / (tau |w_j|),
    1 / tau^2)`` is ``reciprocal_inverse_gaussian(tau * |w|, 1 / tau^2)``. Written in ``1 / mean``
    so that a weight at (or near) zero, an infinite mean, is exact and free of overflow.
    """
    first, D = _msh(inv_mean, shape, generator)
    return torch.where(first, D, inv_mean * inv_mean / D)


# ------------------------------------------------------------------------------------------
# one slice-sampling update of a batch of scalars


def slice_update(
    log_density: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, width: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """One slice-sampling update (Neal 2003, stepping out and shrinkage) of each entry of ``x0``.

    ``log_density`` maps a (C,) array of points to their (C,) log densities (up to a constant per
    entry); the C targets are independent and are updated together, vectorised. The interval of
    width ``width`` is placed at random around the current point and stepped out at most
    :data:`MAX_STEP_OUT` times (split at random between the two sides; never beyond
    ``+-LOG_BOUND``), then shrunk towards the current point until a point inside the slice is
    drawn. The update leaves each target invariant for any fixed ``width``; NaN densities count
    as outside the slice. The scalar work runs in numpy: on a few numbers per chain numpy's
    dispatch is several times cheaper than torch's.
    """
    C = x0.shape
    level = log_density(x0) - rng.standard_exponential(C)
    left = x0 - width * rng.random(C)
    right = left + width
    j = np.floor(MAX_STEP_OUT * rng.random(C))
    k = (MAX_STEP_OUT - 1) - j
    for end, steps, sign in ((left, j, -1.0), (right, k, 1.0)):
        active = (steps > 0) & (np.abs(end) < LOG_BOUND)
        while active.any():
            grow = active & (log_density(end) > level)
            end += sign * width * grow
            steps = steps - grow
            active = grow & (steps > 0) & (np.abs(end) < LOG_BOUND)
    # the target is taken as 0 beyond +-LOG_BOUND (where its density underflows anyway)
    left, right = np.maximum(left, -LOG_BOUND), np.minimum(right, LOG_BOUND)
    x1 = x0.copy()
    done = np.zeros(C, dtype=bool)
    for _ in range(MAX_SHRINK):
        cand = left + rng.random(C) * (right - left)
        inside = (log_density(cand) > level) & ~done
        x1[inside] = cand[inside]
        done |= inside
        if done.all():
            break
        below = cand < x0
        left = np.where(below & ~done, cand, left)
        right = np.where(~below & ~done, cand, right)
    return x1


def reciprocal_inverse_gaussian_numpy(inv_mean: np.ndarray, shape: float | np.ndarray,
                                      rng: np.random.Generator) -> np.ndarray:
    """:func:`reciprocal_inverse_gaussian` on NumPy arrays with a NumPy generator (the CPU's fast path)."""
    first, D = _msh_roots(inv_mean, shape, rng.standard_normal(inv_mean.shape), rng.random(inv_mean.shape))
    return np.where(first, D, inv_mean * inv_mean / D)


# ------------------------------------------------------------------------------------------
# independence updates of log tau: proposals from the likelihood part, accepted by the prior


def gamma_update(log_prior: Callable[[np.ndarray], np.ndarray], u0: np.ndarray, shape: float,
                 rate: np.ndarray, rng: np.random.Generator, steps: int = TAU_MH_STEPS) -> np.ndarray:
    r"""Independence Metropolis-Hastings on ``log_prior(u) - shape u - rate e^{-u}``, each entry.

    The target of ``log tau`` given the weights with the mixing variances integrated out
    (``shape = d``, ``rate = ||w||_1``). Without the prior it is exactly ``e^{-u} ~
    Gamma(shape, rate)``: proposals are drawn from it and accepted with the prior's ratio
    ``exp(log_prior(u') - log_prior(u))``, ``steps`` times. Two evaluations of the prior replace
    the slice update's ten or so, and where the weights dominate the prior (``d`` large) nearly
    every proposal is an independent exact draw.
    """
    u, lp = u0.copy(), log_prior(u0)
    for _ in range(steps):
        cand = -np.log(rng.gamma(shape, 1.0 / rate))
        lp_cand = log_prior(cand)
        take = np.log1p(-rng.random(u.shape)) < lp_cand - lp  # NaN: rejected
        u, lp = np.where(take, cand, u), np.where(take, lp_cand, lp)
    return u


def truncated_normal_update(
    target: Callable[[np.ndarray], np.ndarray], log_prior: Callable[[np.ndarray], np.ndarray],
    u0: np.ndarray, mean: np.ndarray, sd: np.ndarray, width: float, rng: np.random.Generator,
    steps: int = TAU_MH_STEPS,
) -> np.ndarray:
    r"""Independence Metropolis-Hastings on ``target(u)``, ``u = log tau``, a truncated normal in ``tau``.

    In ``tau`` the target is ``p(tau) Normal(tau; mean, sd^2)`` on ``tau > 0`` (``p`` the prior:
    ``log_prior(u) - u``): the interweaving step's target (``tau`` given ``w / tau``: the
    likelihood is gaussian in ``tau``). Proposals from the normal truncated to ``tau > 0`` (by its
    inverse distribution function, from the upper tail where the bound lies above the mean),
    accepted with the prior's ratio, ``steps`` times. Where the bound lies more than
    :data:`TRUNCATION_MAX` sds above the mean for some chain, or ``sd`` is not a positive number,
    one slice update of ``target`` instead.
    """
    from scipy.special import ndtr, ndtri

    with np.errstate(divide="ignore", invalid="ignore"):
        a = -mean / sd  # the bound tau = 0, standardised
    if not (np.all(np.isfinite(a)) and np.all(sd > 0.0) and np.all(a <= TRUNCATION_MAX)):
        return slice_update(target, u0, width, rng)
    tail = ndtr(-a)  # P(Z > a)
    below = a <= 0.0
    top = np.nextafter(1.0, 0.0)

    def prior_tau(u: np.ndarray) -> np.ndarray:  # log p(tau) up to a constant
        return log_prior(u) - u

    u, lp = u0.copy(), prior_tau(u0)
    for _ in range(steps):
        q = rng.random(u.shape)
        z = np.where(below, ndtri(np.minimum(ndtr(a) + q * tail, top)), -ndtri((1.0 - q) * tail))
        with np.errstate(divide="ignore", invalid="ignore"):
            cand = np.log(mean + sd * z)  # tau = 0 (z = a to rounding): -inf, rejected
            lp_cand = prior_tau(cand)
        take = np.log1p(-rng.random(u.shape)) < lp_cand - lp
        u, lp = np.where(take, cand, u), np.where(take, lp_cand, lp)
    return u


def _closed_form_log_prior(prior: torch.distributions.Distribution
                           ) -> Callable[[np.ndarray], np.ndarray] | None:
    """``u -> log p(e^u) + u`` in numpy for the common scale priors, or ``None``."""
    td = torch.distributions
    if isinstance(prior, td.HalfNormal):
        c = float(prior.scale)
        k = 0.5 * math.log(2.0 / math.pi) - math.log(c)
        return lambda u: k - 0.5 * np.exp(2.0 * u) / (c * c) + u
    if isinstance(prior, td.LogNormal):
        m, sd = float(prior.loc), float(prior.scale)
        k = -math.log(sd) - 0.5 * math.log(2.0 * math.pi)
        return lambda u: k - 0.5 * ((u - m) / sd) ** 2
    if isinstance(prior, td.HalfCauchy):
        c = float(prior.scale)
        k = math.log(2.0 / (math.pi * c))
        return lambda u: k - np.log1p(np.exp(2.0 * u) / (c * c)) + u
    if isinstance(prior, td.Exponential):
        r = float(prior.rate)
        return lambda u: math.log(r) - r * np.exp(u) + u
    if isinstance(prior, td.Gamma):
        a, r = float(prior.concentration), float(prior.rate)
        k = a * math.log(r) - math.lgamma(a)
        return lambda u: k + a * u - r * np.exp(u)
    if isinstance(prior, td.InverseGamma):
        a, r = float(prior.concentration), float(prior.rate)
        k = a * math.log(r) - math.lgamma(a)
        return lambda u: k - a * u - r * np.exp(-u)
    return None


def log_scale_prior(prior: torch.distributions.Distribution) -> Callable[[np.ndarray], np.ndarray]:
    """``u -> log p(e^u) + u``: a scale's log prior density in its log coordinate (numpy in and out).

    Closed forms for ``HalfNormal`` (the default), ``LogNormal``, ``HalfCauchy``,
    ``Exponential``, ``Gamma`` and ``InverseGamma`` with scalar parameters (tested equal to
    ``log_prob``); any other prior through its ``log_prob``, with ``-inf`` outside its support.
    """
    try:
        closed = _closed_form_log_prior(prior)
    except (RuntimeError, TypeError, ValueError):  # parameters that are not scalars
        closed = None
    if closed is not None:
        return closed
    tensors = [v for v in vars(prior).values() if isinstance(v, torch.Tensor)]
    device = tensors[0].device if tensors else torch.device("cpu")
    lower = float(getattr(prior.support, "lower_bound", 0.0))

    def f(u: np.ndarray) -> np.ndarray:
        s = torch.as_tensor(np.exp(u), dtype=DTYPE, device=device)
        inside = prior.support.check(s)
        lp = prior.log_prob(torch.where(inside, s, torch.full_like(s, lower + 1.0)))
        lp = torch.where(inside, lp, torch.full_like(lp, -math.inf))
        return lp.cpu().numpy() + u
    return f


# ------------------------------------------------------------------------------------------
# block A: the gaussian part given the mixing variances


def _gram_numpy(B: np.ndarray) -> np.ndarray:
    """``B_c B_c^T`` for each chain ``c`` of ``B`` (C, n, d).

    From :data:`SYRK_MIN_ROWS` rows one product per chain: NumPy's ``b @ b.T`` of one 2-D array is
    BLAS's symmetric rank-k update, half the multiply-adds of a product (0.40 against 0.65 ms for
    torch's batched product at 4 x 100 x 300); below, one batched product.
    """
    if B.shape[1] >= SYRK_MIN_ROWS:
        return np.stack([b @ b.T for b in B])
    return B @ B.transpose(0, 2, 1)


def _cholesky(M: torch.Tensor) -> torch.Tensor:
    """Lower Cholesky factors of a batch of positive definite matrices.

    NumPy's on the CPU (LAPACK matrix by matrix: 0.13 against torch's 0.24 ms for 4 x 100 x 100,
    0.63 against 0.79 for 4 x 200 x 200), torch's elsewhere.
    """
    if M.device.type == "cpu":
        return torch.from_numpy(np.linalg.cholesky(M.numpy()))
    return torch.linalg.cholesky(M)


def uses_design(n: int, d: int) -> bool:
    """Work on the centred design (``n x n`` matrices) when ``n <= d``, else on the statistics."""
    return n <= d


class Spectrum(NamedTuple):
    """Eigendecomposition that makes ``p(y | sigma, v)`` cost ``O(m)`` per ``sigma`` (C chains).

    ``n > d``: ``V^{1/2} Xc^T Xc V^{1/2} = Q diag(lam) Q^T`` and ``proj = Q^T V^{1/2} Xc^T yc``;
    ``n <= d``: ``Xc V Xc^T = Q diag(lam) Q^T`` and ``proj = Q^T yc``.
    """

    lam: torch.Tensor  # (C, m)
    proj: torch.Tensor  # (C, m)
    basis: torch.Tensor  # (C, m, m)


class GaussianBlock:
    """Draws of ``(sigma, w, b) | v, y`` for a batch of chains (the model's laplace mixture).

    The flat intercept is integrated out by centring (``bayeswd.stats``): ``w | v, sigma, y`` has
    precision ``Xc^T Xc / sigma^2 + V^{-1}`` and mean ``S Xc^T yc / sigma^2``. With ``n > d`` the
    work is on the centred sufficient statistics (``d x d``), with ``n <= d`` on the centred
    design (``n x n``). Every matrix is scaled by ``V^{1/2}`` so that tiny mixing variances (a
    weight near zero) never produce an ill-conditioned factor.
    """

    def __init__(self, problem: InferenceProblem, targets: torch.Tensor | None = None) -> None:
        X = problem.X
        n, d = X.shape
        self.n, self.d = n, d
        self.fit_intercept = problem.fit_intercept
        self.n_eff = n - int(problem.fit_intercept)  # the intercept's integral takes one sigma
        self.design = uses_design(n, d)
        self.m = n if self.design else d
        self._eye = torch.eye(self.m, dtype=DTYPE, device=X.device)
        if targets is None:  # the one data set: from the statistics, centred once
            cs = problem.stats.centred()
            self.x_mean, self.y_mean = cs.x_mean, cs.y_mean
            if self.design:  # (n > d never copies X: the statistics are all it needs)
                self.Xc = X - cs.x_mean if problem.fit_intercept else X
                self.yc = problem.y - cs.y_mean
            else:
                self.G, self.c, self.yty = cs.gram, cs.xty, cs.yty
        else:  # one data set per chain, rows of targets (C, n): simulation studies such as SBC
            fit = problem.fit_intercept
            self.x_mean = X.mean(0) if fit else X.new_zeros(d)
            self.y_mean = targets.mean(-1) if fit else targets.new_zeros(targets.shape[0])
            self.Xc = X - self.x_mean
            self.yc = targets - self.y_mean.unsqueeze(-1)
            if not self.design:
                self.G, self.c = self.Xc.T @ self.Xc, self.yc @ self.Xc
                self.yty = (self.yc * self.yc).sum(-1).cpu().numpy()
        if self.design:
            self.XcT = self.Xc.T.contiguous()
            if X.device.type == "cpu":  # for draw_fixed_sigma_numpy
                self._np = {"Xc": self.Xc.numpy(), "XcT": self.XcT.numpy(), "yc": self.yc.numpy(),
                            "eye": self._eye.numpy()}

    def _gram_v(self, v: torch.Tensor) -> torch.Tensor:
        """``Xc V Xc^T`` (``n <= d``) or ``V^{1/2} G V^{1/2}`` (``n > d``), shape (C, m, m)."""
        if self.design:
            if v.device.type == "cpu" and self.n >= SYRK_MIN_ROWS:  # BLAS syrk (_gram_numpy)
                return torch.from_numpy(_gram_numpy((self.Xc * v.sqrt().unsqueeze(1)).numpy()))
            return (self.Xc * v.unsqueeze(1)) @ self.XcT
        sv = v.sqrt()
        return sv.unsqueeze(-1) * self.G * sv.unsqueeze(-2)

    def _randn(self, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
        return torch.randn(shape, generator=gen, dtype=DTYPE, device=self._eye.device)

    def fit_terms(self, w: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """``(||Xc w||^2, yc^T Xc w)`` per chain, numpy: ``||yc - t Xc w||^2`` as a function of ``t``."""
        if self.design:
            xw = w @ self.XcT
            return (xw * xw).sum(-1).cpu().numpy(), (xw * self.yc).sum(-1).cpu().numpy()
        return ((w @ self.G) * w).sum(-1).cpu().numpy(), (w * self.c).sum(-1).cpu().numpy()

    def draw_fixed_sigma(self, v: torch.Tensor, sigma: float, gen: torch.Generator) -> torch.Tensor:
        """``w | v, sigma, y`` for a fixed ``sigma``: one batched Cholesky factor."""
        C = v.shape[0]
        s2 = sigma * sigma
        M = self._gram_v(v)
        if self.design:  # Bhattacharya et al.: K = sigma^2 I + Xc V Xc^T
            M.diagonal(dim1=-2, dim2=-1).add_(s2)
            L = _cholesky(M)
            a = v.sqrt() * self._randn((C, self.d), gen)
            r = self.yc - a @ self.XcT - sigma * self._randn((C, self.n), gen)
            omega = torch.cholesky_solve(r.unsqueeze(-1), L).squeeze(-1)
            return a + v * (omega @ self.Xc)
        # n > d: I + V^{1/2} G V^{1/2} / sigma^2 = L L^T; w = V^{1/2}(L^-T L^-1 V^{1/2} c / s2 + L^-T z)
        M.div_(s2).diagonal(dim1=-2, dim2=-1).add_(1.0)
        L = _cholesky(M)
        sv = v.sqrt()
        rhs = (sv * self.c / s2).unsqueeze(-1)
        half = torch.linalg.solve_triangular(L, rhs, upper=False)
        t = half + self._randn((C, self.d), gen).unsqueeze(-1)
        return sv * torch.linalg.solve_triangular(L.mT, t, upper=True).squeeze(-1)

    def draw_fixed_sigma_numpy(self, v: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
        """:meth:`draw_fixed_sigma` for ``n <= d`` on NumPy arrays (the CPU's fast path of fixed scales).

        Bhattacharya et al. with ``K = sigma^2 I + Xc V Xc^T`` solved by LU (``np.linalg.solve``:
        19 against 53 us for a Cholesky factor and two triangular solves, 4 x 20 x 20); on a few
        numbers a NumPy operation costs a third to a half of torch's dispatch.
        """
        Xc, XcT = self._np["Xc"], self._np["XcT"]
        C, (n, d) = v.shape[0], Xc.shape
        sv = np.sqrt(v)
        M = _gram_numpy(Xc * sv[:, None, :])
        M += (sigma * sigma) * self._np["eye"]
        a = sv * rng.standard_normal((C, d))
        r = self._np["yc"] - a @ XcT - sigma * rng.standard_normal((C, n))
        omega = np.linalg.solve(M, r[..., None])[..., 0]
        return a + v * (omega @ Xc)

    def spectrum(self, v: torch.Tensor) -> Spectrum:
        """The eigendecomposition of :class:`Spectrum` for each chain's ``v``."""
        lam, Q = torch.linalg.eigh(self._gram_v(v))
        lam = lam.clamp(min=0.0)  # positive semi-definite; rounding can leave -1e-16
        rhs = self.yc if self.design else v.sqrt() * self.c
        proj = (rhs.unsqueeze(-2) @ Q).squeeze(-2)
        return Spectrum(lam, proj, Q)

    def log_evidence(self, spec: Spectrum) -> Callable[[np.ndarray], np.ndarray]:
        r"""``log sigma -> log p(y | sigma, v)`` up to a constant per chain (``w``, ``b`` integrated out).

        ``-(n_eff - m) log sigma - 1/2 sum_i log(sigma^2 + lam_i) - quad / 2`` with
        ``quad = sum_i proj_i^2 / (sigma^2 + lam_i)`` (``n <= d``) or
        ``(yc^T yc - sum_i proj_i^2 / (sigma^2 + lam_i)) / sigma^2`` (``n > d``): ``O(m)`` per
        point, in numpy on the CPU (the slice update's evaluations; (C,) arrays in and out).
        """
        lam = spec.lam.cpu().numpy()
        proj2 = (spec.proj * spec.proj).cpu().numpy()
        skip = self.n_eff - self.m
        design, yty = self.design, (0.0 if self.design else self.yty)

        def f(log_sigma: np.ndarray) -> np.ndarray:
            s2 = np.exp(2.0 * log_sigma)
            den = s2[:, None] + lam
            ratio = (proj2 / den).sum(-1)
            quad = ratio if design else (yty - ratio) / s2
            return -skip * log_sigma - 0.5 * np.log(den).sum(-1) - 0.5 * quad
        return f

    def draw_from_spectrum(self, v: torch.Tensor, spec: Spectrum, sigma: torch.Tensor,
                           gen: torch.Generator) -> torch.Tensor:
        """``w | v, sigma, y`` with a per-chain ``sigma`` (shape (C,)), from the eigendecomposition."""
        C = v.shape[0]
        sig = sigma.unsqueeze(-1)
        den = sig * sig + spec.lam
        if self.design:  # Bhattacharya et al. with K^-1 = Q diag(1 / den) Q^T
            a = v.sqrt() * self._randn((C, self.d), gen)
            r = self.yc - a @ self.XcT - sig * self._randn((C, self.n), gen)
            coef = (r.unsqueeze(-2) @ spec.basis).squeeze(-2) / den
            omega = (spec.basis @ coef.unsqueeze(-1)).squeeze(-1)
            return a + v * (omega @ self.Xc)
        # n > d: w = V^{1/2} Q (proj + sigma sqrt(den) z) / den
        z = self._randn((C, self.d), gen)
        t = (spec.proj + sig * den.sqrt() * z) / den
        return v.sqrt() * (spec.basis @ t.unsqueeze(-1)).squeeze(-1)

    def intercept(self, w: torch.Tensor, sigma: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """``b | w, sigma, y ~ Normal(mean(y) - mean(X) . w, sigma^2 / n)`` per chain."""
        z = self._randn((w.shape[0],), gen)
        return self.y_mean - w @ self.x_mean + sigma * z / math.sqrt(self.n)


# ------------------------------------------------------------------------------------------
# the sampler


class ThinPilot:
    """The last half of the warm-up's draws, from which ``Gibbs(thin=None)`` chooses ``thin``.

    ``thin = ceil(t / 2)``, at most :data:`MAX_AUTO_THIN`, with ``t`` the largest integrated
    autocorrelation time (iterations per effective draw: the chains' pooled draws over their
    ESS, ArviZ's estimator without rank normalisation) of the recorded coordinates: the kept draws
    are then about as autocorrelated as draws two iterations apart of a chain with ``t <= 2``.
    A Gibbs sampler spends no iteration on adaptation, so the fixed cost of a run is the warm-up
    and the diagnostics: on the seed problem (``t`` about 14) ``thin = 8`` gave 1.8-2.0x the
    effective draws per second of ``thin = 1`` and R-hat 1.003 against 1.02 (docs/benchmarks.md).
    Thinning never changes what the chains converge to; the choice is made on discarded draws.
    With fewer than :data:`THIN_PILOT_MIN` iterations in the last half of the warm-up,
    ``thin = 1``.
    """

    def __init__(self, warm: int, num_chains: int, p: int) -> None:
        self.t = math.nan  # the autocorrelation time read, once chosen
        self.W = warm // 2
        self.first = warm - self.W
        self.step = max(1, math.ceil(num_chains * self.W * p / THIN_PILOT_NUMBERS))
        cols = len(range(0, p, self.step))
        self.buf = np.empty((num_chains, self.W, cols)) if self.W >= THIN_PILOT_MIN else None

    @property
    def active(self) -> bool:
        """Whether the warm-up is long enough to choose ``thin`` from."""
        return self.buf is not None

    def record(self, it: int, draws: np.ndarray) -> None:
        """Keep iteration ``it``'s draws, shape (C, p), when in the last half of the warm-up."""
        if self.wants(it):
            self.buf[:, it - self.first] = draws[:, :: self.step]

    def wants(self, it: int) -> bool:
        """Whether warm-up iteration ``it`` is recorded (the last half of the warm-up, when active)."""
        return self.buf is not None and it >= self.first

    def observe(self, it: int, draws: np.ndarray) -> int | None:
        """Record iteration ``it`` (one :meth:`wants`): the chosen ``thin`` at the last, else ``None``."""
        self.record(it, draws)
        if it < self.first + self.W - 1:
            return None
        thin, self.t = self.choose()
        return thin

    def choose(self) -> tuple[int, float]:
        """``(thin, t)`` from the recorded draws (``(1, nan)`` when inactive or nothing varies)."""
        from bayeswd.infer.diagnostics import _ess

        if self.buf is None:
            return 1, math.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            ess = _ess(self.buf)
        ess = ess[np.isfinite(ess) & (ess > 0.0)]
        if ess.size == 0:
            return 1, math.nan
        t = self.buf.shape[0] * self.W / float(ess.min())
        return int(min(MAX_AUTO_THIN, max(1, math.ceil(t / 2.0)))), t


def thin_choice(given: int | None, pilot: ThinPilot | None) -> str:
    """How ``thin`` was set, for the result's settings (``pilot`` ``None``: no pilot ran)."""
    if given is not None:
        return "given"
    if pilot is None:
        return "1 (warm-up too short to choose from)"
    return f"from the warm-up: autocorrelation time up to {pilot.t:.1f} iterations"


class Progress:
    """A tqdm bar over a sampler's iterations whose total can change once ``thin`` is chosen."""

    def __init__(self, enabled: bool, warm: int, num_samples: int, thin: int | None, desc: str) -> None:
        self.warm, self.num_samples = warm, num_samples
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=warm + num_samples * (thin or 1), desc=desc)

    def tick(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def set_thin(self, thin: int) -> None:
        if self.bar is not None:
            self.bar.total = self.warm + self.num_samples * thin
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()



def _adapt_width(history: np.ndarray, upto: int, width: float) -> float:
    """3 x the pooled sd of the log scale over the second half of the warm-up so far.

    On a gaussian target, 4 chains updated together, widths of 1, 2, 3, 4, 6 and 8 sds needed
    10.4, 8.5, 8.1, 8.1, 8.3 and 8.6 evaluations of the density per update (the loops run until
    the last chain is done).
    """
    window = history[upto // 2: upto]
    sd = float(window.std()) if window.size > 1 else 0.0
    return 3.0 * sd if math.isfinite(sd) and sd > 0.0 else width


def _start(problem: InferenceProblem, C: int, gen: torch.Generator
           ) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Over-dispersed starts: the start of every method plus one approximate posterior sd of noise.

    Returns the weights (C, d) and ``log sigma``, ``log tau`` (C,) (the fixed values where fixed).
    """
    d, dev = problem.X.shape[1], problem.X.device
    init, cov = gaussian_start(problem)
    sd_w = cov["theta"].diagonal()[:d].sqrt()
    w = init["coef"] + sd_w * torch.randn((C, d), generator=gen, dtype=DTYPE, device=dev)
    logs = []
    for name, value in (("sigma", problem.sigma), ("tau", problem.tau)):
        if isinstance(value, torch.distributions.Distribution):
            noise = torch.randn((C,), generator=gen, dtype=DTYPE, device=dev)
            u = math.log(float(init[name])) + cov[name].sqrt() * noise
            logs.append(u.cpu().numpy())
        else:
            logs.append(np.full(C, math.log(float(value))))
    return w, logs[0], logs[1]


def _run(problem: InferenceProblem, options: Gibbs, num_samples: int, num_chains: int,
         seed: int, progress: Progress | None, targets: torch.Tensor | None = None,
         ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The sampler's loop: block B then block A each iteration, every chain at once.

    ``targets`` (shape (num_chains, n)) gives each chain its own data set in place of
    ``problem.y`` (the design, priors and start are shared): the test suite's SBC runs hundreds
    of simulated data sets as the chains of one run. ``options.thin = None``: chosen at the end
    of the warm-up (:class:`ThinPilot`).
    """
    dev = problem.X.device
    d = problem.X.shape[1]
    C = num_chains
    gen = torch.Generator(device=dev).manual_seed(int(seed))
    rng = np.random.default_rng([int(seed), 1])  # the slice updates' uniforms
    block = GaussianBlock(problem, targets)
    sampled = {name: log_scale_prior(value) for name, value in
               (("sigma", problem.sigma), ("tau", problem.tau))
               if isinstance(value, torch.distributions.Distribution)}
    sigma_prior, tau_prior = sampled.get("sigma"), sampled.get("tau")
    w, log_sigma, log_tau = _start(problem, C, gen)

    def as_tensor(log_scale: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.exp(log_scale), dtype=DTYPE).to(dev)

    sigma, tau = as_tensor(log_sigma), as_tensor(log_tau)
    width = {name: 1.0 for name in sampled}  # in log units, adapted during warm-up
    warm, thin = options.num_warmup, options.thin
    hist = {name: np.empty((warm, C)) for name in sampled}
    adapt_at = {25 * 2**k for k in range(40) if 25 * 2**k <= warm}
    out = {"coef": torch.empty((C, num_samples, d), dtype=DTYPE, device=dev)}
    for name in ("intercept", *sampled) if problem.fit_intercept else sampled:
        out[name] = torch.empty((C, num_samples), dtype=DTYPE, device=dev)
    # sigma fixed with n <= d on the CPU: the draws of v and w in NumPy (0.2 against 0.4 ms a sweep of
    # 4 chains at n = 20, d = 200: dozens of small operations, each cheaper than torch's dispatch)
    fast = "sigma" not in sampled and block.design and dev.type == "cpu"
    pilot = None
    if thin is None:
        pilot = ThinPilot(warm, C, d + len(sampled))
        if not pilot.active:
            thin, pilot = 1, None

    it = 0
    while thin is None or it < warm + num_samples * thin:
        # block B: (tau, v) | w. tau from p(tau | w) (v integrated out), then tau again with
        # w / tau held fixed (interweaving), then 1 / v_j | w_j, tau ~ IG
        if tau_prior is not None:
            l1 = w.abs().sum(-1).cpu().numpy()

            log_tau = gamma_update(tau_prior, log_tau, d, l1, rng)
            fit2, cross = block.fit_terms(w / as_tensor(log_tau).unsqueeze(-1))
            s2 = np.exp(2.0 * log_sigma)

            def tau_ancillary(u: np.ndarray, fit2: np.ndarray = fit2, cross: np.ndarray = cross,
                              s2: np.ndarray = s2) -> np.ndarray:
                e = np.exp(u)
                return tau_prior(u) - (e * e * fit2 - 2.0 * e * cross) / (2.0 * s2)

            # in tau, the likelihood of w / tau is Normal(cross / fit2, s2 / fit2)
            moved = truncated_normal_update(tau_ancillary, tau_prior, log_tau, cross / fit2,
                                            np.sqrt(s2 / fit2), width["tau"], rng)
            w = w * as_tensor(moved - log_tau).unsqueeze(-1)
            log_tau = moved
            tau = as_tensor(log_tau)
        if fast:  # sigma fixed, n <= d, CPU: the draws of v and w in NumPy
            t_np = tau.numpy()[:, None] if tau_prior is not None else float(problem.tau)
            v_np = reciprocal_inverse_gaussian_numpy(t_np * np.abs(w.numpy()), 1.0 / (t_np * t_np), rng)
            w = torch.from_numpy(block.draw_fixed_sigma_numpy(v_np, float(problem.sigma), rng))
        else:
            tcol = tau.unsqueeze(-1)
            v = reciprocal_inverse_gaussian(tcol * w.abs(), 1.0 / (tcol * tcol), gen)
            # block A: (sigma, w, b) | v; sigma with w and b integrated out, then w, (b when kept)
            if "sigma" in sampled:
                spec = block.spectrum(v)
                evidence = block.log_evidence(spec)

                def sigma_target(u: np.ndarray, evidence: Callable = evidence) -> np.ndarray:
                    return sigma_prior(u) + evidence(u)

                log_sigma = slice_update(sigma_target, log_sigma, width["sigma"], rng)
                sigma = as_tensor(log_sigma)
                w = block.draw_from_spectrum(v, spec, sigma, gen)
            else:
                w = block.draw_fixed_sigma(v, float(problem.sigma), gen)
        if it < warm:
            for name, u in (("sigma", log_sigma), ("tau", log_tau)):
                if name in sampled:
                    hist[name][it] = u
            if it + 1 in adapt_at:
                width = {k: _adapt_width(hist[k], it + 1, width[k]) for k in width}
            if pilot is not None and pilot.wants(it):
                logs = [u for name, u in (("sigma", log_sigma), ("tau", log_tau)) if name in sampled]
                chosen = pilot.observe(it, np.column_stack([w.cpu().numpy(), *logs]))
                if chosen is not None:
                    thin = chosen
                    if progress is not None:
                        progress.set_thin(thin)
        else:
            j, r = divmod(it - warm, thin)
            if r == thin - 1:
                out["coef"][:, j] = w
                if problem.fit_intercept:  # b | w, sigma: drawn only when kept (nothing uses it)
                    out["intercept"][:, j] = block.intercept(w, sigma, gen)
                for name, value in (("sigma", sigma), ("tau", tau)):
                    if name in sampled:
                        out[name][:, j] = value
        if progress is not None:
            progress.tick()
        it += 1
    info = {
        "num_warmup": warm, "thin": thin,
        "thin_choice": thin_choice(options.thin, pilot),
        "likelihood": "design matrix" if block.design else "sufficient statistics",
        "parameterisation": ("scale mixture, two blocks: (sigma, coef, intercept) | v and (tau, v) | "
                             "coef, tau interweaved"),
    }
    info.update({f"slice_width_log_{name}": width[name] for name in sampled})
    return out, info


def sample_gibbs(
    problem: InferenceProblem, options: Gibbs, *, num_samples: int, num_chains: int, seed: int,
    progress_bar: bool,
) -> MethodOutput:
    """Draws of ``problem``'s laplace posterior by the blocked Gibbs sampler (see :class:`Gibbs`).

    One generator seeded with ``seed`` drives all chains, which advance together (so the draws of
    a chain depend on ``num_chains``). On the CPU, problems of up to
    :data:`bayeswd.infer.runtime.ONE_THREAD_MAX` numbers per iteration run on one torch thread.
    """
    check_gibbs(problem.prior)
    progress = Progress(progress_bar, options.num_warmup, num_samples, options.thin,
                        f"Gibbs ({num_chains} chains)")
    try:
        with one_thread_if_small(problem.X.device, num_chains * problem.X.shape[1]):
            samples, info = _run(problem, options, num_samples, num_chains, seed,
                                 progress if progress_bar else None)
    finally:
        progress.close()
    return MethodOutput(samples=samples, sample_stats={}, info=info)

r"""The classifier MAP solvers: Newton for the gaussian prior, proximal Newton for the laplace prior.

Both minimise ``U(theta) = f(theta) + R(W)`` with ``f = sum_i CE_i`` (closed form in
:class:`~bayeswd.classification.problem.GLMProblem`) and stop when the first-order optimality
residual, divided by ``max(1, max |grad f(0)|)``, is at most ``tol``:

- gaussian: ``max |grad U|``;
- laplace: the largest violation of ``0 in grad f + lam d||W||_1``: ``|g_j + lam sign(w_j)|`` where
  ``w_j != 0``, ``max(0, |g_j| - lam)`` where ``w_j = 0``, ``|g_j|`` for an intercept.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from bayeswd.classification.problem import GLMProblem, row_sums

__all__ = ["NEWTON_CG_MIN_COST", "kkt_violation", "newton", "newton_cg", "proximal_newton", "uses_newton_cg"]

_ARMIJO = 1e-4
_MIN_STEP = 1e-12
#: Below this decrease (relative to max(1, |U|)) the objective cannot tell a step apart from
#: rounding: the full step is taken without a line search (it is in Newton's quadratic region).
_ROUNDING = 1e-13
#: Optimality below which three steps without halving it mean the rounding floor is reached.
_FLOOR = 1e-9
#: Multiply-adds of one Hessian (``n (d + 1)^2`` per pair of classes) above which the gaussian MAP
#: runs truncated Newton (:func:`newton_cg`) instead of forming and factorising the Hessian; set from
#: ``benchmarks/classification_map.py`` (docs/classification.md, section 6).
NEWTON_CG_MIN_COST = 4e6
#: Size ``n (d + 1)`` up to which the bernoulli Hessian-vector products go through ``A = [X 1]``,
#: formed once (two operations a product), above which through ``X`` (five; forming ``A``
#: copies the design, page faults included). Measured at ``tol = 1e-4``: 500 x 200, 7.1 against
#: 9.7 ms; 3000 x 100, 5.0 against 5.4 ms; 10000 x 50, 7.8 against 7.2 ms.
FORM_A_MAX = 4e5
#: Cap of the forcing term of :func:`newton_cg` (the relative residual of its inner solve).
FORCING_CAP = 0.5

#: a step of the Newton loop and its logits (``None`` where not known without a pass over ``X``)
_Direction = tuple[torch.Tensor, "torch.Tensor | None"]


class _RoundingFloor:
    """The stopping rule of a Newton-type loop at the rounding floor.

    Three steps in a row below :data:`_FLOOR` that fail to halve the best optimality so far: the
    gradient (or KKT violation) no longer shrinks.
    """

    def __init__(self) -> None:
        self.stalls, self.best = 0, math.inf

    def reached(self, optimality: float) -> bool:
        self.stalls = self.stalls + 1 if optimality < _FLOOR and optimality >= 0.5 * self.best else 0
        self.best = min(self.best, optimality)
        return self.stalls >= 3


def _gradient_scale(prob: GLMProblem) -> float:
    """``max(1, max |grad f(0)|)``: the scale of the optimality residual.

    At ``theta = 0`` every probability is ``1 / K``: the gradient ``A^T (1/K - Y)`` needs no logits
    (one pass over ``X`` instead of two; equal to :meth:`GLMProblem.value_grad` at 0, tested).
    """
    n, K = prob.X.shape[0], prob.num_classes
    if prob.family == "bernoulli":
        r = 0.5 - prob.y.to(prob.X.dtype)
    else:
        r = prob.X.new_full((n, K), 1.0 / K)
        r[torch.arange(n, device=r.device), prob.y] -= 1.0
    return max(1.0, float(prob.transpose_times(r).abs().max()))


def _solve_spd(H: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """``H^{-1} rhs`` by Cholesky, with a growing diagonal shift if ``H`` is numerically singular."""
    L, info = torch.linalg.cholesky_ex(H)
    shift = 0.0
    while int(info) != 0:
        shift = max(shift * 10.0, 1e-12 * float(H.diagonal().abs().max()), 1e-300)
        L, info = torch.linalg.cholesky_ex(H + shift * torch.eye(H.shape[0], dtype=H.dtype, device=H.device))
    return torch.cholesky_solve(rhs.unsqueeze(-1), L).squeeze(-1)


def uses_newton_cg(prob: GLMProblem) -> bool:
    """Whether :func:`newton` runs truncated Newton on ``prob``.

    It does where one Hessian costs more than :data:`NEWTON_CG_MIN_COST` multiply-adds
    (``n (d + 1)^2`` for each of the ``K (K + 1) / 2`` pairs of classes).
    """
    n, p, K = prob.X.shape[0], prob.d + int(prob.fit_intercept), prob.num_classes  # A is not formed
    pairs = 1 if prob.family == "bernoulli" else K * (K + 1) // 2
    return n * p * p * pairs > NEWTON_CG_MIN_COST


def newton(prob: GLMProblem, max_iter: int, tol: float) -> tuple[torch.Tensor, int, bool, float]:
    """The gaussian prior's MAP: Newton, or truncated Newton where the Hessian is expensive.

    :func:`newton_full` (a Cholesky solve of the full Hessian each step) where forming the Hessian
    is cheap, :func:`newton_cg` (conjugate gradients on Hessian-vector products) where it is not
    (:func:`uses_newton_cg`). Both stop on the same optimality; returns
    ``(theta, n_iter, converged, optimality)``.
    """
    return (newton_cg if uses_newton_cg(prob) else newton_full)(prob, max_iter, tol)


def newton_full(prob: GLMProblem, max_iter: int, tol: float) -> tuple[torch.Tensor, int, bool, float]:
    """Damped Newton (IRLS) for the gaussian prior: ``U = f + ||W||^2 / (2 tau^2)``.

    The full Hessian (``d + 1`` for the bernoulli family, ``(d + 1) K - 1`` for the categorical
    one, ``b_0 = 0``) is positive definite: the prior covers every weight, and fixing ``b_0`` removes
    the intercepts' common shift. Each step is a Cholesky solve followed by a backtracking
    (Armijo) line search on ``U``; near the optimum the full step is taken and convergence is
    quadratic.

    Returns
    -------
    theta, n_iter, converged, optimality
    """
    def direction(probs: torch.Tensor, g: torch.Tensor, pen: torch.Tensor, optimality: float) -> _Direction:
        del optimality
        H = prob.hessian(probs)
        H.diagonal().add_(pen)
        return -_solve_spd(H, g), None

    return _damped_newton(prob, max_iter, tol, direction)


def _damped_newton(prob: GLMProblem, max_iter: int, tol: float, direction: Callable[..., _Direction]
                   ) -> tuple[torch.Tensor, int, bool, float]:
    """The loop both gaussian-prior solvers share, from :meth:`GLMProblem.start`.

    ``direction(probs, g, pen, optimality)`` gives the step (and its logits, or ``None``) and
    :func:`_line_search` its length, until the optimality reaches ``tol``, ``max_iter`` steps, or
    the rounding floor.
    """
    lam, nw = 1.0 / prob.tau**2, prob.n_weights
    scale = _gradient_scale(prob)
    theta = prob.start()
    pen = torch.zeros(prob.size, dtype=theta.dtype, device=theta.device)
    pen[:nw] = lam
    floor = _RoundingFloor()
    eta, f = prob.logits(theta), None
    for it in range(max_iter + 1):
        f, g, probs = prob.value_grad(theta, eta, f)
        g = g + pen * theta
        U = f + 0.5 * lam * float(theta[:nw] @ theta[:nw])
        optimality = float(g.abs().max()) / scale
        if optimality <= tol:
            return theta, it, True, optimality
        if it == max_iter or floor.reached(optimality):
            break
        step, step_logits = direction(probs, g, pen, optimality)
        moved = _line_search(prob, theta, eta, step, step_logits, g, U, lam)
        if moved is None:
            break  # no decrease along a descent direction: rounding
        theta, eta, f = moved
    return theta, min(it, max_iter), False, optimality


def _line_search(prob: GLMProblem, theta: torch.Tensor, eta: torch.Tensor, step: torch.Tensor,
                 step_logits: torch.Tensor | None, g: torch.Tensor, U: float, lam: float
                 ) -> tuple[torch.Tensor, torch.Tensor, float | None] | None:
    """Armijo backtracking on ``U`` along ``step``: the new point, its logits and ``sum CE``, or ``None``.

    ``eta`` are the logits at ``theta``; ``step_logits`` those of ``step`` (the logits are linear
    in ``theta``: ``eta + t step_logits`` at ``theta + t step``, no pass over ``X``), or ``None``
    (one product with ``X`` per trial). Below :data:`_ROUNDING` the predicted decrease cannot be
    told from rounding: the full step is taken (Newton's quadratic region) without evaluating it
    (``sum CE`` then ``None``). ``None`` when no step down to :data:`_MIN_STEP` decreases ``U``
    enough, or ``step`` is not a descent direction.
    """
    nw = prob.n_weights
    decrease = -float(g @ step)
    if not decrease > 0.0:
        return None
    t = 1.0
    while t >= _MIN_STEP:
        cand = theta + t * step
        cand_eta = prob.logits(cand) if step_logits is None else eta + t * step_logits
        if decrease <= _ROUNDING * max(1.0, abs(U)):
            return cand, cand_eta, None
        f = prob.nll_of_logits(cand_eta)
        if f + 0.5 * lam * float(cand[:nw] @ cand[:nw]) <= U - _ARMIJO * t * decrease:
            return cand, cand_eta, f
        t *= 0.5
    return None


_Operator = Callable[[torch.Tensor], torch.Tensor]


def _hessian_operator(prob: GLMProblem, probs: torch.Tensor, lam: float, col_sq: torch.Tensor
                      ) -> tuple[Callable[[torch.Tensor], _Direction], _Operator]:
    """``v -> (H v, A v)`` of ``U``'s Hessian at ``probs``, without forming ``H``, and a preconditioner.

    ``A v`` (the logits of ``v``) comes with the product: conjugate gradients sum them into the
    logits of the step, which the line search then needs no pass over ``X`` for.
    Bernoulli: ``H v = A^T (p (1 - p) * A v) + pen v``. Categorical: with ``E = A V`` (``V`` the
    ``(d + 1, K)`` matrix of ``v``, ``b_0`` entry 0), row ``i`` of the product is
    ``P_i * E_i - P_i (P_i . E_i)``, then ``A^T`` of it, in ``theta``'s layout. The products go
    through ``X`` (:meth:`GLMProblem.logits`, :meth:`GLMProblem.transpose_times`: forming ``A``
    copies the design, 2 ms of a 10 ms fit at 10000 x 50), except for bernoulli problems of up to
    :data:`FORM_A_MAX` numbers, where the fewer operations of a product through ``A`` pay for it.

    The preconditioner ``r -> M^{-1} r`` replaces every row's curvature by its mean over the rows,
    ``C = mean_i (diag(P_i) - P_i P_i^T)`` (``mean_i p_i (1 - p_i)`` for the bernoulli family), and
    the features' Gram matrix by its diagonal ``col_sq`` (the column sums of squares):
    ``M = C (x) diag(col_sq) + lam I`` on the weights, ``n C`` (without class 0) on the
    intercepts, block-diagonal between the two. It rescales the features as the Jacobi
    preconditioner does, and for the categorical family it also couples each feature's ``K``
    weights as the softmax does (their curvatures are negatively correlated), at no pass over the
    data. Measured on the MAP benchmark (docs/classification.md, section 6): the exact diagonal
    (which needs ``X * X``, a copy of the design, and a product with it each step) cost more
    than the conjugate-gradient steps it saved; the coupling halved them on three classes (33 to
    17 products on 1000 x 20, 29 to 16 on 10000 x 50).
    """
    n, nw = probs.shape[0], prob.n_weights
    pen = torch.zeros(prob.size, dtype=probs.dtype, device=probs.device)
    pen[:nw] = lam
    if prob.family == "bernoulli":
        w = probs * (1.0 - probs)
        diag = w.mean() * col_sq
        if prob.fit_intercept:
            diag = torch.cat([diag, w.sum().reshape(1)])
        inv = 1.0 / (diag + pen)
        if prob.X.shape[0] * (prob.d + 1) <= FORM_A_MAX:
            A = prob.A

            def hv_bernoulli(v: torch.Tensor) -> _Direction:
                e = A @ v
                return A.T @ (w * e) + pen * v, e
        else:
            def hv_bernoulli(v: torch.Tensor) -> _Direction:
                e = prob.logits(v)
                return prob.transpose_times(w * e) + pen * v, e

        return hv_bernoulli, (lambda r: inv * r)

    d, K = prob.d, prob.num_classes
    C = torch.diag(probs.mean(0)) - (probs.T @ probs) / n
    ev, Q = torch.linalg.eigh(C)
    scale = ev.clamp_min(0.0)[:, None] * col_sq[None, :] + lam  # (K, d): M's eigenvalues per feature
    if prob.fit_intercept:
        evb, Qb = torch.linalg.eigh(n * C[1:, 1:])
        evb = evb.clamp_min(1e-12 * float(evb.abs().max()) + 1e-300)

    def hv(v: torch.Tensor) -> _Direction:
        E = prob.logits(v)
        return prob.transpose_times(probs * (E - row_sums(probs * E))) + pen * v, E

    def precondition(r: torch.Tensor) -> torch.Tensor:
        out = (Q @ ((Q.T @ r[:nw].view(K, d)) / scale)).reshape(-1)
        if not prob.fit_intercept:
            return out
        return torch.cat([out, Qb @ ((Qb.T @ r[nw:]) / evb)])

    return hv, precondition


def newton_cg(prob: GLMProblem, max_iter: int, tol: float) -> tuple[torch.Tensor, int, bool, float]:
    """Truncated Newton for the gaussian prior: each step by preconditioned conjugate gradients.

    The Newton system ``H s = -g`` is solved by conjugate gradients on Hessian-vector products (two
    products with ``A`` each; :func:`_hessian_operator`), preconditioned by the Hessian with
    every row's curvature replaced by its mean (:func:`_hessian_operator`), to the
    relative residual ``min(0.5, sqrt(optimality))`` (the forcing term of Eisenstat and Walker:
    superlinear, then quadratic convergence, as the full Newton step), then the same Armijo line
    search as :func:`newton_full`. It never forms the ``P x P`` Hessian: ``O(n P)`` per product
    against ``O(n P^2 + P^3)`` per Newton step. Returns ``(theta, n_iter, converged, optimality)``.
    """
    col_sq = _column_sums_of_squares(prob.X)
    max_cg = max(50, 2 * prob.size)
    lam = 1.0 / prob.tau**2

    def direction(probs: torch.Tensor, g: torch.Tensor, pen: torch.Tensor, optimality: float) -> _Direction:
        del pen
        hv, precondition = _hessian_operator(prob, probs, lam, col_sq)
        return _pcg(hv, g, precondition, min(FORCING_CAP, math.sqrt(optimality)), max_cg)

    return _damped_newton(prob, max_iter, tol, direction)


def _column_sums_of_squares(X: torch.Tensor) -> torch.Tensor:
    """``(X * X).sum(0)`` without the ``n x d`` temporary on the CPU (NumPy's einsum, 0.2 ms at 10000 x 50).

    Inside a fit the temporary is a fresh allocation each time, page faults included: ``X.square().sum(0)``
    took 2 ms of a 9 ms fit at 10000 x 50 (measured with cProfile over 50 fits).
    """
    if X.device.type != "cpu":
        return X.square().sum(0)
    Xn = X.detach().numpy()
    return torch.from_numpy(np.einsum("ij,ij->j", Xn, Xn))


def _pcg(hv: Callable[[torch.Tensor], _Direction], g: torch.Tensor, precondition: _Operator, rel: float,
         max_iter: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Approximate ``H^{-1} (-g)`` by preconditioned CG from 0, stopped at ``||r|| <= rel ||g||``.

    ``hv(v)`` returns ``(H v, A v)``; returns the solution ``x`` and its logits ``A x`` (the sum of
    the directions' logits with the same coefficients; ``None`` if no product was taken). Every
    iterate is a descent direction (CG from 0 on a positive definite ``H``).
    """
    x = torch.zeros_like(g)
    ax = None
    r = -g
    z = precondition(r)
    p = z
    rz = float(r @ z)
    stop = rel * float(g.norm())
    for _ in range(max_iter):
        Hp, Ap = hv(p)
        pHp = float(p @ Hp)
        if not pHp > 0.0:
            break
        alpha = rz / pHp
        x = x + alpha * p
        ax = alpha * Ap if ax is None else ax + alpha * Ap
        r = r - alpha * Hp
        if float(r.norm()) <= stop:
            break
        z = precondition(r)
        rz_new = float(r @ z)
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x, ax


def kkt_violation(g: np.ndarray, theta: np.ndarray, penalised: np.ndarray, lam: float) -> np.ndarray:
    """Per-entry violation of ``0 in g + lam d|w|`` (weights) or ``g = 0`` (intercepts)."""
    absg = np.abs(g)
    on = np.where(theta != 0, np.abs(g + lam * np.sign(theta)), np.maximum(absg - lam, 0.0))
    return np.where(penalised, on, absg)


def _soft(z: float, t: float) -> float:
    if z > t:
        return z - t
    if z < -t:
        return z + t
    return 0.0


def _model_value(H: np.ndarray, g: np.ndarray, delta: np.ndarray, z: np.ndarray, pen: np.ndarray,
                 lam: float) -> float:
    """The quadratic model ``g . D + D^T H D / 2 + lam ||z_pen||_1`` at ``D = delta``, ``z = z0 + D``."""
    return float(g @ delta + 0.5 * delta @ (H @ delta) + lam * np.abs(z[pen]).sum())


def _feature_sign(
    H: np.ndarray, g: np.ndarray, z0: np.ndarray, z: np.ndarray, pen: np.ndarray, lam: float,
    target: float, max_steps: int,
) -> np.ndarray | None:
    """Finish minimising the quadratic model exactly from ``z``: feature-sign search.

    Lee, Battle, Raina and Ng (2007): with the signs of the non-zero entries fixed the model is a
    quadratic, minimised by one linear solve; a line search over the segment to that minimiser
    (its end and the points where an entry crosses zero) keeps the objective decreasing and sets
    the crossing entry to an exact zero; when the non-zero entries are optimal, the zero entry
    that violates its condition most joins with the sign that decreases the model. Each step
    decreases the model, so no sign pattern repeats and the search ends at the exact minimiser.
    Returns ``D = z - z0``, or ``None`` if a solve fails or a step makes no progress (the caller
    then continues with coordinate descent).
    """
    z = z.copy()
    for _ in range(max_steps):
        delta = z - z0
        r = g + H @ delta
        viol = kkt_violation(r, z, pen, lam)
        if viol.max() <= target:
            return delta
        active, signs = ~pen | (z != 0), np.sign(z)
        if viol[active].max() <= target:  # the non-zero entries are optimal: add the worst zero one
            j = int(np.argmax(np.where(active, -np.inf, viol)))
            active[j], signs[j] = True, -np.sign(r[j])
        rest = ~active
        rhs = -(g[active] - H[np.ix_(active, rest)] @ z0[rest] + lam * signs[active] * pen[active])
        try:
            step = np.zeros_like(z)
            step[active] = np.linalg.solve(H[np.ix_(active, active)], rhs) + z0[active] - z[active]
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(step)):
            return None
        moving = np.flatnonzero(pen & (z != 0) & (step != 0))
        crossing = -z[moving] / step[moving]
        inside = (crossing > 0) & (crossing < 1)
        moving, crossing = moving[inside], crossing[inside]
        ts = np.concatenate([[1.0], crossing])
        values = [_model_value(H, g, delta + t * step, z + t * step, pen, lam) for t in ts]
        best = int(np.argmin(values))
        if values[best] >= _model_value(H, g, delta, z, pen, lam):
            return None
        znew = z + ts[best] * step
        if best > 0:  # stopped where entries cross zero: they become exact zeros
            znew[moving[crossing == ts[best]]] = 0.0
        z = znew
    return None


def _model_step(
    H: np.ndarray, g: np.ndarray, z0: np.ndarray, pen: np.ndarray, lam: float, target: float, max_sweeps: int
) -> np.ndarray:
    """Minimise ``g . D + D^T H D / 2 + lam ||(z0 + D)_pen||_1`` over ``D``.

    Cyclic coordinate descent with soft-thresholding, which finds the support cheaply, finished by
    :func:`_feature_sign`, which solves the model exactly once the support is (nearly) right: tried
    when the sign pattern has not changed over a sweep, and after 30 and 300 sweeps (coordinate
    descent is slow on correlated features). Stops when the model's KKT violation is at most
    ``target``.
    """
    size = g.shape[0]
    delta = np.zeros(size)
    Hd = np.zeros(size)
    diag = np.diag(H).copy()
    order = [j for j in range(size) if diag[j] > 0.0]
    pattern, tries = None, 0
    for sweep in range(1, max_sweeps + 1):
        for j in order:
            h = diag[j]
            z = z0[j] + delta[j]
            a = g[j] + Hd[j]
            znew = _soft(z - a / h, lam / h) if pen[j] else z - a / h
            dz = znew - z
            if dz != 0.0:
                delta[j] += dz
                Hd += dz * H[j]
        z = z0 + delta
        if kkt_violation(g + Hd, z, pen, lam).max() <= target:
            break
        previous, pattern = pattern, np.sign(z)
        if tries < 5 and (sweep in (30, 300) or np.array_equal(pattern, previous)):
            tries += 1
            exact = _feature_sign(H, g, z0, z, pen, lam, target, max_steps=2 * size + 10)
            if exact is not None:
                return exact
    return delta


def proximal_newton(
    prob: GLMProblem, max_iter: int, tol: float, max_sweeps: int = 2000
) -> tuple[torch.Tensor, int, bool, float]:
    """Proximal Newton for the laplace prior: ``U = f + ||W||_1 / tau``, exact zeros.

    Each outer step minimises the quadratic model of ``f`` plus the exact L1 term (as glmnet and
    liblinear's newGLMNET do) on a working set (the intercepts, the non-zero weights and the zero
    weights whose gradient exceeds ``lam``): cyclic coordinate descent with soft-thresholding,
    finished exactly by feature-sign search (:func:`_feature_sign`), then a backtracking line
    search on ``U`` with the sufficient decrease of Lee, Sun and Saunders (2014). The model is
    solved more tightly as the iterate converges (to ``min(0.1, sqrt(v)) v`` for the scaled
    violation ``v``), and exactly once its sign pattern is found, so the convergence is
    superlinear; the zeros are exact, not thresholded.

    Returns
    -------
    theta, n_iter, converged, optimality
    """
    lam, nw = 1.0 / prob.tau, prob.n_weights
    scale = _gradient_scale(prob)
    theta = prob.start()
    pen = np.zeros(prob.size, dtype=bool)
    pen[:nw] = True
    floor = _RoundingFloor()
    for it in range(max_iter + 1):
        f, g_t, probs = prob.value_grad(theta)
        g, th = g_t.cpu().numpy(), theta.cpu().numpy()
        U = f + lam * float(np.abs(th[:nw]).sum())
        viol = kkt_violation(g, th, pen, lam)
        optimality = float(viol.max()) / scale
        if optimality <= tol:
            return theta, it, True, optimality
        if it == max_iter:
            break
        if floor.reached(optimality):
            break
        work = ~pen | (th != 0) | (np.abs(g) > lam * (1.0 - 1e-6))
        H = prob.hessian(probs).cpu().numpy()
        Hw = np.ascontiguousarray(H[np.ix_(work, work)])
        target = max(min(0.1, math.sqrt(optimality)) * optimality, 0.1 * tol) * scale
        found = False
        # a quadratic model that is flat along some direction (the softmax's null direction
        # W + c 1^T, on which only the weak L1 term acts) can send its minimiser far away; the
        # step is then shortened by the line search, and if no step length is accepted the model
        # is damped (Levenberg-Marquardt: H + mu I, mu growing tenfold) and solved again. Seen on
        # a fold of a three-class problem at tau = 1000: an unchecked full step took U from 45 to
        # 1.5e11.
        for mu in (0.0, *(1e-8 * 10.0**k * float(np.abs(np.diag(Hw)).max() + 1.0) for k in range(8))):
            Hd = Hw if mu == 0.0 else Hw + mu * np.eye(Hw.shape[0])
            delta = np.zeros(prob.size)
            delta[work] = _model_step(Hd, g[work], th[work], pen[work], lam, target, max_sweeps)
            znew = th + delta
            decrease = -(float(g @ delta) + lam * float(np.abs(znew[:nw]).sum() - np.abs(th[:nw]).sum()))
            step = torch.from_numpy(delta).to(theta)
            # sufficient decrease where the model predicts one; otherwise the objective must at
            # least not rise beyond rounding
            sufficient = decrease > _ROUNDING * max(1.0, abs(U))
            bound = U + _ROUNDING * max(1.0, abs(U))
            t = 1.0
            while t >= _MIN_STEP:
                U_cand = prob.objective(theta + t * step)
                if (U_cand <= U - _ARMIJO * t * decrease) if sufficient else (U_cand <= bound):
                    found = True
                    break
                t *= 0.5
            if found:
                break
        if not found:
            break
        theta = torch.from_numpy(znew).to(theta) if t == 1.0 else theta + t * step
    return theta, min(it, max_iter), False, optimality

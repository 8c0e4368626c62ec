"""One classification MAP problem: data, settings, and the closed-form log loss, gradient and Hessian.

The parameters are packed into one vector ``theta = (W[:, 0], ..., W[:, m-1], b_free)``:

- bernoulli: ``W`` has shape ``(d, 1)`` and ``b_free = (b,)``;
- categorical: ``W`` has shape ``(d, K)``, stored column after column (class-major, so that each
  pair of classes is one contiguous ``d x d`` block of the Hessian), and ``b_free = (b_1, ..., b_{K-1})``:
  the intercept of class 0 is fixed at 0 (the model's reference class).

The first ``d m`` entries (``m`` = 1 or ``K``) are the weights, the prior's entries; the rest are the
flat intercepts. The one definition of the objective stays the Pyro model
(:func:`bayeswd.model.log_density` with ``family="bernoulli"`` or ``"categorical"``);
``tests/test_classification_map.py`` checks the closed forms here against autograd of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from bayeswd.model import log_density

__all__ = ["GLMProblem", "row_sums", "softplus"]


def softplus(eta: torch.Tensor) -> torch.Tensor:
    """``log(1 + e^eta)`` elementwise, to float64 rounding, in one fused torch kernel.

    torch's softplus returns ``eta`` itself above its threshold; at 50 the omitted ``e^-eta``
    (2e-22) is far below the rounding of ``eta``, and below it ``log1p(exp(eta))`` neither
    overflows nor cancels. A quarter of the time of ``max(eta, 0) + log1p(exp(-|eta|))``, the
    same values (tested).
    """
    return torch.nn.functional.softplus(eta, beta=1.0, threshold=50.0)


def row_sums(M: torch.Tensor) -> torch.Tensor:
    """``M.sum(1, keepdim=True)`` for an ``(n, K)`` matrix with a few columns, as a product with ones.

    torch's reduction over a short last dimension is slow on the CPU: 0.29 ms against 0.03 ms for
    the product on 10000 x 3 (one thread); the sums are the same to rounding.
    """
    return M @ M.new_ones(M.shape[1], 1)


@dataclass
class GLMProblem:
    """Data and settings of one classifier fit.

    Attributes
    ----------
    X : torch.Tensor, shape (n, d)
        Design matrix, float64.
    y : torch.Tensor, shape (n,)
        Class indices ``0..K-1`` (int64); for the bernoulli family 0 and 1.
    family : {"bernoulli", "categorical"}
    prior : {"gaussian", "laplace"}
    tau : float
        Prior scale of every weight.
    fit_intercept : bool
    num_classes : int
        ``K`` (2 for the bernoulli family).
    """

    X: torch.Tensor
    y: torch.Tensor
    family: str
    prior: str
    tau: float
    fit_intercept: bool
    num_classes: int
    _A: torch.Tensor | None = field(default=None, init=False, repr=False)
    _Y: torch.Tensor | None = field(default=None, init=False, repr=False)
    #: the softmax pieces ``(eta, top, exp(eta - top), row sums)`` of the last :meth:`_nll`, which
    #: :meth:`value_grad` at the same logits (a line search's accepted point) reuses
    _softmax: tuple[torch.Tensor, ...] | None = field(default=None, init=False, repr=False)

    @property
    def d(self) -> int:
        """Number of features."""
        return self.X.shape[1]

    @property
    def m(self) -> int:
        """Columns of ``W``: 1 (bernoulli) or ``K`` (categorical)."""
        return 1 if self.family == "bernoulli" else self.num_classes

    @property
    def n_weights(self) -> int:
        """Number of penalised entries, ``d m`` (the first entries of ``theta``)."""
        return self.d * self.m

    @property
    def size(self) -> int:
        """Length of ``theta``."""
        if not self.fit_intercept:
            return self.n_weights
        return self.n_weights + (1 if self.family == "bernoulli" else self.num_classes - 1)

    @property
    def A(self) -> torch.Tensor:  # noqa: N802
        """``[X 1]`` (or ``X`` without an intercept), formed once."""
        if self._A is None:
            X = self.X
            self._A = torch.cat([X, X.new_ones(X.shape[0], 1)], 1) if self.fit_intercept else X
        return self._A

    def unpack(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(W, b)``: ``W`` of shape ``(d, m)``, ``b`` of shape ``(m,)`` (zeros when not fitted)."""
        W = theta[: self.n_weights].reshape(self.m, self.d).T
        if not self.fit_intercept:
            return W, theta.new_zeros(self.m)
        b = theta[self.n_weights:]
        if self.family == "categorical":
            b = torch.cat([b.new_zeros(1), b])
        return W, b

    def pack(self, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``theta`` from ``W`` of shape ``(d, m)`` and intercepts ``b`` of shape ``(m,)``.

        Categorical intercepts are shifted to ``b_0 = 0`` (the likelihood does not see a common
        shift); without an intercept ``b`` is ignored.
        """
        w = W.T.reshape(-1)
        if not self.fit_intercept:
            return w
        return torch.cat([w, b.reshape(1) if self.family == "bernoulli" else b[1:] - b[0]])

    def coef_intercept(self, theta: torch.Tensor) -> tuple[torch.Tensor, float | torch.Tensor]:
        """Public shapes: ``coef`` ``(d,)`` or ``(d, K)``, ``intercept`` a float or ``(K,)``."""
        W, b = self.unpack(theta.detach().cpu().clone())
        if self.family == "bernoulli":
            return W[:, 0].clone(), float(b[0])
        return W.clone(), b.clone()

    def model_values(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """The latent sites of the Pyro model (``"coef"``, ``"intercept"``) at ``theta``."""
        W = theta[: self.n_weights].reshape(self.m, self.d).T
        values = {"coef": W[:, 0] if self.family == "bernoulli" else W}
        if self.fit_intercept:
            b = theta[self.n_weights:]
            values["intercept"] = b[0] if self.family == "bernoulli" else b
        return values

    @property
    def model_kwargs(self) -> dict[str, Any]:
        """The settings of :func:`bayeswd.model.log_density` for this problem."""
        kw: dict[str, Any] = {"prior": self.prior, "tau": self.tau, "fit_intercept": self.fit_intercept,
                              "family": self.family}
        if self.family == "categorical":
            kw["num_classes"] = self.num_classes
        return kw

    def model_y(self) -> torch.Tensor:
        """``y`` as the model's ``"obs"`` site takes it (float 0/1 for the bernoulli family)."""
        return self.y.to(self.X.dtype) if self.family == "bernoulli" else self.y

    def neg_log_density(self, theta: torch.Tensor, part: str = "joint") -> torch.Tensor:
        """``-log p`` of the Pyro model at ``theta`` (differentiable; for tests and checks)."""
        return -log_density(self.model_values(theta), self.X, self.model_y(), part=part, **self.model_kwargs)

    def logits(self, theta: torch.Tensor) -> torch.Tensor:
        """``A Theta``: shape ``(n,)`` (bernoulli) or ``(n, K)`` (categorical)."""
        W, b = self.unpack(theta)
        # X W + b as one product with the (m, d) view of the weights (contiguous in theta):
        # torch's (n, d) x (d, K) product is about twice as slow for a few columns K
        eta = torch.nn.functional.linear(self.X, W.T, b)
        return eta[:, 0] if self.family == "bernoulli" else eta

    def nll(self, theta: torch.Tensor) -> float:
        """``sum_i CE_i``: the negative log likelihood (no constant is dropped)."""
        return self.nll_of_logits(self.logits(theta))

    def nll_of_logits(self, eta: torch.Tensor) -> float:
        """:meth:`nll` from the logits :meth:`logits` returned (a line search keeps them)."""
        return float(self._nll(eta))

    def _nll(self, eta: torch.Tensor) -> torch.Tensor:
        if self.family == "bernoulli":
            # log(1 + e^eta) - y eta, without overflow (softplus above: exact to rounding)
            y = self.y.to(eta.dtype)
            return (softplus(eta) - y * eta).sum()
        top = eta.amax(1, keepdim=True)
        E = torch.exp(eta - top)
        total = row_sums(E)
        self._softmax = (eta, top, E, total)
        return (top + torch.log(total)).sum() - eta.gather(1, self.y[:, None]).sum()

    def penalty(self, theta: torch.Tensor) -> float:
        """``R(W)``: ``||W||^2 / (2 tau^2)`` (gaussian) or ``||W||_1 / tau`` (laplace)."""
        w = theta[: self.n_weights]
        if self.prior == "gaussian":
            return float(w @ w) / (2.0 * self.tau**2)
        return float(w.abs().sum()) / self.tau

    def objective(self, theta: torch.Tensor) -> float:
        """``U = sum_i CE_i + R(W)``, the negative log posterior without the prior's constants."""
        return self.nll(theta) + self.penalty(theta)

    def value_grad(self, theta: torch.Tensor, eta: torch.Tensor | None = None, f: float | None = None
                   ) -> tuple[float, torch.Tensor, torch.Tensor]:
        """``(sum CE, its gradient in theta, the probabilities)`` in closed form.

        The gradient is ``A^T (p - y)`` (bernoulli) or ``A^T (P - Y)`` (categorical, ``Y`` one-hot,
        without the entry of ``b_0``). The probabilities are kept for :meth:`hessian`. ``eta``: the
        logits at ``theta`` when already computed (one pass over ``X`` saved); ``f``: ``sum CE`` at
        them when known (a line search computed it).
        """
        eta = self.logits(theta) if eta is None else eta
        if self.family == "bernoulli":
            f = float(self._nll(eta)) if f is None else f
            p = torch.sigmoid(eta)
            return f, self.transpose_times(p - self.y.to(eta.dtype)), p
        # the softmax and its log normaliser from one exp (torch's softmax and logsumexp each
        # cost about as much again on a few columns); a line search's last _nll at these very
        # logits already has them
        cached, self._softmax = self._softmax, None
        if cached is not None and cached[0] is eta and f is not None:
            _, top, E, total = cached
        else:
            top = eta.amax(1, keepdim=True)
            E = torch.exp(eta - top)
            total = row_sums(E)
            f = float((top + torch.log(total)).sum() - eta.gather(1, self.y[:, None]).sum())
        P = E.div_(total)
        return f, self.transpose_times(P - self.onehot), P

    @property
    def onehot(self) -> torch.Tensor:
        """``Y``, the ``(n, K)`` one-hot labels (categorical family), formed once."""
        if self._Y is None:
            self._Y = torch.nn.functional.one_hot(self.y, self.num_classes).to(self.X.dtype)
        return self._Y

    def transpose_times(self, r: torch.Tensor) -> torch.Tensor:
        """``A^T r`` in ``theta``'s layout, from ``X`` (``A = [X 1]`` is never formed here).

        ``r`` has shape ``(n,)`` (bernoulli: a gradient-shaped vector) or ``(n, K)`` (categorical:
        packed as :meth:`pack_rows`, the column of ``b_0`` dropped). Forming ``A`` copies the whole
        design (a fresh allocation, page faults included: 1.8 ms of a 15 ms fit at 10000 x 50).
        """
        if self.family == "bernoulli":
            g = self.X.T @ r
            return torch.cat([g, r.sum().reshape(1)]) if self.fit_intercept else g
        g = (r.T @ self.X).reshape(-1)
        return torch.cat([g, r[:, 1:].sum(0)]) if self.fit_intercept else g

    def pack_rows(self, GT: torch.Tensor) -> torch.Tensor:
        """``theta``'s layout of a ``(K, d + 1)`` matrix: rows of the weights, then ``b_1..b_{K-1}``.

        ``GT = R^T A`` is the transposed gradient of the categorical family (its last column the
        intercepts'); the weights' entries are already class after class.
        """
        g = GT[:, : self.d].reshape(-1)
        return torch.cat([g, GT[1:, self.d]]) if self.fit_intercept else g

    def hessian(self, probs: torch.Tensor) -> torch.Tensor:
        """Hessian of ``sum CE`` in ``theta`` at the probabilities ``probs`` of :meth:`value_grad`.

        Bernoulli: ``A^T diag(p (1 - p)) A``. Categorical: the Hessian in all ``K (d + 1)``
        coordinates, block ``(k, l)`` ``A^T diag(P_k (delta_kl - P_l)) A``, from its ``K (K + 1) / 2``
        distinct blocks; ``theta``'s Hessian is its rows and columns without ``b_0`` (fixed), in
        ``theta``'s order. Every block's weights have one sign (``P_k (1 - P_k) >= 0`` on the
        diagonal, ``-P_k P_l <= 0`` off it), so on the CPU each block is ``+-B^T B`` with
        ``B = A * sqrt|c|``, NumPy's symmetric product (BLAS ``syrk``: half the multiply-adds of a
        product; :meth:`_hessian_numpy`); elsewhere torch's products.
        """
        if self.X.device.type == "cpu":
            return torch.from_numpy(self._hessian_numpy(probs.detach().numpy()))
        return self._hessian_torch(probs)

    def _hessian_torch(self, probs: torch.Tensor) -> torch.Tensor:
        """:meth:`hessian` by torch's products (any device).

        All blocks from one product ``A^T [A * c_1, ..., A * c_m]`` for small ``K (d + 1)``, else
        block by block.
        """
        A = self.A
        if self.family == "bernoulli":
            return A.T @ (A * (probs * (1.0 - probs))[:, None])
        n, p = A.shape
        K = self.num_classes
        ks, ms = torch.triu_indices(K, K, device=A.device)  # the K (K + 1) / 2 distinct blocks
        full = A.new_empty(K * p, K * p)
        one_product = K * p <= 128  # all blocks from one product A^T [A * c_1, ..., A * c_m]: small blocks
        if one_product:
            C = probs[:, ks] * ((ks == ms).to(A.dtype) - probs[:, ms])  # (n, pairs): the blocks' weights
            blocks = (A.T @ (A[:, None, :] * C[:, :, None]).reshape(n, -1)).view(p, -1, p)
        for i, (k, m) in enumerate(zip(ks.tolist(), ms.tolist(), strict=True)):
            if one_product:
                block = blocks[:, i, :]
            else:  # block by block: the stacked products above would hold n p K (K + 1) / 2 numbers
                block = A.T @ (A * (probs[:, k] * ((1.0 if k == m else 0.0) - probs[:, m]))[:, None])
            full[k * p:(k + 1) * p, m * p:(m + 1) * p] = block
            if m != k:
                full[m * p:(m + 1) * p, k * p:(k + 1) * p] = block.T
        idx = self._theta_index(p)
        return full[idx][:, idx]

    def _hessian_numpy(self, P: np.ndarray) -> np.ndarray:
        """:meth:`hessian` on the CPU: each block one ``syrk`` (``b.T @ b`` of one array).

        Three-class 1000 x 20: 0.39 ms against 0.53 ms for torch's products with their assembly
        (forming every block's ``B`` in one broadcast operation first was slower: 0.42 ms).
        """
        A = self.A.detach().numpy()
        if self.family == "bernoulli":
            b = A * np.sqrt(P * (1.0 - P))[:, None]
            return b.T @ b
        p, K = A.shape[1], self.num_classes
        full = np.empty((K * p, K * p))
        for k in range(K):
            for m in range(k, K):
                c = P[:, k] * ((1.0 if k == m else 0.0) - P[:, m])
                b = A * np.sqrt(np.abs(c))[:, None]
                block = b.T @ b
                if k == m:
                    full[k * p:(k + 1) * p, k * p:(k + 1) * p] = block
                else:
                    block = -block
                    full[k * p:(k + 1) * p, m * p:(m + 1) * p] = block
                    full[m * p:(m + 1) * p, k * p:(k + 1) * p] = block.T
        idx = self._theta_index(p).numpy()
        return full[np.ix_(idx, idx)]

    def _theta_index(self, p: int) -> torch.Tensor:
        """Positions of ``theta``'s entries among the ``K (d + 1)`` coordinates ``(class, feature)``."""
        d, K = self.d, self.num_classes
        dev = self.X.device
        cols = [torch.arange(k * p, k * p + d, device=dev) for k in range(K)]
        if self.fit_intercept:
            cols.append(torch.arange(1, K, device=dev) * p + d)
        return torch.cat(cols)

    def start(self) -> torch.Tensor:
        """``W = 0`` and the intercepts at the log odds of the class frequencies (their MAP at ``W = 0``)."""
        theta = self.X.new_zeros(self.size)
        if self.fit_intercept:
            counts = torch.bincount(self.y, minlength=self.num_classes).to(self.X.dtype)
            logf = torch.log(counts)
            theta[self.n_weights:] = logf[1:] - logf[0]
        return theta

"""The exact ridge path from one thin SVD of the centred design."""

from __future__ import annotations

import numpy as np

__all__ = ["RidgeSVD"]


class RidgeSVD:
    """``min ||yc - Xc w||^2 + lam ||w||^2`` for any number of ``lam`` from one SVD ``Xc = U S V^T``.

    ``w(lam) = V diag(s / (s^2 + lam)) U^T yc``, vectorised over the grid.
    """

    def __init__(self, Xc: np.ndarray, yc: np.ndarray) -> None:
        U, self.s, self.Vt = np.linalg.svd(Xc, full_matrices=False)
        self.uty = U.T @ yc

    @property
    def top_eigenvalue(self) -> float:
        """Largest eigenvalue ``s_max^2`` of ``Xc^T Xc``."""
        return float(self.s[0]) ** 2 if self.s.size else 0.0

    def path(self, lams: np.ndarray) -> np.ndarray:
        """Weights at each ``lam``, shape ``(m, d)``."""
        filt = self.s / (self.s**2 + lams[:, None])  # (m, k)
        return (filt * self.uty) @ self.Vt

"""Weight decay is a gaussian prior: the equivalence, printed on the seed problem.

The seed problem and the conventions: docs/mathematics.md, sections 4 and 2.3.

Run: ``python examples/equivalence.py`` (needs scikit-learn, installed by the ``test`` extra).
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.linear_model import Lasso, Ridge

import bayeswd as bw


def rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def main() -> None:
    p = bw.seed_problem()
    X, y, n = p.train.X, p.train.y, p.train.X.shape[0]
    print("Seed problem: n = 20 training rows, d = 200 features, noise sd sigma = 0.01, true w = 0.01")
    print(f"SGD(weight_decay=3) on MSELoss(mean) believes each weight ~ Normal(0, tau^2), tau = {p.tau:.4g}")
    print("\nOne prior, every convention:")
    for key, value in bw.conventions_table(p.sigma, p.tau, n).items():
        print(f"  {key:34s} {value:.6g}")

    t0 = time.perf_counter()
    fit = bw.map_fit(X, y, sigma=p.sigma, tau=p.tau)
    t_map = time.perf_counter() - t0
    ridge = Ridge(alpha=bw.ridge_alpha(p.sigma, p.tau)).fit(X.numpy(), y.numpy())
    sgd = bw.map_fit(X, y, sigma=p.sigma, tau=p.tau, method="sgd")
    adamw = bw.map_fit(X, y, sigma=p.sigma, tau=p.tau, method="adamw", max_iter=3000)
    print("\nGaussian prior: MAP by autograd (Newton) against the tools that should agree")
    print(f"  map_fit (newton, {t_map * 1e3:.0f} ms)  intercept {fit.intercept:.6f}")
    print(f"  vs scikit-learn Ridge(alpha={bw.ridge_alpha(p.sigma, p.tau):g}): relative error {rel(fit.coef, ridge.coef_):.1e}")
    print(f"  vs SGD(weight_decay={fit.weight_decay:g}) training, full batch: relative error {rel(sgd.coef, fit.coef):.1e}")
    print(f"  vs AdamW(weight_decay={fit.weight_decay:g}), 3000 steps: relative error {rel(adamw.coef, fit.coef):.1e}"
          "  (not the MAP)")

    tl = p.tau_laplace
    lap = bw.map_fit(X, y, prior="laplace", sigma=p.sigma, tau=tl)
    lasso = Lasso(alpha=bw.lasso_alpha(p.sigma, tl, n), tol=1e-12, max_iter=100_000).fit(X.numpy(), y.numpy())
    sub = bw.map_fit(X, y, prior="laplace", sigma=p.sigma, tau=tl, method="subgradient", max_iter=3000)
    print(f"\nLaplace prior (same prior variance, scale {tl:.4g}): proximal MAP against scikit-learn Lasso")
    print(f"  Lasso(alpha={bw.lasso_alpha(p.sigma, tl, n):.4g}): max |difference| "
          f"{np.abs(lap.coef.numpy() - lasso.coef_).max():.1e}, exact zeros {int((lap.coef == 0).sum())} "
          f"vs {int((lasso.coef_ == 0).sum())}")
    print(f"  subgradient steps: objective {sub.objective:.4f} vs optimum {lap.objective:.4f}, "
          f"exact zeros {int((sub.coef == 0).sum())}")

    test_mse = {name: float(((r.predict(p.test.X) - p.test.y) ** 2).mean()) for name, r in
                [("gaussian MAP", fit), ("laplace MAP", lap)]}
    print("\nTest mean squared error: " + ", ".join(f"{k} {v:.3g}" for k, v in test_mse.items()))


if __name__ == "__main__":
    main()

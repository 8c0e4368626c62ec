"""Time a 50-point lambda sweep on the seed problem against 50 independent scikit-learn fits.

bayeswd.lam_sweep (gaussian: one SVD of the centred design for the whole path; laplace: warm-started
proximal gradient with an exact active-set step) against 50 fits of scikit-learn ``Ridge`` and
``Lasso`` at the same penalties, in the same run (machines are shared and noisy: report ratios).
Each timing is the minimum of ``--repeats`` runs (the least disturbed by other load on a shared
machine, as ``timeit`` recommends); the median is reported too. Writes markdown to benchmarks/results/.

Run: python benchmarks/sweep_timing.py [--repeats 7] [--out benchmarks/results/sweep_timing.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.linear_model import Lasso, Ridge

import bayeswd
from bayeswd.selection import lam_sweep


def _times(fn, repeats: int) -> tuple[float, float]:
    """(min, median) wall time of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "sweep_timing.md"))
    args = parser.parse_args()

    p = bayeswd.seed_problem()
    X, y = p.train.X.numpy(), p.train.y.numpy()
    Xt, yt = p.test.X.numpy(), p.test.y.numpy()
    n = X.shape[0]
    rows = []
    for prior in ("gaussian", "laplace"):
        lams = lam_sweep(X, y, prior=prior).lams  # the default 50-point grid

        def ours(prior=prior, lams=lams):
            return lam_sweep(X, y, prior=prior, lams=lams, X_test=Xt, y_test=yt)

        if prior == "gaussian":
            def peer(lams=lams):
                return [Ridge(alpha=lam).fit(X, y).coef_ for lam in lams]
            peer_name = "sklearn Ridge(alpha=lam), 50 fits"
        else:
            def peer(lams=lams):
                # Lasso(alpha) minimises ||r||^2/(2n) + alpha ||w||_1, so alpha = lam1 / (2 n);
                # tol tightened so its solutions agree with ours to ~1e-6.
                return [Lasso(alpha=lam / (2 * n), tol=1e-10, max_iter=100_000).fit(X, y).coef_
                        for lam in lams]
            peer_name = "sklearn Lasso(alpha=lam1/(2n), tol=1e-10), 50 fits"

        ours()
        peer()  # warm-up
        t_ours, med_ours = _times(ours, args.repeats)
        t_peer, med_peer = _times(peer, args.repeats)
        res = ours()
        err = float(np.max(np.abs(np.array(peer()) - res.coef)) / np.max(np.abs(res.coef)))
        rows.append((prior, t_ours, med_ours, peer_name, t_peer, med_peer, t_peer / t_ours,
                     med_peer / med_ours, err))

    lines = [
        "# lam_sweep timing: 50-point grid on the seed problem (n=20, d=200)",
        "",
        f"Python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
        f"scikit-learn {sklearn.__version__}, {platform.machine()}, {os.cpu_count()} CPUs, load "
        f"average {os.getloadavg()[0]:.2f} at the end; min (median) of {args.repeats} runs, same "
        "process. Sweep times include the train and test errors; the last column compares the "
        "paths with scikit-learn's.",
        "",
        "| prior | lam_sweep (s) | peer | peer (s) | peer / lam_sweep | max coef diff / max coef |",
        "|---|---|---|---|---|---|",
    ]
    for prior, t_o, m_o, name, t_p, m_p, ratio, mratio, err in rows:
        lines.append(
            f"| {prior} | {t_o:.4f} ({m_o:.4f}) | {name} | {t_p:.4f} ({m_p:.4f}) | "
            f"{ratio:.0f}x ({mratio:.0f}x) | {err:.1e} |"
        )
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

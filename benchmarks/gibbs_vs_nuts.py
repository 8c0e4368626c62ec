"""The laplace posterior: bayeswd's blocked Gibbs sampler against bayeswd's NUTS, in one run.

Same problems, same chains and draws (4 x 500 after 500 warm-up iterations), same seed, one after
the other in one process. Metric: the minimum bulk ESS over the weights (and over every site) per
second of wall time, warm-up and start included (``Posterior.wall_time``). Results go to
docs/benchmarks.md, "Blocked Gibbs for the laplace prior".

    python benchmarks/gibbs_vs_nuts.py             # three problems, fixed scales (< 3 minutes)
    python benchmarks/gibbs_vs_nuts.py --quick     # 2 chains x 200 draws, a smoke run
    python benchmarks/gibbs_vs_nuts.py --sampled   # sigma and tau sampled (NUTS: many minutes)
"""

from __future__ import annotations

import argparse
import platform
import sys
import warnings

import numpy as np
import torch

import bayeswd as bw


def problems(sampled: bool) -> dict[str, tuple]:
    """(X, y, sigma, tau) of each problem; ``None`` for a sampled scale (the default hyperprior).

    Fixed scales by default: with sigma and tau sampled bayeswd's NUTS takes minutes on each of
    these (``--sampled``).
    """
    p = bw.seed_problem()
    gen = np.random.default_rng(0)
    w = gen.laplace(0.0, 0.3, size=50) * (gen.random(50) < 0.3)  # sparse: 15 of 50 nonzero
    tall = bw.synthetic_data(w, 0.5, n=1000, noise=1.0, seed=1)
    from sklearn.datasets import load_diabetes

    Xd, yd = load_diabetes(return_X_y=True)
    Xd, yd = (Xd - Xd.mean(0)) / Xd.std(0), (yd - yd.mean()) / yd.std()
    scales = {"seed": (p.sigma, p.tau_laplace), "tall": (1.0, 0.3), "diabetes": (0.7, 0.2)}
    if sampled:
        scales = dict.fromkeys(scales, (None, None))
    what = "sampled" if sampled else "fixed"
    return {
        f"seed (n=20, d=200), scales {what}": (p.train.X, p.train.y, *scales["seed"]),
        f"tall (n=1000, d=50), scales {what}": (tall.X, tall.y, *scales["tall"]),
        f"diabetes (n=442, d=10), scales {what}": (Xd, yd, *scales["diabetes"]),
    }


def run(method, X, y, sigma, tau, *, draws: int, chains: int) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bw.DiagnosticWarning)  # reported as numbers instead
        post = bw.sample_posterior(X, y, prior="laplace", sigma=sigma, tau=tau, method=method,
                                   num_samples=draws, num_chains=chains, seed=0, progress_bar=False,
                                   device="cpu")
    ess_w = float(post.diagnostics["ess_bulk"]["coef"].min())
    ess_all = min(float(v.min()) for v in post.diagnostics["ess_bulk"].values())
    rhat = max(float(v.max()) for v in post.diagnostics["rhat"].values())
    return {"time": post.wall_time, "ess_w": ess_w, "ess_all": ess_all, "rhat": rhat,
            "divergences": int(post.sample_stats.get("diverging", np.zeros(1)).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sampled", action="store_true", help="sigma and tau sampled (slow NUTS)")
    args = parser.parse_args()
    draws, chains, warm = (200, 2, 200) if args.quick else (500, 4, 500)
    print(f"Python {platform.python_version()}, torch {torch.__version__}, bayeswd {bw.__version__}, "
          f"{platform.machine()}, {torch.get_num_threads()} torch threads; {chains} chains x "
          f"{draws} draws after {warm} warm-up iterations")
    # first use of each method (imports, lazy initialisation) outside the timings
    Xs, ys, _, _ = next(iter(problems(False).values()))
    for m in (bw.NUTS(num_warmup=20), bw.Gibbs(num_warmup=20)):
        run(m, Xs[:, :5], ys, 0.5, 0.5, draws=20, chains=2)
    print("| problem | sampler | wall s | min bulk ESS, weights (all sites) | max R-hat | "
          "ESS/s, weights (all sites) | Gibbs / NUTS |")
    print("|---|---|---|---|---|---|---|")
    for name, (X, y, sigma, tau) in problems(args.sampled).items():
        res = {}
        for label, method in (("NUTS", bw.NUTS(num_warmup=warm)), ("Gibbs", bw.Gibbs(num_warmup=warm))):
            r = run(method, X, y, sigma, tau, draws=draws, chains=chains)
            res[label] = r
            rate, rate_all = r["ess_w"] / r["time"], r["ess_all"] / r["time"]
            ratio = ""
            if label == "Gibbs":
                nuts = res["NUTS"]
                ratio = (f"{rate / (nuts['ess_w'] / nuts['time']):.1f}x "
                         f"({rate_all / (nuts['ess_all'] / nuts['time']):.1f}x)")
            div = f", {r['divergences']} div." if label == "NUTS" else ""
            print(f"| {name} | {label} | {r['time']:.1f} | {r['ess_w']:.0f} ({r['ess_all']:.0f}) | "
                  f"{r['rhat']:.3f}{div} | {rate:.0f} ({rate_all:.0f}) | {ratio} |")
            sys.stdout.flush()


if __name__ == "__main__":
    main()

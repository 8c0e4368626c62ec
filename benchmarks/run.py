"""Benchmark suite: bayeswd against its peers on the problems of docs/mathematics.md (section 4), in one process.

Usage (after ``pip install -e ".[bench]"``)::

    python benchmarks/run.py                  # every problem, 1 chain, 1000 warm-up + 1000 draws
    python benchmarks/run.py --quick          # 200 + 200 draws, small tall problem: a smoke run
    python benchmarks/run.py --problems seed_gaussian seed_laplace

Each problem measures bayeswd and its peers one after the other in this process: Pyro's NUTS with
default settings on the same Pyro model (the baseline a Pyro user gets), NumPyro's NUTS (default
settings, x64), the exact posterior where it exists, scikit-learn ``Ridge`` / ``Lasso`` for the
MAP. Reported: wall time (warm-up and compilation included), minimum bulk ESS over the weights,
min-ESS per second, divergences, peak resident memory growth, and ratios to each peer. Results go
to ``benchmarks/results/<name>.json`` and ``.md`` with the machine and versions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import torch

import bayeswd as bw

RESULTS = Path(__file__).parent / "results"


# --- measurement helpers ---------------------------------------------------------------------------

def _reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS counter of this process (Linux); silently a no-op elsewhere."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn``; return its result, wall seconds and peak RSS growth in MB."""
    _reset_peak_rss()
    base = _rss_mb("VmRSS:")
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    return out, wall, _rss_mb("VmHWM:") - base


def min_ess(coef_draws: np.ndarray) -> float:
    """Minimum bulk ESS over the weights of draws shaped (chain, draw, d)."""
    ess = az.ess(az.convert_to_dataset({"coef": coef_draws}), method="bulk")["coef"].values
    return float(np.min(ess))


# --- peers --------------------------------------------------------------------------------------------

def pyro_default_nuts(X, y, *, prior, sigma, tau, num_warmup, num_samples, seed):
    """Pyro's NUTS with default settings on bayeswd's Pyro model (what a Pyro user writes)."""
    import pyro
    from pyro.infer import MCMC, NUTS
    from pyro.infer.autoguide.initialization import init_to_uniform, init_to_value

    pyro.set_rng_seed(seed)
    model_sigma = sigma if sigma is not None else pyro.distributions.HalfNormal(torch.tensor(float(y.std())))
    # Defaults everywhere, except what the flat intercept needs (it cannot be sampled): it starts at
    # 0, and max_plate_nesting is given so that Pyro does not trace the model by sampling it.
    init = init_to_value(values={"intercept": torch.tensor(0.0)}, fallback=init_to_uniform)
    kernel = NUTS(bw.linear_regression_model, init_strategy=init, max_plate_nesting=1)
    mcmc = MCMC(kernel, num_samples=num_samples, warmup_steps=num_warmup, num_chains=1, disable_progbar=True)
    mcmc.run(X, y, prior=prior, sigma=model_sigma, tau=tau)
    coef = mcmc.get_samples()["coef"].numpy()[None]
    div = len(mcmc.diagnostics()["divergences"]["chain 0"])
    return coef, div


def numpyro_nuts(X, y, *, prior, sigma, tau, num_warmup, num_samples, seed):
    """NumPyro's NUTS, default settings, float64, the same model written in NumPyro."""
    import jax
    import numpyro
    import numpyro.distributions as ndist
    from jax import numpy as jnp
    from numpyro.distributions import constraints
    from numpyro.infer import MCMC, NUTS

    numpyro.enable_x64()
    sd_y = float(y.std())  # the same weakly informative sigma prior as bayeswd's default

    def model(X, y):
        d = X.shape[1]
        s = numpyro.sample("sigma", ndist.HalfNormal(sd_y)) if sigma is None else sigma
        base = ndist.Normal(0.0, tau) if prior == "gaussian" else ndist.Laplace(0.0, tau)
        w = numpyro.sample("coef", base.expand([d]).to_event(1))
        b = numpyro.sample("intercept", ndist.ImproperUniform(constraints.real, (), ()))
        numpyro.sample("obs", ndist.Normal(X @ w + b, s), obs=y)

    mcmc = MCMC(NUTS(model), num_warmup=num_warmup, num_samples=num_samples, num_chains=1, progress_bar=False)
    mcmc.run(jax.random.PRNGKey(seed), jnp.asarray(X.numpy()), jnp.asarray(y.numpy()), extra_fields=("diverging",))
    coef = np.asarray(mcmc.get_samples()["coef"])[None]
    return coef, int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())


def bayeswd_nuts(X, y, *, prior, sigma, tau, num_warmup, num_samples, seed):
    post = bw.sample_posterior(X, y, prior=prior, sigma=sigma, tau=tau, method=bw.NUTS(num_warmup=num_warmup),
                               num_chains=1, num_samples=num_samples, seed=seed, device="cpu",
                               progress_bar=False)
    return post.samples["coef"].numpy(), int(post.diagnostics["num_divergent"])


def bayeswd_pyro_backend(X, y, *, prior, sigma, tau, num_warmup, num_samples, seed):
    """bayeswd's ``PyroNUTS``: Pyro's NUTS with bayeswd's start and settings."""
    post = bw.sample_posterior(X, y, prior=prior, sigma=sigma, tau=tau, method=bw.PyroNUTS(num_warmup=num_warmup),
                               num_chains=1, num_samples=num_samples, seed=seed, device="cpu",
                               progress_bar=False)
    return post.samples["coef"].numpy(), int(post.diagnostics["num_divergent"])


def bayeswd_exact(X, y, *, prior, sigma, tau, num_warmup, num_samples, seed):
    post = bw.sample_posterior(X, y, prior=prior, sigma=sigma, tau=tau, method="exact", num_chains=1,
                               num_samples=num_samples, seed=seed, device="cpu", progress_bar=False)
    return post.samples["coef"].numpy(), 0


SAMPLERS = {"bayeswd NUTS": bayeswd_nuts, "bayeswd NUTS, backend=pyro": bayeswd_pyro_backend,
            "Pyro NUTS (default)": pyro_default_nuts,
            "NumPyro NUTS": numpyro_nuts, "exact": bayeswd_exact}


def run_samplers(name, X, y, *, prior, sigma, tau, samplers, num_warmup, num_samples, seed=0):
    rows = []
    for label in samplers:
        fn = SAMPLERS[label]
        print(f"[{name}] {label} ...", flush=True)
        (coef, div), wall, mem = measure(lambda fn=fn: fn(X, y, prior=prior, sigma=sigma, tau=tau,
                                                         num_warmup=num_warmup, num_samples=num_samples, seed=seed))
        ess = min_ess(coef)
        rows.append({"method": label, "wall_s": wall, "min_ess": ess, "min_ess_per_s": ess / wall,
                     "divergences": div, "peak_mem_mb": mem})
        print(f"    {wall:8.2f} s   min ESS {ess:8.1f}   {ess / wall:8.2f}/s   divergences {div}", flush=True)
    ref = {r["method"]: r["min_ess_per_s"] for r in rows}
    for r in rows:
        for peer in ("Pyro NUTS (default)", "NumPyro NUTS"):
            if peer in ref and r["method"] == "bayeswd NUTS":
                r[f"ratio_vs_{peer}"] = r["min_ess_per_s"] / ref[peer]
    return rows


def run_map(n, d, seed=0):
    from sklearn.linear_model import Lasso, Ridge

    data = bw.synthetic_data(np.full(d, 0.01), 0.05, n, 0.01, seed=seed)
    X, y, Xn, yn = data.X, data.y, data.X.numpy(), data.y.numpy()
    sigma, tau_g, tau_l = 0.01, 0.01, 1e-3
    rows = []
    for label, fn in [
        ("bayeswd map_fit gaussian (newton)", lambda: bw.map_fit(X, y, sigma=sigma, tau=tau_g)),
        ("scikit-learn Ridge", lambda: Ridge(alpha=bw.ridge_alpha(sigma, tau_g)).fit(Xn, yn)),
        ("bayeswd map_fit laplace (proximal)", lambda: bw.map_fit(X, y, prior="laplace", sigma=sigma, tau=tau_l)),
        ("scikit-learn Lasso", lambda: Lasso(alpha=bw.lasso_alpha(sigma, tau_l, n), tol=1e-10, max_iter=100_000).fit(Xn, yn)),
    ]:
        best = min(measure(fn)[1] for _ in range(3))
        rows.append({"method": label, "wall_s": best})
        print(f"[map n={n} d={d}] {label}: {best:.3f} s (best of 3)", flush=True)
    rows[0]["ratio_vs_Ridge"] = rows[0]["wall_s"] / rows[1]["wall_s"]
    rows[2]["ratio_vs_Lasso"] = rows[2]["wall_s"] / rows[3]["wall_s"]
    return rows


def run_tall(n, d, num_warmup, num_samples, small=10_000):
    """The tall problem: the one pass over X against torch's X.T @ X, then NUTS against n = ``small``."""
    from bayeswd.stats import sufficient_statistics

    data = bw.tall_problem(n=n, d=d)
    X, y = data.X, data.y
    x_mb = X.numel() * X.element_size() / 2**20
    ref = min(measure(lambda: X.T @ X)[1] for _ in range(3))
    stats_wall = min(measure(lambda: sufficient_statistics(X, y))[1] for _ in range(3))
    print(f"[tall n={n} d={d}] X is {x_mb:.0f} MB; X.T @ X {ref:.3f} s, sufficient statistics {stats_wall:.3f} s",
          flush=True)

    def fit(Xs, ys):
        return bw.sample_posterior(Xs, ys, sigma=None, tau=1.0, num_chains=1, method=bw.NUTS(num_warmup=num_warmup),
                                   num_samples=num_samples, seed=0, device="cpu", progress_bar=False)

    X_small, y_small = X[:small].clone(), y[:small].clone()
    post_small, wall_small, mem_small = measure(lambda: fit(X_small, y_small))
    post, wall, mem = measure(lambda: fit(X, y))
    ess, ess_small = min_ess(post.samples["coef"].numpy()), min_ess(post_small.samples["coef"].numpy())
    after_pass = wall - stats_wall
    rows = [
        {"method": "torch X.T @ X", "wall_s": ref},
        {"method": "bayeswd sufficient statistics (the pass)", "wall_s": stats_wall,
         "speed_vs_XtX": ref / stats_wall},
        {"method": f"bayeswd NUTS, n={small}", "wall_s": wall_small, "min_ess": ess_small,
         "min_ess_per_s": ess_small / wall_small, "peak_mem_mb": mem_small},
        {"method": f"bayeswd NUTS, n={n}", "wall_s": wall, "min_ess": ess, "min_ess_per_s": ess / wall,
         "peak_mem_mb": mem, "X_mb": x_mb, "peak_over_X": (x_mb + mem) / x_mb,
         "nuts_after_pass_s": after_pass, "ratio_after_pass_vs_small": after_pass / wall_small},
    ]
    for r in rows:
        print("    " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()),
              flush=True)
    return rows


def run_svi_vs_nuts(num_warmup, num_samples):
    """Full-rank SVI against bayeswd's NUTS (both with sample_posterior's defaults: 4 chains) on the
    seed gaussian problem: SVI must meet the posteriors issue's accuracy bars (means within 0.1
    posterior sd, sds within 10 % of the exact posterior) in at most 1/3 of NUTS's wall time."""
    p = bw.seed_problem()
    X, y = p.train.X, p.train.y
    exact = bw.gaussian_posterior(X, y, sigma=p.sigma, tau=p.tau)
    sd = exact.cov.diagonal().sqrt()
    rows = []
    # One small call of each method first: their first-use imports (torch.optim pulls in
    # torch._dynamo, ~0.7 s once per process) are not the method's cost.
    for warm in (bw.NUTS(num_warmup=20), bw.SVI(max_steps=50)):
        bw.sample_posterior(X[:, :5], y, sigma=p.sigma, tau=p.tau, method=warm, num_samples=20,
                            num_chains=2, seed=0, device="cpu", progress_bar=False)
    for method, options in (("nuts", bw.NUTS(num_warmup=num_warmup)), ("svi", bw.SVI())):
        post, wall, mem = measure(lambda m=options: bw.sample_posterior(
            X, y, sigma=p.sigma, tau=p.tau, method=m, num_samples=num_samples,
            seed=0, device="cpu", progress_bar=False))
        theta = torch.cat([post.samples["coef"], post.samples["intercept"].unsqueeze(-1)], -1).flatten(0, 1)
        mean_err = float(((theta.mean(0) - exact.mean) / sd).abs().max())
        sd_err = float((theta.std(0) / sd - 1.0).abs().max())
        rows.append({"method": f"bayeswd {method.upper()} (defaults, 4 chains)" if method == "nuts"
                     else "bayeswd SVI (full-rank, defaults)", "wall_s": wall,
                     "max_mean_err_sd": mean_err, "max_rel_sd_err": sd_err, "peak_mem_mb": mem})
        print(f"[svi vs nuts] {rows[-1]}", flush=True)
    rows[1]["time_ratio_vs_nuts"] = rows[1]["wall_s"] / rows[0]["wall_s"]
    return rows


# --- problems -------------------------------------------------------------------------------------

def problems(quick: bool) -> dict[str, Callable[[int, int], list[dict]]]:
    p = bw.seed_problem()

    def seed_gaussian(w, s):
        return run_samplers("seed gaussian", p.train.X, p.train.y, prior="gaussian", sigma=p.sigma, tau=p.tau,
                            samplers=["bayeswd NUTS", "bayeswd NUTS, backend=pyro", "Pyro NUTS (default)",
                                      "NumPyro NUTS", "exact"],
                            num_warmup=w, num_samples=s)

    def seed_laplace(w, s):
        return run_samplers("seed laplace", p.train.X, p.train.y, prior="laplace", sigma=p.sigma, tau=p.tau_laplace,
                            samplers=["bayeswd NUTS", "Pyro NUTS (default)", "NumPyro NUTS"],
                            num_warmup=w, num_samples=s)

    def correlated(w, s):
        c = bw.correlated_problem(n=400 if quick else 2000)
        return run_samplers("correlated", c.X, c.y, prior="gaussian", sigma=None, tau=1.0,
                            samplers=["bayeswd NUTS", "NumPyro NUTS"], num_warmup=w, num_samples=s)

    def map_speed(w, s):
        return run_map(10_000 if quick else 100_000, 200)

    def svi_vs_nuts(w, s):
        return run_svi_vs_nuts(w, s)

    def tall(w, s):
        return run_tall(100_000 if quick else 1_000_000, 100, w, s)

    return {"seed_gaussian": seed_gaussian, "seed_laplace": seed_laplace, "correlated": correlated,
            "map": map_speed, "svi_vs_nuts": svi_vs_nuts, "tall": tall}


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version(), "machine": platform.machine(), "cpus": str(os.cpu_count()),
           "processor": platform.processor() or "unknown"}
    for pkg in ("bayeswd", "torch", "pyro-ppl", "numpyro", "jax", "arviz", "scikit-learn", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def to_markdown(results: dict[str, list[dict]], meta: dict[str, str]) -> str:
    lines = ["# Benchmark results", "", "Machine and versions: " + ", ".join(f"{k} {v}" for k, v in meta.items()), ""]
    for name, rows in results.items():
        lines += [f"## {name}", ""]
        keys = [k for k in rows[0] if k != "method"]
        extra = sorted({k for r in rows for k in r if k not in keys and k != "method"})
        keys += extra
        lines.append("| method | " + " | ".join(keys) + " |")
        lines.append("|---" * (len(keys) + 1) + "|")
        for r in rows:
            cells = [f"{r[k]:.4g}" if isinstance(r.get(k), float) else str(r.get(k, "")) for k in keys]
            lines.append(f"| {r['method']} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 warm-up + 200 draws, small sizes")
    parser.add_argument("--problems", nargs="*", default=None, help="subset of problems to run")
    parser.add_argument("--name", default=None, help="results file stem (default: bench or bench-quick)")
    args = parser.parse_args(argv)
    torch.set_default_dtype(torch.float64)
    w = s = 200 if args.quick else 1000
    table = problems(args.quick)
    chosen = args.problems or list(table)
    unknown = sorted(set(chosen) - set(table))
    if unknown:
        parser.error(f"unknown problem(s) {unknown}; choose from {sorted(table)}")
    meta = versions()
    stem = args.name or ("bench-quick" if args.quick else "bench")
    RESULTS.mkdir(exist_ok=True)
    results = {}
    for name in chosen:  # written after every problem, so a failure later loses nothing
        results[name] = table[name](w, s)
        (RESULTS / f"{stem}.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
        (RESULTS / f"{stem}.md").write_text(to_markdown(results, meta))
    print(f"wrote {RESULTS / stem}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

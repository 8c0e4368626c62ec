"""Classifier posteriors (issue 14): bayeswd against NumPyro's NUTS on logistic and softmax regression.

Usage (after ``pip install -e ".[bench]"``)::

    python benchmarks/classification_grid.py             # every cell, 4 chains x (1000 + 1000)
    python benchmarks/classification_grid.py --quick     # 2 cells, 4 x (200 + 200)
    python benchmarks/classification_grid.py --cells bc_gauss_fixed wine_gauss_fixed
    python benchmarks/classification_grid.py --name classification_grid_rerun   # results under that stem

Each tool runs in its own subprocess per cell (``--worker``), one after the other, so that no two
share a process, imports or thread pools:

* **bayeswd** ``sample_posterior(X, y, family=..., prior=..., tau=..., num_chains=4,
  num_samples=1000, seed=...)`` with its defaults (``method="auto"``), after one tiny call of the same
  configuration (first-use set-up, reported as its "compile"); for the bernoulli cells also
  ``method=Gibbs(num_warmup=1000)`` (the Polya-Gamma sampler) when it is installed.
* **NumPyro** NUTS (defaults, float64, 4 chains, 1000 + 1000) with JAX's persistent compilation
  cache in a directory new for each invocation: one run fills the cache (its extra time over the
  timed run is the compile time), a second run with a new ``MCMC`` object is timed. Both chain methods
  (``sequential`` and ``vectorized``) run; the faster is NumPyro's number.

The model is the same in both: ``y ~ Bernoulli(logits = X w + b)`` or ``Categorical(logits = X W + b)``
with ``b_0 = 0``, ``w ~ Normal(0, tau)`` or ``Laplace(0, tau)`` on every weight, a flat intercept
(NumPyro's ``ImproperUniform``), and when sampled ``tau ~ HalfNormal(2.5 / s_x)`` (bayeswd's default,
passed to NumPyro). Reported: wall time of the timed run, min bulk ESS over every sampled parameter,
min-ESS/s, max R-hat, divergences, and the ratio of bayeswd's min-ESS/s to NumPyro's. Results:
``benchmarks/results/classification_grid_<date>[_quick].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Cell:
    """One problem: data, family, prior and whether tau is sampled."""

    name: str
    data: str          # "breast_cancer", "wine", "iid", "ar1"
    n: int
    d: int
    classes: int
    prior: str
    tau: float | None  # None: sampled under HalfNormal(2.5 / s_x)


CELLS = [
    Cell("bc_gauss_fixed", "breast_cancer", 569, 30, 2, "gaussian", 1.0),
    Cell("bc_laplace_fixed", "breast_cancer", 569, 30, 2, "laplace", 1.0),
    Cell("bc_gauss_sampled", "breast_cancer", 569, 30, 2, "gaussian", None),
    Cell("wine_gauss_fixed", "wine", 178, 13, 3, "gaussian", 1.0),
    Cell("iid_1000x20_gauss_fixed", "iid", 1000, 20, 2, "gaussian", 1.0),
    Cell("iid_5000x50_gauss_fixed", "iid", 5000, 50, 2, "gaussian", 1.0),
    Cell("iid_100x200_gauss_fixed", "iid", 100, 200, 2, "gaussian", 1.0),
    Cell("ar1_1000x50_gauss_fixed", "ar1", 1000, 50, 2, "gaussian", 1.0),
]
QUICK = ["bc_gauss_fixed", "wine_gauss_fixed"]


def make_data(cell: Cell, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Standardised ``X`` and integer labels ``y`` of the cell."""
    if cell.data in ("breast_cancer", "wine"):
        from sklearn.datasets import load_breast_cancer, load_wine

        X, y = (load_breast_cancer if cell.data == "breast_cancer" else load_wine)(return_X_y=True)
    else:
        rng = np.random.default_rng(seed)
        Z = rng.standard_normal((cell.n, cell.d))
        if cell.data == "ar1":  # AR(1) correlation between neighbouring columns, rho = 0.9
            rho = 0.9
            for j in range(1, cell.d):
                Z[:, j] = rho * Z[:, j - 1] + np.sqrt(1 - rho**2) * Z[:, j]
        w = rng.standard_normal(cell.d) * (2.0 / np.sqrt(cell.d))
        y = (rng.random(cell.n) < 1.0 / (1.0 + np.exp(-(Z @ w)))).astype(int)
        X = Z
    X = (X - X.mean(0)) / X.std(0)
    return X, y.astype(int)


def _tau_scale(X: np.ndarray) -> float:
    return 2.5 / float(np.sqrt(np.mean(X.var(0, ddof=1))))


def summarise(draws: dict[str, np.ndarray]) -> dict[str, float]:
    """Min bulk ESS and max R-hat over every scalar parameter (ArviZ)."""
    import arviz as az

    idata = az.from_dict(posterior=draws)
    ess = az.ess(idata, method="bulk")
    rhat = az.rhat(idata)
    return {"min_ess": float(min(float(ess[k].min()) for k in draws)),
            "max_rhat": float(max(float(rhat[k].max()) for k in draws))}


def worker_bayeswd(cell: Cell, warmup: int, draws: int, seed: int, method: str) -> dict[str, Any]:
    import warnings

    import bayeswd as bw

    X, y = make_data(cell)
    family = "bernoulli" if cell.classes == 2 else "categorical"
    opts: Any = "auto" if method == "defaults" else bw.Gibbs(num_warmup=warmup)
    kw = dict(family=family, prior=cell.prior, tau=cell.tau, progress_bar=False)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        step = max(1, X.shape[0] // 60)  # every class present (the real data sets are sorted)
        bw.sample_posterior(X[::step], y[::step], num_samples=10, num_chains=1, seed=seed + 1,
                            method=opts if method == "defaults" else bw.Gibbs(num_warmup=10), **kw)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = bw.sample_posterior(X, y, num_samples=draws, num_chains=4, seed=seed, method=opts, **kw)
    wall = time.perf_counter() - t0
    out = summarise({k: v.numpy() for k, v in post.samples.items()})
    div = int(np.sum(post.sample_stats.get("diverging", 0)))
    return {**out, "wall": wall, "compile": compile_s, "divergences": div, "method": post.method,
            "mean_coef": post.samples["coef"].mean((0, 1)).reshape(-1).numpy().tolist(),
            "steps": float(np.mean(post.sample_stats["n_steps"])) if "n_steps" in post.sample_stats else None}


def worker_numpyro(cell: Cell, warmup: int, draws: int, seed: int, chain_method: str) -> dict[str, Any]:
    import jax

    cache = tempfile.mkdtemp(prefix="jaxcache_")
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as nd
    from numpyro.infer import MCMC, NUTS

    numpyro.set_host_device_count(4)
    X, y = make_data(cell)
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    K, d = cell.classes, cell.d
    tau_scale = _tau_scale(X)

    def model(X, y):
        tau = numpyro.sample("tau", nd.HalfNormal(tau_scale)) if cell.tau is None else cell.tau
        shape = (d,) if K == 2 else (d, K)
        prior = nd.Normal(0.0, tau) if cell.prior == "gaussian" else nd.Laplace(0.0, tau)
        w = numpyro.sample("coef", prior.expand(shape).to_event(len(shape)))
        if K == 2:
            b = numpyro.sample("intercept", nd.ImproperUniform(nd.constraints.real, (), ()))
            numpyro.sample("obs", nd.Bernoulli(logits=X @ w + b), obs=y)
        else:
            b = numpyro.sample("intercept", nd.ImproperUniform(nd.constraints.real, (), (K - 1,)))
            logits = X @ w + jnp.concatenate([jnp.zeros(1), b])
            numpyro.sample("obs", nd.Categorical(logits=logits), obs=y)

    def run(s: int) -> tuple[Any, float]:
        mcmc = MCMC(NUTS(model), num_warmup=warmup, num_samples=draws, num_chains=4,
                    chain_method=chain_method, progress_bar=False)
        t0 = time.perf_counter()
        mcmc.run(jax.random.PRNGKey(s), Xj, yj, extra_fields=("diverging",))
        jax.block_until_ready(mcmc.get_samples())
        return mcmc, time.perf_counter() - t0

    _, cold = run(seed + 1)
    mcmc, wall = run(seed)
    samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    out = summarise(samples)
    div = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
    return {**out, "wall": wall, "compile": max(cold - wall, 0.0), "divergences": div,
            "mean_coef": samples["coef"].mean((0, 1)).reshape(-1).tolist()}


def _run_worker(tool: str, variant: str, cell: Cell, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", tool, variant, cell.name, str(args.warmup), str(args.draws)]
    env = dict(os.environ)
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=args.cap, env=env, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.cap} s"}
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "failed"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def metadata() -> dict[str, str]:
    import importlib.metadata as im

    info = {"date": _dt.datetime.now().isoformat(timespec="seconds"), "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    for pkg in ("bayeswd", "torch", "pyro-ppl", "numpyro", "jax", "polyagamma"):
        try:
            info[pkg] = im.version(pkg)
        except im.PackageNotFoundError:
            info[pkg] = "absent"
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                        text=True, check=False).stdout.strip()
    except OSError:
        info["commit"] = "?"
    return info


def to_markdown(report: dict[str, Any]) -> str:
    meta = report["meta"]
    lines = [f"# Classifier posteriors: bayeswd vs NumPyro ({meta['date']})", "",
             ", ".join(f"{k} {v}" for k, v in meta.items() if k != "date"), "",
             f"4 chains x ({report['warmup']} warm-up + {report['draws']} draws); min bulk ESS over every "
             "sampled parameter per second of the timed run (compile excluded).", "",
             "| cell | tool | wall s | compile s | min ESS | ESS/s | max R-hat | div | ratio to NumPyro |",
             "|---|---|---|---|---|---|---|---|---|"]
    for cell in report["cells"]:
        best = cell.get("numpyro_best_ess_s")
        for tool, r in cell["rows"].items():
            if "error" in r:
                lines.append(f"| {cell['name']} | {tool} | {r['error']} | | | | | | |")
                continue
            ess_s = r["min_ess"] / r["wall"]
            ratio = f"{ess_s / best:.2f}x" if best and tool.startswith("bayeswd") else ""
            lines.append(f"| {cell['name']} | {tool} | {r['wall']:.2f} | {r['compile']:.1f} | "
                         f"{r['min_ess']:.0f} | {ess_s:.0f} | {r['max_rhat']:.3f} | {r['divergences']} | {ratio} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cells", nargs="*")
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--draws", type=int, default=None)
    ap.add_argument("--cap", type=float, default=600.0, help="seconds before a worker is killed")
    ap.add_argument("--name", help="stem of the result files (default: classification_grid_<date>)")
    ap.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    cells = {c.name: c for c in CELLS}
    if args.worker:
        tool, variant, name, warmup, draws = args.worker
        fn = worker_bayeswd if tool == "bayeswd" else worker_numpyro
        print(json.dumps(fn(cells[name], int(warmup), int(draws), 0, variant)))
        return 0
    args.warmup = args.warmup or (200 if args.quick else 1000)
    args.draws = args.draws or (200 if args.quick else 1000)
    names = args.cells or (QUICK if args.quick else list(cells))
    report: dict[str, Any] = {"meta": metadata(), "warmup": args.warmup, "draws": args.draws, "cells": []}
    for name in names:
        cell = cells[name]
        rows: dict[str, Any] = {}
        plan = [("bayeswd", "defaults")]
        if cell.classes == 2:
            plan.append(("bayeswd", "gibbs"))
        plan += [("numpyro", "sequential"), ("numpyro", "vectorized")]
        for tool, variant in plan:
            rows[f"{tool} {variant}"] = r = _run_worker(tool, variant, cell, args)
            print(name, tool, variant, {k: v for k, v in r.items() if k != "mean_coef"}, flush=True)
        peers = [r["min_ess"] / r["wall"] for k, r in rows.items() if k.startswith("numpyro") and "error" not in r]
        report["cells"].append({"name": name, **asdict(cell), "rows": rows,
                                "numpyro_best_ess_s": max(peers) if peers else None})
    RESULTS.mkdir(exist_ok=True)
    stem = args.name or f"classification_grid_{_dt.date.today().isoformat()}{'_quick' if args.quick else ''}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=1))
    (RESULTS / f"{stem}.md").write_text(to_markdown(report))
    print(to_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

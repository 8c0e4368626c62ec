"""The benchmark grid (issue 11): bayeswd's NUTS against NumPyro and nutpie across sizes, priors and scales.

Usage (after ``pip install -e ".[bench]"``)::

    python benchmarks/grid.py                     # every cell, 4 chains x (1000 warm-up + 1000 draws)
    python benchmarks/grid.py --quick             # 3 small cells, 4 x (200 + 200): a smoke run
    python benchmarks/grid.py --cells iid_100x5_gauss_fixed diabetes_gauss_sampled
    python benchmarks/grid.py --peers bayeswd numpyro
    python benchmarks/grid.py --resume            # after an interruption: keep the finished cells
    python benchmarks/grid.py --list              # the cells and what each covers

Each tool (and each of NumPyro's two chain methods) runs in its own long-lived subprocess
(``--worker``), one job at a time, cell after cell, so that the tools do not share a process, its
imports or its thread pools, pay their imports and first-use set-up once per grid, and so that a run
can be stopped: a run (warm-up plus draws, or nutpie's compilation) that takes longer than ``--cap``
seconds (default 300; 60 s more for NumPyro's cold run, which also compiles) is killed with its
worker (a new one takes the next cell) and reported as timed out instead of stalling the grid.

The tools, each at its best as its expert users run it (the project's rule of fair comparisons):

* **bayeswd**: ``bw.sample_posterior(X, y, prior=..., sigma=..., tau=..., num_chains=4,
  num_samples=1000, seed=...)`` with its defaults (``method="auto"``: exact draws, the collapsed
  sampler or Gibbs, with their own warm-ups), after one tiny call of the same configuration
  (first-use imports and set-up; its time is reported as bayeswd's "compile"); and the same with
  ``method=bw.NUTS(num_warmup=...)`` (1000 warm-up iterations), for the NUTS target.
* **NumPyro** NUTS (defaults, float64, 4 chains, 1000 + 1000) with JAX's persistent compilation cache
  in a directory that is new for each invocation of this script: one run fills the cache (its extra
  time over the timed run is the compile time), then a second run in the same process, a new ``MCMC``
  object, is timed. Both ``chain_method="sequential"`` and ``"vectorized"`` are run; the faster one is
  NumPyro's number.
* **nutpie** on the same model written in PyMC: ``nutpie.compile_pymc_model`` timed separately (numba
  backend, the default; PyTensor's compile directory also new for each invocation, and one tiny model
  compiled first, untimed, in each worker process: numba's and PyTensor's first-use set-up), then
  ``nutpie.sample(compiled, chains=4, tune=1000, draws=1000, seed=...)`` (its defaults otherwise,
  which run the chains on all cores).

The model is the same in every tool: ``y ~ Normal(X w + b, sigma)``, ``w_j ~ Normal(0, tau)`` or
``Laplace(0, tau)`` (density ``exp(-|w|/tau) / (2 tau)``), a flat intercept (NumPyro's
``ImproperUniform`` on the reals, PyMC's ``Flat``: exact in both), and when sampled
``sigma ~ HalfNormal(sd(y))`` and ``tau ~ HalfNormal(sd(y) / s_x)``, the numbers of
``bayeswd.infer.start.default_hyperpriors`` passed to the peers. Each tool samples its own
parameterisation of that model (bayeswd: the laplace scale mixture, the collapsed gaussian; the peers:
the model as written).

Reported per cell and tool: compile time, wall time of the timed run, minimum bulk ESS (ArviZ) over
all sampled parameters (weights, intercept, sigma and tau when sampled) and over the weights alone,
min-ESS per second, max R-hat, divergences, and the agreement of the posterior of the weights with
bayeswd's (max |mean difference| / bayeswd's sd; the largest z-score of that difference against the
two Monte Carlo standard errors; the largest relative difference of the sds). Ratios are bayeswd's
min-ESS/s over the best peer's, compile excluded (and included, as a second column). Results go to
``benchmarks/results/grid_<date>[_quick].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results"
REPO = Path(__file__).resolve().parent.parent

# --- the cells -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One problem of the grid: data, truth, prior, and whether sigma and tau are fixed or sampled."""

    name: str
    data: str  # "iid" (X ~ N(0, 1)), "ar1" (rows AR(1), rho = 0.9), "tall", "diabetes", "seed"
    n: int
    d: int
    truth: str  # "dense" (w ~ N(0, 1)), "sparse" (d // 10 weights, at least 2, of size 0.5-2; rest 0), "real"
    prior: str  # "gaussian" | "laplace"
    sigma: str  # "fixed" | "sampled"
    tau: str  # "fixed" | "sampled"
    covers: str
    quick: bool = False


# Chosen to cover the space of the issue in ~14 cells (not the cross product): n from 100 to 100,000
# (and the n = 20 seed problem of the earlier benchmarks), d from 5 to 1,000, n > d and n < d,
# independent and AR(1)-correlated features, sparse and dense true weights, one real data set shipped
# inside a package (scikit-learn's diabetes, 442 x 10), both priors, sigma and tau each fixed and
# sampled. Fixed values: sigma = the true noise sd (1, or 0.01 for seed); tau = the rms of the true
# weights (gaussian) or that / sqrt(2) (laplace: the same prior variance 2 tau^2).
CELLS: tuple[Cell, ...] = (
    Cell("iid_100x5_gauss_fixed", "iid", 100, 5, "dense", "gaussian", "fixed", "fixed",
         "smallest cell: n > d, everything fixed; per-call overhead dominates", quick=True),
    Cell("iid_100x5_laplace_sampled", "iid", 100, 5, "sparse", "laplace", "sampled", "sampled",
         "tiny full-Bayes lasso: both scales sampled"),
    Cell("diabetes_gauss_sampled", "diabetes", 442, 10, "real", "gaussian", "sampled", "sampled",
         "real data (sklearn load_diabetes), Bayesian ridge with both scales sampled", quick=True),
    Cell("diabetes_laplace_sampled", "diabetes", 442, 10, "real", "laplace", "sampled", "sampled",
         "real data, Bayesian lasso with both scales sampled"),
    Cell("iid_1000x50_gauss_sigma", "iid", 1000, 50, "dense", "gaussian", "sampled", "fixed",
         "mid-size n > d, sigma sampled, tau fixed"),
    Cell("iid_1000x50_laplace_fixed", "iid", 1000, 50, "sparse", "laplace", "fixed", "fixed",
         "mid-size n > d, sparse truth, laplace with fixed scales (bayeswd: non-centred mixture)",
         quick=True),
    Cell("iid_1000x50_laplace_tau", "iid", 1000, 50, "sparse", "laplace", "fixed", "sampled",
         "mid-size n > d, sparse truth, laplace with tau sampled, sigma fixed"),
    Cell("ar1_2000x100_gauss_sampled", "ar1", 2000, 100, "dense", "gaussian", "sampled", "sampled",
         "correlated features (AR(1), rho = 0.9), ridge with both scales sampled"),
    Cell("ar1_2000x100_laplace_sigma", "ar1", 2000, 100, "sparse", "laplace", "sampled", "fixed",
         "correlated features, sparse truth, laplace with sigma sampled"),
    Cell("tall_100000x20_gauss_sigma", "tall", 100_000, 20, "dense", "gaussian", "sampled", "fixed",
         "tall data n = 100,000: one pass over X against a gradient of size n per leapfrog step"),
    Cell("wide_200x500_gauss_sampled", "iid", 200, 500, "dense", "gaussian", "sampled", "sampled",
         "n < d, ridge with both scales sampled (a funnel for the centred model)"),
    Cell("wide_100x300_laplace_tau", "iid", 100, 300, "sparse", "laplace", "fixed", "sampled",
         "n < d, sparse truth, laplace with tau sampled (bayeswd: collapsed mixture)"),
    Cell("wide_50x1000_gauss_fixed", "iid", 50, 1000, "dense", "gaussian", "fixed", "fixed",
         "d = 1,000 with n = 50, everything fixed"),
    Cell("seed_laplace_fixed", "seed", 20, 200, "seed", "laplace", "fixed", "fixed",
         "the seed problem of docs/mathematics.md section 4 (n = 20, d = 200, w = 0.01), laplace"),
)
CELL_BY_NAME = {c.name: c for c in CELLS}
PEERS = ("bayeswd", "numpyro", "nutpie")
RHAT_FLAG = 1.05  # a best peer above this max R-hat is flagged in the summary (not converged)
COMPILE_ALLOWANCE = 60.0  # seconds NumPyro's cold run (compile + run) may take beyond the cap
# one subprocess each; numpyro's two chain methods are separate workers (a timed-out one does not
# take the other with it)
VARIANTS = {"bayeswd": ("bayeswd", "bayeswd_nuts"), "numpyro": ("numpyro_sequential", "numpyro_vectorized"),
            "nutpie": ("nutpie",)}
LABELS = {"bayeswd": "bayeswd (defaults)", "bayeswd_nuts": "bayeswd NUTS",
          "numpyro_sequential": "NumPyro NUTS, sequential",
          "numpyro_vectorized": "NumPyro NUTS, vectorized", "nutpie": "nutpie (PyMC model)"}


@dataclass
class Problem:
    X: np.ndarray
    y: np.ndarray
    sigma: float | None  # None: sampled
    tau: float | None
    sigma_scale: float  # HalfNormal scales of bayeswd's default hyperpriors for this data
    tau_scale: float


def _sparse_weights(d: int, rng: np.random.Generator) -> np.ndarray:
    k = max(2, d // 10)
    w = np.zeros(d)
    idx = rng.choice(d, size=k, replace=False)
    w[idx] = rng.choice([-1.0, 1.0], size=k) * rng.uniform(0.5, 2.0, size=k)
    return w


def make_problem(cell: Cell, seed: int = 0) -> Problem:
    """The data of ``cell`` (deterministic in ``seed``) from bayeswd's generators, and its scales."""
    import torch

    import bayeswd as bw
    from bayeswd.infer.start import default_hyperpriors

    rng = np.random.default_rng(seed + 1000)
    noise = 1.0
    if cell.data == "iid":
        w = rng.normal(size=cell.d) if cell.truth == "dense" else _sparse_weights(cell.d, rng)
        data = bw.synthetic_data(w, 0.5, cell.n, noise, seed=seed)
        X, y, w = data.X.numpy(), data.y.numpy(), data.w.numpy()
    elif cell.data == "ar1":
        data = bw.correlated_problem(n=cell.n, d=cell.d, rho=0.9, noise=noise, seed=seed)
        X, y, w = data.X.numpy(), data.y.numpy(), data.w.numpy()
        if cell.truth == "sparse":  # the same correlated X, sparse weights
            w = _sparse_weights(cell.d, rng)
            y = X @ w + 0.5 + noise * rng.normal(size=cell.n)
    elif cell.data == "tall":
        data = bw.tall_problem(n=cell.n, d=cell.d, noise=noise, seed=seed)
        X, y, w = data.X.numpy(), data.y.numpy(), data.w.numpy()
    elif cell.data == "diabetes":
        from sklearn.datasets import load_diabetes

        X, y = load_diabetes(return_X_y=True)
        w = None
    elif cell.data == "seed":
        p = bw.seed_problem()
        X, y = p.train.X.numpy(), p.train.y.numpy()
        noise, w = p.sigma, None
        fixed_tau = p.tau if cell.prior == "gaussian" else p.tau_laplace
    else:
        raise ValueError(f"unknown data {cell.data!r}")
    X, y = np.ascontiguousarray(X, dtype=np.float64), np.ascontiguousarray(y, dtype=np.float64)
    assert X.shape == (cell.n, cell.d), (cell.name, X.shape)
    if cell.data != "seed":
        if w is None and cell.tau == "fixed":
            raise ValueError(f"{cell.name}: a fixed tau needs true weights")
        fixed_tau = float(np.sqrt(np.mean(w**2))) / (1.0 if cell.prior == "gaussian" else math.sqrt(2.0)) \
            if w is not None else float("nan")
    s_prior, t_prior, _ = default_hyperpriors(torch.from_numpy(X), torch.from_numpy(y), None, None)
    return Problem(X, y, sigma=noise if cell.sigma == "fixed" else None,
                   tau=fixed_tau if cell.tau == "fixed" else None,
                   sigma_scale=float(s_prior.scale), tau_scale=float(t_prior.scale))


# --- what every tool's draws are reduced to ---------------------------------------------------------

def summarise(draws: dict[str, np.ndarray]) -> dict[str, Any]:
    """ESS, R-hat and the weights' means, sds and MCSEs of draws shaped (chain, draw, ...)."""
    import arviz as az

    ds = az.convert_to_dataset({k: np.asarray(v, dtype=np.float64) for k, v in draws.items()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ess = az.ess(ds, method="bulk")
        rhat = az.rhat(ds)
        mcse = az.mcse(ds[["coef"]], method="mean")["coef"].values
    ess_by = {k: float(np.min(ess[k].values)) for k in draws}
    coef = np.asarray(draws["coef"]).reshape(-1, draws["coef"].shape[-1])
    return {
        "min_ess": min(ess_by.values()),
        "min_ess_w": ess_by["coef"],
        "min_ess_by_site": ess_by,
        "max_rhat": float(max(np.nanmax(rhat[k].values) for k in draws)),
        "mean": coef.mean(0).tolist(), "sd": coef.std(0, ddof=1).tolist(), "mcse": np.asarray(mcse).tolist(),
    }


# --- the workers (one subprocess each) -------------------------------------------------------------

class Events:
    """JSON lines the parent polls: ``start`` of a run (for the cap), ``result`` or ``error``."""

    def __init__(self, path: str):
        self.path = path

    def write(self, **record: Any) -> None:
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")

    def start(self, stage: str) -> float:
        self.write(event="start", stage=stage, t=time.time())
        return time.perf_counter()


def _default_method(warmup: int) -> dict[str, Any]:
    """``sample_posterior``'s default method, with ``warmup`` warm-up iterations where it has them.

    Nothing is passed with the default 1000 (the full grid runs the defaults as they are); otherwise
    (``--quick``) the default method's options object with ``num_warmup`` replaced, whatever the
    default method is, or the plain default when its options have no warm-up.
    """
    import dataclasses
    import inspect

    import bayeswd as bw
    from bayeswd.infer.options import resolve_method

    if warmup == 1000:
        return {}
    default = inspect.signature(bw.sample_posterior).parameters["method"].default
    try:
        opts = resolve_method(default, {})
    except Exception:  # a default resolved per problem: keep it as it is
        return {}
    if dataclasses.is_dataclass(opts) and any(f.name == "num_warmup" for f in dataclasses.fields(opts)):
        return {"method": dataclasses.replace(opts, num_warmup=warmup)}
    return {}


def worker_bayeswd(cell: Cell, p: Problem, warmup: int, draws: int, seed: int, ev: Events,
                   nuts: bool = False) -> None:
    """bayeswd with its defaults (``method="auto"``), or (``nuts``) with ``method=NUTS(num_warmup=warmup)``."""
    import torch

    import bayeswd as bw

    X, y = torch.from_numpy(p.X), torch.from_numpy(p.y)
    method = {"method": bw.NUTS(num_warmup=warmup)} if nuts else _default_method(warmup)
    t0 = ev.start("first call")  # first-use imports and set-up, on a tiny slice of the same problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bw.sample_posterior(X[:30, :3], y[:30], prior=cell.prior, sigma=p.sigma, tau=p.tau,
                            num_samples=30, num_chains=1, seed=seed, progress_bar=False,
                            **({"method": bw.NUTS(num_warmup=30)} if nuts else _default_method(30)))
    first = time.perf_counter() - t0
    t0 = ev.start("run")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        post = bw.sample_posterior(X, y, prior=cell.prior, sigma=p.sigma, tau=p.tau, num_chains=4,
                                   num_samples=draws, seed=seed, progress_bar=False, **method)
    wall = time.perf_counter() - t0
    out = summarise({k: v.numpy() for k, v in post.samples.items()})
    steps = post.sample_stats.get("n_steps")
    ev.write(event="result", compile_s=first, first_s=first, wall_s=wall,
             divergences=int(post.diagnostics.get("num_divergent", 0)),
             steps_per_draw=float(np.mean(steps)) if steps is not None else None,
             method=str(post.method), form=str(post.settings.get("parameterisation", "")),
             warnings=sorted({f"{w.category.__name__}: {str(w.message)[:160]}" for w in caught}), **out)


def worker_numpyro(cell: Cell, p: Problem, warmup: int, draws: int, seed: int, ev: Events,
                   chain_method: str, cache_dir: str) -> None:
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_compilation_cache_dir", cache_dir)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    import numpyro
    import numpyro.distributions as nd
    from jax import numpy as jnp
    from numpyro.distributions import constraints
    from numpyro.infer import MCMC, NUTS

    numpyro.enable_x64()
    d = cell.d
    sigma, tau, s_scale, t_scale = p.sigma, p.tau, p.sigma_scale, p.tau_scale

    def model(X, y):
        s = numpyro.sample("sigma", nd.HalfNormal(s_scale)) if sigma is None else sigma
        t = numpyro.sample("tau", nd.HalfNormal(t_scale)) if tau is None else tau
        base = nd.Normal(0.0, t) if cell.prior == "gaussian" else nd.Laplace(0.0, t)
        w = numpyro.sample("coef", base.expand([d]).to_event(1))
        b = numpyro.sample("intercept", nd.ImproperUniform(constraints.real, (), ()))
        numpyro.sample("obs", nd.Normal(X @ w + b, s), obs=y)

    Xj, yj = jnp.asarray(p.X), jnp.asarray(p.y)

    def run() -> tuple[MCMC, float]:
        mcmc = MCMC(NUTS(model), num_warmup=warmup, num_samples=draws, num_chains=4,
                    chain_method=chain_method, progress_bar=False)
        t0 = time.perf_counter()
        mcmc.run(jax.random.PRNGKey(seed), Xj, yj, extra_fields=("diverging", "num_steps"))
        jax.block_until_ready(mcmc.get_samples())
        return mcmc, time.perf_counter() - t0

    ev.start("cold run (fills the compilation cache)")
    _, cold = run()
    ev.write(event="cold", wall_s=cold)
    ev.start("run")
    mcmc, wall = run()
    samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    extra = mcmc.get_extra_fields()
    ev.write(event="result", compile_s=max(cold - wall, 0.0), cold_s=cold, wall_s=wall,
             divergences=int(np.asarray(extra["diverging"]).sum()),
             steps_per_draw=float(np.mean(np.asarray(extra["num_steps"]))),
             **summarise(samples))


_NUTPIE_READY: list[bool] = []


def worker_nutpie(cell: Cell, p: Problem, warmup: int, draws: int, seed: int, ev: Events) -> None:
    import nutpie
    import pymc as pm

    first = None
    if not _NUTPIE_READY:  # first-use set-up (numba, PyTensor's C modules) on a tiny model, once a process
        t0 = ev.start("first compile")
        with pm.Model() as tiny:
            pm.Normal("x", 0.0, 1.0, shape=2)
        nutpie.compile_pymc_model(tiny)
        first = time.perf_counter() - t0
        _NUTPIE_READY.append(True)
    d = cell.d
    with pm.Model() as model:
        s = pm.HalfNormal("sigma", sigma=p.sigma_scale) if p.sigma is None else p.sigma
        t = pm.HalfNormal("tau", sigma=p.tau_scale) if p.tau is None else p.tau
        w = (pm.Normal("coef", mu=0.0, sigma=t, shape=d) if cell.prior == "gaussian"
             else pm.Laplace("coef", mu=0.0, b=t, shape=d))
        b = pm.Flat("intercept")
        pm.Normal("obs", mu=pm.math.dot(p.X, w) + b, sigma=s, observed=p.y)
    t0 = ev.start("compile")
    compiled = nutpie.compile_pymc_model(model)
    comp = time.perf_counter() - t0
    ev.write(event="compiled", compile_s=comp)
    t0 = ev.start("run")
    trace = nutpie.sample(compiled, chains=4, tune=warmup, draws=draws, seed=seed, progress_bar=False)
    wall = time.perf_counter() - t0
    post = trace.posterior
    samples = {k: post[k].values for k in ("coef", "intercept", "sigma", "tau") if k in post}
    ev.write(event="result", compile_s=comp, first_s=first, wall_s=wall,
             divergences=int(trace.sample_stats["diverging"].values.sum()),
             steps_per_draw=float(trace.sample_stats["n_steps"].values.mean()), **summarise(samples))


def worker_main(variant: str, jax_cache: str) -> int:
    """A long-lived worker: one JSON job a line on stdin (cell, settings, events file), until EOF.

    Each tool keeps one process for the whole grid, so that its imports and first-use set-up are paid
    once, not in every cell; the parent kills it when a run exceeds the cap and starts a new one.
    """
    for line in sys.stdin:
        if not line.strip():
            continue
        spec = json.loads(line)
        ev = Events(spec["events"])
        try:
            cell = CELL_BY_NAME[spec["cell"]]
            p = make_problem(cell, spec["seed"])
            args = (cell, p, spec["warmup"], spec["draws"], spec["seed"], ev)
            if variant in ("bayeswd", "bayeswd_nuts"):
                worker_bayeswd(*args, nuts=variant == "bayeswd_nuts")
            elif variant.startswith("numpyro_"):
                worker_numpyro(*args, chain_method=variant.split("_", 1)[1], cache_dir=jax_cache)
            elif variant == "nutpie":
                worker_nutpie(*args)
            else:
                raise ValueError(f"unknown variant {variant!r}")
        except Exception as exc:  # reported in the table, the grid goes on
            ev.write(event="error", error=f"{type(exc).__name__}: {exc}"[:500])
        ev.write(event="done")
    return 0


# --- the parent: run the workers, enforce the cap, compare ----------------------------------------

def _read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):  # a line being written
            out.append(json.loads(line))
    return out


class Workers:
    """One long-lived worker process per tool variant, started on first use and after a kill."""

    def __init__(self, tmp: Path, env: dict[str, str]):
        self.tmp, self.env = tmp, env
        self.procs: dict[str, subprocess.Popen] = {}

    def get(self, variant: str) -> subprocess.Popen:
        proc = self.procs.get(variant)
        if proc is None or proc.poll() is not None:
            log = (self.tmp / f"{variant}.log").open("a")
            proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--worker", variant, str(self.tmp / "jax_cache")],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=str(REPO),
                text=True)
            log.close()
            self.procs[variant] = proc
        return proc

    def kill(self, variant: str) -> None:
        proc = self.procs.pop(variant, None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        for variant, proc in list(self.procs.items()):
            if proc.poll() is None and proc.stdin is not None:
                proc.stdin.close()  # EOF: the worker returns
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.kill(variant)


def run_variant(workers: Workers, cell: Cell, variant: str, *, warmup: int, draws: int, seed: int,
                cap: float) -> dict[str, Any]:
    """Run one tool on one cell in its worker; kill the worker when a run exceeds ``cap`` seconds."""
    events = workers.tmp / f"{cell.name}.{variant}.jsonl"
    events.unlink(missing_ok=True)
    proc = workers.get(variant)
    t_launch = time.time()
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"cell": cell.name, "warmup": warmup, "draws": draws, "seed": seed,
                                 "events": str(events)}) + "\n")
    proc.stdin.flush()
    row: dict[str, Any] = {"tool": LABELS[variant], "variant": variant}
    stage, stage_t = "start-up (imports, data)", t_launch
    while True:
        time.sleep(0.25)
        evs = _read_events(events)
        if any(e["event"] == "done" for e in evs):
            break
        if proc.poll() is not None:
            tail = (workers.tmp / f"{variant}.log").read_text()[-400:]
            row.update(status=f"worker died (exit {proc.returncode}): {tail}")
            break
        starts = [e for e in evs if e["event"] == "start"]
        if starts:
            stage, stage_t = starts[-1]["stage"], starts[-1]["t"]
        # imports and data generation get their own allowance; NumPyro's cold run also compiles
        limit = (cap + COMPILE_ALLOWANCE if stage.startswith("cold") else cap) if starts else cap + 300
        if time.time() - stage_t > limit:
            workers.kill(variant)
            row.update(status=f"timed out: {stage} over {limit:.0f} s")
            for e in evs:  # what finished before the cap
                if e["event"] == "cold":
                    row["cold_s"] = e["wall_s"]
                if e["event"] == "compiled":
                    row["compile_s"] = e["compile_s"]
            break
    row["worker_s"] = time.time() - t_launch  # this job: (imports,) data, warm-ups, runs
    evs = _read_events(events)
    result = next((e for e in evs if e["event"] == "result"), None)
    error = next((e for e in evs if e["event"] == "error"), None)
    if result is not None:
        row.update({k: v for k, v in result.items() if k != "event"}, status="ok")
    elif error is not None:
        row.update(status=f"error: {error['error']}")
    return row


def agreement(row: dict[str, Any], ref: dict[str, Any]) -> dict[str, float]:
    """The weights' posterior of ``row`` against ``ref``: mean differences in sds and in MCSEs, sds."""
    m, s, e = (np.asarray(row[k]) for k in ("mean", "sd", "mcse"))
    m0, s0, e0 = (np.asarray(ref[k]) for k in ("mean", "sd", "mcse"))
    diff = np.abs(m - m0)
    return {"max_dmean_sd": float(np.max(diff / s0)),
            "max_z": float(np.max(diff / np.sqrt(e**2 + e0**2))),
            "max_dsd_rel": float(np.max(np.abs(s / s0 - 1.0)))}


def finish_cell(cell: Cell, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """ESS/s, agreement with bayeswd, the best peer and bayeswd's ratios."""
    ok = [r for r in rows if r.get("status") == "ok"]
    for r in ok:
        r["ess_per_s"] = r["min_ess"] / r["wall_s"]
        r["ess_w_per_s"] = r["min_ess_w"] / r["wall_s"]
        r["ess_per_s_incl_compile"] = r["min_ess"] / (r["wall_s"] + r["compile_s"])
    ref = next((r for r in ok if r["variant"] == "bayeswd"), ok[0] if ok else None)
    for r in ok:
        if r is not ref:
            r.update(agreement(r, ref))
            r["agreement_ref"] = ref["tool"]
    numpyro = [r for r in ok if r["variant"].startswith("numpyro_")]
    if numpyro:  # NumPyro's number is the faster chain method (compile excluded)
        best_np = max(numpyro, key=lambda r: r["ess_per_s"])
        for r in numpyro:
            r["numpyro_best"] = r is best_np
    peers = [r for r in ok if r["variant"] == "nutpie" or r.get("numpyro_best")]
    summary: dict[str, Any] = {"cell": cell.name}
    bw_row = next((r for r in ok if r["variant"] == "bayeswd"), None)
    if peers:
        best = max(peers, key=lambda r: r["ess_per_s"])
        summary.update(best_peer=best["tool"], best_peer_ess_per_s=best["ess_per_s"],
                       best_peer_rhat=best["max_rhat"])
        if bw_row is not None:
            best_incl = max(peers, key=lambda r: r["ess_per_s_incl_compile"])
            summary.update(
                bayeswd_ess_per_s=bw_row["ess_per_s"],
                ratio=bw_row["ess_per_s"] / best["ess_per_s"],
                ratio_incl_compile=bw_row["ess_per_s_incl_compile"] / best_incl["ess_per_s_incl_compile"],
                ratio_weights=bw_row["ess_w_per_s"] / max(r["ess_w_per_s"] for r in peers),
            )
            summary["target_2x"] = "met" if summary["ratio"] >= 2.0 else "missed"
        nuts_row = next((r for r in ok if r["variant"] == "bayeswd_nuts"), None)
        if nuts_row is not None:
            summary.update(nuts_ess_per_s=nuts_row["ess_per_s"],
                           ratio_nuts=nuts_row["ess_per_s"] / best["ess_per_s"])
            summary["target_nuts_1x"] = "met" if summary["ratio_nuts"] >= 1.0 else "missed"
    elif bw_row is not None:
        summary.update(bayeswd_ess_per_s=bw_row["ess_per_s"])
    timed_out = [r["tool"] for r in rows if str(r.get("status", "")).startswith("timed out")]
    if timed_out:
        summary["timed_out"] = timed_out
    return summary


# --- metadata and the report -----------------------------------------------------------------------

def metadata() -> dict[str, str]:
    import importlib.metadata as md

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    out = {"date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": platform.machine(),
           "cpu": cpu, "cpus": str(os.cpu_count()), "python": platform.python_version()}
    for pkg in ("torch", "jax", "jaxlib", "numpyro", "pymc", "pytensor", "nutpie", "numba", "arviz", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
        out["bayeswd"] = rev + (" (+ uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        out["bayeswd"] = "unknown"
    return out


def _f(x: Any, fmt: str = ".3g") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    if isinstance(x, (int, float)) and fmt == ".3g" and abs(x) >= 1000:
        fmt = ".0f"
    return format(x, fmt) if isinstance(x, (int, float)) else str(x)


def _r(x: Any) -> str:
    """A ratio: two decimals, two significant digits below 0.1."""
    return _f(x, ".2f" if x is None or not isinstance(x, float) or x >= 0.1 else ".2g")


def _scales(cell: Cell) -> str:
    return f"sigma {cell.sigma}, tau {cell.tau}"


def to_markdown(report: dict[str, Any]) -> str:
    meta, settings = report["meta"], report["settings"]
    kind = "quick run" if settings["quick"] else (
        "full run" if (settings["warmup"], settings["draws"]) == (1000, 1000) else "custom run")
    lines = [f"# Benchmark grid ({kind}, {meta['date']})", "",
             "Machine and versions: " + ", ".join(f"{k} {v}" for k, v in meta.items() if k != "date"), "",
             f"Settings: 4 chains x ({settings['warmup']} warm-up + {settings['draws']} draws), seed "
             f"{settings['seed']}, cap {settings['cap']:.0f} s a run; load average "
             f"{settings['load_start']} at the start, {settings['load_end']} at the end; grid wall "
             f"{settings['grid_wall_s']:.0f} s" + (" (resumed after an interruption)" if settings.get("resumed")
                                                  else "") + ".", "",
             *([f"Note: {settings['note']}.", ""] if settings.get("note") else []),
             "min-ESS = minimum bulk ESS over all sampled parameters (weights, intercept, sigma, tau); "
             "ESS/s on the timed run, compile excluded; ratio = bayeswd / best peer (NumPyro's faster "
             f"chain method or nutpie; its R-hat is shown when above {RHAT_FLAG}). Targets (issue 11): bayeswd "
             "with its defaults >= 2x the best peer; bayeswd's NUTS >= 1x.", "",
             "| cell | n x d | data | prior | scales | bayeswd ESS/s | best peer | peer ESS/s | ratio | "
             "ratio incl. compile | ratio (weights) | >= 2x | NUTS ESS/s | NUTS ratio | NUTS >= 1x | cell wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for entry in report["cells"]:
        c, s = CELL_BY_NAME[entry["cell"]], entry["summary"]
        to = f" (timed out: {', '.join(s['timed_out'])})" if s.get("timed_out") else ""
        if s.get("best_peer_rhat", 1.0) > RHAT_FLAG:  # its ESS/s is not a converged sampler's
            to = f", R-hat {s['best_peer_rhat']:.2f}" + to
        lines.append(f"| {c.name} | {c.n} x {c.d} | {c.data}, {c.truth} | {c.prior} | {_scales(c)} | "
                     f"{_f(s.get('bayeswd_ess_per_s'))} | {s.get('best_peer', '')}{to} | "
                     f"{_f(s.get('best_peer_ess_per_s'))} | {_r(s.get('ratio'))} | "
                     f"{_r(s.get('ratio_incl_compile'))} | {_r(s.get('ratio_weights'))} | "
                     f"{s.get('target_2x', '')} | {_f(s.get('nuts_ess_per_s'))} | {_r(s.get('ratio_nuts'))} | "
                     f"{s.get('target_nuts_1x', '')} | {_f(s.get('cell_wall_s'), '.0f')} |")
    lines += ["", "## Every tool", "",
              "compile: NumPyro's cold run minus its warm run; nutpie's `compile_pymc_model`; bayeswd's "
              "first (tiny) call. Agreement with bayeswd over the weights: max |mean difference| in "
              "bayeswd's posterior sds, the largest z of that difference against both MCSEs (about 3-4 "
              "expected by chance over d weights), the largest relative difference of the sds.", "",
              "| cell | tool | compile s | wall s | min-ESS | min-ESS (w) | ESS/s | max R-hat | div | "
              "steps/draw | dmean/sd | z | dsd | status |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for entry in report["cells"]:
        for r in entry["rows"]:
            tool = r["tool"] + (" **(faster)**" if r.get("numpyro_best") else "")
            status = r.get("status", "")
            if r["variant"].startswith("bayeswd") and (r.get("method") or r.get("form")):
                status += f" ({': '.join(x for x in (r.get('method'), r.get('form')) if x)})"
            if r.get("agreement_ref") and r["agreement_ref"] != LABELS["bayeswd"]:
                status += f"; agreement against {r['agreement_ref']}"
            lines.append(
                f"| {entry['cell']} | {tool} | {_f(r.get('compile_s'))} | {_f(r.get('wall_s'))} | "
                f"{_f(r.get('min_ess'), '.0f')} | {_f(r.get('min_ess_w'), '.0f')} | {_f(r.get('ess_per_s'))} | "
                f"{_f(r.get('max_rhat'), '.3f')} | {_f(r.get('divergences'))} | {_f(r.get('steps_per_draw'))} | "
                f"{_f(r.get('max_dmean_sd'), '.2f')} | {_f(r.get('max_z'), '.1f')} | "
                f"{_f(r.get('max_dsd_rel'), '.2f')} | {status} |")
    lines += ["", "## The cells", "", "| cell | covers |", "|---|---|"]
    lines += [f"| {e['cell']} | {CELL_BY_NAME[e['cell']].covers} |" for e in report["cells"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quick cells, 4 x (200 + 200): a smoke run")
    parser.add_argument("--cells", nargs="+", default=None, help="cells to run (default: all, or the quick ones)")
    parser.add_argument("--peers", nargs="+", default=list(PEERS), choices=PEERS, help="tools to run")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up per chain (default 1000; quick 200)")
    parser.add_argument("--draws", type=int, default=None, help="draws per chain (default 1000; quick 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cap", type=float, default=300.0, help="seconds a run may take before it is stopped")
    parser.add_argument("--name", default=None, help="results file stem (default grid_<date>[_quick])")
    parser.add_argument("--resume", action="store_true",
                        help="keep the cells already in the results file (same settings) and run the rest")
    parser.add_argument("--list", action="store_true", help="print the cells and exit")
    parser.add_argument("--render", metavar="JSON", default=None,
                        help="write the .md of a results .json again (after a change of the table's format)")
    parser.add_argument("--worker", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        return worker_main(*args.worker)
    if args.render:
        path = Path(args.render)
        path.with_suffix(".md").write_text(to_markdown(json.loads(path.read_text())))
        print(f"wrote {path.with_suffix('.md')}")
        return 0
    if args.list:
        for c in CELLS:
            print(f"{c.name:32s} {'quick ' if c.quick else '      '}{c.covers}")
        return 0
    if args.cells:
        unknown = sorted(set(args.cells) - set(CELL_BY_NAME))
        if unknown:
            parser.error(f"unknown cell(s) {unknown}; see --list")
        cells = [CELL_BY_NAME[n] for n in args.cells]
    else:
        cells = [c for c in CELLS if c.quick or not args.quick]
    warmup = args.warmup or (200 if args.quick else 1000)
    draws = args.draws or (200 if args.quick else 1000)
    variants = [v for peer in PEERS if peer in args.peers for v in VARIANTS[peer]]
    stem = args.name or f"grid_{_dt.date.today().isoformat()}{'_quick' if args.quick else ''}"
    RESULTS.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bayeswd-grid-"))
    env = dict(os.environ)
    # a fresh compile cache for each invocation, so that the compile times are cold ones
    env["PYTENSOR_FLAGS"] = f"base_compiledir={tmp / 'pytensor'}"
    env.setdefault("PYTHONWARNINGS", "ignore")
    report: dict[str, Any] = {
        "meta": metadata(),
        "settings": {"quick": args.quick, "warmup": warmup, "draws": draws, "seed": args.seed, "cap": args.cap,
                     "peers": variants, "load_start": " ".join(f"{x:.1f}" for x in os.getloadavg())},
        "cells": [],
    }
    done_s = 0.0
    if args.resume and (RESULTS / f"{stem}.json").exists():  # keep the cells of an interrupted run
        old = json.loads((RESULTS / f"{stem}.json").read_text())
        same = {k: old["settings"].get(k) for k in ("warmup", "draws", "seed", "cap", "peers")} == \
            {k: report["settings"][k] for k in ("warmup", "draws", "seed", "cap", "peers")}
        if not same:
            parser.error(f"--resume: {stem}.json was run with other settings; give --name or drop --resume")
        report["cells"] = [c for c in old["cells"] if c["cell"] in {x.name for x in cells}]
        report["settings"]["load_start"] = old["settings"]["load_start"]
        report["settings"]["resumed"] = True
        done_s = old["settings"].get("grid_wall_s", 0.0)
        print(f"resuming: {len(report['cells'])} cell(s) kept from {stem}.json", flush=True)
    done = {c["cell"] for c in report["cells"]}
    t_grid = time.perf_counter()
    workers = Workers(tmp, env)
    try:
        for cell in (c for c in cells if c.name not in done):
            rows = []
            for v in variants:
                print(f"[{cell.name}] {LABELS[v]} ...", flush=True)
                row = run_variant(workers, cell, v, warmup=warmup, draws=draws, seed=args.seed, cap=args.cap)
                rows.append(row)
                print(f"    {row.get('status')}: compile {_f(row.get('compile_s'))} s, wall {_f(row.get('wall_s'))} s, "
                      f"min-ESS {_f(row.get('min_ess'), '.0f')}, R-hat {_f(row.get('max_rhat'), '.3f')}, "
                      f"div {row.get('divergences', '')}", flush=True)
            summary = finish_cell(cell, rows)
            summary["cell_wall_s"] = sum(r["worker_s"] for r in rows)
            print(f"    => {summary}", flush=True)
            for r in rows:  # the per-weight vectors were for the agreement only
                for k in ("mean", "sd", "mcse"):
                    r.pop(k, None)
            report["cells"].append({"cell": cell.name, "spec": asdict(cell), "summary": summary, "rows": rows})
            report["settings"].update(load_end=" ".join(f"{x:.1f}" for x in os.getloadavg()),
                                      grid_wall_s=done_s + time.perf_counter() - t_grid)
            # written after every cell, so that a failure later loses nothing
            (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2))
            (RESULTS / f"{stem}.md").write_text(to_markdown(report))
    finally:
        workers.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"wrote {RESULTS / stem}.json and .md ({time.perf_counter() - t_grid:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

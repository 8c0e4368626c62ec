"""Same-run timing comparison of two revisions of bayeswd: is the head slower than the base?

Usage (from the repository root, with the venv that has bayeswd's dependencies)::

    .venv/bin/python benchmarks/compare_revisions.py                  # bf3ab35 vs the working tree
    .venv/bin/python benchmarks/compare_revisions.py --quick          # 1-2 minute smoke run
    .venv/bin/python benchmarks/compare_revisions.py --head-rev bf3ab35 --label noise   # noise run
    .venv/bin/python benchmarks/compare_revisions.py --workloads nuts_seed_gaussian map_tall_laplace

How it measures
---------------
* The base revision (``--base``, default ``bf3ab35``, the commit before the refactor) is checked out
  with ``git worktree add --detach`` into a temporary directory outside the repository; the head is
  the working tree as it is (``--head``, default: this repository's root, uncommitted changes
  included) or, with ``--head-rev``, a second detached worktree. Worktrees are removed at the end
  (``git worktree remove --force``).
* Every measurement is a fresh ``python -c ...`` subprocess of *this* interpreter with
  ``PYTHONPATH=<tree>``, started in a neutral directory, so the same venv imports bayeswd from
  either tree; the child reports ``bayeswd.__file__`` and the run fails if it is not in the tree.
* The child imports everything, warms up (tiny ``map_fit``/``lam_sweep`` calls) and builds the data
  first; only the call is timed. A call whose first run takes less than ``--min-time`` (default
  1 s) is tiny: that run was its warm-up, it is repeated until about ``--min-time`` seconds are
  spent (5 to 2000 calls) and the median is taken; longer calls are timed once (their one-time
  costs, the same on both sides, included).
* Runs alternate between the sides: for each of ``--repeats`` rounds, every workload is run on both
  sides back to back (AB in even rounds, BA in odd rounds, so neither side always goes first). A
  pair ratio ``head/base`` compares two runs made seconds apart under the same machine load; the
  report gives the median seconds of each side, the ratio of the medians and the min-max band of
  the pair ratios. A base-vs-base run (``--head-rev <base>``) measures the noise of the band.
* ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` and ``torch.set_num_threads``
  are set to ``--threads`` (default 1) on both sides; nothing else about the library is changed.
* Only API calls valid on both revisions are used (``map_fit``, ``lam_sweep``, ``cv_curve``,
  ``maximize_evidence``, ``sample_posterior`` with ``method``, ``num_samples``, ``num_chains``,
  ``seed``, ``progress_bar`` only: NUTS warm-up is the default 1000 iterations per chain).
* Each run also records a fingerprint of its result (sums of the returned arrays) and the warnings
  it raised, so the report says whether both sides computed the same numbers.

Results go to ``benchmarks/results/refactor[_<label>]_<date>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
MARK = "@@BWCMP@@"

# --- workloads ----------------------------------------------------------------------------------------
# name -> description, whether in quick mode, whether only with --extended. The child builds and runs
# them (see _child_setup); sizes shrink in quick mode. "tiny" is informational: the child repeats any
# call whose first (warm-up) run took less than --min-time.

WORKLOADS: dict[str, dict[str, Any]] = {
    "map_seed_gaussian": {"desc": "map_fit gaussian, seed n=20 d=200", "tiny": True, "quick": True},
    "map_seed_laplace": {"desc": "map_fit laplace, seed n=20 d=200", "tiny": True, "quick": True},
    "map_tall_gaussian": {"desc": "map_fit gaussian, tall n=100000 d=200", "tiny": True, "quick": True},
    "map_tall_laplace": {"desc": "map_fit laplace, tall n=100000 d=200", "tiny": False, "quick": True},
    "lam_sweep_gaussian": {"desc": "lam_sweep gaussian n_lams=50, seed", "tiny": True, "quick": True},
    "lam_sweep_laplace": {"desc": "lam_sweep laplace n_lams=50, seed", "tiny": True, "quick": True},
    "cv_curve_laplace": {"desc": "cv_curve laplace 5 folds, correlated n=2000 d=50", "tiny": True,
                         "quick": True},
    "maximize_evidence": {"desc": "maximize_evidence, correlated n=2000 d=50", "tiny": True,
                          "quick": True},
    "exact_seed": {"desc": "sample_posterior exact, seed, 2x500", "tiny": True, "quick": True},
    "svi_seed_gaussian": {"desc": "sample_posterior svi gaussian, seed, 2x500", "tiny": False,
                          "quick": True},
    "svi_seed_laplace": {"desc": "sample_posterior svi laplace, seed, 2x500", "tiny": False,
                         "quick": False},
    "nuts_seed_gaussian": {"desc": "NUTS gaussian, seed, sigma tau fixed, 2x500", "tiny": False,
                           "quick": True},
    "nuts_seed_laplace": {"desc": "NUTS laplace, seed, sigma tau fixed, 2x500", "tiny": False,
                          "quick": False},
    "nuts_diabetes_gaussian": {"desc": "NUTS gaussian, diabetes n=442 d=10, sigma tau fixed, 2x500",
                               "tiny": False, "quick": True},
    "nuts_diabetes_gaussian_sigma": {"desc": "NUTS gaussian, diabetes, sigma=None tau fixed, 2x500",
                                     "tiny": False, "quick": False},
    "nuts_diabetes_laplace": {"desc": "NUTS laplace, diabetes, sigma tau fixed, 2x500", "tiny": False,
                              "quick": False},
    # --extended: slow (20-75 s a run on 2 cores), off by default to keep the full run ~15 min.
    "nuts_seed_gaussian_sigma": {"desc": "NUTS gaussian, seed, sigma=None tau fixed, 2x500",
                                 "tiny": False, "quick": False, "extended": True},
    "nuts_seed_laplace_sigma": {"desc": "NUTS laplace, seed, sigma=None tau fixed, 2x500",
                                "tiny": False, "quick": False, "extended": True},
    "nuts_diabetes_laplace_sigma": {"desc": "NUTS laplace, diabetes, sigma=None tau fixed, 2x500",
                                    "tiny": False, "quick": False, "extended": True},
}

# Diabetes (sklearn's scaled features): fixed scales near the empirical-Bayes values.
DIABETES_SIGMA = 54.0
DIABETES_TAU = 500.0
DIABETES_TAU_LAPLACE = 350.0


def _child_setup(name: str, quick: bool):
    """Build the data of workload ``name`` and return the zero-argument call to time (child side)."""
    import torch

    import bayeswd as bw

    chains, draws = (1, 100) if quick else (2, 500)
    post = {"num_samples": draws, "num_chains": chains, "seed": 0, "progress_bar": False}

    if name.startswith(("map_tall",)):
        n, d = (20_000, 50) if quick else (100_000, 200)
        tp = bw.tall_problem(n=n, d=d, seed=0)
        prior = name.rsplit("_", 1)[1]
        return lambda: bw.map_fit(tp.X, tp.y, prior=prior, sigma=1.0, tau=1.0)
    if name in ("cv_curve_laplace", "maximize_evidence"):
        cp = bw.correlated_problem(n=2000, d=50, seed=0)
        if name == "cv_curve_laplace":
            return lambda: bw.cv_curve(cp.X, cp.y, prior="laplace", n_lams=50, n_folds=5, seed=0)
        return lambda: bw.maximize_evidence(cp.X, cp.y)
    if "diabetes" in name:
        from sklearn.datasets import load_diabetes

        ds = load_diabetes()
        X = torch.tensor(ds.data, dtype=torch.float64)
        y = torch.tensor(ds.target, dtype=torch.float64)
        prior = "laplace" if "laplace" in name else "gaussian"
        tau = DIABETES_TAU_LAPLACE if prior == "laplace" else DIABETES_TAU
        sigma = None if name.endswith("_sigma") else DIABETES_SIGMA
        return lambda: bw.sample_posterior(X, y, prior=prior, sigma=sigma, tau=tau, method="nuts", **post)

    p = bw.seed_problem()
    X, y = p.train.X, p.train.y
    if name.startswith("map_seed"):
        prior = name.rsplit("_", 1)[1]
        tau = p.tau if prior == "gaussian" else p.tau_laplace
        return lambda: bw.map_fit(X, y, prior=prior, sigma=p.sigma, tau=tau)
    if name.startswith("lam_sweep"):
        prior = name.rsplit("_", 1)[1]
        return lambda: bw.lam_sweep(X, y, prior=prior, n_lams=50)
    if name == "exact_seed":
        return lambda: bw.sample_posterior(
            X, y, prior="gaussian", sigma=p.sigma, tau=p.tau, method="exact", **post
        )
    if name.startswith(("svi_seed", "nuts_seed")):
        method = name.split("_", 1)[0]
        prior = "laplace" if "laplace" in name else "gaussian"
        tau = p.tau if prior == "gaussian" else p.tau_laplace
        sigma = None if name.endswith("_sigma") else p.sigma
        return lambda: bw.sample_posterior(X, y, prior=prior, sigma=sigma, tau=tau, method=method, **post)
    if name == "noop":
        return lambda: None
    raise ValueError(f"unknown workload {name!r}")


def _fingerprint(res: Any) -> dict[str, float]:
    """Sums of the arrays a result carries: equal on both sides when they computed the same numbers."""
    import numpy as np

    out: dict[str, float] = {}
    if res is None:
        return out
    samples = getattr(res, "samples", None)
    if isinstance(samples, dict):
        items = sorted(samples.items())
    else:
        attrs = ("coef", "intercept", "lam", "lam_best", "mse", "objective", "log_evidence", "train_mse")
        items = [(a, getattr(res, a)) for a in attrs if hasattr(res, a)]
    for key, val in items:
        try:
            if hasattr(val, "detach"):
                val = val.detach().cpu().double().numpy()
            out[key] = float(np.asarray(val, dtype=np.float64).sum())
        except (TypeError, ValueError):
            continue
    return out


def child_main() -> None:
    """Entry point of the measuring subprocess: ``argv[1]`` is a JSON spec; prints one JSON line."""
    import warnings

    spec = json.loads(sys.argv[1])
    t_start = time.perf_counter()
    import torch

    torch.set_num_threads(int(spec["threads"]))
    import importlib

    import numpy as np  # noqa: F401
    import pyro  # noqa: F401

    import bayeswd

    for mod in ("bayeswd.map", "bayeswd.posterior", "bayeswd.selection"):
        try:  # import ahead what the public API uses; a module the refactor moved is no error
            importlib.import_module(mod)
        except ImportError:
            pass

    tree = Path(spec["tree"]).resolve()
    where = Path(bayeswd.__file__).resolve()
    if tree not in where.parents:
        print(MARK + json.dumps({"error": f"bayeswd imported from {where}, not from {tree}"}), flush=True)
        sys.exit(3)

    # Generic warm-up (lazy imports, first LAPACK calls), the same on both sides and untimed.
    gen = torch.Generator().manual_seed(0)
    Xw = torch.randn(30, 5, generator=gen, dtype=torch.float64)
    yw = Xw.sum(1) + 0.1 * torch.randn(30, generator=gen, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for prior in ("gaussian", "laplace"):
            bayeswd.map_fit(Xw, yw, prior=prior, sigma=0.1, tau=1.0)
        bayeswd.lam_sweep(Xw, yw, prior="gaussian", n_lams=5)

    fn = _child_setup(spec["workload"], bool(spec["quick"]))
    setup_s = time.perf_counter() - t_start
    caught: list[str] = []
    times: list[float] = []
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        res = fn()
        first = time.perf_counter() - t0
        if first < float(spec["min_time"]):
            # Tiny call: the first one was the warm-up; repeat to ~min_time (5 to 2000 calls), median.
            while len(times) < 5 or (sum(times) < float(spec["min_time"]) and len(times) < 2000):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        else:
            times.append(first)
        caught = sorted({f"{w.category.__name__}: {str(w.message)[:80]}" for w in rec})
    out = {
        "bayeswd_file": str(where),
        "seconds": statistics.median(times),
        "times": times,
        "first_call_s": first,
        "setup_s": setup_s,
        "torch_threads": torch.get_num_threads(),
        "fingerprint": _fingerprint(res),
        "warnings": caught,
    }
    print(MARK + json.dumps(out), flush=True)


# --- parent side ----------------------------------------------------------------------------------------

def _git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _tree_info(tree: Path, rev_requested: str | None) -> dict[str, Any]:
    info: dict[str, Any] = {"path": str(tree), "requested": rev_requested or "working tree"}
    info["commit"] = _git("rev-parse", "HEAD", cwd=tree)
    info["subject"] = _git("log", "-1", "--format=%s", cwd=tree)
    status = _git("status", "--porcelain", "--untracked-files=all", cwd=tree)
    lines = [ln for ln in status.splitlines() if ln.strip()]
    info["dirty_paths"] = len(lines)
    if lines:
        # Identify the uncommitted state: tracked diff plus the names and contents of untracked files.
        h = hashlib.sha256(_git("diff", "HEAD", cwd=tree).encode())
        for ln in sorted(lines):
            if ln.startswith("??"):
                p = tree / ln[3:]
                h.update(ln.encode())
                if p.is_file():
                    h.update(p.read_bytes())
        info["dirty_sha256"] = h.hexdigest()[:16]
        info["dirty_list"] = lines[:200]
    return info


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def _loadavg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def _run_child(tree: Path, workload: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    spec = {
        "tree": str(tree),
        "workload": workload,
        "quick": bool(args.quick),
        "threads": args.threads,
        "min_time": args.min_time,
    }
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{tree}{os.pathsep}{workdir}"
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(args.threads)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONHASHSEED"] = "0"
    env.pop("PYTHONSTARTUP", None)
    code = "import _bwcmp_child as c; c.child_main()"
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, json.dumps(spec)],
            cwd=workdir, env=env, capture_output=True, text=True, timeout=args.timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {args.timeout} s", "wall_s": time.perf_counter() - t0}
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            out = json.loads(line[len(MARK):])
            out["wall_s"] = time.perf_counter() - t0
            if proc.returncode != 0 and "error" not in out:
                out["error"] = f"exit {proc.returncode}"
            return out
    tail = (proc.stderr or proc.stdout)[-1500:]
    return {"error": f"exit {proc.returncode}: {tail}", "wall_s": time.perf_counter() - t0}


def _fmt(x: float | None, nd: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.{nd}g}" if abs(x) < 1 else f"{x:.{nd + 1}g}"


def _same(fa: dict[str, float], fb: dict[str, float]) -> str:
    if not fa or not fb:
        return "n/a"
    if fa.keys() != fb.keys():
        return "keys differ"
    worst = 0.0
    for k in fa:
        a, b = fa[k], fb[k]
        if a == b:
            continue
        worst = max(worst, abs(a - b) / max(abs(a), abs(b), 1e-300))
    if worst == 0.0:
        return "identical"
    return f"rel diff {worst:.1e}"


def _summarise(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    base = [r["base"] for r in runs]
    head = [r["head"] for r in runs]
    ok = [r for r in runs if "error" not in r["base"] and "error" not in r["head"]]
    row: dict[str, Any] = {"workload": name, "desc": WORKLOADS[name]["desc"], "pairs": len(ok)}
    errs = sorted({r["error"][:300] for r in base + head if "error" in r})
    if errs:
        row["errors"] = errs
    if not ok:
        return row
    bs = [r["base"]["seconds"] for r in ok]
    hs = [r["head"]["seconds"] for r in ok]
    ratios = [h / b for h, b in zip(hs, bs, strict=True)]
    row.update(
        base_median_s=statistics.median(bs),
        head_median_s=statistics.median(hs),
        ratio=statistics.median(hs) / statistics.median(bs),
        pair_ratios=ratios,
        ratio_min=min(ratios),
        ratio_max=max(ratios),
        base_seconds=bs,
        head_seconds=hs,
        same_result=_same(ok[0]["base"]["fingerprint"], ok[0]["head"]["fingerprint"]),
        base_warnings=sorted({w for r in ok for w in r["base"]["warnings"]}),
        head_warnings=sorted({w for r in ok for w in r["head"]["warnings"]}),
        n_calls=[len(r["base"]["times"]) for r in ok] + [len(r["head"]["times"]) for r in ok],
    )
    return row


def _markdown(report: dict[str, Any]) -> str:
    m, b, h = report["machine"], report["base"], report["head"]

    def rev(t: dict[str, Any]) -> str:
        s = f"`{t['commit'][:10]}` ({t['requested']})"
        if t.get("dirty_paths"):
            s += f" + {t['dirty_paths']} uncommitted paths (state sha256 {t['dirty_sha256']})"
        if t.get("changed_during_run"):
            s += f" **changed during the run** (at the end: {t['changed_during_run']})"
        return s

    lines = [
        f"# Refactor timing: head vs base, same run ({report['date']})",
        "",
        f"- base: {rev(b)} - {b['subject']}",
        f"- head: {rev(h)} - {h['subject']}",
        f"- machine: {m['platform']}, {m['machine']}, {m['cpu_count']} CPUs; load average "
        f"{m['loadavg_start']} at start, {m['loadavg_end']} at end",
        f"- versions: python {m['python']}, torch {m['torch']}, pyro-ppl {m['pyro-ppl']}, numpy "
        f"{m['numpy']}, scikit-learn {m['scikit-learn']}",
        f"- settings: {report['settings']['repeats']} rounds, threads={report['settings']['threads']} "
        f"(OMP/MKL/OpenBLAS and torch), quick={report['settings']['quick']}, tiny calls repeated to "
        f"~{report['settings']['min_time']} s (median); each run a fresh subprocess; pairs alternate AB/BA; "
        f"total {report['elapsed_s'] / 60:.1f} min",
        "",
        "Seconds are medians over the rounds; `head/base` is the ratio of the medians; the band is the "
        "min-max of the per-round pair ratios (runs of the pair made back to back).",
        "",
        *(["**Quick mode**: tall problem n=20000 d=50, posterior runs 1 chain x 100 draws (not as "
           "the descriptions say).", ""] if report["settings"]["quick"] else []),
        "| workload | what | base s | head s | head/base | pair band | same result |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        if "ratio" not in r:
            lines.append(f"| {r['workload']} | {r['desc']} | error | error | n/a | n/a | n/a |")
            continue
        lines.append(
            f"| {r['workload']} | {r['desc']} | {_fmt(r['base_median_s'])} | {_fmt(r['head_median_s'])} | "
            f"{r['ratio']:.3f} | {r['ratio_min']:.3f}-{r['ratio_max']:.3f} | {r['same_result']} |"
        )
    s = report["summary"]
    lines += [
        "",
        f"Geometric mean of head/base over {s['n']} workloads: **{s['geomean_ratio']:.3f}**; "
        f"all pair ratios span {s['ratio_min']:.3f}-{s['ratio_max']:.3f}.",
    ]
    errs = [r for r in report["results"] if r.get("errors")]
    warn = [r for r in report["results"] if r.get("base_warnings") or r.get("head_warnings")]
    if errs:
        lines += ["", "## Errors", ""]
        lines += [f"- {r['workload']}: {'; '.join(r['errors'])}" for r in errs]
    if warn:
        lines += ["", "## Warnings raised (for information)", ""]
        for r in warn:
            lines.append(f"- {r['workload']}: base {r['base_warnings'] or 'none'}; "
                         f"head {r['head_warnings'] or 'none'}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="bf3ab35", help="base revision (default: bf3ab35)")
    ap.add_argument("--head", default=str(REPO),
                    help="head tree: a directory used as it is (default: this repository's working tree)")
    ap.add_argument("--head-rev", default=None,
                    help="use a detached worktree of this revision as the head instead of --head")
    ap.add_argument("--repeats", type=int, default=None, help="rounds of AB pairs (default 3; quick: 1)")
    ap.add_argument("--quick", action="store_true", help="smoke run: small sizes, fewer workloads, 1 round")
    ap.add_argument("--extended", action="store_true", help="add the slow sigma=None NUTS workloads")
    ap.add_argument("--workloads", nargs="+", default=None, choices=sorted(WORKLOADS), metavar="NAME",
                    help=f"run only these ({', '.join(WORKLOADS)})")
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/torch threads, both sides (default 1)")
    ap.add_argument("--min-time", type=float, default=None, help="seconds to repeat tiny calls to (default 1; quick 0.3)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per subprocess (default 900)")
    ap.add_argument("--label", default=None, help="file name: refactor_<label>_<date> (default refactor_<date>)")
    ap.add_argument("--outdir", default=str(RESULTS), help="where the .json and .md go")
    args = ap.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.min_time is None:
        args.min_time = 0.3 if args.quick else 1.0

    if args.workloads:
        names = list(args.workloads)
    else:
        names = [n for n, w in WORKLOADS.items()
                 if (w.get("quick") if args.quick else (not w.get("extended") or args.extended))]

    date = _dt.date.today().isoformat()
    stem = f"refactor_{args.label}_{date}" if args.label else f"refactor_{date}"
    if args.quick and not args.label:
        stem = f"refactor_quick_{date}"
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)

    tmp = Path(tempfile.mkdtemp(prefix="bayeswd-cmp-"))
    worktrees: list[Path] = []
    t_all = time.perf_counter()
    try:
        shutil.copy2(Path(__file__).resolve(), tmp / "_bwcmp_child.py")
        base_tree = tmp / "wt_base"
        _git("worktree", "add", "--detach", str(base_tree), args.base)
        worktrees.append(base_tree)
        if args.head_rev:
            head_tree = tmp / "wt_head"
            _git("worktree", "add", "--detach", str(head_tree), args.head_rev)
            worktrees.append(head_tree)
        else:
            head_tree = Path(args.head).resolve()
        trees = {"base": base_tree, "head": head_tree}
        info = {"base": _tree_info(base_tree, args.base), "head": _tree_info(head_tree, args.head_rev)}
        print(f"base {info['base']['commit'][:10]} at {base_tree}\nhead {info['head']['commit'][:10]} "
              f"at {head_tree} ({info['head'].get('dirty_paths', 0)} uncommitted paths)", file=sys.stderr)

        # Warm each tree once (bytecode compilation, imports) and check which bayeswd it imports.
        files = {}
        for side, tree in trees.items():
            r = _run_child(tree, "noop", args, tmp)
            if "error" in r:
                raise SystemExit(f"{side} tree does not import: {r['error']}")
            files[side] = r["bayeswd_file"]
            print(f"{side}: bayeswd from {r['bayeswd_file']}", file=sys.stderr)

        load_start = _loadavg()
        runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        total = args.repeats * len(names)
        k = 0
        for rnd in range(args.repeats):
            order = ("base", "head") if rnd % 2 == 0 else ("head", "base")
            for name in names:
                k += 1
                pair: dict[str, Any] = {"round": rnd, "order": "".join(s[0].upper() for s in order)}
                for side in order:
                    pair[side] = _run_child(trees[side], name, args, tmp)
                    if "error" not in pair[side] and not Path(pair[side]["bayeswd_file"]).is_relative_to(
                        trees[side].resolve()
                    ):
                        pair[side]["error"] = f"imported {pair[side]['bayeswd_file']}"
                runs[name].append(pair)
                b, h = pair["base"], pair["head"]
                msg = (f"{h['seconds'] / b['seconds']:.3f}" if "error" not in b and "error" not in h
                       else f"ERROR base={b.get('error', 'ok')[:200]} head={h.get('error', 'ok')[:200]}")
                elapsed = time.perf_counter() - t_all
                print(f"[{k}/{total}] round {rnd} {name}: base {b.get('seconds', float('nan')):.4g} s, "
                      f"head {h.get('seconds', float('nan')):.4g} s, ratio {msg}  "
                      f"({elapsed / 60:.1f} min, eta {elapsed / k * (total - k) / 60:.1f} min)",
                      file=sys.stderr, flush=True)

        results = [_summarise(n, runs[n]) for n in names]
        head_end = _tree_info(head_tree, args.head_rev)
        keys = ("commit", "dirty_paths", "dirty_sha256")
        if any(head_end.get(k) != info["head"].get(k) for k in keys):
            info["head"]["changed_during_run"] = {k: head_end.get(k) for k in keys}
            print("warning: the head tree changed during the run (someone edited it)", file=sys.stderr)
        ratios = [r["ratio"] for r in results if "ratio" in r]
        pair_ratios = [x for r in results if "ratio" in r for x in r["pair_ratios"]]
        report = {
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "base": info["base"],
            "head": info["head"],
            "bayeswd_files": files,
            "machine": {
                "platform": platform.platform(),
                "machine": platform.machine(),
                "processor": platform.processor() or "unknown",
                "cpu_count": os.cpu_count(),
                "loadavg_start": load_start,
                "loadavg_end": _loadavg(),
                "python": platform.python_version(),
                "executable": sys.executable,
                **{p: _version(p) for p in ("torch", "pyro-ppl", "numpy", "scikit-learn", "arviz", "scipy")},
            },
            "settings": {
                "repeats": args.repeats, "threads": args.threads, "quick": args.quick,
                "min_time": args.min_time, "workloads": names, "timeout": args.timeout,
                "diabetes": {"sigma": DIABETES_SIGMA, "tau": DIABETES_TAU, "tau_laplace": DIABETES_TAU_LAPLACE},
            },
            "summary": {
                "n": len(ratios),
                "geomean_ratio": math.exp(statistics.fmean(math.log(x) for x in ratios)) if ratios else float("nan"),
                "ratio_min": min(pair_ratios) if pair_ratios else float("nan"),
                "ratio_max": max(pair_ratios) if pair_ratios else float("nan"),
            },
            "elapsed_s": time.perf_counter() - t_all,
            "results": results,
            "runs": runs,
        }
        (outdir / f"{stem}.json").write_text(json.dumps(report, indent=1) + "\n")
        md = _markdown(report)
        (outdir / f"{stem}.md").write_text(md)
        print(md)
        print(f"wrote {outdir / stem}.json and .md", file=sys.stderr)
        return 1 if any("errors" in r for r in results) else 0
    finally:
        for wt in worktrees:
            try:
                _git("worktree", "remove", "--force", str(wt))
            except subprocess.CalledProcessError as exc:
                print(f"warning: could not remove worktree {wt}: {exc.stderr}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

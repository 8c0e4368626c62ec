"""The Dask pass against the in-memory pass: wall time and the client's peak memory.

Writes a Parquet data set in many parts (part by part: this script never holds it whole), then
runs the exact gaussian posterior (one pass of sufficient statistics, then a Cholesky solve) three
ways, each in a fresh process so that one's allocations do not hide another's peak:

- ``memory``: ``pandas.read_parquet`` of the whole set, then ``sample_posterior`` on it;
- ``threads``: ``dask.dataframe.read_parquet`` and ``sample_posterior`` on Dask's threads;
- ``cluster``: the same on a ``LocalCluster`` of 2 worker processes (1 thread each).

Peak memory is the resident set of the process (the client), sampled every 2 ms from just before
the step (after imports and a warm-up on two parts) to its end, minus its value at the start.
Results go to ``benchmarks/results/dask_pass_<date>.json``.

    .venv/bin/python benchmarks/dask_pass.py            # 40 parts x 25000 rows x 20 features
    .venv/bin/python benchmarks/dask_pass.py --parts 8 --rows 5000   # a smoke run
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

KW = {"sigma": 1.0, "tau": 0.5, "method": "exact", "num_samples": 200, "num_chains": 2, "seed": 0}


def write(folder: Path, parts: int, rows: int, d: int) -> int:
    import pandas as pd

    w = np.linspace(-1.0, 1.0, d)
    for i in range(parts):
        rng = np.random.default_rng(i)
        X = rng.standard_normal((rows, d)) + np.arange(d)
        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(d)])
        frame["y"] = X @ w + 3.0 + rng.standard_normal(rows)
        frame.to_parquet(folder / f"part-{i:03d}.parquet")
    return sum(f.stat().st_size for f in folder.iterdir())


class Peak:
    def __enter__(self):
        import psutil

        self.proc, self.stop = psutil.Process(), threading.Event()
        self.base = self.peak = self.proc.memory_info().rss
        self.thread = threading.Thread(target=self.watch, daemon=True)
        self.thread.start()
        self.t0 = time.perf_counter()
        return self

    def watch(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.002)

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def run_mode(mode: str, folder: str) -> dict:
    import pandas as pd

    import bayeswd as bw

    if mode == "memory":
        small = pd.read_parquet(sorted(Path(folder).iterdir())[0])
        bw.sample_posterior(small.drop(columns="y"), small["y"], **KW)  # warm-up
        with Peak() as peak:
            full = pd.read_parquet(folder)
            read = time.perf_counter() - peak.t0
            post = bw.sample_posterior(full.drop(columns="y"), full["y"], **KW)
        return finish(mode, peak, post) | {"of_which_read_seconds": round(read, 3)}
    import dask.dataframe as dd

    def one(df):
        X, y = df.drop(columns="y"), df["y"]
        bw.sample_posterior(X.partitions[:2], y.partitions[:2], **KW)  # warm-up
        with Peak() as peak:
            post = bw.sample_posterior(X, y, **KW)
        return finish(mode, peak, post, df.npartitions)

    if mode == "threads":
        return one(dd.read_parquet(folder))
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster):
        return one(dd.read_parquet(folder))


def finish(mode: str, peak: Peak, post, partitions: int | None = None) -> dict:
    return {"mode": mode, "seconds": round(peak.seconds, 3), "peak_rss_growth_mb": round((peak.peak - peak.base) / 1e6, 1),
            "partitions": partitions, "coef_mean": post.samples["coef"].mean((0, 1)).tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=40)
    parser.add_argument("--rows", type=int, default=25_000, help="rows per part")
    parser.add_argument("--d", type=int, default=20, help="features")
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:  # a child: one measurement, as JSON on stdout
        print(json.dumps(run_mode(args.mode, args.folder)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        on_disk = write(folder, args.parts, args.rows, args.d)
        write_s = time.perf_counter() - t0
        results = {}
        for mode in ("memory", "threads", "cluster"):
            out = subprocess.run([sys.executable, __file__, "--mode", mode, "--folder", str(folder)],
                                 capture_output=True, text=True, check=True)
            results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    n = args.parts * args.rows
    ref = np.array(results["memory"]["coef_mean"])
    summary = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "rows": n, "features": args.d, "parts": args.parts,
        "bytes_on_disk": on_disk, "bytes_in_memory_float64": n * (args.d + 1) * 8,
        "write_seconds": round(write_s, 2),
        "results": {
            m: {k: v for k, v in r.items() if k != "coef_mean"}
            | {"max_rel_diff_posterior_mean": float(np.max(np.abs(np.array(r["coef_mean"]) - ref))
                                                     / np.max(np.abs(ref)))}
            for m, r in results.items()
        },
    }
    out_dir = Path(__file__).parent / "results"
    out_dir.mkdir(exist_ok=True)
    path = out_dir / f"dask_pass_{summary['date']}.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{n} rows x {args.d} features in {args.parts} parts: {on_disk / 1e6:.0f} MB on disk, "
          f"{summary['bytes_in_memory_float64'] / 1e6:.0f} MB as float64")
    for m, r in summary["results"].items():
        read = f" ({r['of_which_read_seconds']:.2f} s reading)" if "of_which_read_seconds" in r else ""
        print(f"  {m:8s} {r['seconds']:7.2f} s{read}   client peak +{r['peak_rss_growth_mb']:7.1f} MB   "
              f"posterior mean vs in-memory {r['max_rel_diff_posterior_mean']:.1e}")
    print(f"written to {path}")


if __name__ == "__main__":
    main()

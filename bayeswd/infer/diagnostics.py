"""Convergence diagnostics of the draws, and the warning a sampler run gives when they fail."""

from __future__ import annotations

import warnings
from typing import Any

import arviz as az
import numpy as np
import torch

from bayeswd.exceptions import DiagnosticWarning

__all__ = ["RHAT_MAX", "diagnose", "nuts_diagnostics", "warn_diagnostics"]

RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100


def diagnose(samples: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Rank-normalised split R-hat, bulk and tail ESS (ArviZ) of every site, per scalar parameter."""
    data = az.convert_to_dataset({k: v.numpy() for k, v in samples.items()})
    with warnings.catch_warnings():
        # numpy warns (RuntimeWarning) inside arviz on degenerate chains, e.g. a single draw or
        # constant draws; the NaN diagnostics say it (and warn_diagnostics reports them)
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"(arviz|numpy|xarray)(\.|$)")
        rhat = az.rhat(data)
        ess_bulk = az.ess(data, method="bulk")
        ess_tail = az.ess(data, method="tail")
    return {
        "rhat": {k: np.atleast_1d(rhat[k].values) for k in samples},
        "ess_bulk": {k: np.atleast_1d(ess_bulk[k].values) for k in samples},
        "ess_tail": {k: np.atleast_1d(ess_tail[k].values) for k in samples},
    }


def nuts_diagnostics(stats: dict[str, np.ndarray], max_tree_depth: int) -> dict[str, Any]:
    """The sampler's own diagnostics: divergences, tree-depth hits, final step size per chain."""
    return {
        "num_divergent": int(stats["diverging"].sum()),
        "max_tree_depth_hits": int((stats["tree_depth"] >= max_tree_depth).sum()),
        "step_size": stats["step_size"][:, -1].copy(),
    }


def warn_diagnostics(diag: dict[str, Any], stats: dict[str, np.ndarray], num_chains: int,
                     *, stacklevel: int = 3) -> None:
    """Warn about an untrustworthy NUTS run (``stacklevel`` counted from this function)."""
    problems = []
    rhat_max = max(float(np.max(v)) for v in diag["rhat"].values()) if num_chains > 1 else 1.0
    if not rhat_max <= RHAT_MAX:
        problems.append(f"max R-hat {rhat_max:.4f} > {RHAT_MAX}")
    ess = np.concatenate([np.ravel(v) for v in diag["ess_bulk"].values()])
    if np.isnan(ess).any():
        problems.append("bulk ESS undefined for some parameters (constant or non-finite draws)")
    ess_min = float(ess[~np.isnan(ess)].min()) if (~np.isnan(ess)).any() else float("nan")
    if ess_min == ess_min and not ess_min >= ESS_PER_CHAIN_MIN * num_chains:
        problems.append(
            f"min bulk ESS {ess_min:.0f} < {ESS_PER_CHAIN_MIN} per chain ({num_chains} chains)"
        )
    n_div = int(stats["diverging"].sum())
    if n_div:
        problems.append(f"{n_div} divergent transition(s) after warm-up")
    if problems:
        warnings.warn(
            "NUTS diagnostics: " + "; ".join(problems)
            + ". Run more warm-up and draws, or raise target_accept_prob.",
            DiagnosticWarning,
            stacklevel=stacklevel,
        )

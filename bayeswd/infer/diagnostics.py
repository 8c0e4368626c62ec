r"""Convergence diagnostics of the draws, and the warning a sampler run gives when they fail.

The warning rules are calibrated to the run (chains ``C``, draws per chain ``S``, scalar
parameters ``p``), so that a healthy run rarely warns however short it is, and a long run keeps
the guidelines of Vehtari et al. (2021), "Rank-normalization, folding, and localization: an
improved R-hat", Bayesian Analysis 16(2):

* **R-hat.** ArviZ's R-hat of a parameter is the larger of the split R-hat of its rank-normalised
  draws (bulk) and of its rank-normalised folded draws ``|x - median|`` (tail), over
  ``M = 2C`` split chains of ``N = floor(S/2)`` draws. For well-mixed chains whose split-chain
  means have the variance of ``n`` independent draws (``n`` = ESS / M, the *effective* draws per
  split chain), ``B / W ~ (N / n) F(M - 1, M (n - 1))`` approximately (chain means gaussian,
  ``W`` a pooled variance with about ``M (n - 1)`` degrees of freedom), hence

  .. math::

      \hat R^2 = \frac{N - 1}{N} + \frac{B}{N W} \approx \frac{N - 1}{N} + \frac{F}{n}.

  A run warns when some parameter's bulk or tail R-hat exceeds

  .. math::

      R^*(n) = \max\Bigl(1.01,\ \sqrt{(N-1)/N + F^{-1}_{M-1,\,M(n-1)}(1 - a) / n}\Bigr),
      \quad a = 1 - (1 - 0.01)^{1/(2p)}

  (Sidak over the ``2p`` R-hats: a healthy run warns with probability at most about 1 %), with
  ``n = min(N, max(ESS_w, 50) / M)``, where ``ESS_w`` is the smallest over the parameters
  (:func:`rhat_test`) of the ESS of the same rank-normalised quantity (bulk draws for the bulk
  R-hat, folded draws for the tail R-hat) from the *within-chain* autocorrelations alone.
  ArviZ's ESS would not do: it counts the disagreement of the chains as autocorrelation, so
  exactly when the chain means differ it shrinks ``n`` and excuses the R-hat (measured on iid
  draws: the false-alarm rate falls from 1 % to ~0). The smallest, not each parameter's own:
  per-parameter estimates from short chains are noisy and the largest R-hat picks out the
  overestimated ones (NUTS on the demo: 2 false alarms in 8 healthy runs). The cap ``N``
  ignores antithetic gains; the floor 50 keeps the rule from excusing chains that hardly move
  (they fail the ESS rule). Checked by simulation (tests/test_diagnostics.py): for iid draws
  the bound at ``n = N`` is exceeded at its nominal 1 %, the rule with ``n`` estimated is
  conservative (0.25 % for 2 chains x 50 draws, 3 parameters). The bound is 1.01 for 4 chains
  x 1000 draws (Vehtari's guideline) and about 1.035 for the demo's 2 chains x 200 draws over
  201 parameters at ``n = N``; more where the ESS is a fraction of the draws (the folded draws
  of NUTS).
* **ESS.** The minimum bulk and tail ESS must reach
  ``min(100 C, max(50, 0.1 C S))``: Vehtari's 100 per chain for runs of 1000 draws per chain or
  more; for shorter runs the same efficiency, one effective draw in ten (100 per 1000 draws, a
  lower ESS per draw means the sampler hardly moves), but never under 50 effective draws, below
  which the Monte Carlo error of a mean exceeds 14 % of the posterior sd, a 5 % / 95 % quantile's
  probability is off by 3 percentage points, and the ESS estimate itself is unreliable.
* **Divergences** after warm-up always warn.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch
from scipy import special, stats

from bayeswd import _arviz
from bayeswd.exceptions import DiagnosticWarning

__all__ = [
    "ESS_MIN",
    "ESS_PER_CHAIN_MIN",
    "ESS_PER_DRAW_MIN",
    "FALSE_ALARM",
    "RHAT_MAX",
    "diagnose",
    "ess_required",
    "nuts_diagnostics",
    "rhat_bound",
    "rhat_test",
    "split_rank_statistics",
    "tail_ess",
    "warn_diagnostics",
]

#: Vehtari et al.'s guideline for one quantity: the bound of a long run.
RHAT_MAX = 1.01
#: Vehtari et al.'s ESS per chain (reached by runs of 1000 draws per chain at ``ESS_PER_DRAW_MIN``).
ESS_PER_CHAIN_MIN = 100
#: The lowest ESS per draw a short run may have.
ESS_PER_DRAW_MIN = 0.1
#: No run, however short, is trusted with fewer effective draws.
ESS_MIN = 50
#: Probability that a healthy run warns about its R-hat (over all its parameters).
FALSE_ALARM = 0.01


def diagnose(samples: dict[str, torch.Tensor], *, split: dict[str, np.ndarray] | None = None
             ) -> dict[str, Any]:
    """Rank-normalised split R-hat, bulk and tail ESS (ArviZ's numbers) of every site, per scalar parameter.

    With at least 2 chains of 4 draws the numbers are computed for all parameters at once
    (:func:`split_rank_statistics`, :func:`tail_ess`: ArviZ's algorithms vectorised, tested equal
    to ArviZ to 1e-9); ArviZ itself loops over the parameters in Python (0.2 s for 52 parameters
    of 4 x 1000 draws, seconds for a thousand: more than the exact and collapsed samplers take).
    Parameters whose draws are constant or not finite, and shorter runs, go to ArviZ itself,
    whose conventions for them (NaN R-hat; the ESS of constant draws is their number) hold.

    ``split``, an empty dict, receives every statistic of :func:`split_rank_statistics` of the
    draws (when computed here), for :func:`warn_diagnostics` to reuse instead of ranking the draws
    again (the ranks are most of the cost: 0.1 s for 52 parameters of 4 x 1000 draws).
    """
    arrays = {k: v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v) for k, v in samples.items()}
    first = next(iter(arrays.values()))
    if first.shape[0] >= 2 and first.shape[1] >= 4:
        return _diagnose_vectorised(arrays, split)
    return _diagnose_arviz(arrays)


def _diagnose_arviz(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    data = _arviz.convert_to_dataset(arrays)
    with warnings.catch_warnings():
        # numpy warns (RuntimeWarning) inside arviz on degenerate chains, e.g. a single draw or
        # constant draws; the NaN diagnostics say it (and warn_diagnostics reports them)
        warnings.filterwarnings("ignore", category=RuntimeWarning,
                                module=r"(arviz(_base|_stats)?|numpy|xarray)(\.|$)")
        rhat = _arviz.rhat(data)
        ess_bulk = _arviz.ess(data, method="bulk")
        ess_tail = _arviz.ess(data, method="tail")
    return {
        "rhat": {k: np.atleast_1d(rhat[k].values) for k in arrays},
        "ess_bulk": {k: np.atleast_1d(ess_bulk[k].values) for k in arrays},
        "ess_tail": {k: np.atleast_1d(ess_tail[k].values) for k in arrays},
    }


def _diagnose_vectorised(arrays: dict[str, np.ndarray], split: dict[str, np.ndarray] | None
                         ) -> dict[str, Any]:
    flat = np.concatenate([a.reshape(a.shape[0], a.shape[1], -1).astype(float) for a in arrays.values()],
                          axis=2)
    keys = _STATISTICS if split is not None else ("rhat_bulk", "rhat_folded", "ess_bulk")
    with np.errstate(divide="ignore", invalid="ignore"):  # degenerate chains: inf or NaN, as ArviZ
        st = split_rank_statistics(flat, keys=keys)
        if split is not None:
            split.update({k: v.copy() for k, v in st.items()})
        rhat = np.maximum(st["rhat_bulk"], st["rhat_folded"])
        ess_bulk, ess_tail = st["ess_bulk"], tail_ess(flat)
    # not finite, or an R-hat so large that it is a ratio of rounding errors (chains stuck at
    # different values): ArviZ's own numbers for those
    bad = ~np.isfinite(rhat) | ~np.isfinite(ess_bulk) | ~np.isfinite(ess_tail) | (rhat > 1e3)
    if bad.any():  # constant or non-finite draws: ArviZ's own conventions for them
        ref = _diagnose_arviz({"x": flat[..., bad]})
        rhat[bad], ess_bulk[bad], ess_tail[bad] = ref["rhat"]["x"], ref["ess_bulk"]["x"], ref["ess_tail"]["x"]
    out: dict[str, Any] = {"rhat": {}, "ess_bulk": {}, "ess_tail": {}}
    start = 0
    for name, a in arrays.items():
        shape = a.shape[2:] or (1,)
        size = int(np.prod(shape))
        for key, values in (("rhat", rhat), ("ess_bulk", ess_bulk), ("ess_tail", ess_tail)):
            out[key][name] = values[start:start + size].reshape(shape)
        start += size
    return out


def nuts_diagnostics(stats: dict[str, np.ndarray], max_tree_depth: int) -> dict[str, Any]:
    """The sampler's own diagnostics: divergences, tree-depth hits, final step size per chain."""
    return {
        "num_divergent": int(stats["diverging"].sum()),
        "max_tree_depth_hits": int((stats["tree_depth"] >= max_tree_depth).sum()),
        "step_size": stats["step_size"][:, -1].copy(),
    }


# ------------------------------------------------------------------------------------------
# the calibrated rules


def ess_required(num_chains: int, num_draws: int) -> float:
    """ESS a run of ``num_chains`` x ``num_draws`` must reach: ``min(100 C, max(50, 0.1 C S))``."""
    total = num_chains * num_draws
    return float(min(ESS_PER_CHAIN_MIN * num_chains, max(ESS_MIN, ESS_PER_DRAW_MIN * total)))


def rhat_bound(num_chains: int, num_draws: int, num_tests: int, ess: Any = None,
               *, alpha: float = FALSE_ALARM) -> np.ndarray:
    """The R-hat a healthy run exceeds in any of ``num_tests`` R-hats with probability ``alpha``.

    ``ess`` (one per R-hat; ``None``: independent draws, ESS = number of draws) is the ESS of the
    rank-normalised quantity of each R-hat; see the module docstring for the derivation.
    Returns ``max(RHAT_MAX, sqrt((N - 1)/N + F_q / n))`` per R-hat (NaN where ``N < 2``).
    """
    m, n_split = 2 * num_chains, num_draws // 2
    if n_split < 2:
        return np.full(np.shape(ess) if ess is not None else (), np.nan)
    total = m * n_split
    ess = np.full((), float(total)) if ess is None else np.asarray(ess, dtype=float)
    n_eff = np.minimum(n_split, np.maximum(np.nan_to_num(ess, nan=ESS_MIN), ESS_MIN) / m)
    n_eff = np.maximum(n_eff, 1.0 + 1.0 / m)  # at least one degree of freedom for W
    a = -math.expm1(math.log1p(-alpha) / max(int(num_tests), 1))  # Sidak
    f_q = stats.f.isf(a, m - 1, m * (n_eff - 1.0))
    return np.maximum(RHAT_MAX, np.sqrt((n_split - 1) / n_split + f_q / n_eff))


def _sorted_columns(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(flat permutation, sorted values)`` of each column of ``x`` (shape (N, p)), flat.

    One ``argsort`` of the contiguous transposed rows; the permutation indexes ``x.T.ravel()``.
    """
    N, p = x.shape
    xt = np.ascontiguousarray(x.T)
    order = np.argsort(xt, axis=1)
    order += (np.arange(p) * N)[:, None]
    order = order.ravel()
    return order, xt.ravel()[order]


def _ranks_sorted(srt: np.ndarray, N: int) -> np.ndarray:
    """Average ranks (1-based) of the sorted values ``srt`` (``p`` columns of ``N`` each, flat).

    Ranks ``1..N`` in every column, then each run of equal values (found among the few positions
    that repeat their predecessor) gets the mean of its ranks. A folded draw always has one tie
    (the two draws around an even count's median), so this runs on every diagnosis: 1 ms instead
    of 7 for 4000 x 51 when it looked for runs over all positions.
    """
    ranks = np.tile(np.arange(1.0, N + 1.0), srt.size // N)
    eq = np.empty(srt.size, dtype=bool)
    eq[0] = False
    np.equal(srt[1:], srt[:-1], out=eq[1:])
    eq[::N] = False  # a column's first value starts a run
    cont = np.flatnonzero(eq)  # positions that continue a run
    if cont.size:
        first = ~eq[cont - 1]  # cont - 1 starts its run
        run = np.cumsum(first) - 1
        start = cont[first] - 1
        mean_rank = start % N + (np.bincount(run) + 2) / 2.0  # start + (length + 1) / 2, 1-based
        ranks[start] = mean_rank
        ranks[cont] = mean_rank[run]
    return ranks


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks (1-based, ties averaged) of each column of ``x`` (shape (N, p)), for finite ``x``.

    ``scipy.stats.rankdata(x, method="average", axis=0)``, tested equal, in a third of its time
    (8 ms against 25 ms for 4000 x 51): one ``argsort`` of the contiguous transposed rows, the
    ranks of the sorted values (:func:`_ranks_sorted`), scattered back through the flat
    permutation.
    """
    N, p = x.shape
    order, srt = _sorted_columns(x)
    out = np.empty(p * N)
    out[order] = _ranks_sorted(srt, N)
    return out.reshape(p, N).T


def _rank_normal(x: np.ndarray) -> np.ndarray:
    """ArviZ's rank normalisation (Blom, average ties) over the first two axes, per parameter.

    ``ndtri((r - 3/8) / (N + 1/4))`` of the average ranks ``r``, which are multiples of 1/2: the
    scores are tabulated once for the ``2 N + 1`` possible ranks and looked up (the same numbers;
    ``ndtri`` on every draw took 3.6 ms of 16 for 4000 x 51).
    """
    m, n = x.shape[:2]
    N = m * n
    flat = x.reshape(N, -1)
    p = flat.shape[1]
    scores = special.ndtri((np.arange(2 * N + 1) / 2.0 - 0.375) / (N + 0.25))  # of rank k / 2
    order, srt = _sorted_columns(flat)
    out = np.empty(p * N)
    out[order] = scores[(2.0 * _ranks_sorted(srt, N)).astype(np.intp)]
    return out.reshape(p, N).T.reshape(x.shape)


def _rhat(z: np.ndarray) -> np.ndarray:
    n = z.shape[1]
    between = n * z.mean(axis=1).var(axis=0, ddof=1)
    within = z.var(axis=1, ddof=1).mean(axis=0)
    return np.sqrt((between / within + n - 1) / n)


def _ess(z: np.ndarray, *, within: bool = False) -> np.ndarray:
    """ArviZ's ESS (Geyer's initial monotone sequence) of (chain, draw, p) arrays, vectorised.

    ``within=True``: from the within-chain autocorrelations alone (``rho_t = mean_c acov_t /
    mean_c acov_0``), blind to disagreement between the chains.
    """
    return _ess_variants(z, (within,))[0]


def _ess_variants(z: np.ndarray, kinds: tuple[bool, ...]) -> list[np.ndarray]:
    """:func:`_ess` of ``z`` for each ``within`` in ``kinds``, from one autocovariance (one FFT)."""
    m, n, p = z.shape
    zc = z - z.mean(axis=1, keepdims=True)
    nfft = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(zc, n=nfft, axis=1)
    # the chains' mean autocovariance as one inverse transform of their mean power spectrum (the
    # transform is linear): one irfft instead of m
    power = (f.real**2 + f.imag**2).mean(axis=0)
    mean_acov = np.fft.irfft(power, n=nfft, axis=0)[:n] / n  # (n, p)
    mean_var = mean_acov[0] * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if m > 1:
        var_plus = var_plus + z.mean(axis=1).var(axis=0, ddof=1)
    return [_geyer(mean_acov / mean_acov[0] if within else 1.0 - (mean_var - mean_acov) / var_plus, m)
            for within in kinds]


def _geyer(rho: np.ndarray, m: int) -> np.ndarray:
    """ESS from the autocorrelations ``rho`` (lag, p) of ``m`` chains (Geyer's monotone sequence)."""
    n, p = rho.shape
    out = np.zeros((n, p))
    out[0], out[1] = 1.0, rho[1]
    even, odd = np.ones(p), rho[1].copy()
    active = (even + odd) > 0.0
    t_end = np.ones(p, dtype=int)
    t = 1
    while t < n - 3 and active.any():
        e, o = rho[t + 1], rho[t + 2]
        keep = active & (e + o >= 0.0)
        out[t + 1, keep], out[t + 2, keep] = e[keep], o[keep]
        even, odd = np.where(active, e, even), np.where(active, o, odd)
        t_end[active] = t + 2
        active &= (e + o) > 0.0
        t += 2
    max_t = t_end - 2
    cols = np.arange(p)
    fix = (even > 0.0) & (max_t + 1 < n)
    out[max_t[fix] + 1, cols[fix]] = even[fix]
    t = 1
    while t <= max_t.max() - 2:
        prev, cur = out[t - 1] + out[t], out[t + 1] + out[t + 2]
        mono = (t <= max_t - 2) & (cur > prev)
        out[t + 1, mono] = out[t + 2, mono] = prev[mono] / 2.0
        t += 2
    lags = np.arange(n)[:, None]
    extra = np.where(max_t + 1 < n, out[np.minimum(max_t + 1, n - 1), cols], 0.0)
    tau = -1.0 + 2.0 * (out * (lags <= max_t)).sum(axis=0) + extra
    tau = np.maximum(tau, 1.0 / np.log10(m * n))
    return m * n / tau


_STATISTICS = ("rhat_bulk", "rhat_folded", "ess_bulk", "ess_folded", "ess_bulk_within",
               "ess_folded_within")


def split_rank_statistics(draws: Any, keys: tuple[str, ...] = _STATISTICS) -> dict[str, np.ndarray]:
    """Bulk and folded rank-normalised split R-hat and ESS of draws shaped (chain, draw, ...).

    The numbers of ArviZ (``rhat`` is ``max(rhat_bulk, rhat_folded)``, ``ess_bulk`` its bulk ESS,
    ``ess_folded`` its folded ESS), vectorised over the parameters: one array of length ``p``
    each, NaN for a parameter with constant or non-finite draws. ``keys`` picks the statistics
    computed (default: all of ``rhat_bulk``, ``rhat_folded``, ``ess_bulk``, ``ess_folded``,
    ``ess_bulk_within``, ``ess_folded_within``).
    """
    x = np.asarray(draws, dtype=float)
    c, s = x.shape[:2]
    x = x.reshape(c, s, -1)
    half = s // 2
    p = x.shape[2]
    if half < 2:
        return {k: np.full(p, np.nan) for k in keys}
    split = np.concatenate([x[:, :half], x[:, s - half:]], axis=0)
    flat = split.reshape(-1, p)
    bad = ~np.isfinite(flat).all(axis=0) | (np.ptp(np.nan_to_num(flat), axis=0) == 0.0)
    split[..., bad] = np.arange(split[..., 0].size, dtype=float).reshape(split.shape[:2])[..., None]
    # (any finite, non-constant stand-in for such parameters: their statistics are NaN below)
    with np.errstate(divide="ignore", invalid="ignore"):  # chains stuck at different values: inf
        return _split_rank_statistics(split, bad, p, keys)


def _split_rank_statistics(split: np.ndarray, bad: np.ndarray, p: int, keys: tuple[str, ...]
                           ) -> dict[str, np.ndarray]:
    z = _rank_normal(split)
    zf = _rank_normal(np.abs(split - np.median(split.reshape(-1, p), axis=0)))
    out = {}
    if "rhat_bulk" in keys:
        out["rhat_bulk"] = _rhat(z)
    if "rhat_folded" in keys:
        out["rhat_folded"] = _rhat(zf)
    for draws, name in ((z, "ess_bulk"), (zf, "ess_folded")):  # both ESS kinds of one autocovariance
        wanted = [k for k in (name, name + "_within") if k in keys]
        if wanted:
            kinds = tuple(k.endswith("_within") for k in wanted)
            out.update(zip(wanted, _ess_variants(draws, kinds), strict=True))
    out = {k: out[k] for k in keys}
    for v in out.values():
        v[bad] = np.nan
    return out


def tail_ess(draws: Any) -> np.ndarray:
    """ArviZ's tail ESS of draws shaped (chain, draw, ...), vectorised over the parameters.

    ``min`` over ``q`` in (0.05, 0.95) of the ESS of the split-chain indicator ``x <= Q(q)``
    (``Q`` the type-7 quantile over all draws, as ArviZ takes it); an indicator that is constant
    over the split chains has ESS equal to the number of draws (ArviZ's rule). For finite draws.
    """
    x = np.asarray(draws, dtype=float)
    c, s = x.shape[:2]
    x = x.reshape(c, s, -1)
    half, p = s // 2, x.shape[2]
    # both quantiles' indicators side by side: one autocovariance for the two
    q = np.quantile(x.reshape(c * s, -1), (0.05, 0.95), axis=0)  # (2, p)
    ind = np.concatenate([(x <= q[0]), (x <= q[1])], axis=2).astype(float)
    split = np.concatenate([ind[:, :half], ind[:, s - half:]], axis=0)
    constant = np.ptp(split.reshape(-1, split.shape[2]), axis=0) < np.finfo(float).resolution
    with np.errstate(invalid="ignore", divide="ignore"):
        ess = _ess(split)
    ess[constant] = split[..., 0].size
    return np.minimum(ess[:p], ess[p:])


def rhat_test(st: dict[str, np.ndarray], num_chains: int, num_draws: int,
              *, alpha: float = FALSE_ALARM) -> tuple[np.ndarray, np.ndarray]:
    """Bulk and tail R-hats of :func:`split_rank_statistics` and their bounds, concatenated.

    Each kind is held to the bound at the *smallest* within-chain ESS of that kind over the
    parameters (the last axis; leading axes are independent runs): per-parameter ESS estimates
    of short chains are noisy, and the largest R-hat picks out the parameters whose ESS is
    overestimated (measured on NUTS runs of the demo: per-parameter bounds false-alarm in 2 of
    8 healthy runs); a bound valid for the least efficient parameter holds for all.
    """
    p = st["rhat_bulk"].shape[-1]
    rhat = np.concatenate([st["rhat_bulk"], st["rhat_folded"]], axis=-1)
    with warnings.catch_warnings():  # every chain stuck: all-NaN ESS, a NaN bound (and R-hat inf)
        warnings.filterwarnings("ignore", message="All-NaN slice encountered", category=RuntimeWarning)
        ess = np.concatenate([np.repeat(np.nanmin(st[k], axis=-1, keepdims=True), p, axis=-1)
                              for k in ("ess_bulk_within", "ess_folded_within")], axis=-1)
    return rhat, rhat_bound(num_chains, num_draws, 2 * p, ess, alpha=alpha)


def _flat_draws(samples: dict[str, Any]) -> np.ndarray:
    arrays = []
    for v in samples.values():
        a = v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
        arrays.append(a.reshape(a.shape[0], a.shape[1], -1))
    return np.concatenate(arrays, axis=2)


def _finite(values: Any) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    return v[~np.isnan(v)]


#: What the warning of each sampler suggests.
REMEDIES = {
    "NUTS": "Run more warm-up and draws, or raise target_accept_prob.",
    "Gibbs": "Run more warm-up and draws, or thin more (method=Gibbs(thin=...)).",
    "Collapsed": "Draw more (num_samples), or tabulate finer (method=Collapsed(grid_points=...)).",
    "LaplaceMH": ("The posterior is far from its Laplace approximation: use method='nuts', or thin more "
                  "(method=LaplaceMH(thin=...))."),
    "IMH": ("The posterior is far from the fitted gaussian proposal: use method='gibbs' or 'nuts', or thin "
            "more (method=IMH(thin=...))."),
}


def warn_diagnostics(diag: dict[str, Any], stats: dict[str, np.ndarray], num_chains: int,
                     *, samples: dict[str, Any] | None = None, num_draws: int | None = None,
                     stacklevel: int = 3, sampler: str = "NUTS",
                     split: dict[str, np.ndarray] | None = None) -> None:
    """Warn about an untrustworthy MCMC run (``stacklevel`` counted from this function).

    ``sampler`` (a key of :data:`REMEDIES`) names the sampler in the message, with its remedy;
    ``stats`` without ``"diverging"`` (samplers without divergences) counts none.

    The rules (module docstring): some bulk or tail R-hat above :func:`rhat_bound` (1 % false
    alarms over all parameters, never under 1.01), the minimum bulk or tail ESS under
    :func:`ess_required`, any divergence after warm-up, or undefined diagnostics.

    ``samples`` (the draws, (chain, draw, ...) per site) give the bulk and tail R-hats the bounds
    of :func:`rhat_test` (within-chain ESS); without them the R-hats of ``diag`` are held to the
    bound at the smallest bulk or tail ESS of ``diag`` (more lenient). ``num_draws`` defaults
    to the draws of ``samples`` or of ``stats["diverging"]``. ``split``: the statistics of
    :func:`split_rank_statistics` of ``samples`` when already computed (by :func:`diagnose`).
    """
    problems = []
    if num_draws is None:
        if samples is not None:
            num_draws = int(next(iter(samples.values())).shape[1])
        else:
            num_draws = int(np.shape(stats["diverging"])[-1])
    run = f"{num_chains} chains x {num_draws} draws"
    num_params = int(sum(np.size(v) for v in diag["rhat"].values()))
    num_tests = 2 * num_params
    ess_bulk = np.concatenate([np.ravel(v) for v in diag["ess_bulk"].values()])
    ess_tail = np.concatenate([np.ravel(v) for v in diag.get("ess_tail", {}).values()] or [[]])
    if num_chains > 1:
        rhat_all = np.concatenate([np.ravel(v) for v in diag["rhat"].values()])
        if samples is not None:
            st = split if split else split_rank_statistics(_flat_draws(samples))
            rhat, bound = rhat_test(st, num_chains, num_draws)
        else:
            rhat = rhat_all
            ess_ref = _finite(np.concatenate([ess_bulk, ess_tail]))
            ess = np.full(rhat.size, ess_ref.min() if ess_ref.size else np.nan)
            bound = rhat_bound(num_chains, num_draws, num_tests, ess)
        if np.isnan(rhat_all).any():
            problems.append("R-hat undefined for some parameters (constant or non-finite draws)")
        over = rhat > bound
        if over.any():
            i = int(np.flatnonzero(over)[np.argmax(rhat[over])])
            problems.append(
                f"max R-hat {float(rhat[i]):.4f} > {float(bound[i]):.4f} (the bound a healthy "
                f"run of {run} over {num_params} parameters exceeds with {FALSE_ALARM:.0%} "
                "probability)"
            )
    required = ess_required(num_chains, num_draws)
    parts, low = [], False
    for kind, values in (("bulk", ess_bulk), ("tail", ess_tail)):
        if np.isnan(values).any():
            problems.append(f"{kind} ESS undefined for some parameters (constant or non-finite draws)")
        finite = _finite(values)
        if finite.size:
            v = float(finite.min())
            low |= not v >= required
            parts.append(f"min {kind} ESS {v:.0f}" + (f" < {required:.0f}" if v < required else ""))
    if low:
        problems.append(
            ", ".join(parts) + f" (required for {run}: {ESS_PER_CHAIN_MIN} per chain, or "
            f"{ESS_PER_DRAW_MIN:.0%} of the draws but at least {ESS_MIN})"
        )
    n_div = int(np.sum(stats.get("diverging", 0)))
    if n_div:
        problems.append(f"{n_div} divergent transition(s) after warm-up")
    if problems:
        warnings.warn(
            f"{sampler} diagnostics: " + "; ".join(problems) + ". " + REMEDIES[sampler],
            DiagnosticWarning,
            stacklevel=stacklevel,
        )

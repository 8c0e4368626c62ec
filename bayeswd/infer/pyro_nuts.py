"""``pyro.infer.NUTS`` on the Pyro model itself: the reference NUTS (:class:`bayeswd.infer.PyroNUTS`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from pyro.infer.autoguide.initialization import init_to_value
from pyro.infer.mcmc.util import initialize_model
from pyro.ops.integrator import potential_grad

from bayeswd._validation import DTYPE
from bayeswd.infer.chains import run_chains
from bayeswd.infer.options import PyroNUTS
from bayeswd.infer.pyro_internals import JIT_FAILURES, RecordingNUTS, quiet_jit_tracing
from bayeswd.infer.runtime import private_rng
from bayeswd.infer.start import InferenceProblem, MethodOutput, gaussian_start, site_sds
from bayeswd.model import linear_regression_model

__all__ = ["sample_pyro_nuts"]

#: ``dense_mass=None`` is dense up to this many latent coordinates, diagonal above.
DENSE_MASS_MAX_PARAMS = 100


def _potential(
    problem: InferenceProblem, init: dict[str, torch.Tensor], jit: bool,
) -> tuple[dict[str, torch.Tensor], Callable, dict[str, Any], bool]:
    """Potential energy of the Pyro model in unconstrained coordinates (traced once if ``jit``)."""

    def make(jit_compile: bool) -> tuple[dict[str, torch.Tensor], Callable, dict[str, Any]]:
        params, pe, transforms, _ = initialize_model(
            linear_regression_model,
            model_args=(problem.X, problem.y),
            model_kwargs=problem.model_kwargs,
            max_plate_nesting=1,
            jit_compile=jit_compile,
            skip_jit_warnings=True,
            init_strategy=init_to_value(values=init),
        )
        return params, pe, transforms

    if jit:
        try:
            params, pe, transforms = make(True)
            with quiet_jit_tracing():
                potential_grad(pe, {k: v.detach() for k, v in params.items()})
            return params, pe, transforms, True
        except JIT_FAILURES:  # tracing can fail on exotic priors; plain autograd works
            pass
    params, pe, transforms = make(False)
    return params, pe, transforms, False


def sample_pyro_nuts(
    problem: InferenceProblem, options: PyroNUTS, *, num_samples: int, num_chains: int, seed: int,
    progress_bar: bool,
) -> MethodOutput:
    """Draws of ``problem``'s posterior by ``pyro.infer.NUTS`` (see :class:`bayeswd.infer.PyroNUTS`)."""
    init, cov = gaussian_start(problem)
    sds = site_sds(cov, problem.X.shape[1], problem.fit_intercept)
    dense = options.dense_mass
    if dense is None:
        dense = problem.num_latent <= DENSE_MASS_MAX_PARAMS
    params0, pe, transforms, jit_used = _potential(problem, init, options.jit_compile)
    names = list(params0)
    num_warmup = options.num_warmup
    dev = problem.X.device

    def one_chain(chain: int, cseed: int, tick: Any) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray]]:
        with private_rng(cseed), quiet_jit_tracing():
            gen = torch.Generator(device=dev).manual_seed(cseed)
            # over-dispersed start: the MAP plus one approximate posterior sd of noise
            z = {k: (v + sds[k] * torch.randn(v.shape, generator=gen, dtype=DTYPE, device=dev)).detach()
                 for k, v in params0.items()}
            kernel = RecordingNUTS(potential_fn=pe, target_accept_prob=options.target_for(),
                                   max_tree_depth=options.max_tree_depth, full_mass=dense)
            kernel.initial_params = z
            kernel.setup(num_warmup)
            draws: dict[str, list[torch.Tensor]] = {k: [] for k in names}
            div, depth, step, acc = [], [], [], []
            for t in range(num_warmup + num_samples):
                n_div, acc_before = kernel.divergence_count(), kernel.mean_accept_prob
                z = kernel.sample(z)
                if t >= num_warmup:
                    n = t - num_warmup + 1
                    for k in names:
                        draws[k].append(z[k].detach())
                    div.append(kernel.divergence_count() > n_div)
                    depth.append(kernel.depth_now)
                    step.append(float(kernel.step_size))
                    # the acceptance of this draw, from the running mean after warm-up
                    acc.append(acc_before + n * (kernel.mean_accept_prob - acc_before))
                if tick is not None:
                    tick()
            kernel.cleanup()
        stats = {"diverging": np.asarray(div, dtype=bool),
                 "tree_depth": np.asarray(depth, dtype=np.int64),
                 "step_size": np.asarray(step, dtype=np.float64),
                 "acceptance_rate": np.clip(np.asarray(acc, dtype=np.float64), 0, 1)}
        return {k: torch.stack(v) for k, v in draws.items()}, stats

    unconstrained, stats = run_chains(
        one_chain, num_chains=num_chains, seed=seed, iterations=num_warmup + num_samples,
        progress_bar=progress_bar, desc="NUTS (pyro)",
    )
    samples = {}
    for k, value in unconstrained.items():
        tr = transforms.get(k)  # Pyro's transforms map constrained -> unconstrained
        samples[k] = (tr.inv(value) if tr is not None else value).detach()
    info = {"num_warmup": num_warmup, "backend": options.backend, "jit": jit_used,
            "max_tree_depth": options.max_tree_depth,
            "target_accept_prob": options.target_for(), "dense_mass": int(dense)}
    return MethodOutput(samples=samples, sample_stats=stats, info=info)

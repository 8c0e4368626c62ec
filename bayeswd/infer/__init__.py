"""Inference for the bayeswd model: the methods of :func:`bayeswd.sample_posterior` and their parts.

The options objects (:class:`Auto`, :class:`NUTS`, :class:`PyroNUTS`, :class:`SVI`, :class:`Exact`,
:class:`Gibbs`, :class:`Collapsed`, :class:`IMH`) are the public face; the modules are the architecture:

================  ==============================================================================
``options``       the methods and their settings
``start``         the validated problem, default hyperpriors, the gaussian start
``potentials``    the model's potential energy in torch (direct, laplace mixture, collapsed)
``kernel``        the NUTS transition (state and per-step info as NamedTuples)
``adaptation``    Stan's warm-up windows, dual averaging, running variance
``nuts``          a chain and the driver of bayeswd's NUTS
``chains``        the loop over chains shared by every sampler
``pyro_nuts``     the driver of ``pyro.infer.NUTS``
``pyro_internals`` every use of Pyro's private API
``svi``           SVI with the plateau stopping rule
``exact``         draws of the conjugate posterior
``gibbs``         the blocked Gibbs sampler of the laplace prior (all chains batched)
``collapsed``     the gaussian prior with sampled scales: a tabulated independence sampler
``collapsed_gaussian`` the potential of the scales with the weights integrated out
``imh``           independence Metropolis-Hastings on a fitted gaussian proposal
``diagnostics``   R-hat, ESS and the warning they trigger
``runtime``       global state (torch threads, random generators) behind context managers
================  ==============================================================================
"""

from bayeswd.infer.options import IMH, NUTS, SVI, Auto, Collapsed, Exact, Gibbs, PyroNUTS

__all__ = ["Auto", "Collapsed", "IMH", "NUTS", "SVI", "Exact", "Gibbs", "PyroNUTS"]

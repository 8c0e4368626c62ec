"""Warning classes of bayeswd (soft problems are warnings; user mistakes are ValueError/TypeError)."""

__all__ = ["BayeswdWarning", "ConvergenceWarning", "DiagnosticWarning"]


class BayeswdWarning(UserWarning):
    """Base class of every warning bayeswd emits."""


class ConvergenceWarning(BayeswdWarning):
    """An optimiser or SVI run stopped before meeting its convergence criterion."""


class DiagnosticWarning(BayeswdWarning):
    """An MCMC run whose diagnostics (R-hat, ESS, divergences) say it may not be trustworthy."""

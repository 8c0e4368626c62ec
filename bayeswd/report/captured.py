"""Warnings of an analysis: caught per step, kept with the result they concern, shown next to it."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bayeswd._arviz import ARVIZ_MODULES, is_arviz_file
from bayeswd.exceptions import BayeswdWarning, ConvergenceWarning, DiagnosticWarning

#: The result name of the full-Bayes-over-tau posterior (its advice differs).
HYPER_RESULT = "gaussian NUTS, tau sampled"


@dataclass(frozen=True)
class AnalysisWarning:
    """A warning raised during :func:`run_analysis`, and the result it concerns.

    Attributes
    ----------
    step : str
        The step of the run that raised it (as the progress bar names it).
    result : str
        The result it concerns, e.g. ``"gaussian NUTS"`` (a row of the sampler diagnostics).
    section : str or None
        The heading of the report section that shows it; ``None``: the top of the report.
    category : type
        The warning class, e.g. :class:`~bayeswd.exceptions.DiagnosticWarning`.
    message : str
        The warning's text.
    advice : str
        What to do about it.
    """

    step: str
    result: str
    section: str | None
    category: type[Warning]
    message: str
    advice: str

    @property
    def summary(self) -> str:
        """The message in one short line (ArviZ's long PSIS-LOO text abridged)."""
        if _is_pareto(self.category, self.message):
            return "PSIS-LOO: Pareto k is high for some observations, so the LOO comparison is unreliable."
        return self.message

    def __str__(self) -> str:
        return f"{self.result}: {self.summary}"


def _is_pareto(category: type[Warning], message: str) -> bool:
    return issubclass(category, UserWarning) and "Pareto" in message


def _caught(w: warnings.WarningMessage) -> bool:
    """Whether ``run_analysis`` reports ``w`` (bayeswd's own, or an ArviZ warning such as PSIS-LOO's)."""
    if issubclass(w.category, BayeswdWarning):
        return True
    return issubclass(w.category, UserWarning) and is_arviz_file(w.filename)


def _advice(category: type[Warning], message: str, result: str) -> str:
    if issubclass(category, DiagnosticWarning):
        text = (
            "Do not trust this posterior's intervals yet: run longer (without --quick, 4 chains of "
            "1000 draws) and with more warm-up (NUTS num_warmup, e.g. --nuts num_warmup=1000)"
            + ("; with divergences, also raise target_accept_prob (--nuts target_accept_prob=0.95)."
               if "divergen" in message else ".")
        )
        if result == HYPER_RESULT:
            text += (" Full Bayes over tau mixes slowly when there are more features than rows; the "
                     "posterior median of lambda in 'Choosing lambda' is approximate until this clears.")
        return text
    if issubclass(category, ConvergenceWarning) and "SVI" in message:
        return ("This SVI fit stopped before its stopping rule: raise max_steps or lr "
                "(e.g. --svi max_steps=30000), or compare with NUTS (--method nuts).")
    if issubclass(category, ConvergenceWarning) and message.startswith("classifier_cv"):
        return ("Some cross-validation fits stopped at their iteration limit, usually at the weakest priors "
                "(largest C) where nearly separable classes let the weights grow without bound: the curve "
                "there is approximate, the choice of C rarely affected. Read the curve in 'Choosing C'.")
    if issubclass(category, ConvergenceWarning):
        return ("This fit stopped at its iteration limit and is approximate: standardise the features "
                "(bayeswd fit does unless --no-standardize) or drop nearly duplicate columns.")
    if "classifier_evidence" in message:
        return ("The Laplace evidence of the classifier keeps rising at the end of the tau grid: the classes "
                "may be (nearly) separable, which no prior scale fits best. The C used comes from "
                "cross-validation; give the prior sd yourself with --tau to fix it.")
    if "evidence" in message:
        return ("The evidence keeps rising at the end of the lambda grid: the data may hold almost no signal "
                "(lambda very large) or need almost no prior (lambda very small). Read the validation and CV "
                "curves, or give sigma and tau yourself (--sigma, --tau).")
    if _is_pareto(category, message):
        return ("PSIS-LOO is unreliable here (common with more features than rows): read this comparison as "
                "rough, and prefer the validation and CV curves to choose between priors.")
    return "The numbers of this result may be unreliable; read the message."


@contextmanager
def capture_warnings(
    into: list[AnalysisWarning], result: str, section: str | None = None, step: str | None = None
) -> Iterator[None]:
    """Catch the warnings :func:`run_analysis` reports, raised inside the block, into ``into``.

    bayeswd's own warnings (whatever the warning filters say: the report should be complete)
    and ArviZ's ``UserWarning`` (PSIS-LOO) become :class:`AnalysisWarning` records of ``result``;
    a record equal to one already in ``into`` is not added twice. Every other warning is passed
    on unchanged, through the caller's warning filters, when the block ends.
    """
    log: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("always", BayeswdWarning)
            warnings.filterwarnings("always", category=UserWarning, module=ARVIZ_MODULES)
            yield
    finally:  # also when the block raises (an interrupted run): what was raised is not lost
        seen = {(w.result, w.category, w.message) for w in into}
        for w in log:
            if not _caught(w):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
                continue
            text = str(w.message)
            if (result, w.category, text) not in seen:
                seen.add((result, w.category, text))
                into.append(AnalysisWarning(step or result, result, section, w.category, text,
                                            _advice(w.category, text, result)))

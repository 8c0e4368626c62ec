"""MAP logistic and softmax regression against every convention it claims to equal.

scikit-learn's ``LogisticRegression`` (each solver that leaves the intercept unpenalised),
``torch.optim.SGD(weight_decay=...)`` on ``BCEWithLogitsLoss`` / ``CrossEntropyLoss`` (mean), a
from-scratch penalised loss minimised by torch's L-BFGS (L2) or proximal gradient (L1), and the Pyro
model's own log density. Each comparison also fails for the prior off by a factor of 2.
"""

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from bayeswd.classification import (
    ClassifierMAPResult,
    classifier_conventions_table,
    classifier_lam,
    classifier_objective,
    logistic_C,
    map_classifier,
    scratch_penalty,
    tau_from_classifier_lam,
    tau_from_logistic_C,
    tau_from_scratch_penalty,
    tau_from_torch_weight_decay,
    torch_weight_decay,
)
from bayeswd.classification.problem import GLMProblem
from bayeswd.exceptions import ConvergenceWarning
from bayeswd.model import log_density

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_breast_cancer, load_iris  # noqa: E402
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _generated(n, d, K, seed):
    """Correlated features with non-zero means (the intercept matters) and labels from a softmax."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) @ (np.eye(d) + 0.3) + 0.5
    eta = 0.7 * X @ rng.normal(size=(d, K))
    p = np.exp(eta - eta.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = (rng.random(n)[:, None] > np.cumsum(p, 1)).sum(1)
    return X, y


def _standardised(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


DATA = {
    "binary": _generated(200, 6, 2, seed=1),
    "three_class": _generated(240, 5, 3, seed=2),
    "breast_cancer": _standardised(load_breast_cancer),
    "iris": _standardised(load_iris),
}
BINARY = ("binary", "breast_cancer")


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / np.abs(b).max())


def sk_coef(est, name):
    """scikit-learn's weights in bayeswd's layout: (d,) or (d, K)."""
    return est.coef_[0] if name in BINARY else est.coef_.T


def sk_fit(X, y, **kw):
    kw.setdefault("max_iter", 100_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkConvergenceWarning)  # an unconverged reference is a failure
        return LogisticRegression(**kw).fit(X, y)


def centred(b):
    return b - b.mean()


# --------------------------------------------------------------------------------------------------
# conventions


def test_conversions_are_inverse_and_match_the_table():
    tau, n = 0.7, 150
    assert logistic_C(tau) == pytest.approx(tau**2, rel=1e-15)
    assert logistic_C(tau, "laplace") == tau
    assert classifier_lam(tau) == pytest.approx(1 / logistic_C(tau), rel=1e-15)
    assert classifier_lam(tau, "laplace") == pytest.approx(1 / logistic_C(tau, "laplace"), rel=1e-15)
    assert torch_weight_decay(tau, n) == pytest.approx(1 / (n * tau**2), rel=1e-15)
    assert torch_weight_decay(tau, n, "sum") == pytest.approx(1 / tau**2, rel=1e-15)
    assert scratch_penalty(tau, n, "laplace") == pytest.approx(1 / (n * tau), rel=1e-15)
    assert scratch_penalty(tau, n, "gaussian") == torch_weight_decay(tau, n)
    for prior in ("gaussian", "laplace"):
        assert tau_from_logistic_C(logistic_C(tau, prior), prior) == pytest.approx(tau, rel=1e-14)
        assert tau_from_classifier_lam(classifier_lam(tau, prior), prior) == pytest.approx(tau, rel=1e-14)
        for loss in ("mean", "sum"):
            lam_fs = scratch_penalty(tau, n, prior, loss)
            assert tau_from_scratch_penalty(lam_fs, n, prior, loss) == pytest.approx(tau, rel=1e-14)
    for loss in ("mean", "sum"):
        assert tau_from_torch_weight_decay(torch_weight_decay(tau, n, loss), n, loss) == pytest.approx(tau, rel=1e-14)
    table = classifier_conventions_table(tau, n, "gaussian")
    assert table["logistic_C"] == logistic_C(tau) and table["torch_weight_decay_mean"] == torch_weight_decay(tau, n)
    table = classifier_conventions_table(tau, n, "laplace")
    assert table["prior_sd"] == pytest.approx(math.sqrt(2) * tau) and "torch_weight_decay_mean" not in table


@pytest.mark.parametrize(("fn", "args", "name"), [
    (logistic_C, (-1.0,), "tau"), (tau_from_logistic_C, (0.0,), "C"), (classifier_lam, (math.nan,), "tau"),
    (torch_weight_decay, (1.0, 0), "n"), (tau_from_torch_weight_decay, (-0.1, 10), "weight_decay"),
    (scratch_penalty, (1.0, 10, "gaussian", "avg"), "loss"), (logistic_C, (1.0, "l2"), "prior"),
])
def test_conversions_reject_bad_arguments(fn, args, name):
    with pytest.raises((ValueError, TypeError), match=f"`{name}`"):
        fn(*args)


# --------------------------------------------------------------------------------------------------
# the Pyro model is the one definition of U


def _problem(name, prior, fit_intercept=True, tau=0.8):
    X, y = DATA[name]
    K = int(y.max()) + 1
    return GLMProblem(torch.tensor(X[:60, :5]), torch.tensor(y[:60]), "bernoulli" if K == 2 else "categorical",
                      prior, tau, fit_intercept, K)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_softmax_hessian_block_by_block_equals_autograd(fit_intercept):
    # K (d + 1) > 128 takes the block-by-block form of the categorical Hessian (the small problems of
    # the test below take the one-product form)
    X, y = _generated(80, 45, 3, seed=4)
    prob = GLMProblem(torch.tensor(X), torch.tensor(y), "categorical", "gaussian", 1.0, fit_intercept, 3)
    assert 3 * prob.A.shape[1] > 128
    theta = torch.linspace(-0.2, 0.2, prob.size, dtype=torch.float64)
    _, _, probs = prob.value_grad(theta)
    auto_H = torch.autograd.functional.hessian(lambda th: prob.neg_log_density(th, part="likelihood"), theta)
    torch.testing.assert_close(prob.hessian(probs), auto_H, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["binary", "three_class"])
@pytest.mark.parametrize("prior", ["gaussian", "laplace"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_closed_forms_equal_the_pyro_model(name, prior, fit_intercept):
    """sum CE, its gradient and Hessian equal autograd of the model's likelihood; U equals its
    negative joint log density up to the prior's normalising constant (computed here)."""
    prob = _problem(name, prior, fit_intercept)
    theta = torch.linspace(-0.6, 0.5, prob.size, dtype=torch.float64)
    nll_model = lambda th: prob.neg_log_density(th, part="likelihood")  # noqa: E731
    f, g, probs = prob.value_grad(theta)
    assert f == pytest.approx(float(nll_model(theta)), rel=1e-13)
    auto_g = torch.func.grad(nll_model)(theta)
    torch.testing.assert_close(g, auto_g, rtol=1e-12, atol=1e-12)
    auto_H = torch.autograd.functional.hessian(nll_model, theta)
    torch.testing.assert_close(prob.hessian(probs), auto_H, rtol=1e-12, atol=1e-12)
    dm, tau = prob.n_weights, prob.tau
    const = dm * (math.log(2 * tau) if prior == "laplace" else 0.5 * math.log(2 * math.pi * tau**2))
    assert prob.objective(theta) == pytest.approx(float(prob.neg_log_density(theta)) - const, rel=1e-13)


def test_model_keeps_its_gaussian_behaviour_and_checks_the_new_keywords():
    X = torch.randn(4, 2, dtype=torch.float64)
    y = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    values = {"coef": torch.zeros(2, dtype=torch.float64), "intercept": torch.tensor(0.0, dtype=torch.float64)}
    with pytest.raises(ValueError, match="`sigma` is required"):
        log_density(values, X, y, tau=1.0)
    with pytest.raises(ValueError, match="`sigma` has no meaning"):
        log_density(values, X, y, tau=1.0, sigma=1.0, family="bernoulli")
    with pytest.raises(ValueError, match="`family` must be one of"):
        log_density(values, X, y, tau=1.0, family="poisson")
    with pytest.raises(ValueError, match="`num_classes` must be an integer >= 2"):
        log_density(values, X, y, tau=1.0, family="categorical")
    with pytest.raises(ValueError, match="`num_classes` is for family='categorical' only"):
        log_density(values, X, y, tau=1.0, family="bernoulli", num_classes=2)
    lik = log_density(values, X, y, tau=1.0, family="bernoulli", part="likelihood")
    assert float(lik) == pytest.approx(4 * math.log(0.5), rel=1e-15)


# --------------------------------------------------------------------------------------------------
# gaussian prior (L2) against scikit-learn


@pytest.mark.parametrize("name", list(DATA))
@pytest.mark.parametrize(("solver", "tol"), [
    ("newton-cholesky", 1e-8), ("newton-cg", 1e-8), ("sag", 1e-8), ("saga", 1e-8),
    # L-BFGS-B stops on a relative decrease of the objective below 64 eps (sklearn sets ftol), which
    # leaves 3e-8 to 6e-7 (breast_cancer) in the coefficients however small its gtol: checked at 1e-5.
    ("lbfgs", 1e-5),
])
def test_gaussian_prior_equals_logistic_regression(name, solver, tol):
    X, y = DATA[name]
    tau = 0.5
    fit = map_classifier(X, y, prior="gaussian", tau=tau)
    assert fit.converged and fit.optimality <= 1e-12
    sk = sk_fit(X, y, C=logistic_C(tau), solver=solver, tol=1e-14 if solver == "lbfgs" else 1e-12)
    assert rel(fit.coef, sk_coef(sk, name)) < tol
    if name in BINARY:
        assert abs(fit.intercept - sk.intercept_[0]) < tol * max(1.0, abs(sk.intercept_[0]))
    else:
        assert fit.intercept[0] == 0.0  # the reference class
        assert rel(centred(fit.intercept), sk.intercept_) < tol * 10
        assert float(fit.coef.sum(1).abs().max()) < 1e-12 * float(fit.coef.abs().max())  # rows sum to 0
    # the same prior by lam = 1/C, and the objective sklearn's solution reaches
    again = map_classifier(X, y, prior="gaussian", lam=1 / logistic_C(tau))
    assert rel(again.coef, fit.coef) < 1e-14
    sk_b = sk.intercept_[0] if name in BINARY else sk.intercept_
    assert classifier_objective(X, y, sk_coef(sk, name), sk_b, tau=tau) == pytest.approx(fit.objective, rel=1e-12)


@pytest.mark.parametrize("name", list(DATA))
def test_gaussian_prior_off_by_two_misses(name):
    """C = 2 tau^2 (a lost 1/2) or C = tau is a different MAP, far outside the tolerance."""
    X, y = DATA[name]
    fit = map_classifier(X, y, tau=0.5)
    for C in (2 * 0.5**2, 0.5):
        sk = sk_fit(X, y, C=C, solver="newton-cholesky", tol=1e-12)
        assert rel(fit.coef, sk_coef(sk, name)) > 1e-2


@pytest.mark.parametrize("name", ["binary", "iris"])
def test_no_intercept_equals_logistic_regression(name):
    X, y = DATA[name]
    fit = map_classifier(X, y, tau=0.7, fit_intercept=False)
    sk = sk_fit(X, y, C=logistic_C(0.7), solver="newton-cholesky", tol=1e-12, fit_intercept=False)
    assert rel(fit.coef, sk_coef(sk, name)) < 1e-8
    assert np.all(np.asarray(fit.intercept) == 0)


def test_liblinear_penalises_the_intercept_and_differs():
    """liblinear's intercept is the weight of a constant column and is penalised: another prior."""
    X, y = DATA["binary"]
    fit = map_classifier(X, y, tau=0.5)
    lib = sk_fit(X, y, C=logistic_C(0.5), solver="liblinear", tol=1e-12)
    assert rel(fit.coef, lib.coef_[0]) > 1e-3
    assert abs(fit.intercept - lib.intercept_[0]) > 1e-2
    # it is the MAP with the same gaussian prior on the intercept: append the constant column (to
    # 1e-6: liblinear's trust-region Newton stops at about 3e-8 however small its tol)
    Xc = np.c_[X, np.ones(len(y))]
    penalised = map_classifier(Xc, y, tau=0.5, fit_intercept=False)
    assert rel(penalised.coef[:-1], lib.coef_[0]) < 1e-6
    assert abs(float(penalised.coef[-1]) - lib.intercept_[0]) < 1e-6


def test_two_class_softmax_is_logistic_with_sqrt2_tau():
    """family='categorical' on two labels: w = W_1 - W_0, W_0 = -W_1, prior sd of w is sqrt(2) tau."""
    X, y = DATA["binary"]
    soft = map_classifier(X, y, tau=0.5, family="categorical")
    logistic = map_classifier(X, y, tau=0.5 * math.sqrt(2))
    assert soft.family == "categorical" and soft.coef.shape == (X.shape[1], 2)
    assert rel(soft.coef[:, 1] - soft.coef[:, 0], logistic.coef) < 1e-10
    assert float(soft.intercept[1]) == pytest.approx(logistic.intercept, rel=1e-10)
    assert soft.objective == pytest.approx(logistic.objective, rel=1e-12)


# --------------------------------------------------------------------------------------------------
# gaussian prior against torch: weight decay and a from-scratch penalty


def _linear(d, K):
    lin = torch.nn.Linear(d, K).double()
    torch.nn.init.zeros_(lin.weight)
    torch.nn.init.zeros_(lin.bias)
    return lin


def _mean_loss(name, X, y):
    Xt = torch.tensor(X)
    if name in BINARY:
        loss, yt = torch.nn.BCEWithLogitsLoss(), torch.tensor(y, dtype=torch.float64)
        return 1, lambda lin: loss(lin(Xt)[:, 0], yt)
    loss, yt = torch.nn.CrossEntropyLoss(), torch.tensor(y)
    return int(y.max()) + 1, lambda lin: loss(lin(Xt), yt)


def _weights(lin, name):
    w = lin.weight.detach().numpy()
    return (w[0], lin.bias.detach().numpy()[0]) if name in BINARY else (w.T, lin.bias.detach().numpy())


@pytest.mark.parametrize("name", ["binary", "three_class", "iris"])
def test_sgd_weight_decay_reaches_the_gaussian_map(name):
    """Full-batch SGD with momentum, weight_decay = 1/(n tau^2) on the weight group only."""
    X, y = DATA[name]
    n, d = X.shape
    tau = 0.5
    fit = map_classifier(X, y, tau=tau)
    K, loss = _mean_loss(name, X, y)
    results = {}
    for wd in (torch_weight_decay(tau, n), 2 * torch_weight_decay(tau, n)):
        lin = _linear(d, K)
        opt = torch.optim.SGD([{"params": [lin.weight], "weight_decay": wd},
                               {"params": [lin.bias], "weight_decay": 0.0}], lr=0.5, momentum=0.9)
        for _ in range(1500):
            opt.zero_grad()
            loss(lin).backward()
            opt.step()
        results[wd] = _weights(lin, name)
    w, b = results[torch_weight_decay(tau, n)]
    assert rel(w, fit.coef) < 1e-8
    if name in BINARY:
        assert abs(b - fit.intercept) < 1e-8
    else:
        assert rel(centred(b), centred(fit.intercept)) < 1e-8
    assert rel(results[2 * torch_weight_decay(tau, n)][0], fit.coef) > 1e-2  # the factor 2 is seen


@pytest.mark.parametrize("name", ["binary", "three_class", "breast_cancer"])
def test_from_scratch_l2_penalty_by_lbfgs_reaches_the_gaussian_map(name):
    """loss_mean + lam_fs * ||W||^2 / 2 (the from-scratch l2_penalty), minimised by torch's L-BFGS."""
    X, y = DATA[name]
    n, d = X.shape
    tau = 0.5
    fit = map_classifier(X, y, tau=tau)
    K, loss = _mean_loss(name, X, y)
    lam_fs = scratch_penalty(tau, n, "gaussian", "mean")
    lin = _linear(d, K)
    # Unit steps: torch's strong-Wolfe search ends its zoom at a bracket of 1e-9 (hard-coded), which
    # stops L-BFGS at about 5e-8 relative on breast_cancer; the plain quasi-Newton step does not.
    opt = torch.optim.LBFGS(lin.parameters(), lr=1, max_iter=1000, tolerance_grad=1e-15,
                            tolerance_change=0, history_size=20, line_search_fn=None)

    def closure():
        opt.zero_grad()
        value = loss(lin) + lam_fs * (lin.weight**2).sum() / 2
        value.backward()
        return value

    opt.step(closure)
    w, b = _weights(lin, name)
    assert rel(w, fit.coef) < 1e-8
    if name in BINARY:
        assert abs(b - fit.intercept) < 1e-8
    else:
        assert rel(centred(b), centred(fit.intercept)) < 1e-8


# --------------------------------------------------------------------------------------------------
# laplace prior (L1) against scikit-learn's saga and a from-scratch proximal gradient


L1_CASES = {"binary": 0.3, "three_class": 0.3, "breast_cancer": 0.1, "iris": 0.3}


@pytest.mark.parametrize("name", list(L1_CASES))
def test_laplace_prior_equals_l1_logistic_regression(name):
    X, y = DATA[name]
    tau = L1_CASES[name]
    fit = map_classifier(X, y, prior="laplace", tau=tau)
    assert fit.converged and fit.optimality <= 1e-12
    sk = sk_fit(X, y, C=logistic_C(tau, "laplace"), l1_ratio=1.0, solver="saga", tol=1e-13)
    ref = sk_coef(sk, name)
    zeros = fit.coef.numpy() == 0
    assert zeros.any() and not zeros.all()  # a sparse MAP, so the zero pattern is a real check
    np.testing.assert_array_equal(zeros, ref == 0)
    assert rel(fit.coef, ref) < 1e-6
    sk_b = sk.intercept_[0] if name in BINARY else sk.intercept_
    assert classifier_objective(X, y, ref, sk_b, prior="laplace", tau=tau) == pytest.approx(fit.objective,
                                                                                             rel=1e-10)
    # off by two: C = 2 tau is another MAP
    other = sk_fit(X, y, C=2 * tau, l1_ratio=1.0, solver="saga", tol=1e-8)
    assert rel(fit.coef, sk_coef(other, name)) > 1e-2


def test_laplace_three_class_rows_have_a_zero():
    """With K odd every row of the symmetric L1 MAP has a zero (sum of signs must vanish)."""
    X, y = DATA["iris"]
    fit = map_classifier(X, y, prior="laplace", tau=1.0)
    assert fit.converged
    assert bool(((fit.coef == 0).sum(1) >= 1).all())


@pytest.mark.parametrize("name", ["binary", "three_class"])
def test_from_scratch_l1_by_proximal_gradient_reaches_the_laplace_map(name):
    """loss_mean + lam_fs ||W||_1, lam_fs = 1/(n tau), by proximal gradient (soft-thresholding)."""
    X, y = DATA[name]
    n, d = X.shape
    tau = L1_CASES[name]
    fit = map_classifier(X, y, prior="laplace", tau=tau)
    K, loss = _mean_loss(name, X, y)
    lam_fs = scratch_penalty(tau, n, "laplace", "mean")
    lin = _linear(d, K)
    lr = 0.2
    for _ in range(6000):
        lin.zero_grad()
        loss(lin).backward()
        with torch.no_grad():
            lin.bias -= lr * lin.bias.grad
            z = lin.weight - lr * lin.weight.grad
            lin.weight.copy_(torch.sign(z) * (z.abs() - lr * lam_fs).clamp(min=0))
    w, _ = _weights(lin, name)
    np.testing.assert_array_equal(w == 0, fit.coef.numpy() == 0)
    assert rel(w, fit.coef) < 1e-6


@pytest.mark.parametrize("name", ["breast_cancer", "iris"])
def test_weak_laplace_prior_on_correlated_features_converges_fast(name):
    """A nearly unpenalised L1 fit on correlated features: coordinate descent alone needed thousands
    of sweeps per step (7.7 s on breast_cancer); the feature-sign finish solves each model exactly."""
    X, y = DATA[name]
    fit = map_classifier(X, y, prior="laplace", tau=1000.0)
    assert fit.converged and fit.optimality <= 1e-12 and fit.n_iter < 40
    assert bool((fit.coef == 0).any())


def test_liblinear_l1_penalises_the_intercept_and_differs():
    X, y = DATA["binary"]
    fit = map_classifier(X, y, prior="laplace", tau=0.3)
    lib = sk_fit(X, y, C=0.3, l1_ratio=1.0, solver="liblinear", tol=1e-12)
    assert rel(fit.coef, lib.coef_[0]) > 1e-3


def test_strong_laplace_prior_gives_zero_weights_and_the_log_odds_intercept():
    X, y = DATA["binary"]
    fit = map_classifier(X, y, prior="laplace", tau=1e-4)
    assert bool((fit.coef == 0).all()) and fit.converged
    assert fit.intercept == pytest.approx(math.log(y.mean() / (1 - y.mean())), rel=1e-12)


# --------------------------------------------------------------------------------------------------
# labels, results, warnings


def test_labels_of_any_sortable_type_and_predictions():
    X, y = DATA["three_class"]
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    fit = map_classifier(pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])]), pd.Series(names), tau=1.0)
    ref = map_classifier(X, y, tau=1.0)
    assert fit.classes_.tolist() == ["setosa", "versicolor", "virginica"] and fit.family == "categorical"
    assert fit.feature_names == tuple(f"f{j}" for j in range(X.shape[1]))
    assert rel(fit.coef, ref.coef) == 0.0
    proba = fit.predict_proba(X)
    assert proba.shape == (len(y), 3) and torch.allclose(proba.sum(1), torch.ones(len(y), dtype=torch.float64))
    assert set(fit.predict(X)) <= set(fit.classes_)
    np.testing.assert_array_equal(fit.predict(X), fit.classes_[proba.argmax(1).numpy()])
    sk = sk_fit(X, names, C=1.0, solver="newton-cholesky", tol=1e-12)
    np.testing.assert_allclose(proba.numpy(), sk.predict_proba(X), rtol=0, atol=1e-10)
    # binary labels: classes_[1] is the positive class, as in scikit-learn
    Xb, yb = DATA["binary"]
    labels = np.where(yb == 1, "yes", "no")
    fit_b = map_classifier(Xb, labels, tau=1.0)
    sk_b = sk_fit(Xb, labels, C=1.0, solver="newton-cholesky", tol=1e-12)
    assert fit_b.classes_.tolist() == ["no", "yes"] == sk_b.classes_.tolist()
    np.testing.assert_allclose(fit_b.predict_proba(Xb).numpy(), sk_b.predict_proba(Xb), rtol=0, atol=1e-10)
    np.testing.assert_array_equal(fit_b.predict(Xb), sk_b.predict(Xb))
    assert fit_b.decision_function(Xb[:3]).shape == (3,)


def test_result_is_frozen_and_reports_its_conventions():
    X, y = DATA["binary"]
    fit = map_classifier(X, y, tau=0.5)
    assert isinstance(fit, ClassifierMAPResult) and fit.method == "newton"
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.tau = 1.0
    assert fit.C == pytest.approx(0.25) and fit.lam == pytest.approx(4.0)
    assert fit.weight_decay == pytest.approx(1 / (len(y) * 0.25))
    assert "ClassifierMAPResult(family='bernoulli'" in repr(fit)
    lasso = map_classifier(X, y, prior="laplace", tau=0.5)
    assert lasso.method == "proximal-newton" and lasso.C == 0.5
    with pytest.raises(ValueError, match="gaussian prior only"):
        _ = lasso.weight_decay
    with pytest.raises(ValueError, match="`X` must have 6 columns"):
        fit.predict(X[:, :3])


def test_unconverged_run_warns():
    X, y = DATA["breast_cancer"]
    with pytest.warns(ConvergenceWarning, match="stopped after 1 steps"):
        fit = map_classifier(X, y, tau=1.0, max_iter=1)
    assert not fit.converged


# --------------------------------------------------------------------------------------------------
# bad input


X0, Y0 = DATA["binary"]


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"y": np.zeros(200)}, ValueError, "`y` must hold at least two distinct labels"),
    ({"y": Y0[:-1]}, ValueError, "`y` must have length 200"),
    ({"y": Y0.reshape(-1, 1)}, ValueError, "`y` must be 1-D"),
    ({"y": np.where(Y0 == 1, np.nan, 0.0)}, ValueError, "`y` must hold class labels; got .* NaN"),
    ({"y": np.array([1, "a"] * 100, dtype=object)}, TypeError, "`y` must hold labels of one sortable type"),
    ({"y": {"a": 1}}, TypeError, "`y` must be"),
    ({"X": np.where(np.eye(200, 6) == 1, np.inf, X0)}, ValueError, "`X` must contain only finite values"),
    ({"X": X0[:, 0]}, ValueError, "`X` must be 2-D"),
    ({"tau": 0.0}, ValueError, "`tau` must be a positive finite number; got 0.0"),
    ({"tau": None, "lam": -1.0}, ValueError, "`lam` must be a positive finite number; got -1.0"),
    ({"tau": None, "lam": "big"}, TypeError, "`lam` must be a positive finite number"),
    ({"lam": 1.0}, ValueError, "give `tau` or `lam`, not both"),
    ({"tau": None}, ValueError, "one of `tau`"),
    ({"family": "poisson"}, ValueError, "`family` must be one of 'auto', 'bernoulli', 'categorical'"),
    ({"family": "bernoulli", "y": np.arange(200) % 3}, ValueError, "`family` 'bernoulli' needs exactly two"),
    ({"prior": "l1"}, ValueError, "`prior` must be one of 'gaussian', 'laplace'"),
    ({"fit_intercept": 1}, TypeError, "`fit_intercept` must be True or False"),
    ({"tol": -1e-3}, ValueError, "`tol` must be a positive finite number"),
    ({"max_iter": 0}, ValueError, "`max_iter` must be an integer >= 1"),
    ({"max_iter": 2.5}, TypeError, "`max_iter` must be an integer"),
])
def test_bad_input_names_the_argument(kwargs, exc, match):
    args = {"X": X0, "y": Y0, "tau": 1.0, **kwargs}
    X, y = args.pop("X"), args.pop("y")
    with pytest.raises(exc, match=match):
        map_classifier(X, y, **args)


def test_objective_checks_its_coefficients():
    with pytest.raises(ValueError, match=r"`coef` must have shape \(6,\) or \(6, K\)"):
        classifier_objective(X0, Y0, np.zeros(5), tau=1.0)
    X, y = DATA["three_class"]
    with pytest.raises(ValueError, match="`coef` must have 3 columns"):
        classifier_objective(X, y, np.zeros((5, 4)), tau=1.0)
    with pytest.raises(ValueError, match="`intercept` must be a number or have 3 entries"):
        classifier_objective(X, y, np.zeros((5, 3)), np.zeros(2), tau=1.0)


def test_proximal_newton_never_accepts_a_rising_step_along_a_flat_direction() -> None:
    # a fold of a three-class problem (tests/data, from the CLI's report tests) on which, at
    # tau = 1000, the quadratic model of the softmax is nearly flat along W + c 1^T: an unchecked
    # full step once took U from 45 to 1.5e11 (weights 3e13) and the solver ran to max_iter. The
    # damped, line-searched step converges, and its MAP is a minimum: no coordinate step lowers U.
    from pathlib import Path

    data = np.load(Path(__file__).parent / "data" / "softmax_l1_flat_direction.npz")
    X, y = data["X"], data["y"]
    for tau in (1000.0, 1e4):
        fit = map_classifier(X, y, prior="laplace", tau=tau)
        assert fit.converged and fit.n_iter < 50
        assert float(fit.coef.abs().max()) < 10.0
        U = classifier_objective(X, y, fit.coef.numpy(), fit.intercept.numpy(), prior="laplace", tau=tau)
        assert U == pytest.approx(fit.objective, rel=1e-12)
        for j in range(fit.coef.numel()):
            for h in (1e-4, -1e-4):
                W = fit.coef.numpy().copy()
                W.reshape(-1)[j] += h
                assert classifier_objective(X, y, W, fit.intercept.numpy(), prior="laplace", tau=tau) >= U - 1e-9


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(("n", "d", "K"), [(400, 110, 2), (300, 60, 3)])
def test_truncated_newton_equals_logistic_regression_where_the_hessian_is_large(n, d, K, fit_intercept):
    # Above NEWTON_CG_MIN_COST multiply-adds a Hessian, the gaussian MAP runs conjugate gradients on
    # Hessian-vector products; the answer is the same optimum (scikit-learn's newton-cholesky, tight).
    X, y = _generated(n, d, K, seed=n + d)
    tau = 0.3
    fit = map_classifier(X, y, prior="gaussian", tau=tau, fit_intercept=fit_intercept)
    assert fit.method == "newton-cg" and fit.converged and fit.optimality <= 1e-10
    sk = sk_fit(X, y, C=logistic_C(tau), solver="newton-cholesky", tol=1e-12, fit_intercept=fit_intercept)
    name = "binary" if K == 2 else "three_class"
    assert rel(fit.coef, sk_coef(sk, name)) < 1e-8
    if fit_intercept and K == 2:
        assert abs(fit.intercept - sk.intercept_[0]) < 1e-8 * max(1.0, abs(sk.intercept_[0]))
    elif fit_intercept:
        assert rel(centred(fit.intercept), sk.intercept_) < 1e-7


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("name", ["binary", "three_class"])
def test_truncated_and_full_newton_reach_the_same_map(name, fit_intercept):
    from bayeswd.classification.solvers import newton_cg, newton_full

    X, y = DATA[name]
    K = 2 if name == "binary" else 3
    prob = GLMProblem(torch.as_tensor(X), torch.as_tensor(y), "bernoulli" if K == 2 else "categorical",
                      "gaussian", 0.7, fit_intercept, K)
    full, _, ok_full, _ = newton_full(prob, 100, 1e-12)
    cg, _, ok_cg, opt = newton_cg(prob, 100, 1e-12)
    assert ok_full and ok_cg and opt <= 1e-12
    torch.testing.assert_close(cg, full, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("name", ["binary", "three_class"])
def test_hessian_paths_agree(name, fit_intercept):
    # the CPU's symmetric products (NumPy syrk per block) and torch's products (other devices)
    prob = _problem(name, "gaussian", fit_intercept)
    theta = torch.linspace(-0.6, 0.5, prob.size, dtype=torch.float64)
    _, _, probs = prob.value_grad(theta)
    H = prob.hessian(probs)
    torch.testing.assert_close(H, prob._hessian_torch(probs), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(H, H.T, rtol=0, atol=0)  # syrk: exactly symmetric


@pytest.mark.parametrize("name", ["binary", "three_class"])
def test_value_grad_reuses_the_line_search_softmax(name):
    # value_grad at the logits a line search's last _nll evaluated (the softmax pieces reused)
    # equals a fresh evaluation; the pieces are used once
    prob = _problem(name, "gaussian", True)
    theta = torch.linspace(-0.6, 0.5, prob.size, dtype=torch.float64)
    eta = prob.logits(theta)
    f = prob.nll_of_logits(eta)
    f1, g1, p1 = prob.value_grad(theta, eta, f)
    f2, g2, p2 = prob.value_grad(theta)
    assert f1 == pytest.approx(f2, rel=1e-14)
    torch.testing.assert_close(g1, g2, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(p1, p2, rtol=1e-14, atol=1e-15)
    assert prob._softmax is None


@pytest.mark.parametrize("through_A", [True, False])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("name", ["binary", "three_class"])
def test_hessian_operator_and_preconditioner_of_truncated_newton(name, fit_intercept, through_A, monkeypatch):
    """H v equals the closed-form Hessian (tested against autograd above) times v, plus the penalty;
    the preconditioner is the inverse of its stated M: C (x) diag(col_sq) + lam I on the weights and
    n C on the intercepts (C the rows' mean curvature), built here entry by entry. Bernoulli
    products go through A = [X 1] on small problems, through X on large ones: both routes."""
    from bayeswd.classification import solvers
    from bayeswd.classification.solvers import _hessian_operator

    monkeypatch.setattr(solvers, "FORM_A_MAX", math.inf if through_A else 0)

    prob = _problem(name, "gaussian", fit_intercept)
    theta = torch.linspace(-0.6, 0.5, prob.size, dtype=torch.float64)
    _, _, probs = prob.value_grad(theta)
    lam = 0.7
    col_sq = (prob.X**2).sum(0)
    hv, precondition = _hessian_operator(prob, probs, lam, col_sq)
    H = prob.hessian(probs)
    H.diagonal()[: prob.n_weights] += lam
    v = torch.linspace(1.0, -2.0, prob.size, dtype=torch.float64)
    Hv, Av = hv(v)
    torch.testing.assert_close(Hv, H @ v, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(Av, prob.logits(v), rtol=1e-14, atol=1e-14)  # the step's logits, for the line search

    n, d, nw = prob.X.shape[0], prob.d, prob.n_weights
    if prob.family == "bernoulli":
        C = (probs * (1 - probs)).mean().reshape(1, 1)
    else:
        C = torch.diag(probs.mean(0)) - probs.T @ probs / n
    M = torch.zeros(prob.size, prob.size, dtype=torch.float64)
    m = C.shape[0]
    for k in range(m):
        for j in range(m):
            M[k * d:(k + 1) * d, j * d:(j + 1) * d] = torch.diag(C[k, j] * col_sq)
    M.diagonal()[:nw] += lam
    if fit_intercept:
        M[nw:, nw:] = n * (C if prob.family == "bernoulli" else C[1:, 1:])
    torch.testing.assert_close(precondition(v), torch.linalg.solve(M, v), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("name", ["binary", "three_class"])
def test_gradient_scale_is_the_gradient_at_zero(name, fit_intercept):
    from bayeswd.classification.solvers import _gradient_scale

    prob = _problem(name, "gaussian", fit_intercept)
    g0 = prob.value_grad(prob.X.new_zeros(prob.size))[1]
    assert _gradient_scale(prob) == pytest.approx(max(1.0, float(g0.abs().max())), rel=1e-14)


def test_row_sums_equal_torch_sum():
    from bayeswd.classification.problem import row_sums

    M = torch.linspace(-3.0, 4.0, 60, dtype=torch.float64).reshape(20, 3) ** 3
    torch.testing.assert_close(row_sums(M), M.sum(1, keepdim=True), rtol=1e-15, atol=1e-13)


def test_softplus_is_log1p_exp_to_rounding_everywhere():
    # torch's fused softplus with its linear branch moved to eta > 50: the same values as the
    # overflow-free max(eta, 0) + log1p(exp(-|eta|)), from underflow to far past the threshold
    from bayeswd.classification.problem import softplus

    eta = torch.cat([torch.linspace(-800.0, 800.0, 20001, dtype=torch.float64),
                     torch.tensor([-1e-300, 0.0, 1e-300, 49.999, 50.0, 50.001], dtype=torch.float64)])
    ref = eta.clamp(min=0) + torch.log1p(torch.exp(-eta.abs()))
    # a few ulp (the two formulas round differently), and absolutely below 1e-305 where
    # e^eta reaches the subnormal numbers
    torch.testing.assert_close(softplus(eta), ref, rtol=1.2e-15, atol=1e-305)

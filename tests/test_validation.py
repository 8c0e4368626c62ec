"""Bad input at the public boundary: one case per test, the message asserted with ``match=``."""

import numpy as np
import pandas as pd
import pytest
import torch

import bayeswd as bw

GOOD_X = np.random.default_rng(0).normal(size=(10, 3))
GOOD_Y = np.random.default_rng(1).normal(size=10)


def fit(X=GOOD_X, y=GOOD_Y, **kw):
    kw.setdefault("sigma", 1.0)
    if "lam" not in kw:
        kw.setdefault("tau", 1.0)
    return bw.map_fit(X, y, **kw)


def test_nan_in_X():
    X = GOOD_X.copy()
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"`X` must contain only finite values; got 1 NaN or inf"):
        fit(X=X)


def test_inf_in_y():
    y = GOOD_Y.copy()
    y[0] = np.inf
    with pytest.raises(ValueError, match=r"`y` must contain only finite values"):
        fit(y=y)


def test_X_not_2d():
    with pytest.raises(ValueError, match=r"`X` must be 2-D with shape \(n_samples, n_features\); got 1-D"):
        fit(X=GOOD_X[:, 0])


def test_y_not_1d():
    with pytest.raises(ValueError, match=r"`y` must be 1-D of length 10; got 2-D input of shape \(10, 1\)"):
        fit(y=GOOD_Y[:, None])


def test_y_wrong_length():
    with pytest.raises(ValueError, match=r"`y` must have length 10 \(the number of rows of X\); got 9"):
        fit(y=GOOD_Y[:9])


def test_too_few_rows():
    with pytest.raises(ValueError, match=r"`X` must have at least 2 rows; got 1"):
        fit(X=GOOD_X[:1], y=GOOD_Y[:1])


def test_no_columns():
    with pytest.raises(ValueError, match=r"`X` must have at least one column; got shape \(10, 0\)"):
        fit(X=np.empty((10, 0)))


def test_non_numeric_dataframe_columns():
    df = pd.DataFrame(GOOD_X, columns=["a", "b", "c"]).assign(city=["x"] * 10)
    with pytest.raises(ValueError, match=r"`X` must have numeric columns only; got non-numeric column\(s\) \['city'\]"):
        fit(X=df)


def test_string_array():
    with pytest.raises(ValueError, match=r"`X` must hold real numbers; got an array of dtype <U1"):
        fit(X=np.full((10, 2), "a"))


def test_unsupported_type():
    with pytest.raises(TypeError, match=r"`X` must be a numpy array, torch tensor or pandas DataFrame; got 'abc'"):
        fit(X="abc")


def test_complex_tensor():
    with pytest.raises(TypeError, match=r"`X` must be a real numeric tensor"):
        fit(X=torch.ones(10, 2, dtype=torch.complex128))


@pytest.mark.parametrize("name", ["sigma", "tau", "lam"])
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_scales_positive_finite(name, value):
    kw = {"sigma": 1.0, name: value}
    if name == "lam":
        kw["tau"] = None
    with pytest.raises(ValueError, match=rf"`{name}` must be a positive finite number; got {value!r}"):
        bw.map_fit(GOOD_X, GOOD_Y, **kw)


def test_scale_wrong_type():
    with pytest.raises(TypeError, match=r"`tau` must be a positive finite number; got '1'"):
        fit(tau="1")


def test_both_tau_and_lam():
    with pytest.raises(ValueError, match=r"give `tau` or `lam`, not both; got tau=1.0 and lam=2.0"):
        bw.map_fit(GOOD_X, GOOD_Y, sigma=1.0, tau=1.0, lam=2.0)


def test_neither_tau_nor_lam():
    with pytest.raises(ValueError, match=r"one of `tau` \(prior scale\) or `lam` \(penalty\) is required"):
        bw.map_fit(GOOD_X, GOOD_Y, sigma=1.0)


def test_unknown_prior():
    with pytest.raises(ValueError, match=r"`prior` must be one of 'gaussian', 'laplace'; got 'cauchy'"):
        fit(prior="cauchy")


def test_unknown_method():
    with pytest.raises(ValueError, match=r"`method` must be one of 'auto', 'newton', 'lbfgs', .*'subgradient'; got 'gibbs'"):
        fit(method="gibbs")


def test_method_not_for_prior():
    with pytest.raises(ValueError, match=r"`method` must be one of 'proximal', 'subgradient' for prior='laplace'; got 'newton'"):
        fit(prior="laplace", method="newton")


def test_cuda_without_gpu():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the error is for machines without it")
    with pytest.raises(ValueError, match=r"`device` is 'cuda' but torch finds no CUDA device"):
        fit(device="cuda")


def test_unknown_device():
    with pytest.raises(ValueError, match=r"`device` must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got 'tpu'"):
        fit(device="tpu")


def test_intercept_needs_fit_intercept_false():
    with pytest.raises(ValueError, match=r"`intercept` freezes the intercept and needs fit_intercept=False"):
        fit(intercept=1.0)


def test_batch_size_only_for_loops():
    with pytest.raises(ValueError, match=r"`batch_size` applies to the training loops"):
        fit(batch_size=5)


def test_predict_wrong_width():
    result = fit()
    with pytest.raises(ValueError, match=r"`X` must have 3 columns like the training data; got 2"):
        result.predict(GOOD_X[:, :2])


def test_input_kinds_agree_and_keep_names():
    df = pd.DataFrame(GOOD_X, columns=["age", "bmi", "bp"])
    fits = [fit(X=GOOD_X), fit(X=torch.from_numpy(GOOD_X)), fit(X=df, y=pd.Series(GOOD_Y)), fit(X=GOOD_X.tolist())]
    for other in fits[1:]:
        torch.testing.assert_close(other.coef, fits[0].coef, rtol=0, atol=0)
    assert fits[2].feature_names == ("age", "bmi", "bp")
    assert fits[0].feature_names == ("x0", "x1", "x2")
    assert fits[0].coef.dtype == torch.float64


def test_conventions_validate():
    with pytest.raises(ValueError, match=r"`loss` must be one of 'mse_mean', 'mse_sum', 'half_mse_mean'; got 'mae'"):
        bw.sgd_weight_decay(1.0, 1.0, 10, loss="mae")
    with pytest.raises(ValueError, match=r"`n` must be an integer >= 1; got 0"):
        bw.lasso_alpha(1.0, 1.0, 0)


def test_input_not_modified():
    X = GOOD_X.copy()
    y = GOOD_Y.copy()
    fit(X=X, y=y)
    np.testing.assert_array_equal(X, GOOD_X)
    np.testing.assert_array_equal(y, GOOD_Y)


def test_finite_check_survives_an_overflowing_sum_and_counts_in_blocks() -> None:
    # the sum of finite 1e308s overflows to inf: the exact (blockwise) count must still say 0
    X = np.full((3000, 500), 1e308)
    from bayeswd._validation import as_design

    assert torch.equal(as_design(X)[0], torch.from_numpy(X))
    X[5, 7] = np.nan
    X[2999, 0] = -np.inf
    with pytest.raises(ValueError, match=r"`X` must contain only finite values; got 2 NaN or inf entries"):
        as_design(X)

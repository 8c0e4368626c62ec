"""Write the teaching notebooks from the cell lists below (no outputs are stored).

Run ``python notebooks/_build.py`` after editing; ``tests/test_notebooks.py`` executes every
notebook with the small settings of its ``parameters`` cell overridden.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).parent


def notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, text in cells:
        text = text.strip("\n")
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            cell = nbformat.v4.new_code_cell(text)
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
    for i, cell in enumerate(nb.cells):  # stable ids: rebuilding gives identical files
        cell["id"] = f"cell-{i:02d}"
    return nb


NB1 = [
    ("md", """
# 1. Weight decay is a gaussian prior

Training `nn.Linear` with `torch.optim.SGD(weight_decay=wd)` on `MSELoss` is, at its optimum, the
**MAP estimate** of linear regression with a gaussian prior `w_j ~ Normal(0, tau^2)` on the weights,
with `wd = 2 sigma^2 / (n tau^2)`. This notebook shows it with autograd, step by step:

1. autograd's gradient of the negative log posterior against the analytic formula;
2. `torch.no_grad` for prediction and `requires_grad=False` for freezing;
3. the classic training loop with SGD parameter groups (decay on the weight only);
4. the conventions table in action (scikit-learn `Ridge`, `BayesianRidge`);
5. Adam and AdamW: same decay, different answer.
"""),
    ("params", """
# Parameters (the test suite runs this notebook with smaller values)
train_steps = 3000
adam_steps = 3000
"""),
    ("code", """
import numpy as np
import torch
from torch import nn

import bayeswd as bw

p = bw.seed_problem()  # n=20 training rows, d=200 features, noise sd 0.01, true w = 0.01
X, y = p.train.X, p.train.y
n, d = X.shape
sigma, tau = p.sigma, p.tau
print(f"n={n}, d={d}, sigma={sigma}, tau={tau:.4g} (the prior that weight_decay={p.weight_decay:g} assumes)")
"""),
    ("md", """
## 1. Autograd against the analytic gradient

The negative log posterior (constants dropped) is
`U(w, b) = ||y - Xw - b||^2 / (2 sigma^2) + ||w||^2 / (2 tau^2)`, with gradient
`dU/dw = -X^T r / sigma^2 + w / tau^2` and `dU/db = -sum(r) / sigma^2`, where `r = y - Xw - b`.
We let autograd compute it (`requires_grad=True`, `backward()`, `.grad`), once by hand and once from
bayeswd's Pyro model (`bw.log_density`), and compare.
"""),
    ("code", """
gen = torch.Generator().manual_seed(0)
w = (0.01 * torch.randn(d, generator=gen, dtype=torch.float64)).requires_grad_(True)
b = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)

U = ((y - X @ w - b) ** 2).sum() / (2 * sigma**2) + (w**2).sum() / (2 * tau**2)
U.backward()

with torch.no_grad():
    r = y - X @ w - b
    grad_w = -X.T @ r / sigma**2 + w / tau**2
    grad_b = -r.sum() / sigma**2
print("max |autograd - analytic| for w:", float((w.grad - grad_w).abs().max()), " scale:", float(grad_w.abs().max()))
print("autograd - analytic for b:      ", float(b.grad - grad_b))

# the same gradient from the Pyro model, the library's single definition of the posterior
w2, b2 = w.detach().clone().requires_grad_(True), b.detach().clone().requires_grad_(True)
logp = bw.log_density({"coef": w2, "intercept": b2}, X, y, prior="gaussian", sigma=sigma, tau=tau)
(-logp).backward()
print("max |model gradient - analytic|:", float((w2.grad - grad_w).abs().max()))
"""),
    ("md", """
## 2. `torch.no_grad` for prediction, `requires_grad=False` for freezing

`torch.no_grad()` only stops recording the graph: nothing is frozen, it just makes prediction
cheaper. `requires_grad=False` removes a parameter from the optimisation: its `.grad` stays `None`
and the optimiser never moves it.
"""),
    ("code", """
net = nn.Linear(d, 1, dtype=torch.float64)
with torch.no_grad():
    pred = net(p.test.X)
print("prediction under no_grad records no graph:", pred.requires_grad is False)

net.bias.requires_grad_(False)          # freeze the intercept at its current value
frozen_value = float(net.bias)
opt = torch.optim.SGD([q for q in net.parameters() if q.requires_grad], lr=0.01)
loss = nn.MSELoss()(net(X).squeeze(-1), y)
loss.backward()
opt.step()
print("frozen bias has no gradient:", net.bias.grad is None, "| unchanged:", float(net.bias) == frozen_value)

# map_fit freezes the intercept the same way
fit_frozen = bw.map_fit(X, y, sigma=sigma, tau=tau, fit_intercept=False, intercept=0.05, method="sgd")
print("map_fit with a frozen intercept keeps it at", fit_frozen.intercept)
"""),
    ("md", """
## 3. The classic training loop is MAP

Weight decay goes on the weight only (the intercept has a flat prior), so the optimiser gets two
parameter groups. With `wd = bw.sgd_weight_decay(sigma, tau, n)` (= 3 here) and full-batch steps the
loop converges to `bw.map_fit`, which finds the MAP by Newton's method on the model's log density.
"""),
    ("code", """
wd = bw.sgd_weight_decay(sigma, tau, n, loss="mse_mean")
net = nn.Linear(d, 1, dtype=torch.float64)
nn.init.zeros_(net.weight); nn.init.zeros_(net.bias)
opt = torch.optim.SGD([{"params": [net.weight], "weight_decay": wd},
                       {"params": [net.bias], "weight_decay": 0.0}], lr=0.02)
for step in range(train_steps):
    opt.zero_grad()
    nn.MSELoss()(net(X).squeeze(-1), y).backward()
    opt.step()

fit = bw.map_fit(X, y, prior="gaussian", sigma=sigma, tau=tau)
w_sgd = net.weight.detach().squeeze(0)
print(f"weight_decay = {wd:g}")
print("relative distance, SGD training vs MAP:", float((w_sgd - fit.coef).norm() / fit.coef.norm()))
print(fit)
"""),
    ("md", """
## 4. The conventions table in action

The same prior is `Ridge(alpha=sigma^2/tau^2)` in scikit-learn, `BayesianRidge` precisions
`alpha_ = 1/sigma^2`, `lambda_ = 1/tau^2`, and a different `weight_decay` for each loss reduction.
"""),
    ("code", """
from sklearn.linear_model import Ridge

for key, value in bw.conventions_table(sigma, tau, n).items():
    print(f"{key:34s} {value:.6g}")
ridge = Ridge(alpha=bw.ridge_alpha(sigma, tau)).fit(X.numpy(), y.numpy())
print("\\nRidge vs map_fit, relative difference:", np.linalg.norm(ridge.coef_ - fit.coef.numpy()) / np.linalg.norm(ridge.coef_))
print("the prior sd weight_decay=3 assumes:", bw.tau_from_weight_decay(3, sigma=sigma, n=n), "while the true weights are 0.01")
"""),
    ("md", """
## 5. Adam and AdamW: same decay, different answers

`Adam(weight_decay=wd)` adds `wd * w` to the gradient before its rescaling: its fixed point is still
the MAP, but a constant learning rate keeps it hovering around it. `AdamW` decays outside the
rescaling: its fixed point is a different point altogether.
"""),
    ("code", """
for method in ("sgd", "adam", "adamw"):
    run = bw.map_fit(X, y, sigma=sigma, tau=tau, method=method, max_iter=adam_steps if method != "sgd" else 20_000)
    gap = float((run.coef - fit.coef).norm() / fit.coef.norm())
    print(f"{method:6s} relative distance to the MAP: {gap:.2e}   objective U: {run.objective:.4f} (MAP: {fit.objective:.4f})")
"""),
]

NB2 = [
    ("md", """
# 2. L1 against L2: subgradient against proximal steps, sparse MAP against a dense posterior

A laplace prior `w_j ~ Laplace(0, tau)` gives the lasso as its MAP. How you optimise matters:
the **subgradient** step `w <- w - lr (grad + lam sign(w))` never lands on exact zeros, while the
**proximal** step (soft-thresholding) does and reaches the lasso optimum exactly. And the MAP's
sparsity is a property of the *mode*: the posterior **mean** under the same prior is never sparse.
"""),
    ("params", """
subgradient_steps = 3000
num_samples = 500
num_warmup = 500
"""),
    ("code", """
import numpy as np
import torch
from sklearn.linear_model import Lasso

import bayeswd as bw

p = bw.seed_problem()
X, y = p.train.X, p.train.y
n = X.shape[0]
sigma, tau = p.sigma, p.tau_laplace  # same prior variance as the gaussian tau
"""),
    ("code", """
prox = bw.map_fit(X, y, prior="laplace", sigma=sigma, tau=tau)            # FISTA + soft-thresholding
sub = bw.map_fit(X, y, prior="laplace", sigma=sigma, tau=tau, method="subgradient", max_iter=subgradient_steps)
lasso = Lasso(alpha=bw.lasso_alpha(sigma, tau, n), tol=1e-12, max_iter=100_000).fit(X.numpy(), y.numpy())

print("exact zeros: proximal", int((prox.coef == 0).sum()), "| subgradient", int((sub.coef == 0).sum()),
      "| scikit-learn Lasso", int((lasso.coef_ == 0).sum()), "of", X.shape[1])
print("max |proximal - Lasso|:", np.abs(prox.coef.numpy() - lasso.coef_).max())
print(f"objective: proximal {prox.objective:.4f}, subgradient {sub.objective:.4f}")
print("smallest |w| of the subgradient iterate:", float(sub.coef.abs().min()))
"""),
    ("code", """
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(8, 3.5))
order = torch.argsort(prox.coef.abs(), descending=True)
ax.plot(prox.coef[order].numpy(), ".", label="proximal MAP (exact zeros)")
ax.plot(sub.coef[order].numpy(), ".", alpha=0.6, label="subgradient iterate")
ax.axhline(0, color="grey", lw=0.5)
ax.set_xlabel("feature (sorted by |proximal MAP|)")
ax.set_ylabel("coefficient")
ax.set_title("Laplace prior: proximal vs subgradient")
ax.legend()
fig.tight_layout()
"""),
    ("md", """
## The posterior mean is not sparse

Sampling the laplace posterior (NUTS) shows that, while the MAP sets most weights exactly to
zero, the posterior mean of every weight is non-zero: the probability that a continuous posterior
puts any weight exactly at zero is zero.
"""),
    ("code", """
post = bw.sample_posterior(X, y, prior="laplace", sigma=sigma, tau=tau,
                           method=bw.NUTS(num_warmup=num_warmup), num_samples=num_samples,
                           num_chains=2, seed=0, progress_bar=False)
mean = post.samples["coef"].mean(dim=(0, 1))
print("exact zeros in the posterior mean:", int((mean == 0).sum()), "of", mean.numel())
print("MAP zeros whose posterior mean is non-zero:", int(((prox.coef == 0) & (mean != 0)).sum()))
"""),
]


NB3 = [
    ("md", """
# 3. Full posteriors: NUTS, SVI and the exact answer, compared in ArviZ

The MAP is one point. The posterior says how sure we may be about each weight. For the gaussian
prior with sigma known the posterior is gaussian in closed form (`method="exact"`), which lets us
check the general-purpose methods: NUTS (Hamiltonian Monte Carlo) and SVI (a fitted variational
approximation). Everything runs on the GPU when one is present (`device="cuda"`); draws come back on
the CPU.

Each method is an object that carries its own settings: `bw.NUTS(num_warmup=...)` is bayeswd's own
sampler (the default, `method="auto"`, would pick the exact draws here: we ask for NUTS to check it):
the same no-U-turn algorithm as Stan, on the potential energy
of the Pyro model written out in torch, and preconditioned by the gaussian approximation of the
posterior. `bw.PyroNUTS()` runs `pyro.infer.NUTS` on the Pyro model itself: same posterior, many
times slower (the timings are in `docs/benchmarks.md`). `bw.SVI(guide=..., max_steps=...)` fits a
variational guide.
"""),
    ("params", """
num_samples = 1000
num_warmup = 1000
num_chains = 4
svi_steps = 20_000
"""),
    ("code", """
import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import torch

import bayeswd as bw

device = "cuda" if torch.cuda.is_available() else "cpu"
p = bw.seed_problem()
X, y = p.train.X, p.train.y
print("running on", device)
"""),
    ("code", """
common = dict(prior="gaussian", sigma=p.sigma, tau=p.tau, seed=0, device=device, progress_bar=False)
exact = bw.sample_posterior(X, y, method="exact", num_samples=num_samples, num_chains=num_chains, **common)
nuts = bw.sample_posterior(X, y, method=bw.NUTS(num_warmup=num_warmup), num_samples=num_samples,
                           num_chains=num_chains, **common)
svi = bw.sample_posterior(X, y, method=bw.SVI(guide="fullrank", max_steps=svi_steps), num_samples=num_samples,
                          **common)
meanfield = bw.sample_posterior(X, y, method=bw.SVI(guide="meanfield", max_steps=svi_steps),
                                num_samples=num_samples, **common)
for name, post in [("exact", exact), ("NUTS", nuts), ("SVI full-rank", svi), ("SVI mean-field", meanfield)]:
    sd = post.samples["coef"].std(dim=(0, 1))
    print(f"{name:15s} wall {post.wall_time:6.2f} s   mean posterior sd of the weights {float(sd.mean()):.3e}")
"""),
    ("md", """
The mean-field guide ignores correlations between weights and so **underestimates** the posterior
spread; the full-rank guide is exact for this gaussian posterior up to optimisation error.
"""),
    ("code", """
idata = {name: post.to_inference_data() for name, post in
         [("exact", exact), ("NUTS", nuts), ("SVI full-rank", svi), ("SVI mean-field", meanfield)]}
fit = bw.map_fit(X, y, sigma=p.sigma, tau=p.tau)
ax = bw.plot_forest(idata, maps={"MAP (= SGD weight decay)": fit}, max_features=8)
ax.figure
"""),
    ("md", """
### The posterior in ArviZ, whichever ArviZ you have

`to_inference_data()` returns what the installed ArviZ works with: an `InferenceData` on ArviZ 0.x
(Python >= 3.10) and an `xarray.DataTree` on ArviZ 1.x (Python >= 3.12), with the same groups
(`posterior`, `sample_stats`, `log_likelihood`, `posterior_predictive`, `observed_data`), the
weights on a named `feature` coordinate, and the same numbers. ArviZ's own functions take it as it
is; `summary()` gives the same table on both.
"""),
    ("code", """
print("ArviZ", az.__version__, "->", type(idata["NUTS"]).__name__)
print(az.ess(idata["NUTS"], var_names=["coef"])["coef"].values[:5])  # ArviZ's own bulk ESS, either line
print(nuts.summary().head(8))
print(az.loo(idata["NUTS"]))  # PSIS-LOO of the NUTS posterior: its elpd, standard error and Pareto k
"""),
    ("code", """
pred = nuts.predict(p.test.X[:5])
print("posterior predictive mean and 94% interval for five test rows:")
for m, lo, hi, truth in zip(pred.mean, pred.lower, pred.upper, p.test.y[:5]):
    print(f"  {float(m):+.4f}  [{float(lo):+.4f}, {float(hi):+.4f}]   observed {float(truth):+.4f}")
"""),
]

NB4 = [
    ("md", """
# 4. Choosing lambda: sweep, validation, evidence, full Bayes

How strong should the weight decay be? Four answers: the train/test **sweep** (what you would see
if you could peek at test data), a **validation** set and **k-fold cross-validation** (what you can
do without peeking), the **evidence** maximum (empirical Bayes: the lambda under which the data are
most probable), and **full Bayes** (a prior on tau, and the posterior of lambda = sigma^2/tau^2).
"""),
    ("params", """
num_samples = 1000
num_warmup = 1000
num_chains = 4
"""),
    ("code", """
import numpy as np

import bayeswd as bw

p = bw.seed_problem()
X, y, Xt, yt = p.train.X, p.train.y, p.test.X, p.test.y
sweep = bw.lam_sweep(X, y, prior="gaussian", X_test=Xt, y_test=yt)
ax = bw.plot_sweep(sweep)
ax.figure
"""),
    ("code", """
val = bw.validation_curve(X, y, Xt, yt, prior="gaussian")
cv = bw.cv_curve(X, y, prior="gaussian", n_folds=5, seed=0)
evid = bw.maximize_evidence(X, y)
print("validation:", val.lam_best, "| CV:", cv.lam_best, "(one-SE rule:", cv.lam_1se, ") | evidence:", evid.lam)
print("weight_decay=3 corresponds to lam =", bw.ridge_alpha(p.sigma, p.tau))
"""),
    ("code", """
post = bw.sample_posterior(X, y, prior="gaussian", sigma=p.sigma, tau=None,  # full Bayes over tau
                           num_samples=num_samples, num_chains=num_chains, seed=0, progress_bar=False)
print(post.method, "-", post.settings["method_choice"])
print("bulk ESS of tau:", round(post.diagnostics["ess_bulk"]["tau"].item()), "of", post.samples["tau"].numel(), "draws")
lam_draws = bw.lam_from_draws(post.samples["tau"].numpy().reshape(-1), p.sigma)
print("posterior median of lambda:", np.median(lam_draws), "| 90% interval:", np.quantile(lam_draws, [0.05, 0.95]))
ax = bw.plot_lam_selection(validation=val, cv=cv, evidence=evid, lam_draws=lam_draws)
ax.figure
"""),
    ("md", """
Is the validated lambda really optimal? It is optimal *for that validation split*: the curve is flat
near its minimum and its standard error is large with 20 training rows, so the CV choice, the
evidence maximum and the bulk of the posterior of lambda all land in the same broad basin. Full
Bayes does not pick one lambda at all: it averages predictions over the plausible ones.
"""),
]

NB5 = [
    ("md", """
# 5. scikit-learn estimators: the posterior in a Pipeline

bayeswd's two estimators follow scikit-learn's conventions, so they drop into `Pipeline`,
`GridSearchCV` and `cross_val_score` (`pip install bayeswd[sklearn]`):

* `bw.MAPRegression(alpha, prior=...)`: the MAP, with `alpha` meaning exactly what it means in
  scikit-learn's `Ridge` (gaussian prior, `alpha = sigma^2/tau^2`) or `Lasso` (laplace prior,
  `alpha = sigma^2/(n tau)`);
* `bw.BayesianLinearRegression(prior=..., sigma=..., tau=...)`: the whole posterior (`posterior_`),
  with `predict(X, return_std=True)` giving the posterior predictive mean and sd (noise included)
  and `sample_y` drawing new targets. A `sigma` or `tau` left at `None` is chosen by the evidence
  (empirical Bayes; `scales="sample"` samples them instead). The default method is the exact
  conjugate posterior for the gaussian prior and the blocked Gibbs sampler for the laplace prior.

The data: scikit-learn's diabetes table (442 patients, 10 features, no download needed).
"""),
    ("params", """
# Parameters (the test suite runs this notebook with smaller values)
num_samples = 1000
num_warmup = 1000
num_chains = 4
"""),
    ("code", """
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import BayesianRidge, Lasso, Ridge
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import bayeswd as bw

X, y = load_diabetes(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
cv = KFold(5, shuffle=True, random_state=0)


def pipeline(model):
    # a scaler that keeps the column names, so the model's posterior is labelled by feature
    return Pipeline([("scale", StandardScaler().set_output(transform="pandas")), ("model", model)])


print(X_train.shape[0], "training rows;", "features:", list(X.columns))
"""),
    ("md", """
## 1. `MAPRegression`: `alpha` means what scikit-learn means

The MAP under the gaussian prior is `Ridge(alpha)`, under the laplace prior `Lasso(alpha)`; the
grid search over `alpha` is the one you know, and gives the same scores. The fitted `tau_` reads the
chosen penalty as a prior scale (at the noise sd `sigma`, 1 unless given).
"""),
    ("code", """
for prior, reference, alphas in (("gaussian", Ridge(), np.geomspace(1e-1, 1e3, 5)),
                                 ("laplace", Lasso(tol=1e-12, max_iter=100_000), np.geomspace(1e-2, 10, 5))):
    ours = GridSearchCV(pipeline(bw.MAPRegression(prior=prior)), {"model__alpha": alphas}, cv=cv).fit(X_train, y_train)
    theirs = GridSearchCV(pipeline(reference), {"model__alpha": alphas}, cv=cv).fit(X_train, y_train)
    gap = np.abs(ours.cv_results_["mean_test_score"] - theirs.cv_results_["mean_test_score"]).max()
    best = ours.best_estimator_["model"]
    print(f"{prior:8s}: best alpha {best.alpha:.4g} (scikit-learn's {theirs.best_params_['model__alpha']:.4g}), "
          f"largest CV-score difference {gap:.1e}, prior scale tau_ = {best.tau_:.4g} at sigma = {best.sigma}")
print("features the best lasso sets exactly to zero:", [c for c, w in zip(X.columns, best.coef_) if w == 0])
"""),
    ("md", """
## 2. `BayesianLinearRegression`: the exact posterior, sigma and tau by the evidence

With the gaussian prior and `sigma`, `tau` left at `None`, both are set at the maximum of the
evidence (the marginal likelihood) and the posterior is the exact conjugate one. scikit-learn's
`BayesianRidge` maximises nearly the same evidence: it centres the data and counts `n` rows, where
bayeswd integrates the flat intercept out (one degree of freedom spent on it, `n - 1`), and its
`return_std` leaves out the intercept's own uncertainty, `sigma^2 / n`. The two agree to a few parts
in a thousand.
"""),
    ("code", """
blr = pipeline(bw.BayesianLinearRegression()).fit(X_train, y_train)
br = pipeline(BayesianRidge()).fit(X_train, y_train)
model = blr["model"]
print(f"bayeswd:       sigma_ = {model.sigma_:.4g}, tau_ = {model.tau_:.4g} ({model.scale_selection_}, method {model.method_})")
print(f"BayesianRidge: 1/sqrt(alpha_) = {br['model'].alpha_ ** -0.5:.4g}, 1/sqrt(lambda_) = {br['model'].lambda_ ** -0.5:.4g}")

mean, sd = blr.predict(X_test, return_std=True)  # the Pipeline passes return_std on to the model
mean_br, sd_br = br.predict(X_test, return_std=True)
print(f"test R^2: {blr.score(X_test, y_test):.4f} (BayesianRidge {br.score(X_test, y_test):.4f})")
print(f"predictive sd / BayesianRidge's: {np.min(sd / sd_br):.4f} to {np.max(sd / sd_br):.4f}")
inside = np.abs(y_test - mean) < 1.645 * sd
print(f"test rows inside their 90% predictive interval: {inside.mean():.2f}")
"""),
    ("md", """
## 3. The laplace posterior by NUTS

`prior="laplace"` samples the posterior by the blocked Gibbs sampler by default; here we ask for
NUTS (`method=bw.NUTS(...)`), the general-purpose sampler, to show it works too. The full `Posterior`
is `posterior_`, with its ArviZ summary labelled by the column names that the scaler kept.
`sample_y` draws whole new targets from the posterior predictive; a `Pipeline` does not forward it,
so the rows go through the scaler first.
"""),
    ("code", """
lap = pipeline(bw.BayesianLinearRegression(prior="laplace", method=bw.NUTS(num_warmup=num_warmup),
                                           num_samples=num_samples, num_chains=num_chains, seed=0))
lap.fit(X_train, y_train)
print(lap["model"].posterior_.summary(kind="stats"))
lmean, lsd = lap.predict(X_test, return_std=True)
print(f"test R^2 {lap.score(X_test, y_test):.4f}; inside the 90% interval: {np.mean(np.abs(y_test - lmean) < 1.645 * lsd):.2f}")
new = lap["model"].sample_y(lap[:-1].transform(X_test.iloc[:3]), n_samples=5, random_state=0)
print("five posterior predictive draws for three test patients:\\n", new.round(1))
"""),
    ("md", """
## 4. Cross-validation against the evidence

`GridSearchCV` over `tau` (with `sigma` fixed at the evidence's value) picks the prior scale by
held-out R^2; the evidence picks it from the training data alone. The curve below is flat near its
top, and the evidence lands in that flat region.
"""),
    ("code", """
import matplotlib.pyplot as plt

taus = np.geomspace(model.tau_ / 100, model.tau_ * 100, 5)
search = GridSearchCV(pipeline(bw.BayesianLinearRegression(sigma=model.sigma_, num_samples=10)),
                      {"model__tau": taus}, cv=cv).fit(X_train, y_train)
print(f"cross-validated tau {search.best_params_['model__tau']:.4g}, evidence tau {model.tau_:.4g}")
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogx(taus, search.cv_results_["mean_test_score"], "o-", label="5-fold CV R^2")
ax.axvline(model.tau_, color="k", ls="--", label="evidence maximum")
ax.set_xlabel("tau (prior sd of the standardised weights)")
ax.set_ylabel("mean held-out R^2")
ax.legend()
fig.tight_layout()
"""),
]

NB6 = [
    ("md", """
# 6. Data larger than memory: the posterior from one Dask pass

The gaussian likelihood needs the data only through `X^T X`, `X^T y` and `y^T y`. With a
`dask.array` or `dask.dataframe` as `X` and `y`, bayeswd computes those in one pass over the
partitions, on whatever Dask scheduler is active, and everything that works from them (the MAP,
the exact posterior, NUTS when `n > d`, the evidence, the regularisation paths) runs on the client
with `O(d^2)` numbers: the rows never come to it (`pip install bayeswd[dask]`; docs/dask.md).

Here: a Parquet data set written in parts, read by a local cluster of worker processes.
"""),
    ("params", """
# Parameters (the test suite runs this notebook with smaller values)
parts = 20
rows_per_part = 50_000
features = 20
n_workers = 2
num_samples = 1000
num_warmup = 500
"""),
    ("code", """
import tempfile
import warnings
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
from distributed import Client, LocalCluster

import bayeswd as bw

folder = Path(tempfile.mkdtemp()) / "data"
folder.mkdir()
w = np.where(np.arange(features) < 5, 1.0, 0.0)  # five features matter
for i in range(parts):  # part by part: this notebook never holds the whole set
    rng = np.random.default_rng(i)
    X = rng.standard_normal((rows_per_part, features))
    part = pd.DataFrame(X, columns=[f"x{j}" for j in range(features)])
    part["y"] = X @ w + 2.0 + rng.standard_normal(rows_per_part)
    part.to_parquet(folder / f"part-{i:03d}.parquet")
size = sum(f.stat().st_size for f in folder.iterdir())
print(f"{parts * rows_per_part} rows in {parts} files, {size / 1e6:.0f} MB on disk")
"""),
    ("md", """
A `Client` makes its cluster the scheduler of every `dask.compute`, bayeswd's included. On a real
cluster the only change is the address, `Client("tcp://scheduler:8786")` (and paths the workers can
read); the workers need numpy, pandas, dask and pyarrow, not bayeswd.
"""),
    ("code", """
cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0")
client = Client(cluster)
df = dd.read_parquet(folder)


def holdout(part, test):  # every fifth row of each part is a test row
    return part[(np.arange(len(part)) % 5 == 0) == test]


train, test = df.map_partitions(holdout, False), df.map_partitions(holdout, True)
# X and y from one collection: they share the partitions
Xtr, ytr, Xte, yte = train.drop(columns="y"), train["y"], test.drop(columns="y"), test["y"]
"""),
    ("code", """
ev = bw.maximize_evidence(Xtr, ytr)  # one pass; the spectrum of the centred Gram matrix
print(f"evidence: sigma = {ev.sigma:.4f}, tau = {ev.tau:.4f}, lambda = {ev.lam:.4g}")
gauss = bw.map_fit(Xtr, ytr, prior="gaussian", sigma=ev.sigma, tau=ev.tau)
lasso = bw.map_fit(Xtr, ytr, prior="laplace", sigma=ev.sigma, tau=0.01)
print("gaussian MAP:", np.round(gauss.coef.numpy()[:7], 3))
print("laplace MAP: ", np.round(lasso.coef.numpy()[:7], 3), "| exact zeros:", int((lasso.coef == 0).sum()))
"""),
    ("code", """
sweep = bw.lam_sweep(Xtr, ytr, prior="laplace", X_test=Xte, y_test=yte, n_lams=30)  # errors from the moments
ax = bw.plot_sweep(sweep)
ax.figure
"""),
    ("code", """
exact = bw.sample_posterior(Xtr, ytr, sigma=ev.sigma, tau=ev.tau, method="exact")
nuts = bw.sample_posterior(Xtr, ytr, prior="gaussian", sigma=ev.sigma, tau=ev.tau,
                           method=bw.NUTS(num_warmup=num_warmup), num_samples=num_samples,
                           num_chains=2, progress_bar=False)
print("NUTS ran on the", nuts.settings["likelihood"])
print(pd.DataFrame({"exact mean": exact.samples["coef"].mean((0, 1))[:5].numpy(),
                    "NUTS mean": nuts.samples["coef"].mean((0, 1))[:5].numpy(),
                    "exact sd": exact.samples["coef"].std((0, 1))[:5].numpy()}).round(4))
"""),
    ("md", """
The posterior keeps no rows: `exact.X` is a stand-in with the shape and the moments. What needs the
training rows is refused or left out, loudly: the log-likelihood for PSIS-LOO and the replicated
data (`to_inference_data` says so with a warning), SVI and Pyro's NUTS (a `ValueError` that says
what to use). New rows in memory predict as usual.
"""),
    ("code", """
print(exact.X)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    idata = exact.to_inference_data()
print(caught[0].message)
try:
    bw.sample_posterior(Xtr, ytr, method="svi")
except ValueError as err:
    print("ValueError:", err)
print(exact.predict(Xte.partitions[0].compute().head(3)).mean)
"""),
    ("md", """
Is it the in-memory answer? When the data do fit in memory, compare (here, with the small
settings, they do): the exact posterior's draws agree to rounding.
"""),
    ("code", """
if parts * rows_per_part <= 200_000:
    mem = pd.concat([holdout(pd.read_parquet(f), False) for f in sorted(folder.iterdir())])
    ref = bw.sample_posterior(mem.drop(columns="y"), mem["y"], sigma=ev.sigma, tau=ev.tau, method="exact")
    gap = float((ref.samples["coef"] - exact.samples["coef"]).abs().max())
    print("largest difference of the draws:", gap)
client.close()
cluster.close()
"""),
    ("md", """
The command line does the same for a folder of Parquet files or a glob of CSV files, with the table
preparation of `bw.prepare_table` (one-hot encoding, `--missing drop`) applied partition by
partition:

```bash
bayeswd fit data/ --target y --out report
bayeswd fit "data/*.csv" --target y --missing drop
```
"""),
]

NOTEBOOKS = {
    "01_weight_decay_is_a_gaussian_prior.ipynb": NB1,
    "02_l1_against_l2.ipynb": NB2,
    "03_full_posteriors.ipynb": NB3,
    "04_choosing_lambda.ipynb": NB4,
    "05_scikit_learn.ipynb": NB5,
    "06_larger_than_memory.ipynb": NB6,
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nbformat.write(notebook(cells), HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()

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
  conjugate posterior for the gaussian prior; for the laplace prior it is chosen on the data
  (independence Metropolis-Hastings on a fitted gaussian where the rows outnumber the features).

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

With `prior="laplace"` the default method is chosen on the data (here, more rows than features:
independence Metropolis-Hastings on a fitted gaussian proposal); here we ask for
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

NB7 = [
    ("md", """
# 7. Weight decay in a classifier is a gaussian prior

Notebook 1 showed it for linear regression; it holds for a classifier too. Training `nn.Linear(d, 1)`
on `BCEWithLogitsLoss` with `torch.optim.SGD(weight_decay=wd)` on the weight (the intercept
undecayed) converges to the **MAP** of logistic regression with a gaussian prior,

    y_i ~ Bernoulli(sigmoid(x_i . w + b)),     w_j ~ Normal(0, tau^2),     b flat,

whose negative log posterior, constants dropped, is

    U(w, b) = sum_i CE_i(w, b) + ||w||^2 / (2 tau^2),     CE_i = -log p(y_i | x_i, w, b),

the cross-entropy summed (not averaged) over the n rows. SGD's `weight_decay` adds `wd * w` to the
gradient: it is the gradient of `wd ||w||^2 / 2`. With the loss averaged over the rows
(`reduction="mean"`, the default) the training objective is

    (1/n) sum_i CE_i + (wd/2) ||w||^2  =  U / n     exactly when     wd = 1 / (n tau^2).

The **n** is there because the loss is a mean over the rows while the prior is one term, however many
rows there are: the same `weight_decay` is a weaker prior on a smaller data set. There is **no
factor 2**: regression's `wd = 2 sigma^2 / (n tau^2)` gets its 2 from `MSELoss` lacking the
`1/(2 sigma^2)` of the gaussian log density, while `BCEWithLogitsLoss` and `CrossEntropyLoss` already
*are* the negative log likelihood. scikit-learn's `LogisticRegression(C)` minimises
`C sum_i CE_i + ||w||^2 / 2 = C U` when **`C = tau^2`**: a sum, so `C` does not depend on n. A laplace
prior `w_j ~ Laplace(0, tau)` gives `U = sum_i CE_i + ||w||_1 / tau` instead. With `R0(w)` the
penalty, `||w||^2 / 2` (gaussian) or `||w||_1` (laplace), on the weights only:

| tool and objective | gaussian prior (sd `tau`) | laplace prior (scale `tau`) |
|---|---|---|
| `SGD(weight_decay=wd)` on the mean `BCEWithLogitsLoss` / `CrossEntropyLoss`, decay on the weight only | `wd = 1/(n tau^2)` | — |
| the same with `reduction="sum"` | `wd = 1/tau^2` | — |
| `LogisticRegression(C)`: `C sum CE + R0(w)` (`l1_ratio=0` or `1`) | `C = tau^2` | `C = tau` |
| `bw.map_classifier(lam=...)`: `U = sum CE + lam R0(w)` | `lam = 1/tau^2` | `lam = 1/tau` |

(all of it, with the softmax and the from-scratch penalties, in docs/classification.md). The plan:

1. the training loop against `bw.map_classifier` and `LogisticRegression` on a real data set;
2. L1: the laplace prior against `LogisticRegression(l1_ratio=1, solver="saga")`;
3. the full posterior: intervals, posterior predictive probabilities, calibration on held-out rows;
4. choosing the strength: cross-validation, the evidence, and full Bayes over `tau`;
5. three classes: softmax regression.
"""),
    ("params", """
# Parameters (the test suite runs this notebook with smaller values)
sgd_steps = 1000
num_samples = 500
num_chains = 4
num_warmup = 500  # NUTS
"""),
    ("code", """
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn

import bayeswd as bw
from bayeswd.classification import logistic_C, tau_from_torch_weight_decay, torch_weight_decay
from bayeswd.classification.plots import plot_calibration

torch.manual_seed(0)  # the initial weights of nn.Linear; everything else is seeded where it is used
data = load_breast_cancer(as_frame=True)  # 569 tumours, 30 features, target 1 = benign
X_train, X_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.3,
                                                    stratify=data.target, random_state=0)
scaler = StandardScaler().set_output(transform="pandas").fit(X_train)  # training rows' mean and sd
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
n, d = X_train.shape
print(f"{n} training rows, {len(X_test)} held out, {d} standardised features")


def gap(a, b):
    \"\"\"Largest absolute difference of two arrays (or tensors).\"\"\"
    return float(np.max(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))))
"""),
    ("md", """
## 1. The classic training loop is the MAP

A plain PyTorch loop: `nn.Linear(d, 1)` in float64, the mean `BCEWithLogitsLoss`, full-batch SGD
with momentum, and two parameter groups so that the decay acts on the weight only (the intercept has
a flat prior). We pick `weight_decay = 0.01` as one would in practice and read off the prior it
assumes: `tau = 1/sqrt(n wd)`.
"""),
    ("code", """
weight_decay = 0.01
tau = tau_from_torch_weight_decay(weight_decay, n)  # 1 / sqrt(n * weight_decay)
print(f"weight_decay = {weight_decay} on the mean loss over n = {n} rows  <=>  tau = {tau:.4f}, "
      f"C = tau^2 = {logistic_C(tau):.4f}  (back: {torch_weight_decay(tau, n):.4g})")

X_t = torch.tensor(X_train.to_numpy())  # float64
y_t = torch.tensor(y_train.to_numpy(), dtype=torch.float64)
net = nn.Linear(d, 1, dtype=torch.float64)
opt = torch.optim.SGD([{"params": [net.weight], "weight_decay": weight_decay},
                       {"params": [net.bias], "weight_decay": 0.0}], lr=0.5, momentum=0.9)
loss_fn = nn.BCEWithLogitsLoss()  # reduction="mean"
for _ in range(sgd_steps):
    opt.zero_grad()
    loss_fn(net(X_t).squeeze(-1), y_t).backward()
    opt.step()
w_sgd, b_sgd = net.weight.detach().squeeze(0).numpy(), net.bias.item()

fit = bw.map_classifier(X_train, y_train, tau=tau)  # Newton's method on U
print(f"map_classifier: C = {fit.C:.4f}, weight_decay = {fit.weight_decay:.4g}, "
      f"objective U = {fit.objective:.4f}")
print(f"SGD loop vs MAP, max |difference|: weights {gap(w_sgd, fit.coef):.1e}, "
      f"intercept {abs(b_sgd - fit.intercept):.1e}  (largest |w| {float(fit.coef.abs().max()):.2f})")
"""),
    ("md", """
The same optimum in scikit-learn, `C = tau^2`, with any solver that leaves the intercept
unpenalised: `lbfgs`, `newton-cg`, `newton-cholesky`, `sag`, `saga`. `newton-cholesky` is the same
algorithm as `map_classifier` and agrees to rounding; `lbfgs` with its defaults (`tol=1e-4`) stops well
short of the optimum (even with `tol=1e-14` it stops a few times 1e-7 away).
**`liblinear` penalises the intercept** (it is the weight of a constant column, under the same
penalty), so it fits a different model. And a lost factor of n, `C = 1/weight_decay`, is far off.
"""),
    ("code", """
rows = []
for label, model in [
    ("newton-cholesky, C = tau^2", LogisticRegression(C=tau**2, solver="newton-cholesky", tol=1e-12)),
    ("lbfgs (defaults), C = tau^2", LogisticRegression(C=tau**2)),
    ("liblinear, C = tau^2", LogisticRegression(C=tau**2, solver="liblinear", tol=1e-12)),
    ("newton-cholesky, C = 1/weight_decay", LogisticRegression(C=1 / weight_decay, solver="newton-cholesky")),
]:
    model.fit(X_train, y_train)
    rows.append((label, gap(model.coef_[0], fit.coef), abs(model.intercept_[0] - fit.intercept)))
print(pd.DataFrame(rows, columns=["LogisticRegression", "max |w - MAP|", "|b - MAP|"]).to_string(
    index=False, float_format="{:.1e}".format))
"""),
    ("md", """
## 2. L1 is a laplace prior

`w_j ~ Laplace(0, tau)` (density `exp(-|w|/tau) / (2 tau)`) gives `U = sum CE + ||w||_1 / tau`:
`LogisticRegression(C=tau, l1_ratio=1, solver="saga")` (`l1_ratio=1` replaces `penalty="l1"` since
scikit-learn 1.8). `map_classifier` solves it by proximal Newton, whose soft-thresholding lands on exact
zeros (SGD with a subgradient of `|w|` would not: notebook 2). We take `tau = 0.1`.
"""),
    ("code", """
tau_l1 = 0.1
l1 = bw.map_classifier(X_train, y_train, prior="laplace", tau=tau_l1)
saga = LogisticRegression(C=logistic_C(tau_l1, "laplace"), l1_ratio=1, solver="saga", tol=1e-10,
                          max_iter=100_000).fit(X_train, y_train)
zeros, zeros_saga = l1.coef.numpy() == 0, saga.coef_[0] == 0
print(f"C = tau = {l1.C}: exact zeros {zeros.sum()} (bayeswd), {zeros_saga.sum()} (saga) of {d}; "
      f"the same pattern: {bool((zeros == zeros_saga).all())}")
print(f"max |difference|: weights {gap(saga.coef_[0], l1.coef):.1e}, "
      f"intercept {abs(saga.intercept_[0] - l1.intercept):.1e}")
print("features kept:", list(X_train.columns[~zeros]))
"""),
    ("md", """
## 3. The full posterior

The MAP is one point. The posterior of logistic regression has no closed form, so we sample it:
`bw.sample_posterior(X, y, family="bernoulli", tau=tau)`. `method="auto"` first builds the Laplace
approximation `Normal(MAP, H^{-1})` (`H` the Hessian of `U` at the MAP) and tries it as the proposal
of an independence Metropolis-Hastings sampler; if a pilot accepts often enough it keeps that
(exact, and fast: independent proposals in batched matrix products), otherwise it runs NUTS.
`post.method` says which ran, `post.settings["method_choice"]` why.
"""),
    ("code", """
post = bw.sample_posterior(X_train, y_train, family="bernoulli", tau=tau, num_samples=num_samples,
                           num_chains=num_chains, seed=0, progress_bar=False)
print(post)
print("method:", post.method, "|", post.settings["method_choice"])
ess = post.diagnostics["ess_bulk"]["coef"].min()
print(f"{post.wall_time:.2f} s; smallest bulk ESS of a weight: {ess:.0f} of {num_chains * num_samples} draws")
post.summary(kind="stats").head(6)
"""),
    ("md", """
Posterior means and 90% intervals of the eight weights with the largest MAP, against the MAP. The
intervals are wide: the radius, perimeter and area of a tumour are nearly the same feature, and the
data cannot tell their weights apart. With 398 rows and a gaussian prior the posterior is close to
gaussian, so its mean sits close to the mode.
"""),
    ("code", """
draws = post.samples["coef"].reshape(-1, d).numpy()  # (chains x draws, d)
top = np.argsort(-np.abs(fit.coef.numpy()))[:8][::-1]
lo, hi = np.quantile(draws[:, top], [0.05, 0.95], axis=0)
mean = draws[:, top].mean(0)
pos = np.arange(len(top))
fig, ax = plt.subplots(figsize=(7, 4))
ax.hlines(pos, lo, hi, color="C0", lw=2.5, alpha=0.7, label="posterior 90% interval")
ax.plot(mean, pos, "o", color="C0", label="posterior mean")
ax.plot(fit.coef.numpy()[top], pos, "x", color="C3", ms=8, mew=2, label="MAP (= SGD weight decay)")
ax.axvline(0, color="grey", lw=0.8)
ax.set_yticks(pos, X_train.columns[top])
ax.set_xlabel("weight (per standard deviation of the feature)")
ax.set_title(f"Logistic regression, gaussian prior tau = {tau:.3f}")
ax.legend(loc="lower right", fontsize="small")
fig.tight_layout()
"""),
    ("md", """
**Predictions.** The posterior predictive probability averages the sigmoid over the draws,
`P(y = 1 | x, data) = E[sigmoid(x . w + b)]`; the MAP's plug-in probability is `sigmoid(x . w* + b*)`.
Where the weights are uncertain the average is pulled towards 1/2: the Bayesian classifier is less
sure of itself exactly where it has less reason to be. Below, the held-out rows, and their calibration
(reliability diagram, `plot_calibration`): in each bin of predicted probability, the fraction of
tumours that were benign. Most rows are predicted near 0 or 1, so the middle bins hold a handful of
rows each (their bars are 90% intervals): five bins, and only a gross miscalibration would show.
"""),
    ("code", """
p_post = post.predict_proba(X_test)[:, 1].numpy()
p_map = fit.predict_proba(X_test)[:, 1].numpy()
fig, ax = plt.subplots(figsize=(5, 5))
ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
ax.scatter(p_map, p_post, s=14, c=y_test, cmap="coolwarm_r", edgecolor="k", linewidth=0.3)
ax.set_xlabel("MAP plug-in P(benign)")
ax.set_ylabel("posterior predictive P(benign)")
ax.set_title("Held-out rows (colour: the observed class)")
fig.tight_layout()
for name, p in [("posterior predictive", p_post), ("MAP plug-in", p_map)]:
    print(f"{name:21s} held-out log loss {log_loss(y_test, p):.4f}, "
          f"accuracy {np.mean((p > 0.5) == y_test):.3f}")
"""),
    ("code", """
ax = plot_calibration({"posterior predictive": post, "MAP plug-in": fit}, X_test, y_test, n_bins=5)
"""),
    ("md", """
**Gaussian against laplace.** For the same prior variance `tau^2` the laplace scale is `tau / sqrt(2)`
(a `Laplace(0, s)` has variance `2 s^2`). `method=bw.Gibbs(thin=3)` is the Polya-Gamma Gibbs sampler
(exact, bernoulli family; every third sweep kept); `"auto"` would pick NUTS here, for the same answer
many times slower. Two weights of the collinear size features: the laplace MAP puts the weight of the
whole group on `worst radius` and sets `worst area` exactly to zero, where the gaussian MAP spreads it
evenly. The laplace *posterior* does neither: the data cannot tell which of the collinear features
carries the weight, so its draws spread over all of them, with long tails and a peak at zero where the
prior has its kink, and no draw is exactly zero. Sparsity is a property of the mode, not of the
posterior (as for regression in notebook 2).
"""),
    ("code", """
s_lap = tau / np.sqrt(2)
lap = bw.sample_posterior(X_train, y_train, family="bernoulli", prior="laplace", tau=s_lap,
                          method=bw.Gibbs(thin=3), num_samples=num_samples, num_chains=num_chains,
                          seed=0, progress_bar=False)
lap_map = bw.map_classifier(X_train, y_train, prior="laplace", tau=s_lap)
print(f"laplace prior, scale {s_lap:.4f}: method {lap.method}, {lap.wall_time:.2f} s; "
      f"{int((lap_map.coef == 0).sum())} of {d} MAP weights exactly zero, "
      f"{int((lap.samples['coef'] == 0).sum())} posterior draws exactly zero")
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
for ax, name in zip(axes, ["worst radius", "worst area"], strict=True):
    j = X_train.columns.get_loc(name)
    both = np.concatenate([post.samples["coef"][..., j].reshape(-1).numpy(),
                           lap.samples["coef"][..., j].reshape(-1).numpy()])
    bins = np.linspace(*np.quantile(both, [0.002, 0.998]), 50)
    for k, (label, p, m) in enumerate([("gaussian", post, fit), ("laplace", lap, lap_map)]):
        ax.hist(p.samples["coef"][..., j].reshape(-1).numpy(), bins=bins, density=True, histtype="step",
                lw=1.8, color=f"C{k}", label=f"{label} posterior")
        w_map = float(m.coef[j])
        ax.axvline(w_map, color=f"C{k}", ls="--", lw=1.2, label=f"{label} MAP ({w_map:.2f})")
    ax.set_xlabel(f"weight of '{name}'")
    ax.legend(fontsize="small")
axes[0].set_ylabel("posterior density")
fig.suptitle(f"Same prior variance (sd {tau:.3f}): gaussian against laplace prior")
fig.tight_layout()
"""),
    ("md", """
## 4. Choosing the strength: cross-validation, the evidence, full Bayes

Because `U` sums the losses, one `C` is one prior whatever the number of rows, so cross-validation
can fit the folds (4/5 of the rows) and refit on all rows at the same `C`. `bw.classifier_cv` does
exactly what `LogisticRegressionCV(scoring="neg_log_loss")` does (same grid `logspace(-4, 4, Cs)`,
same stratified folds, same choice) with an unpenalised intercept.

The **evidence** `p(y | tau)` (`bw.classifier_evidence`, gaussian prior) is the Laplace approximation
at the MAP `theta* = (w*, b*)`, with `H` the Hessian of `U` in the `d + 1` parameters:

    log p(y | tau)  ~  -U(theta*) - (d/2) log(2 pi tau^2) + ((d + 1)/2) log(2 pi) - (1/2) log det H.
"""),
    ("code", """
cv = bw.classifier_cv(X_train, y_train, prior="gaussian", Cs=10, cv=5)
sk_cv = LogisticRegressionCV(Cs=10, cv=5, l1_ratios=(0,), scoring="neg_log_loss", solver="newton-cholesky",
                             tol=1e-10, use_legacy_attributes=False).fit(X_train, y_train)
ev = bw.classifier_evidence(X_train, y_train)
print(f"5-fold CV:  C = {cv.C_best:.4g} (tau = {cv.tau_best:.3f}); LogisticRegressionCV: C = {sk_cv.C_:.4g}")
print(f"evidence:   C = {ev.C:.4g} (tau = {ev.tau:.3f}), log p(y | tau) = {ev.log_evidence:.2f}")
print(f"weight_decay = {weight_decay} meant C = {fit.C:.4g}")
ax = bw.plot_classifier_selection(cv, ev)
"""),
    ("md", """
**Full Bayes** does not pick one `tau`: `tau=None` puts the weakly informative prior
`tau ~ HalfNormal(2.5 / s_x)` on it (a change of one feature sd moves the log odds by about 2.5 or less)
and samples it with the weights by NUTS (what `method="auto"` picks when `tau` is sampled; named here to
set its warm-up). Its posterior, as `C = tau^2`, against the two choices above.
"""),
    ("code", """
full = bw.sample_posterior(X_train, y_train, family="bernoulli", tau=None,
                           method=bw.NUTS(num_warmup=num_warmup), num_samples=num_samples,
                           num_chains=num_chains, seed=0, progress_bar=False)
print("method:", full.method, "| prior:", full.hyperpriors["tau"])
C_draws = full.samples["tau"].reshape(-1).numpy() ** 2
print(f"{full.wall_time:.1f} s; bulk ESS of tau {full.diagnostics['ess_bulk']['tau'].item():.0f}; "
      f"C: median {np.median(C_draws):.3g}, 90% interval {np.quantile(C_draws, [0.05, 0.95]).round(3)}")
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.hist(C_draws, bins=np.geomspace(C_draws.min(), C_draws.max(), 40), density=False, color="C0", alpha=0.6,
        label="posterior draws of C = tau^2")
ax.axvline(cv.C_best, color="C1", lw=2, label=f"5-fold CV ({cv.C_best:.3g})")
ax.axvline(ev.C, color="C2", lw=2, label=f"evidence maximum ({ev.C:.3g})")
ax.axvline(fit.C, color="grey", ls=":", lw=2, label=f"weight_decay = {weight_decay} ({fit.C:.3g})")
ax.set_xscale("log")
ax.set_title("Full Bayes over the prior scale: the posterior of C")
ax.set_xlabel("C = tau^2 (larger: weaker prior)")
ax.set_ylabel("draws")
ax.legend(loc="upper left", fontsize="small")
fig.tight_layout()
for label, p in [("MAP at the CV choice", cv.fit.predict_proba(X_test)[:, 1]),
                 ("MAP at the evidence maximum", ev.fit.predict_proba(X_test)[:, 1]),
                 ("posterior predictive, tau sampled", full.predict_proba(X_test)[:, 1])]:
    print(f"{label:34s} held-out log loss {log_loss(y_test, p.numpy()):.4f}")
"""),
    ("md", """
The evidence prefers a weaker prior than cross-validation here (as on the whole data set,
docs/classification.md), and the posterior of `C` spreads over about a decade around the evidence
maximum, with cross-validation's choice and the prior that `weight_decay = 0.01` assumed below nearly
all of it. On the held-out rows the three give similar log losses (printed above): full Bayes does not
bet on one strength, it averages over the plausible ones.

## 5. Three classes: softmax regression

`nn.Linear(d, K)` with `CrossEntropyLoss` and `weight_decay` on its weight puts the prior on **all K
columns** of `W` (the symmetric model; no reference class), and `wd = 1/(n tau^2)` as before.
scikit-learn's multinomial `LogisticRegression(C=tau^2)` and `bw.map_classifier(family="categorical")`
are the same model. The softmax ignores a shift common to all classes: the MAP's rows of `W` sum to
zero, and of the intercepts only the differences are determined (bayeswd fixes class 0's at 0,
scikit-learn makes them sum to zero, torch keeps the sum they started with), so we compare them
centred. Same `weight_decay` as above, on a smaller data set, hence a weaker prior.
"""),
    ("code", """
wine = load_wine(as_frame=True)  # 178 wines, 13 features, 3 cultivars
Xw_train, Xw_test, yw_train, yw_test = train_test_split(wine.data, wine.target, test_size=0.3,
                                                        stratify=wine.target, random_state=0)
scaler_w = StandardScaler().set_output(transform="pandas").fit(Xw_train)
Xw_train, Xw_test = scaler_w.transform(Xw_train), scaler_w.transform(Xw_test)
n_w, d_w = Xw_train.shape
K = 3
tau_w = tau_from_torch_weight_decay(weight_decay, n_w)
print(f"n = {n_w}: weight_decay = {weight_decay} <=> tau = {tau_w:.4f}, C = {logistic_C(tau_w):.4f}")

net_w = nn.Linear(d_w, K, dtype=torch.float64)
opt = torch.optim.SGD([{"params": [net_w.weight], "weight_decay": weight_decay},
                       {"params": [net_w.bias], "weight_decay": 0.0}], lr=0.5, momentum=0.9)
Xw_t, yw_t = torch.tensor(Xw_train.to_numpy()), torch.tensor(yw_train.to_numpy())
for _ in range(sgd_steps):
    opt.zero_grad()
    nn.CrossEntropyLoss()(net_w(Xw_t), yw_t).backward()
    opt.step()

fit_w = bw.map_classifier(Xw_train, yw_train, family="categorical", tau=tau_w)  # coef (d, K)
sk_w = LogisticRegression(C=tau_w**2, solver="newton-cholesky", tol=1e-12)  # multinomial: coef_ (K, d)
sk_w.fit(Xw_train, yw_train)


def centred(b):
    b = np.asarray(b, dtype=float)
    return b - b.mean()


W_sgd, b_w = net_w.weight.detach().numpy().T, net_w.bias.detach().numpy()
print(f"MAP vs LogisticRegression: weights {gap(sk_w.coef_.T, fit_w.coef):.1e}, "
      f"intercepts {gap(sk_w.intercept_, centred(fit_w.intercept)):.1e}")
print(f"MAP vs the SGD loop:       weights {gap(W_sgd, fit_w.coef):.1e}, "
      f"intercepts {gap(centred(b_w), centred(fit_w.intercept)):.1e}")
print(f"largest |row sum of W|: {float(fit_w.coef.sum(1).abs().max()):.1e}")
"""),
    ("md", """
The posterior (`family="categorical"`): the class probabilities of a few held-out wines, each the
posterior predictive mean with the 90% interval of `p(y = k | x, W, b)` over the draws, against the
MAP's plug-in probabilities. For each class the wine the model is surest of, then the three it is least
sure of. `method="auto"` would first try the Laplace approximation as an independence proposal and fall
back to NUTS: with 124 rows for 39 weights the posterior is far from gaussian (the pilot accepts fewer
than one proposal in ten). We ask for NUTS directly.
"""),
    ("code", """
post_w = bw.sample_posterior(Xw_train, yw_train, family="categorical", tau=tau_w,
                             method=bw.NUTS(num_warmup=num_warmup), num_samples=num_samples,
                             num_chains=num_chains, seed=0, progress_bar=False)
ess_w = post_w.diagnostics["ess_bulk"]["coef"].min()
print(post_w, f"{post_w.wall_time:.1f} s, smallest bulk ESS of a weight {ess_w:.0f}")
p_mean = post_w.predict_proba(Xw_test).numpy()
surest = [int(np.argmax(np.where(p_mean.argmax(1) == k, p_mean.max(1), -1))) for k in range(K)]
rows = np.array(surest + list(np.argsort(p_mean.max(1))[:3]))
lo, hi = np.quantile(post_w.proba_draws(Xw_test.iloc[rows]).numpy(), [0.05, 0.95], axis=0)  # (rows, K)
p_plug = fit_w.predict_proba(Xw_test.iloc[rows]).numpy()
table = pd.DataFrame({c: [f"{p_mean[r, k]:.3f} [{lo[i, k]:.3f}, {hi[i, k]:.3f}]" for i, r in enumerate(rows)]
                      for k, c in enumerate(wine.target_names)},
                     index=pd.Index(Xw_test.index[rows], name="wine"))
table.insert(0, "observed", wine.target_names[yw_test.iloc[rows]])
table["MAP plug-in"] = [" / ".join(f"{v:.3f}" for v in p) for p in p_plug]
table
"""),
    ("md", """
The plug-in probabilities of the MAP are the more confident ones; the intervals say how much the
data pin each probability down (for the ambiguous wines: hardly at all). Held-out accuracy and log loss
of both; on held-out wines that are mostly easy, the more confident plug-in scores the lower log loss:
"""),
    ("code", """
for label, p in [("posterior predictive", p_mean), ("MAP plug-in", fit_w.predict_proba(Xw_test).numpy())]:
    print(f"{label:21s} accuracy {np.mean(p.argmax(1) == yw_test.to_numpy()):.3f}, "
          f"log loss {log_loss(yw_test, p, labels=[0, 1, 2]):.4f}")
"""),
]

NOTEBOOKS = {
    "01_weight_decay_is_a_gaussian_prior.ipynb": NB1,
    "02_l1_against_l2.ipynb": NB2,
    "03_full_posteriors.ipynb": NB3,
    "04_choosing_lambda.ipynb": NB4,
    "05_scikit_learn.ipynb": NB5,
    "06_larger_than_memory.ipynb": NB6,
    "07_weight_decay_in_a_classifier.ipynb": NB7,
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nbformat.write(notebook(cells), HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()

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
sampler (the default `method="nuts"`): the same no-U-turn algorithm as Stan, on the potential energy
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
    ("code", """
print(nuts.summary().head(8))
print("LOO of the NUTS posterior:", az.loo(idata["NUTS"]).elpd_loo)
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
post = bw.sample_posterior(X, y, prior="gaussian", sigma=p.sigma, tau=None,
                           method=bw.NUTS(num_warmup=num_warmup), num_samples=num_samples,
                           num_chains=num_chains, seed=0, progress_bar=False)
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

NOTEBOOKS = {
    "01_weight_decay_is_a_gaussian_prior.ipynb": NB1,
    "02_l1_against_l2.ipynb": NB2,
    "03_full_posteriors.ipynb": NB3,
    "04_choosing_lambda.ipynb": NB4,
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nbformat.write(notebook(cells), HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()

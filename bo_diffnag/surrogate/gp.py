"""A GP that chooses the batch: BoTorch's ``SingleTaskGP`` with a zero-cost proxy as its mean.

The BO loop's ensemble guides DiffusionNAG's generation and the acquisition hill-climbs; on MobileNetV3 a
second model ranks the candidates they produce better than the ensemble itself does (it never selected
them, so it does not share their over-estimates, and its kernel shares what it learns between layers
with the same kernel size or expand ratio). :class:`ProxyMeanGP` is that model.
"""

from __future__ import annotations

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
from gpytorch.distributions import MultivariateNormal
from gpytorch.means import Mean
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor, nn

from bo_diffnag.models.proxies import proxy_value
from bo_diffnag.surrogate.ensemble import to_normal_scores

Proxy = Tensor | tuple[Tensor, Tensor]


class ProxyMean(Mean):
    """``m(x) = c + β z(x)``: ``z`` a zero-cost proxy of the encoding standardised over the training inputs,
    ``c`` and ``β`` learned with the GP's hyperparameters (``β = 0``: a constant mean)."""

    def __init__(self, proxy: Proxy, train_X: Tensor) -> None:
        super().__init__()
        self.proxy = proxy
        values = proxy_value(train_X, proxy)
        spread = values.std()
        self.register_buffer("shift", values.mean())
        # Training nets of equal size carry no slope information: z ≡ 0 then.
        self.register_buffer("scale", torch.where(spread > 0, spread, torch.ones_like(spread)))
        self.constant = nn.Parameter(torch.zeros((), dtype=train_X.dtype))
        self.slope = nn.Parameter(torch.zeros((), dtype=train_X.dtype))

    def forward(self, x: Tensor) -> Tensor:
        return self.constant + self.slope * (proxy_value(x, self.proxy) - self.shift) / self.scale


class ProxyMeanGP(SingleTaskGP):
    r"""Exact GP on architecture encodings: mean :class:`ProxyMean`, RBF ARD kernel on affine features.

    .. math:: f \sim \mathcal{GP}\big(c + \beta z(x),\; k_{\mathrm{RBF}}(xW + b,\, x'W + b)\big)

    with BoTorch's dimension-scaled lengthscale prior (``get_covar_module_with_dim_scaled_prior``) and its
    outcome standardisation; hyperparameters, ``c`` and ``β`` by maximum marginal likelihood
    (:meth:`fit`). Targets are the observations' normal scores by default (as the ensemble's).

    Args:
        train_X: ``[n, d]`` one-hot encodings (``d = N·F``).
        train_Y: ``[n, 1]`` observations; NaN rows are dropped.
        features: ``(W [d, k], b [k])``, what the kernel reads (e.g. MBv3's
            :meth:`~bo_diffnag.spaces.SearchSpace.factor_features`); ``None``: the encoding itself.
        proxy: weights ``w [d]`` or ``(w, Q)`` of a zero-cost proxy (:data:`bo_diffnag.models.PROXIES`) for the
            mean; ``None``: a constant mean.
        normal_scores: fit the normal scores of the observations (:func:`to_normal_scores`).

    Example:
        >>> X = torch.nn.functional.one_hot(torch.randint(7, (20, 8)), 7).flatten(1).double()
        >>> gp = ProxyMeanGP(X, X[:, :1] * 2.0, proxy=torch.ones(56, dtype=torch.double)).fit()
        >>> gp.posterior(X[:3]).mean.shape
        torch.Size([3, 1])
    """

    def __init__(
        self,
        train_X: Tensor,
        train_Y: Tensor,
        features: tuple[Tensor, Tensor] | None = None,
        proxy: Proxy | None = None,
        normal_scores: bool = True,
    ) -> None:
        if train_X.dim() != 2 or train_Y.shape != (train_X.shape[0], 1):
            raise ValueError(f"expected train_X [n, d] and train_Y [n, 1], got {tuple(train_X.shape)}, {tuple(train_Y.shape)}")
        keep = ~train_Y.isnan().squeeze(-1)
        if keep.sum() < 2:
            raise ValueError(f"need at least 2 non-NaN observations to fit the GP, got {int(keep.sum())}")
        train_X, train_Y = train_X[keep], train_Y[keep]
        d = train_X.shape[-1]
        if features is not None and (features[0].shape[0] != d or features[1].shape != features[0].shape[1:]):
            raise ValueError(f"features must be W [{d}, k] and b [k], got {tuple(features[0].shape)}, {tuple(features[1].shape)}")
        k = d if features is None else features[0].shape[1]
        mean = None if proxy is None else ProxyMean(proxy, train_X)
        super().__init__(
            train_X,
            to_normal_scores(train_Y) if normal_scores else train_Y,
            covar_module=get_covar_module_with_dim_scaled_prior(ard_num_dims=k),
            mean_module=mean,
            outcome_transform=Standardize(m=1),
        )
        self.features = None if features is None else (features[0].to(train_X), features[1].to(train_X))

    def forward(self, x: Tensor) -> MultivariateNormal:
        z = x if self.features is None else x @ self.features[0].to(x) + self.features[1].to(x)
        return MultivariateNormal(self.mean_module(x), self.covar_module(z))

    def fit(self, seed: int = 0) -> "ProxyMeanGP":
        """Fit hyperparameters, ``c`` and ``β`` by maximum marginal likelihood; returns the model (in eval mode).

        ``seed`` seeds the restarts BoTorch draws from the priors if a fit fails, so a refit is identical."""
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            fit_gpytorch_mll(ExactMarginalLogLikelihood(self.likelihood, self))
        return self.eval()

"""Noise-aware ensemble surrogate: a BoTorch ``EnsembleModel`` of small MLPs on architecture encodings.

Inputs are flattened one-hot matrices ``X ∈ [0, 1]^{N·F}`` (the encoding ``optimize_acqf_*`` works in).
Each member also takes a noise level ``σ`` (on the prior's ``[-1, 1]`` scale) and is trained on noised
encodings ``2X − 1 + σz`` with ``σ`` drawn from the prior's schedule, half of them clean, so that
``∇_{X_t} f(X_t, σ)`` is meaningful along the whole reverse diffusion (REFERENCE §1: the paper measured
noise-aware guidance well above guiding a clean predictor). At ``σ = 0`` a member is an ordinary
predictor. The noise level of a forward pass is set with :meth:`NoiseAwareEnsemble.at_noise_level`.
An optional affine feature map (a space's :meth:`~bo_diffnag.spaces.SearchSpace.surrogate_features`, e.g.
MBv3's ordinal kernel/expand/depth values) is applied to the noised encoding before the members; an
optional path encoding (a space's :meth:`~bo_diffnag.spaces.SearchSpace.path_encoding`, NB201's BANANAS paths)
of the estimated clean encoding is given to the members beside it; and an optional zero-cost proxy
polynomial in the encoding (e.g. the parameter count) is each member's prior mean.

All members are trained at once as one batched network (weights with a leading member dimension), in
float32 whatever the input precision (3–4× faster fits on a CPU; outputs are cast back).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from botorch.acquisition.objective import PosteriorTransform, ScalarizedPosteriorTransform
from botorch.models.ensemble import EnsembleModel
from botorch.models.transforms.outcome import Standardize
from botorch.posteriors.ensemble import EnsemblePosterior
from scipy.stats import rankdata
from torch import Tensor, nn

from bo_diffnag.diffusion.sde import VESDE
from bo_diffnag.models.proxies import proxy_value
from bo_diffnag.seeding import SeedLike, as_generator


class BatchedMLP(nn.Module):
    """``s`` independent MLPs ``[x, φ(σ)] → y`` evaluated together: weights have shape ``[s, in, out]``."""

    def __init__(self, members: int, in_dim: int, hidden: int, layers: int, noise_features: int, generator: torch.Generator) -> None:
        super().__init__()
        self.noise_features = noise_features
        dims = [in_dim + 2 * noise_features, *[hidden] * layers, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(dims[:-1], dims[1:]):
            bound = 1 / math.sqrt(fan_in)
            self.weights.append(nn.Parameter((torch.rand(members, fan_in, fan_out, generator=generator) * 2 - 1) * bound))
            self.biases.append(nn.Parameter((torch.rand(members, 1, fan_out, generator=generator) * 2 - 1) * bound))

    def forward(self, x: Tensor, sigma: Tensor, extra: Tensor | None = None) -> Tensor:
        """``x[s or 1, n, in − k]`` (rescaled by ``1/√(1 + σ²)``), ``extra[s or 1, n, k]`` (as is; ``k = 0`` if
        ``None``) and ``sigma[s or 1, n, 1]`` → ``[s, n, 1]``."""
        members = self.weights[0].shape[0]
        angles = torch.log1p(sigma) * torch.arange(1, self.noise_features + 1, dtype=x.dtype)
        inputs = [x / torch.sqrt(1 + sigma**2)] + ([] if extra is None else [extra.expand(*x.shape[:-1], -1)])
        h = torch.cat([*inputs, angles.sin(), angles.cos()], dim=-1)
        h = h.expand(members, *h.shape[-2:])
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < len(self.weights) - 1:
                h = torch.nn.functional.silu(h)
        return h


def to_normal_scores(Y: Tensor) -> Tensor:
    """``[n, 1]`` values → their normal scores ``Φ⁻¹((r_i − ½)/n)``, ``r_i`` the 1-based rank, ties averaged.

    Example:
        >>> to_normal_scores(torch.tensor([[10.0], [90.0], [91.0], [90.0]])).squeeze(-1)
        tensor([-1.1503,  0.0000,  1.1503,  0.0000])
    """
    rank = torch.from_numpy(rankdata(Y.squeeze(-1).cpu().numpy(), method="average"))
    return torch.special.ndtri((rank - 0.5) / len(rank)).to(Y).unsqueeze(-1)


class NoiseAwareEnsemble(EnsembleModel):
    """Ensemble of noise-aware MLP predictors, fitted on ``(train_X, train_Y)`` at construction.

    Args:
        train_X: ``[n, d]`` clean one-hot encodings (``d = N·F``), entries in ``{0, 1}``.
        train_Y: ``[n, 1]`` observations (standardised internally; NaN rows are dropped).
        sde: the prior's SDE, whose noise schedule the members are trained on.
        num_members: ensemble size (the reference uses 3).
        hidden, layers: member width and depth.
        epochs: full-batch Adam steps per fit; every step sees fresh noise.
        bootstrap: weigh each member's loss by a bootstrap resample of the observations (more member
            disagreement where data are scarce, i.e. more exploration).
        normal_scores: fit the normal scores ``Φ⁻¹((r_i − ½)/n)`` of the observations (``r_i`` the rank,
            ties averaged) instead of their values. A monotone warp, so maximisers are unchanged, that keeps
            a heavy lower tail (NB201's ~10 % collapsed cells) from dominating the fit of the top.
            ``train_targets`` and predictions are then on the normal-score scale.
        features: ``(W [d, k], b [k])``: members see ``2(x W + b) − 1`` for a (noised) ``[0, 1]``-scale
            encoding ``x`` instead of ``2x − 1``; ``None``: the one-hot encoding itself.
        prior_scale: randomized prior functions (Osband et al., 2018): member ``m`` predicts
            ``g_m(x, σ) + prior_scale · p_m(x, σ)`` with ``p_m`` a fixed, randomly initialised net of the same shape,
            standardised over the clean training inputs, and only ``g_m`` trained. Where data are dense ``g_m``
            cancels its prior; away from them the members keep their priors' disagreement, so the acquisition
            still sees uncertainty in regions the bootstrap members agree on. 0 (default): plain members.
        proxy: a zero-cost proxy of the encoding, ``w [d]`` for ``x·w`` or ``(w [d], Q [d, d])`` for
            ``x·w + xᵀQx``: e.g. the parameter count (:func:`bo_diffnag.models.parameter_count_weights`) or a
            fit of log-SynFlow (:func:`bo_diffnag.models.synflow_weights`,
            :func:`bo_diffnag.models.synflow_pairwise_weights`), used as a prior mean: member ``m`` predicts
            ``g_m(x, σ) + α_m z(x̂)`` with ``z`` the proxy standardised over the clean training inputs,
            ``x̂ = (x_t/(1 + σ²) + 1)/2`` the linear estimate of the clean encoding from a noised one, and ``α_m``
            the least-squares slope of the standardised targets on ``z`` under member ``m``'s bootstrap weights;
            ``g_m`` fits the residual. Away from the data the members extrapolate along the proxy ("bigger
            nets do better", as strong as each member's resample says), and where resamples disagree on the
            slope so do the members. ``None`` (default): no prior mean.
        paths: a path encoding ``[..., d] → [..., k]`` of ``[0, 1]``-scale encodings (a space's
            :meth:`~bo_diffnag.spaces.SearchSpace.path_encoding`). Members also see ``2 φ(x̂) − 1`` of the
            estimated clean encoding ``x̂`` (as for ``proxy``): the ops along each path together, an interaction
            that one-hot inputs leave a small MLP to discover from few labels. ``None`` (default): not used.
        seed: seed of initialisation and noise (same seed, same model).

    Example:
        >>> X = torch.nn.functional.one_hot(torch.randint(7, (20, 8)), 7).flatten(1).double()
        >>> model = NoiseAwareEnsemble(X, X[:, :1] * 2.0, VESDE(0.01, 10.0), seed=0)
        >>> model.posterior(X[:3].unsqueeze(1)).mean.shape
        torch.Size([3, 1, 1])
    """

    _num_outputs = 1

    def __init__(
        self,
        train_X: Tensor,
        train_Y: Tensor,
        sde: VESDE,
        num_members: int = 5,
        hidden: int = 128,
        layers: int = 2,
        epochs: int = 300,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        clean_fraction: float = 0.5,
        bootstrap: bool = False,
        normal_scores: bool = False,
        features: tuple[Tensor, Tensor] | None = None,
        prior_scale: float = 0.0,
        proxy: Tensor | tuple[Tensor, Tensor] | None = None,
        paths: Callable[[Tensor], Tensor] | None = None,
        seed: SeedLike = 0,
    ) -> None:
        super().__init__()
        if train_X.dim() != 2 or train_Y.shape != (train_X.shape[0], 1):
            raise ValueError(f"expected train_X [n, d] and train_Y [n, 1], got {tuple(train_X.shape)}, {tuple(train_Y.shape)}")
        keep = ~train_Y.isnan().squeeze(-1)
        if keep.sum() < 2:
            raise ValueError(f"need at least 2 non-NaN observations to fit the ensemble, got {int(keep.sum())}")
        self.train_inputs = (train_X[keep],)
        self.train_targets = to_normal_scores(train_Y[keep]) if normal_scores else train_Y[keep]
        self.sde = sde
        self._noise_level = 0.0
        if features is not None and (features[0].shape[0] != train_X.shape[-1] or features[1].shape != features[0].shape[1:]):
            raise ValueError(f"features must be W [{train_X.shape[-1]}, k] and b [k], got {tuple(features[0].shape)}, {tuple(features[1].shape)}")
        self.features = None if features is None else (features[0].float(), features[1].float())
        d = train_X.shape[-1]
        weights, pairwise = proxy if isinstance(proxy, tuple) else (proxy, None)
        if weights is not None and (weights.shape != (d,) or (pairwise is not None and pairwise.shape != (d, d))):
            shapes = tuple(weights.shape) if pairwise is None else (tuple(weights.shape), tuple(pairwise.shape))
            raise ValueError(f"proxy must be weights of shape ({d},) or a pair of shapes ({d},), ({d}, {d}), got {shapes}")
        self.proxy = None if weights is None else weights.float()
        self.proxy_pairwise = None if pairwise is None else pairwise.float()
        generator = as_generator(seed)
        self.outcome_transform = Standardize(m=1)
        y, _ = self.outcome_transform(self.train_targets)
        self.paths = paths
        in_dim = train_X.shape[-1] if features is None else features[0].shape[1]
        if paths is not None:
            in_dim += paths(train_X[:1].float()).shape[-1]
        self.net = BatchedMLP(num_members, in_dim, hidden, layers, noise_features=8, generator=generator)
        self.prior_scale = float(prior_scale)
        if self.prior_scale:
            self.prior_net = BatchedMLP(num_members, in_dim, hidden, layers, noise_features=8, generator=generator)
            self.prior_net.requires_grad_(False)
            # Each member's random prior is standardised over the clean training inputs: a zero-mean, unit-variance
            # random function on the scale of the standardised targets, times ``prior_scale``.
            clean = self.train_inputs[0].float().unsqueeze(0)
            zero = torch.zeros(1, clean.shape[1], 1)
            with torch.no_grad():
                raw = self.prior_net(self._featurize(2 * clean - 1), zero, self._path_features(clean))
            self.register_buffer("prior_shift", raw.mean(1, keepdim=True))
            self.register_buffer("prior_gain", self.prior_scale / raw.std(1, keepdim=True).clamp_min(1e-12))
        self._fit(self.train_inputs[0].float(), y.float(), epochs, lr, weight_decay, clean_fraction, bootstrap, generator)
        self.eval()

    @property
    def num_members(self) -> int:
        return self.net.weights[0].shape[0]

    def _fit(
        self,
        X: Tensor,
        y: Tensor,
        epochs: int,
        lr: float,
        weight_decay: float,
        clean_fraction: float,
        bootstrap: bool,
        generator: torch.Generator,
    ) -> None:
        self.outcome_transform.train(False)
        self.train()
        optimizer = torch.optim.AdamW(self.net.parameters(), lr=lr, weight_decay=weight_decay)
        signed = 2 * X - 1
        n = X.shape[0]
        target = y.expand(self.num_members, n, 1)
        # Bootstrap: member m weighs point i by how often it appears in m's resample of the n points.
        counts = torch.ones(self.num_members, n, 1, dtype=X.dtype)
        if bootstrap:
            draws = torch.randint(n, (self.num_members, n), generator=generator)
            counts = torch.zeros(self.num_members, n, dtype=X.dtype).scatter_add_(1, draws, torch.ones_like(draws, dtype=X.dtype)).unsqueeze(-1)
        if self.proxy is not None:
            size = self._proxy_value(X)
            spread = size.std().nan_to_num(0.0)
            self.register_buffer("proxy_shift", size.mean())
            # Training nets of equal size carry no slope information: z ≡ 0 there, and the slopes come out 0.
            self.register_buffer("proxy_scale", torch.where(spread > 0, spread, torch.ones_like(spread)))
            # Each member's slope of the targets on the standardised proxy, under its own bootstrap weights.
            z = self._standardised_proxy(X)
            covariance = (counts * z * target).sum(1, keepdim=True)
            self.register_buffer("proxy_slopes", covariance / (counts * z * z).sum(1, keepdim=True).clamp_min(1e-12))
        for _ in range(epochs):
            t = torch.rand(self.num_members, n, 1, generator=generator, dtype=X.dtype)
            clean = torch.rand(self.num_members, n, 1, generator=generator, dtype=X.dtype) < clean_fraction
            sigma = self.sde.sigma(t).masked_fill(clean, 0.0)
            noisy = signed + sigma * torch.randn(self.num_members, *X.shape, generator=generator, dtype=X.dtype)
            pred = self._members(noisy, sigma)
            loss = (counts * (pred - target) ** 2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    def _members(self, signed: Tensor, sigma: Tensor) -> Tensor:
        """The members' predictions on a (noised) ``[-1, 1]``-scale encoding: trained nets (reading the path
        encoding too, with ``paths``) plus, with ``prior_scale``, their fixed random priors and, with ``proxy``,
        the proxy prior mean."""
        clean = self._clean_estimate(signed, sigma)
        x, paths = self._featurize(signed), self._path_features(clean)
        out = self.net(x, sigma, paths)
        if self.prior_scale:
            out = out + (self.prior_net(x, sigma, paths) - self.prior_shift) * self.prior_gain
        if self.proxy is not None:
            out = out + self.proxy_slopes * self._standardised_proxy(clean)
        return out

    @staticmethod
    def _clean_estimate(signed: Tensor, sigma: Tensor) -> Tensor:
        """``x̂ = (x_t/(1 + σ²) + 1)/2``: E[x₀ | x_t] to first order for ±1 entries under noise σ, on the ``[0, 1]`` scale."""
        return (signed / (1 + sigma**2) + 1) / 2

    def _standardised_proxy(self, clean: Tensor) -> Tensor:
        """``z(x̂)``, the proxy of a (estimated) clean ``[0, 1]``-scale encoding, standardised over the training inputs."""
        return (self._proxy_value(clean).unsqueeze(-1) - self.proxy_shift) / self.proxy_scale

    def _path_features(self, clean: Tensor) -> Tensor | None:
        """``2 φ(x̂) − 1``, the path encoding of a (estimated) clean encoding (``None`` without ``paths``)."""
        return None if self.paths is None else 2 * self.paths(clean) - 1

    def _proxy_value(self, x: Tensor) -> Tensor:
        """The proxy ``x·w (+ xᵀQx)`` of ``[..., d]`` ``[0, 1]``-scale encodings."""
        return proxy_value(x, self.proxy if self.proxy_pairwise is None else (self.proxy, self.proxy_pairwise))

    def _featurize(self, signed: Tensor) -> Tensor:
        """Members' inputs from a (noised) ``[-1, 1]``-scale encoding: itself, or ``2(x W + b) − 1``."""
        if self.features is None:
            return signed
        W, b = (t.to(signed) for t in self.features)
        return 2 * (((signed + 1) / 2) @ W + b) - 1

    @contextmanager
    def at_noise_level(self, sigma: float | Tensor) -> Iterator["NoiseAwareEnsemble"]:
        """Within the block, inputs are read as noised encodings at level ``σ`` (0 = clean)."""
        previous = self._noise_level
        self._noise_level = float(sigma)
        try:
            yield self
        finally:
            self._noise_level = previous

    def posterior(
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        posterior_transform: PosteriorTransform | None = None,
        **kwargs,
    ) -> EnsemblePosterior:
        """BoTorch's ensemble posterior, also under a ``ScalarizedPosteriorTransform`` (which Ax always passes).

        BoTorch's ``scalarize_posterior`` only handles Gaussian posteriors, so the weighted sum is applied to
        the member predictions here: ``values @ weights + offset``, still an :class:`EnsemblePosterior`.
        """
        posterior = super().posterior(X, output_indices=output_indices, **kwargs)
        if posterior_transform is None:
            return posterior
        if isinstance(posterior_transform, ScalarizedPosteriorTransform):
            weights = posterior_transform.weights.to(posterior.values)
            values = (posterior.values @ weights + posterior_transform.offset).unsqueeze(-1)
            return EnsemblePosterior(values=values, weights=self.ensemble_weights)
        return posterior_transform(posterior=posterior, X=X)

    def forward(self, X: Tensor) -> Tensor:
        """``X[*batch, q, d]`` in ``[0, 1]`` scale → ``[*batch, s, q, 1]`` standardised predictions."""
        batch, q, d = X.shape[:-2], X.shape[-2], X.shape[-1]
        # The net's own precision (float32 from the fit; BoTorch's analytic acquisitions call ``.to(X)`` on the
        # model, which may have cast it to float64 since).
        dtype = self.net.weights[0].dtype
        flat = (2 * X.to(dtype) - 1).reshape(1, -1, d)
        sigma = torch.full((1, flat.shape[1], 1), self._noise_level, dtype=dtype)
        out = self._members(flat, sigma).to(X.dtype)  # [s, B*q, 1]
        return out.reshape(self.num_members, *batch, q, 1).movedim(0, -3)

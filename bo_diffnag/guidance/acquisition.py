"""Acquisition guidance: the gradient of a BoTorch acquisition function as a term of the score.

At every reverse-diffusion step the sampler calls ``guidance(x, σ)`` and adds the result to the prior's
score. :class:`AcquisitionGuidance` returns

    λ · (√D / σ) · ∇_x a / ‖∇_x a‖,

the acquisition gradient rescaled to ``λ`` times the typical norm ``√D/σ`` of the score at noise ``σ``
(``D = N·F``). The strength ``λ`` is therefore scale-free — the ratio of guidance to prior — and users do
not tune the 10,000s of REFERENCE §3, whose unnormalised weights depend on the label scale.

Two ways to evaluate ``a`` at a noisy ``x``:

* ``"noise_aware"`` (default when the acquisition's model is a :class:`NoiseAwareEnsemble`): the model reads
  ``x`` as a noised encoding at level ``σ``.
* ``"denoised"`` (any other model, e.g. a GP that Ax fits): ``a`` is evaluated on Tweedie's denoised estimate
  ``x̂_0 = x + σ² s(x, σ)`` and differentiated through the score network.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from botorch.acquisition import AcquisitionFunction
from torch import Tensor

from bo_diffnag.diffusion.exact_score import from_signed
from bo_diffnag.diffusion.prior import DiffusionPrior
from bo_diffnag.surrogate.ensemble import NoiseAwareEnsemble

GuidanceMode = Literal["auto", "noise_aware", "denoised"]


class AcquisitionGuidance:
    """Callable guidance term ``(x[B, N, F], σ[B]) → Tensor[B, N, F]`` for :func:`sample_reverse`.

    Args:
        acq_function: a BoTorch acquisition function over flattened one-hot encodings ``[b, q, N·F]``.
        prior: the diffusion prior being sampled (its score is needed in ``"denoised"`` mode).
        scale: ``λ``, the guidance norm relative to the score's typical norm.
        mode: ``"noise_aware"``, ``"denoised"`` or ``"auto"`` (noise-aware iff the model supports it).

    Example:
        >>> guidance = AcquisitionGuidance(acqf, prior, scale=1.0)  # doctest: +SKIP
        >>> prior.sample(256, seed=0, guidance=guidance)  # doctest: +SKIP
    """

    def __init__(
        self, acq_function: AcquisitionFunction, prior: DiffusionPrior, scale: float = 1.0, mode: GuidanceMode = "auto"
    ) -> None:
        model = getattr(acq_function, "model", None)
        if mode == "auto":
            mode = "noise_aware" if isinstance(model, NoiseAwareEnsemble) else "denoised"
        if mode == "noise_aware" and not isinstance(model, NoiseAwareEnsemble):
            raise ValueError("noise-aware guidance needs an acquisition function over a NoiseAwareEnsemble")
        if mode not in ("noise_aware", "denoised"):
            raise ValueError(f"unknown guidance mode {mode!r}; use 'auto', 'noise_aware' or 'denoised'")
        if scale < 0:
            raise ValueError(f"guidance scale must be >= 0, got {scale}")
        self.acq_function, self.prior, self.scale, self.mode = acq_function, prior, float(scale), mode
        self.model = model
        self.dim = prior.space.num_nodes * prior.space.num_ops
        # Feed the acquisition inputs in its model's training precision (BoTorch's convention: float64).
        train_inputs = getattr(model, "train_inputs", None)
        self.dtype = train_inputs[0].dtype if train_inputs else torch.double

    def acquisition(self, x: Tensor, sigma: float) -> Tensor:
        """``a`` at the signed-scale samples ``x[B, N, F]`` seen at noise ``σ`` (differentiable in ``x``)."""
        if self.mode == "denoised":
            x = x + sigma**2 * self.prior.score_model(x, torch.full(x.shape[:1], sigma))
            X = from_signed(x).clamp(0.0, 1.0)
            return self.acq_function(X.reshape(-1, 1, self.dim).to(self.dtype))
        X = from_signed(x).reshape(-1, 1, self.dim).to(self.dtype)
        with self.model.at_noise_level(sigma):
            return self.acq_function(X)

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor:
        if self.scale == 0:
            return torch.zeros_like(x)
        level = float(sigma[0])
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.acquisition(x, level).sum(), x)
        norm = grad.flatten(1).norm(dim=-1).clamp_min(1e-12).view(-1, 1, 1)
        return (self.scale * math.sqrt(self.dim) / level) * grad / norm

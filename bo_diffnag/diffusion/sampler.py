"""Reverse-time samplers for the architecture SDE, with a guidance hook.

A sampler integrates the reverse SDE (or its probability-flow ODE) from the prior to ``σ_min`` using a
score function ``score_fn(x, σ) ≈ ∇_x log p_σ(x)``. Guidance adds a term to the score at every predictor
and corrector step: ``score(x, σ) + guidance(x, σ)`` — e.g. ``w(σ) ∇_x a(x, σ)`` for an acquisition ``a``.
The last step returns the denoised mean (no noise), which is then discretised to one-hot rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from bo_diffnag.diffusion.sde import SDE
from bo_diffnag.seeding import SeedLike, as_generator

ScoreFn = Callable[[Tensor, Tensor], Tensor]
Guidance = Callable[[Tensor, Tensor], Tensor]
Predictor = Literal["reverse_diffusion", "euler_maruyama", "ode"]


@dataclass(frozen=True)
class SamplerConfig:
    """Settings of the predictor–corrector sampler.

    Attributes:
        steps: number of noise levels between ``σ_max`` and ``σ_min`` (geometric in ``σ``).
        predictor: ``"reverse_diffusion"`` (ancestral step ``x += (σ_i² − σ_{i+1}²) s + √(σ_i² − σ_{i+1}²) z``),
            ``"euler_maruyama"`` (Euler–Maruyama on the reverse SDE in ``t``) or ``"ode"`` (Euler on the
            probability-flow ODE ``dx/dσ = −σ s``; deterministic after the initial draw).
        corrector_steps: Langevin corrector steps before each predictor step (0 = none).
        snr: the corrector's signal-to-noise ratio, which sets its step size.
    """

    steps: int = 100
    predictor: Predictor = "reverse_diffusion"
    corrector_steps: int = 0
    snr: float = 0.16

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.predictor not in ("reverse_diffusion", "euler_maruyama", "ode"):
            raise ValueError(f"unknown predictor {self.predictor!r}; use reverse_diffusion, euler_maruyama or ode")
        if self.snr <= 0:
            raise ValueError(f"snr must be > 0, got {self.snr}")
        if self.corrector_steps < 0:
            raise ValueError(f"corrector_steps must be >= 0, got {self.corrector_steps}")


def sample_reverse(
    score_fn: ScoreFn,
    sde: SDE,
    shape: tuple[int, ...],
    config: SamplerConfig = SamplerConfig(),
    seed: SeedLike = None,
    guidance: Guidance | None = None,
) -> Tensor:
    """Draw ``x_0`` of ``shape = (B, N, F)`` by integrating the reverse-time SDE/ODE.

    With ``σ_i = σ(t_i)`` on ``t_i = 1 … 0`` (``steps`` points), each step applies
    ``corrector_steps`` Langevin updates then one predictor update from ``σ_i`` to ``σ_{i+1}``; the final
    update is Tweedie's denoised mean ``x + σ_min² s(x, σ_min)`` (no noise).

    Example:
        >>> from bo_diffnag.diffusion.sde import VESDE
        >>> x = sample_reverse(lambda x, s: -x / (1 + s.view(-1, 1, 1) ** 2), VESDE(), (2, 3, 4), seed=0)
        >>> x.shape
        torch.Size([2, 3, 4])
    """
    generator = as_generator(seed)
    t = torch.linspace(1.0, 0.0, config.steps)
    sigmas = sde.sigma(t)
    x = sde.prior_sample(shape, generator)
    batch = shape[0]

    def total_score(x: Tensor, sigma: Tensor) -> Tensor:
        sigma_b = sigma.expand(batch)
        score = score_fn(x, sigma_b)
        return score if guidance is None else score + guidance(x, sigma_b)

    for i in range(config.steps):
        sigma = sigmas[i]
        for _ in range(config.corrector_steps):
            x = _langevin_step(x, total_score(x, sigma), config.snr, generator)
        score = total_score(x, sigma)
        if i == config.steps - 1:
            x = x + sigma**2 * score  # Tweedie: the denoised mean, no noise
        elif config.predictor == "ode":
            x = x + sigma * (sigma - sigmas[i + 1]) * score
        elif config.predictor == "reverse_diffusion":
            var = sigma**2 - sigmas[i + 1] ** 2
            x = x + var * score + var.sqrt() * torch.randn(x.shape, generator=generator)
        else:
            _, g = sde.coefficients(x, t[i])
            dt = t[i] - t[i + 1]
            x = x + g**2 * dt * score + g * dt.sqrt() * torch.randn(x.shape, generator=generator)
    return x


def _langevin_step(x: Tensor, score: Tensor, snr: float, generator: torch.Generator) -> Tensor:
    """Song et al.'s annealed Langevin corrector: step ``ε = 2 (snr ‖z‖ / ‖s‖)²`` per sample."""
    noise = torch.randn(x.shape, generator=generator)
    dims = tuple(range(1, x.dim()))
    grad_norm = score.pow(2).sum(dims).sqrt().clamp_min(1e-12)
    noise_norm = noise.pow(2).sum(dims).sqrt()
    eps = (2 * (snr * noise_norm / grad_norm) ** 2).view(-1, *([1] * (x.dim() - 1)))
    return x + eps * score + (2 * eps).sqrt() * noise


def discretize(x: Tensor, rule: Literal["argmax", "threshold"] = "argmax") -> Tensor:
    """Continuous ``x ∈ [-1, 1]``-scale samples → ``{0, 1}`` matrices.

    ``"threshold"`` (the reference's rule) sets every entry above 0 (i.e. above 0.5 on the ``[0, 1]``
    scale) to 1, so a row with two such entries stays invalid. ``"argmax"`` (default) keeps only a row's
    largest entry, and only if it is above 0; a row with none is empty. Both leave rule violations
    between rows (an empty required slot, a wrong input/output row) for the validity filter — there is no
    repair.
    """
    if rule == "threshold":
        return (x > 0).to(x.dtype)
    if rule != "argmax":
        raise ValueError(f"unknown discretisation rule {rule!r}; use 'argmax' or 'threshold'")
    top, idx = x.max(-1, keepdim=True)
    return torch.zeros_like(x).scatter_(-1, idx, (top > 0).to(x.dtype))

"""Stochastic differential equations that noise architecture matrices (Song et al., 2021).

Architecture matrices are mapped to ``[-1, 1]`` (``x = 2·X − 1``) before diffusion, so an empty row is
all ``−1`` and a one-hot row has a single ``+1``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
from torch import Tensor


class SDE(ABC):
    """A forward SDE ``dx = f(x, t) dt + g(t) dW`` on ``t ∈ [0, 1]`` with Gaussian marginals.

    Subclasses provide the marginal ``p_t(x | x_0) = N(mean(x_0, t), std(t)² I)``, the coefficients and
    the prior ``p_1``; samplers only use this interface, so SDEs are swappable.
    """

    @abstractmethod
    def sigma(self, t: Tensor) -> Tensor:
        """Noise level ``σ(t)`` fed to the score network."""

    @abstractmethod
    def marginal(self, x0: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and standard deviation of ``p_t(x | x_0)``; ``t`` has one entry per batch element."""

    @abstractmethod
    def coefficients(self, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Drift ``f(x, t)`` and diffusion ``g(t)`` of the forward SDE."""

    @abstractmethod
    def prior_sample(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        """A draw from the prior ``p_1``."""


class VESDE(SDE):
    """Variance-exploding SDE: ``σ(t) = σ_min (σ_max/σ_min)^t``, ``f = 0``, ``g(t) = σ(t) √(2 log(σ_max/σ_min))``.

    Its marginal is ``p_t(x | x_0) = N(x_0, σ(t)² I)`` (taking ``x(0)`` already perturbed by ``σ_min``, as in
    Song et al.), and the prior is ``N(0, σ_max² I)``. Choose ``σ_max`` near the largest distance between
    two training matrices so the prior covers the data (REFERENCE §3's ``σ_max = 1`` for MBv3 does not).

    Example:
        >>> sde = VESDE(0.01, 10.0)
        >>> float(sde.sigma(torch.tensor(1.0)))
        10.0
    """

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 10.0) -> None:
        if not 0 < sigma_min < sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
        self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)
        self._log_ratio = math.log(self.sigma_max / self.sigma_min)

    def sigma(self, t: Tensor) -> Tensor:
        return self.sigma_min * torch.exp(t * self._log_ratio)

    def marginal(self, x0: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        return x0, self.sigma(t)

    def coefficients(self, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        return torch.zeros_like(x), self.sigma(t) * math.sqrt(2 * self._log_ratio)

    def prior_sample(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        return torch.randn(shape, generator=generator) * self.sigma_max

    def config(self) -> dict[str, float]:
        return {"sigma_min": self.sigma_min, "sigma_max": self.sigma_max}

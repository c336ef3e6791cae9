"""Deterministic samplers over ensemble members for BoTorch's MC acquisition functions."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from botorch.posteriors.ensemble import EnsemblePosterior
from botorch.sampling.index_sampler import IndexSampler


class MemberSampler(IndexSampler):
    """MC sample ``i`` is ensemble member ``members[i]``, for every candidate alike.

    BoTorch's default :class:`IndexSampler` draws a member at random per candidate, which makes rankings
    jitter between calls. ``MemberSampler(range(s))`` averages over the whole ensemble exactly (one sample
    per member); ``MemberSampler([k])`` is Thompson sampling with member ``k``.

    Example:
        >>> sampler = MemberSampler(range(5))
        >>> sampler.sample_shape
        torch.Size([5])
    """

    def __init__(self, members: Sequence[int]) -> None:
        super().__init__(sample_shape=torch.Size([len(members)]))
        self.members = torch.as_tensor(list(members), dtype=torch.long)

    def _construct_base_samples(self, posterior: EnsemblePosterior) -> None:
        if int(self.members.max()) >= posterior.ensemble_size:
            raise ValueError(f"member {int(self.members.max())} requested from an ensemble of {posterior.ensemble_size}")
        shape = self.sample_shape + posterior.batch_shape
        if self.base_samples is None or self.base_samples.shape != shape:
            members = self.members.to(posterior.device).view(-1, *[1] * len(posterior.batch_shape))
            self.register_buffer("base_samples", members.expand(shape).clone())

"""Building BoTorch acquisition functions over the ensemble surrogate by name."""

from __future__ import annotations

import torch
from botorch.acquisition import (
    AcquisitionFunction,
    LogExpectedImprovement,
    UpperConfidenceBound,
    qLogExpectedImprovement,
    qSimpleRegret,
    qUpperConfidenceBound,
)
from botorch.sampling.index_sampler import IndexSampler
from torch import Tensor

from bo_diffnag.surrogate.ensemble import NoiseAwareEnsemble
from bo_diffnag.surrogate.sampling import MemberSampler

ACQUISITIONS = ("qLogNEI", "qLogEI", "qUCB", "qSimpleRegret", "LogEI", "UCB", "TS", "ITS")


def make_acquisition(
    name: str,
    model: NoiseAwareEnsemble,
    X_pending: Tensor | None = None,
    beta: float = 2.0,
    seed: int = 0,
) -> AcquisitionFunction:
    """The acquisition function ``name`` over ``model`` (maximised; inputs ``[b, q, d]`` one-hot encodings).

    ``qLogNEI``/``qLogEI``/``qUCB``/``qSimpleRegret`` use :class:`MemberSampler` over all members (the exact
    ensemble average); ``LogEI``/``UCB`` are analytic on the ensemble mean and variance; ``TS`` is Thompson
    sampling (one seeded random member for all candidates); ``ITS`` is BANANAS' independent Thompson sampling
    (a seeded random member per candidate). ``best_f`` is the best observed (standardised) value.

    Example:
        >>> acqf = make_acquisition("qLogNEI", model)  # doctest: +SKIP
    """
    if name not in ACQUISITIONS:
        raise ValueError(f"unknown acquisition {name!r}; expected one of {list(ACQUISITIONS)}")
    train_X = model.train_inputs[0]
    best_f = model.train_targets.max()
    members = MemberSampler(range(model.num_members))
    if name == "qLogNEI":
        # With one deterministic MC sample per member, qLogNEI's incumbent is each member's best prediction
        # over the observed points: a constant, computed once (at σ = 0) instead of re-evaluating all
        # baseline points jointly with every candidate — the same value at 1/(n+1) of the cost.
        with torch.no_grad(), model.at_noise_level(0.0):
            incumbent = members(model.posterior(train_X)).squeeze(-1).max(dim=-1).values  # [s]
        return qLogExpectedImprovement(model, best_f=incumbent.unsqueeze(-1), sampler=members, X_pending=X_pending)
    if name == "qLogEI":
        return qLogExpectedImprovement(model, best_f=best_f, sampler=members, X_pending=X_pending)
    if name == "qUCB":
        return qUpperConfidenceBound(model, beta=beta, sampler=members, X_pending=X_pending)
    if name == "qSimpleRegret":
        return qSimpleRegret(model, sampler=members, X_pending=X_pending)
    if name == "LogEI":
        return LogExpectedImprovement(model, best_f=best_f)
    if name == "UCB":
        return UpperConfidenceBound(model, beta=beta)
    if name == "TS":
        member = int(torch.randint(model.num_members, (1,), generator=torch.Generator().manual_seed(seed)))
        return qSimpleRegret(model, sampler=MemberSampler([member]), X_pending=X_pending)
    return qSimpleRegret(model, sampler=IndexSampler(torch.Size([1]), seed=seed), X_pending=X_pending)

"""Building BoTorch acquisition functions by name over the ensemble surrogate or a GP."""

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
from botorch.models.model import Model
from botorch.sampling import SobolQMCNormalSampler
from botorch.sampling.index_sampler import IndexSampler
from torch import Tensor

from bo_diffnag.surrogate.ensemble import NoiseAwareEnsemble
from bo_diffnag.surrogate.sampling import MemberSampler

ACQUISITIONS = ("qLogNEI", "qLogEI", "qUCB", "qSimpleRegret", "LogEI", "UCB", "TS", "ITS")
#: The acquisitions that sample ensemble members (a GP has none).
MEMBER_ACQUISITIONS = ("TS", "ITS")
#: Quasi-MC samples of the MC acquisitions over a GP.
GP_MC_SAMPLES = 128


def make_acquisition(
    name: str,
    model: NoiseAwareEnsemble | Model,
    X_pending: Tensor | None = None,
    beta: float = 2.0,
    seed: int = 0,
) -> AcquisitionFunction:
    """The acquisition function ``name`` over ``model`` (maximised; inputs ``[b, q, d]`` one-hot encodings).

    ``qLogNEI``/``qLogEI``/``qUCB``/``qSimpleRegret`` use :class:`MemberSampler` over all members (the exact
    ensemble average); ``LogEI``/``UCB`` are analytic on the ensemble mean and variance; ``TS`` is Thompson
    sampling (one seeded random member for all candidates); ``ITS`` is BANANAS' independent Thompson sampling
    (a seeded random member per candidate). ``best_f`` is the best observed (standardised) value.

    Over any other BoTorch model (a GP such as :class:`~bo_diffnag.surrogate.ProxyMeanGP`) the MC acquisitions
    use ``GP_MC_SAMPLES`` seeded quasi-MC samples, and qLogNEI's incumbent is likewise the model's best
    posterior mean over the observed points; ``TS`` and ``ITS`` need an ensemble (``ValueError``).

    Example:
        >>> acqf = make_acquisition("qLogNEI", model)  # doctest: +SKIP
    """
    if name not in ACQUISITIONS:
        raise ValueError(f"unknown acquisition {name!r}; expected one of {list(ACQUISITIONS)}")
    if not isinstance(model, NoiseAwareEnsemble):
        return _model_acquisition(name, model, X_pending, beta, seed)
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


def _model_acquisition(name: str, model: Model, X_pending: Tensor | None, beta: float, seed: int) -> AcquisitionFunction:
    """:func:`make_acquisition` over a model that is not an ensemble (a GP with an outcome transform)."""
    if name in MEMBER_ACQUISITIONS:
        raise ValueError(f"{name} samples ensemble members; it needs a NoiseAwareEnsemble, got {type(model).__name__}")
    with torch.no_grad():
        incumbent = model.posterior(model.train_inputs[0]).mean.max()
        observed = model.outcome_transform.untransform(model.train_targets.unsqueeze(-1))[0].max()
    sampler = SobolQMCNormalSampler(torch.Size([GP_MC_SAMPLES]), seed=seed)
    acquisitions = {
        "qLogNEI": lambda: qLogExpectedImprovement(model, best_f=incumbent, sampler=sampler, X_pending=X_pending),
        "qLogEI": lambda: qLogExpectedImprovement(model, best_f=observed, sampler=sampler, X_pending=X_pending),
        "qUCB": lambda: qUpperConfidenceBound(model, beta=beta, sampler=sampler, X_pending=X_pending),
        "qSimpleRegret": lambda: qSimpleRegret(model, sampler=sampler, X_pending=X_pending),
        "LogEI": lambda: LogExpectedImprovement(model, best_f=observed),
        "UCB": lambda: UpperConfidenceBound(model, beta=beta),
    }
    return acquisitions[name]()

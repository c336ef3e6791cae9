"""Shared pieces of the acquisition optimisers: flat encodings and the final choice from a candidate pool."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.optim.optimize import optimize_acqf_discrete
from torch import Tensor

from bo_diffnag.spaces import SearchSpace


def encode_flat(space: SearchSpace, archs: Sequence[str], dtype: torch.dtype = torch.double) -> Tensor:
    """Architectures → flattened one-hot encodings ``[n, N·F]`` (the inputs of the surrogate)."""
    return space.encode_batch(list(archs)).flatten(1).to(dtype)


def decode_flat(space: SearchSpace, X: Tensor) -> list[str | None]:
    """Flattened encodings ``[n, N·F]`` → canonical strings (``None`` where invalid)."""
    if X.dim() != 2 or X.shape[-1] != space.num_nodes * space.num_ops:
        raise ValueError(f"expected {space.name} encodings of shape (n, {space.num_nodes * space.num_ops}), got {tuple(X.shape)}")
    return space.decode_batch(X.reshape(-1, *space.matrix_shape).float())


def avoided(space: SearchSpace, X_avoid: Tensor | None) -> set[str]:
    """Canonical strings of the (valid) rows of ``X_avoid``."""
    if X_avoid is None or len(X_avoid) == 0:
        return set()
    return {a for a in decode_flat(space, X_avoid) if a is not None}


def unique_new(archs: Iterable[str], exclude: set[str]) -> list[str]:
    """``archs`` without duplicates or members of ``exclude``, first occurrence order kept."""
    seen, out = set(exclude), []
    for arch in archs:
        if arch not in seen:
            seen.add(arch)
            out.append(arch)
    return out


def fill_with_random(
    space: SearchSpace, pool: Sequence[str], q: int, exclude: set[str], generator: torch.Generator
) -> list[str]:
    """``pool`` topped up with uniformly random architectures outside ``exclude`` until it holds ``q``.

    Late in a search a neighbourhood, or a collapsed guidance, can run out of new architectures; the
    proposal step must still return ``q`` (as long as the space has that many left).
    """
    pool = list(pool)
    while len(pool) < q and len(exclude) + len(pool) < space.cardinality:
        pool += unique_new(space.sample(q, seed=generator), exclude | set(pool))
    return pool


def acquisition_values(acq_function: AcquisitionFunction, X: Tensor, chunk_size: int = 2048) -> Tensor:
    """``a(x)`` of each row of ``X`` ``[n, N·F]`` as a batch of single points (``[n]``, no gradient)."""
    with torch.no_grad():
        return torch.cat([acq_function(chunk.unsqueeze(1)).reshape(-1) for chunk in X.split(chunk_size)])


def select_from_pool(
    acq_function: AcquisitionFunction,
    space: SearchSpace,
    pool: Sequence[str],
    q: int,
    X_avoid: Tensor | None = None,
    dtype: torch.dtype = torch.double,
    shortlist: int | None = None,
) -> tuple[Tensor, Tensor]:
    """The ``q`` best architectures of ``pool`` by exact acquisition value, never one of ``X_avoid``.

    ``q > 1`` is chosen sequentially greedily, each pick added to the acquisition's pending points
    (BoTorch's :func:`optimize_acqf_discrete`), when the acquisition is an MC one with several samples.
    Otherwise the ``q`` best marginal values are taken: analytic acquisitions (``LogEI``, ``UCB``) take no
    pending points, and with a single MC sample (``TS``, ``ITS``) every choice ties once the first pick is
    pending, so sequential greedy would return arbitrary pool entries. With ``shortlist``, sequential greedy
    runs over the ``shortlist`` candidates of highest single-point value only: a GP's joint MC acquisition over
    thousands of candidates costs seconds per pick. Returns
    ``(candidates [q', N·F], acq_values [q'])`` with ``q' = min(q, |pool \\ X_avoid|)``.
    """
    choices = unique_new(pool, avoided(space, X_avoid))
    if not choices:
        raise ValueError("no candidate architecture left after removing evaluated and pending ones")
    X = encode_flat(space, choices, dtype)
    q = min(q, len(choices))
    sampler = getattr(acq_function, "sampler", None)
    single_sample = sampler is not None and sampler.sample_shape.numel() == 1
    if q > 1 and (not hasattr(acq_function, "X_pending") or single_sample):
        values = acquisition_values(acq_function, X)
        top = values.topk(q).indices
        return X[top], values[top]
    if shortlist is not None and len(X) > shortlist:
        X = X[acquisition_values(acq_function, X).topk(shortlist).indices]
    candidates, values = optimize_acqf_discrete(acq_function, q=q, choices=X, unique=True)
    return candidates, values.reshape(-1)


#: Candidates that sequential greedy considers when a second acquisition chooses the batch (picks of the
#: MobileNetV3 GP's qLogNEI over whole pools of ~4,000 and over their 300 best were the same in the rounds checked).
SELECTION_SHORTLIST = 300


def select_by(
    acq_function: AcquisitionFunction, selection_acqf: AcquisitionFunction | None, space: SearchSpace, pool: Sequence[str], q: int
) -> tuple[Tensor, Tensor]:
    """:func:`select_from_pool` by ``selection_acqf`` over the pool's ``SELECTION_SHORTLIST`` best, or, without one,
    exactly by ``acq_function`` (the acquisition optimisers' ``selection_acqf`` argument)."""
    if selection_acqf is None:
        return select_from_pool(acq_function, space, pool, q)
    return select_from_pool(selection_acqf, space, pool, q, shortlist=SELECTION_SHORTLIST)

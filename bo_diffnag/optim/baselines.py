"""Baseline acquisition optimisers with the contract of :func:`optimize_acqf_diffusion`.

Each builds a pool of candidate architectures in its own way and returns the ``q`` best by exact
acquisition value (:func:`select_from_pool`), never an architecture of ``X_avoid``; so in a BO loop only the
proposal step differs between them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from botorch.acquisition import AcquisitionFunction
from torch import Tensor

from bo_diffnag.optim.local_search import hill_climb_acqf
from bo_diffnag.optim.pool import avoided, fill_with_random, select_by, select_from_pool, unique_new
from bo_diffnag.seeding import SeedLike, as_generator
from bo_diffnag.spaces import SearchSpace


def optimize_acqf_random(
    acq_function: AcquisitionFunction,
    space: SearchSpace,
    q: int = 1,
    num_candidates: int = 256,
    X_avoid: Tensor | None = None,
    seed: SeedLike = None,
) -> tuple[Tensor, Tensor]:
    """Best of ``num_candidates`` uniformly random architectures (random-pool acquisition optimisation)."""
    generator, exclude = as_generator(seed), avoided(space, X_avoid)
    pool = fill_with_random(space, unique_new(space.sample(num_candidates, seed=generator), exclude), q, exclude, generator)
    return select_from_pool(acq_function, space, pool, q)


def mutation_pool(
    space: SearchSpace, parents: Sequence[str], num_candidates: int, generator: torch.Generator, exclude: set[str]
) -> list[str]:
    """Up to ``num_candidates`` unique single-decision mutations of ``parents`` (round robin), outside ``exclude``."""
    pool: list[str] = []
    seen = set(exclude)
    neighbors = {parent: space.neighbors(parent) for parent in parents}  # what space.mutate draws from, once
    for _ in range(20 * num_candidates):  # bounded: small neighbourhoods can run out of new children
        if len(pool) >= num_candidates:
            break
        children = neighbors[parents[len(pool) % len(parents)]]
        child = children[int(torch.randint(len(children), (1,), generator=generator))]  # = space.mutate(parent)
        if child not in seen:
            seen.add(child)
            pool.append(child)
    return pool


def top_k(archs: Sequence[str], Y: Tensor, k: int) -> list[str]:
    """The ``k`` architectures with the highest observed value (NaN observations last)."""
    order = torch.argsort(torch.nan_to_num(Y.reshape(-1), nan=-float("inf")), descending=True)
    return [archs[i] for i in order[:k].tolist()]


def optimize_acqf_mutation(
    acq_function: AcquisitionFunction,
    space: SearchSpace,
    train_archs: Sequence[str],
    train_Y: Tensor,
    q: int = 1,
    num_candidates: int = 256,
    num_parents: int = 10,
    random_fraction: float = 0.0,
    X_avoid: Tensor | None = None,
    seed: SeedLike = None,
) -> tuple[Tensor, Tensor]:
    """BANANAS-style: mutate the ``num_parents`` best observed architectures, keep the best by acquisition.

    With ``random_fraction > 0`` that share of the pool is uniformly random instead ("mutation + random").
    """
    generator = as_generator(seed)
    exclude = avoided(space, X_avoid)
    num_random = round(random_fraction * num_candidates)
    pool = mutation_pool(space, top_k(train_archs, train_Y, num_parents), num_candidates - num_random, generator, exclude)
    if num_random:
        pool += unique_new(space.sample(num_random, seed=generator), exclude | set(pool))
    return select_from_pool(acq_function, space, fill_with_random(space, pool, q, exclude, generator), q)


def optimize_acqf_local_search(
    acq_function: AcquisitionFunction,
    space: SearchSpace,
    train_archs: Sequence[str],
    train_Y: Tensor,
    q: int = 1,
    num_starts: int = 10,
    max_evaluations: int = 2048,
    X_avoid: Tensor | None = None,
    seed: SeedLike = None,
    selection_acqf: AcquisitionFunction | None = None,
) -> tuple[Tensor, Tensor]:
    """Steepest-ascent hill climbing on the acquisition from the ``num_starts`` best observed architectures.

    The climbs (:func:`~bo_diffnag.optim.local_search.hill_climb_acqf`) stop at local optima or after
    ``max_evaluations`` acquisition evaluations in total. Every visited architecture is a candidate; the ``q``
    are chosen by ``selection_acqf`` (default ``acq_function``), as in :func:`optimize_acqf_diffusion`.
    """
    exclude = avoided(space, X_avoid)
    visited = hill_climb_acqf(acq_function, space, top_k(train_archs, train_Y, num_starts), max_evaluations)
    pool = [a for a in sorted(visited, key=visited.get, reverse=True) if a not in exclude]
    # The climbs are deterministic; the seed only draws the fallback when they find too few new architectures.
    pool = fill_with_random(space, pool, q, exclude, as_generator(seed))
    return select_by(acq_function, selection_acqf, space, pool, q)


def optimize_acqf_exhaustive(
    acq_function: AcquisitionFunction, space: SearchSpace, q: int = 1, X_avoid: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """The exact maximiser: every architecture of an enumerable space (NB201) scored."""
    if not hasattr(space, "enumerate"):
        raise ValueError(f"exhaustive optimisation needs an enumerable space; {space.name} is not")
    return select_from_pool(acq_function, space, space.enumerate(), q, X_avoid)

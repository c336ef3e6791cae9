"""Surrogate-free search on the true objective: first-improvement local search.

Written as a pure function of the evaluation history (no hidden state), so the core harness and the Ax
node make the same proposals and a reloaded experiment continues where it stopped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch

from bo_diffnag.spaces import SearchSpace


def _seed(seed: int, key: str) -> int:
    return int(hashlib.sha256(f"{seed}|{key}".encode()).hexdigest()[:15], 16) % 2**31


def local_search_incumbent(space: SearchSpace, archs: Sequence[str], values: Sequence[float], n_start: int) -> str:
    """The current point of first-improvement local search after evaluating ``archs`` in order.

    It starts at the best of the first ``n_start`` evaluations (the initial design); a later evaluation that
    is a neighbour of the current point and better becomes the current point (first improvement); one that
    is not a neighbour is a restart and becomes the current point.

    Example:
        >>> from bo_diffnag.spaces import get_space
        >>> space = get_space("nb201")
        >>> a = space.sample(1, seed=0)[0]
        >>> b = space.neighbors(a)[0]
        >>> local_search_incumbent(space, [a, b], [1.0, 2.0], n_start=1) == b
        True
    """
    if not archs:
        raise ValueError("local search needs at least one evaluated architecture")
    n_start = max(1, min(n_start, len(archs)))
    best = max(range(n_start), key=lambda i: values[i])
    current, current_value = archs[best], values[best]
    for arch, value in zip(archs[n_start:], values[n_start:]):
        if arch not in space.neighbors(current):
            current, current_value = arch, value
        elif value > current_value:
            current, current_value = arch, value
    return current


def next_local_search_arch(
    space: SearchSpace,
    archs: Sequence[str],
    values: Sequence[float],
    taken: set[str],
    n_start: int,
    seed: int = 0,
) -> str:
    """The next architecture first-improvement local search evaluates (larger ``values`` are better).

    Neighbours of the current point (:func:`local_search_incumbent`) are visited in an order seeded by
    ``seed`` and the current point; the first one not in ``taken`` (evaluated, failed or pending) is
    returned. At a local optimum (every neighbour taken) the search restarts at a uniformly random
    architecture outside ``taken``.

    Example:
        >>> from bo_diffnag.spaces import get_space
        >>> space = get_space("nb201")
        >>> start = space.sample(3, seed=0)
        >>> next_local_search_arch(space, start, [1.0, 3.0, 2.0], set(start), n_start=3) in space.neighbors(start[1])
        True
    """
    current = local_search_incumbent(space, archs, values, n_start)
    neighbours = space.neighbors(current)
    generator = torch.Generator().manual_seed(_seed(seed, current))
    for i in torch.randperm(len(neighbours), generator=generator).tolist():
        if neighbours[i] not in taken:
            return neighbours[i]
    return random_unseen_arch(space, taken, _seed(seed, f"restart|{len(taken)}"))


def random_unseen_arch(space: SearchSpace, taken: set[str], seed: int, max_draws: int = 1000) -> str:
    """A uniformly random architecture outside ``taken`` (rejection sampling, ``RuntimeError`` if none found)."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(max_draws):
        arch = space.sample(1, seed=generator)[0]
        if arch not in taken:
            return arch
    raise RuntimeError(f"no unevaluated {space.name} architecture in {max_draws} random draws")

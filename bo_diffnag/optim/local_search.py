"""Steepest-ascent hill climbing of an acquisition function over an architecture space's neighbourhoods."""

from __future__ import annotations

from collections.abc import Sequence

from botorch.acquisition import AcquisitionFunction

from bo_diffnag.optim.pool import acquisition_values, encode_flat
from bo_diffnag.spaces import SearchSpace


def hill_climb_acqf(
    acq_function: AcquisitionFunction, space: SearchSpace, starts: Sequence[str], max_evaluations: int = 2048
) -> dict[str, float]:
    """Climb ``acq_function`` from each of ``starts`` in turn; return every visited neighbour with its value.

    A climb scores all not yet visited neighbours ``N(x)`` of its current architecture ``x`` (one decision
    changed) and moves to ``argmax_{x' ∈ N(x)} a(x')`` as long as that improves on ``a(x)`` (the first move
    is always taken: a start's own value is not needed). All climbs together stop after
    ``max_evaluations`` acquisition evaluations. The starts themselves are not returned unless a climb
    visits them as a neighbour.

    Example:
        >>> values = hill_climb_acqf(acqf, space, top_k(train_archs, train_Y, 10))  # doctest: +SKIP
        >>> best = max(values, key=values.get)  # doctest: +SKIP
    """
    visited: dict[str, float] = {}
    evaluations = 0
    for start in starts:
        current, current_value = start, None
        while evaluations < max_evaluations:
            neighbors = [n for n in space.neighbors(current) if n not in visited]
            if not neighbors:
                break
            values = acquisition_values(acq_function, encode_flat(space, neighbors))
            evaluations += len(neighbors)
            visited.update(zip(neighbors, values.tolist()))
            best = int(values.argmax())
            if current_value is not None and values[best] <= current_value:
                break
            current, current_value = neighbors[best], float(values[best])
    return visited

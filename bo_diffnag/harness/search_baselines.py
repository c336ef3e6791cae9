"""Surrogate-free NAS baselines on the true objective, with the same trace as :func:`bo_diffnag.bo.run_bo`.

Random search, first-improvement local search and regularised evolution. Each starts from the seed's
initial design (:func:`bo_diffnag.bo.initial_design`, shared with every BO optimiser: common random
numbers), then proposes ``batch_size`` new architectures per round until ``budget`` unique architectures
are evaluated. Proposals are pure functions of the evaluation history and one seeded generator, so a
seed always gives the same trace.

Example:
    >>> from bo_diffnag.benchmarks import get_benchmark
    >>> trace = run_evolution(get_benchmark("nb201:cifar10"), budget=20, n_init=10, batch_size=5, seed=0)
    >>> trace["arch"].is_unique, int(trace["eval"].iloc[-1])
    (True, 20)
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import torch

from bo_diffnag.benchmarks import Benchmark
from bo_diffnag.bo import run_rounds
from bo_diffnag.search import next_local_search_arch, random_unseen_arch
from bo_diffnag.seeding import draw_seed
from bo_diffnag.spaces import SearchSpace

#: Regularised evolution never uses a population smaller than this (filled up with random architectures).
MIN_POPULATION = 10


def run_random_search(
    benchmark: Benchmark, budget: int = 100, n_init: int = 10, batch_size: int = 10, seed: int = 0, progress: bool = False
) -> pd.DataFrame:
    """Uniform random search over unevaluated architectures (after the shared initial design).

    Example:
        >>> from bo_diffnag.benchmarks import get_benchmark
        >>> len(run_random_search(get_benchmark("nb201:cifar10"), budget=12, n_init=10, batch_size=2))
        12
    """

    def propose(history: list[dict[str, Any]], q: int, generator: torch.Generator) -> list[str]:
        taken = {row["arch"] for row in history}
        out: list[str] = []
        for _ in range(q):
            out.append(random_unseen_arch(benchmark.space, taken, draw_seed(generator)))
            taken.add(out[-1])
        return out

    return run_rounds(benchmark, propose, budget, n_init, batch_size, seed, "random", progress)


def run_local_search(
    benchmark: Benchmark, budget: int = 100, n_init: int = 10, batch_size: int = 10, seed: int = 0, progress: bool = False
) -> pd.DataFrame:
    """First-improvement local search on the observed objective (no surrogate).

    It starts from the best architecture of the initial design and proposes unvisited neighbours of the
    current point (:func:`bo_diffnag.search.next_local_search_arch`), moving to the first better one;
    at a local optimum it restarts at a random architecture. A round of ``batch_size`` proposals treats the
    round's earlier proposals as taken, exactly like the Ax ``LocalSearchNode`` with pending trials, so
    ``batch_size=1`` is the classic sequential algorithm.

    Example:
        >>> from bo_diffnag.benchmarks import get_benchmark
        >>> len(run_local_search(get_benchmark("nb201:cifar10"), budget=12, n_init=10, batch_size=1))
        12
    """

    def propose(history: list[dict[str, Any]], q: int, generator: torch.Generator) -> list[str]:
        done = [row for row in history if row["status"] == "completed"]
        n_start = sum(row["round"] == 0 for row in done)
        archs, values = [row["arch"] for row in done], [row["objective"] for row in done]
        taken = {row["arch"] for row in history}
        out: list[str] = []
        for _ in range(q):
            out.append(next_local_search_arch(benchmark.space, archs, values, taken, n_start, seed=seed))
            taken.add(out[-1])
        return out

    return run_rounds(benchmark, propose, budget, n_init, batch_size, seed, "local_search", progress)


def run_evolution(
    benchmark: Benchmark,
    budget: int = 100,
    n_init: int = 10,
    batch_size: int = 10,
    seed: int = 0,
    progress: bool = False,
    max_retries: int = 100,
) -> pd.DataFrame:
    """Regularised (ageing) evolution, Real et al. 2019, on the observed objective.

    Population size ``P = max(n_init, 10)``: the initial design, filled up with random architectures when
    ``n_init < 10``. Each child comes from a tournament: ``S = max(2, ceil(P / 4))`` distinct members drawn
    uniformly (Real et al.'s ``P = 100, S = 25`` ratio), the best of them mutated in one decision
    (:meth:`SearchSpace.mutate`). Age-based removal means the population is always the ``P`` most recently
    evaluated architectures. A child that is already evaluated or proposed is redrawn (evaluations are
    unique); after ``max_retries`` redraws a random unevaluated architecture is used instead. A round's
    ``batch_size`` children are bred from the same population (asynchronous evolution).

    Example:
        >>> from bo_diffnag.benchmarks import get_benchmark
        >>> len(run_evolution(get_benchmark("nb201:cifar10"), budget=14, n_init=10, batch_size=2))
        14
    """
    size = max(n_init, MIN_POPULATION)
    tournament = max(2, math.ceil(size / 4))
    space = benchmark.space

    def propose(history: list[dict[str, Any]], q: int, generator: torch.Generator) -> list[str]:
        population = [row for row in history if row["status"] == "completed"][-size:]
        taken = {row["arch"] for row in history}
        out: list[str] = []
        for _ in range(q):
            if len(population) < size:
                child = random_unseen_arch(space, taken, draw_seed(generator))
            else:
                child = _breed(space, population, tournament, taken, generator, max_retries)
            out.append(child)
            taken.add(child)
        return out

    return run_rounds(benchmark, propose, budget, n_init, batch_size, seed, "evolution", progress)


def _breed(
    space: SearchSpace,
    population: list[dict[str, Any]],
    tournament: int,
    taken: set[str],
    generator: torch.Generator,
    max_retries: int,
) -> str:
    """One unevaluated child: mutate the winner of a size-``tournament`` tournament, redrawing on repeats."""
    for _ in range(max_retries):
        picks = torch.randperm(len(population), generator=generator)[:tournament].tolist()
        parent = max((population[i] for i in picks), key=lambda row: row["objective"])
        child = space.mutate(parent["arch"], seed=generator)
        if child not in taken:
            return child
    return random_unseen_arch(space, taken, draw_seed(generator))


def _draw_seed(generator: torch.Generator) -> int:
    return int(torch.randint(2**31, (1,), generator=generator))

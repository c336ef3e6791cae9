"""One factory for every NAS generation strategy: DiffusionNAG, the BO baselines, search baselines, Ax's own.

Example:
    >>> from ax.api.client import Client
    >>> from ax_integration import nas_generation_strategy, parameter_configs
    >>> from bo_diffnag.spaces import get_space
    >>> client = Client()
    >>> client.configure_experiment(parameters=parameter_configs(get_space("nb201")))
    >>> client.configure_optimization(objective="accuracy")
    >>> client.set_generation_strategy(nas_generation_strategy("nb201", optimizer="diffusion"))
"""

from __future__ import annotations

from typing import Any

from ax.api.utils.generation_strategy_dispatch import choose_generation_strategy
from ax.api.utils.structs import GenerationStrategyDispatchStruct
from ax.generation_strategy.generation_strategy import GenerationStrategy
from ax.generation_strategy.transition_criterion import MinTrials

from ax_integration.nodes import AcquisitionNode, InitialDesignNode, LocalSearchNode
from bo_diffnag.bo import OPTIMIZERS

#: ``OPTIMIZERS`` of the core loop (BO with that acquisition optimiser), plus surrogate-free
#: ``random`` search and first-improvement ``local_search``, and ``ax_default`` (Ax's own, unmodified).
STRATEGIES = (*OPTIMIZERS, "random", "local_search", "ax_default")


def nas_generation_strategy(
    space: str,
    optimizer: str = "diffusion",
    acquisition: str = "qLogNEI",
    n_init: int = 10,
    batch_size: int = 1,
    seed: int = 0,
    surrogate_options: dict[str, Any] | None = None,
) -> GenerationStrategy:
    """An Ax ``GenerationStrategy`` for NAS on ``space`` (``"nb201"`` or ``"mbv3"``).

    ``n_init`` trials from the seeded uniform initial design (the same for every optimiser and the core
    loop), then:

    * a core ``OPTIMIZERS`` name (``"diffusion"``, ``"mutation"``, ``"random_pool"``, ...): BO with the
      BO loop's ensemble, ``acquisition`` and that acquisition optimiser, proposing ``batch_size``
      architectures per round (set it to the number of trials you request at a time);
    * ``"random"``: uniform random search; ``"local_search"``: first-improvement local search on the
      observed objective;
    * ``"ax_default"``: Ax's own strategy for the same parameters (Sobol + BoTorch GP, ``n_init`` Sobol
      trials); ``acquisition`` and ``batch_size`` are ignored.

    Pending trials are excluded from proposals, and our strategies never propose an architecture twice.
    ``ax_default`` relies on Ax's deduplication, which its Sobol fallback skips: once Ax's model keeps
    proposing evaluated points, repeats can occur (``run_nas_experiment(count_unique=True)`` does not count them).
    """
    if optimizer not in STRATEGIES:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {list(STRATEGIES)}")
    if n_init < 1:
        raise ValueError(f"n_init must be >= 1, got {n_init}")
    if optimizer == "ax_default":
        return choose_generation_strategy(
            GenerationStrategyDispatchStruct(method="fast", initialization_budget=n_init, initialization_random_seed=seed)
        )
    if optimizer == "random":
        return GenerationStrategy(name="random", nodes=[InitialDesignNode(space, n_init=n_init, seed=seed, name="Random")])
    if optimizer == "local_search":
        search = LocalSearchNode(space, seed=seed)
    else:
        search = AcquisitionNode(
            space, optimizer, acquisition, batch_size=batch_size, seed=seed, surrogate_options=surrogate_options
        )
    initial = InitialDesignNode(
        space,
        n_init=n_init,
        seed=seed,
        transition_criteria=[MinTrials(threshold=n_init, transition_to=search.name, use_all_trials_in_exp=True)],
    )
    name = optimizer if optimizer == "local_search" else f"{optimizer}+{acquisition}"
    return GenerationStrategy(name=name, nodes=[initial, search])

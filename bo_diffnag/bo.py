"""A BO-NAS loop without Ax: surrogate → acquisition → proposal step → oracle, with a pandas trace.

Every optimiser shares the same surrogate (:class:`NoiseAwareEnsemble`) and acquisition, and the initial
design depends only on the seed, so runs with different optimisers differ only in the proposal step.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import torch
from botorch.acquisition import AcquisitionFunction
from tqdm.auto import tqdm

from bo_diffnag.benchmarks import Benchmark
from bo_diffnag.diffusion.prior import DEFAULT_SDE, DiffusionPrior
from bo_diffnag.diffusion.sde import VESDE
from bo_diffnag.models import PROXIES
from bo_diffnag.optim.baselines import (
    optimize_acqf_exhaustive,
    optimize_acqf_local_search,
    optimize_acqf_mutation,
    optimize_acqf_random,
    top_k,
)
from bo_diffnag.optim.diffusion import optimize_acqf_diffusion
from bo_diffnag.optim.pool import decode_flat, encode_flat
from bo_diffnag.seeding import SeedLike, as_generator, draw_seed
from bo_diffnag.spaces import SearchSpace
from bo_diffnag.surrogate import MEMBER_ACQUISITIONS, NoiseAwareEnsemble, ProxyMeanGP, make_acquisition

#: The BO loop's surrogate recipe (keyword arguments of :class:`NoiseAwareEnsemble`; ``surrogate_options``
#: override them). Bootstrap members: on NB201 CIFAR-10/100 (10 seeds, exhaustive qLogNEI, 100 evaluations)
#: the share of seeds reaching the optimum rose from 5/10 to 7/10 and from 7/10 to 10/10 — without it the
#: members agree early and some seeds never leave a sub-optimal basin. Normal scores: NB201's collapsed
#: cells (~10 % accuracy) no longer dominate the standardised fit; in the same setting the median evaluations
#: to the optimum fell from 73.5 to 62 (CIFAR-10, 7/10 → 8/10 seeds) and from 80.5 to 55 (CIFAR-100)
#: (benchmarks/results/bootstrap.md).
#: Randomized prior members (``prior_scale=1``) are not in the recipe: with DiffusionNAG they explore more and
#: lifted ImageNet16-120 (qLogNEI: seeds at the optimum by 150 from 3/10 to 7/10), but slowed CIFAR-10/100 and
#: cost 0.24–0.39 points on MBv3 at 100 evaluations (measured without the size prior:
#: benchmarks/results/compare_*_prior1_nosize/).
#: Size prior (``size_prior``, the loop's own option): the members extrapolate along the network's parameter
#: count (:func:`~bo_diffnag.models.parameter_count_weights`, ``NoiseAwareEnsemble(proxy=...)``), each with its
#: own bootstrap slope. DiffusionNAG, qLogNEI, 10 seeds, with vs without it (benchmarks/results/
#: compare_mbv3_noiseaware and compare_nb201_*_params vs compare_*_nosize): median evaluations to the optimum
#: 64 vs 69 on CIFAR-10 (but 8/10 vs 10/10 seeds reach it within 100) and 44.5 vs 54 on CIFAR-100 (10/10 vs
#: 9/10); ImageNet16-120 best validation accuracy at 100 evaluations 46.61 vs 46.41 (optimum found by 150 in
#: 5/10 vs 3/10 seeds); MBv3 83.74 / 84.19 vs 83.55 / 84.06 at 40 / 100 evaluations.
#: Which zero-cost proxy the prior mean follows (``prior_proxy``): ``"auto"`` takes the space's entry of
#: :data:`DEFAULT_PRIOR_PROXY`; ``"params"`` the parameter count, ``"synflow"`` a linear fit of log-SynFlow,
#: ``"synflow_pairwise"`` a fit with the products of every two rows' ops (:data:`bo_diffnag.models.PROXIES`).
#: ``size_prior`` switches the prior mean on or off, whichever the proxy.
#: Path encoding (``path_encoding``, the loop's own option): where the space has cell paths (NB201), the members
#: also read BANANAS' path encoding (:meth:`~bo_diffnag.spaces.SearchSpace.path_encoding`); spaces without
#: paths (MBv3) are unaffected. The path encoding gives the members each path's ops together, which one-hot
#: inputs leave them to find from a few dozen labels. 10 seeds, qLogNEI, noise-aware members, with vs without
#: it (benchmarks/results/compare_nb201_*_noiseaware vs compare_nb201_*_nopaths), median evaluations to the
#: optimum with DiffusionNAG: 39.5 vs 42.5 on CIFAR-10 (9/10 vs 10/10 seeds within 100: one seed stays in
#: another basin, so test accuracy at 100 is 94.29 vs 94.37), 25 vs 31.5 on CIFAR-100 (10/10 either way).
#: Fresh seeds 10-19 (compare_nb201_*_noiseaware_seeds10 vs compare_nb201_*_nopaths_seeds10): 53.5 either way
#: on CIFAR-10, 36 vs 40.5 on CIFAR-100 (10/10 seeds each); over all 20 seeds 46 vs 52.5 and 30.5 vs 35.5 (95%
#: intervals of the medians [38, 60] vs [32, 57] and [24, 41] vs [31, 51]).
#: ImageNet16-120: the optimum found by 150 in 7/10 vs 6/10 seeds (by 100: 5/10 vs 2/10), mean validation
#: regret at 100 evaluations 0.038 vs 0.087.
#: Clean-only members (``clean_fraction=1``): the members fit the observed encodings only, not DiffusionNAG's
#: noise-aware mix (half of each member's batches at a random diffusion time), and the guidance still queries them on
#: the noised samples. Half of a noise-aware member's fit goes to noised encodings, whose labels it cannot predict
#: well. DiffusionNAG, qLogNEI, 10 seeds, clean-only vs noise-aware members (benchmarks/results/compare_* vs
#: compare_*_noiseaware): MBv3 84.07 / 84.40 vs 83.98 / 84.37 at 40 / 100 evaluations (fresh seeds 10-19,
#: compare_mbv3_variants_seeds10: 84.14 / 84.45 vs 83.89 / 84.27; over the 20 seeds ahead on 12 / 14 of them, paired
#: t-test p = 0.013 / 0.093); NB201 median evaluations to the optimum 38.5 vs 39.5 on CIFAR-10 (10/10 vs 9/10 seeds
#: within 100: the seed held in another basin leaves it), 26 vs 25 on CIFAR-100 (10/10 either way); fresh seeds 10-19
#: (compare_nb201_*_seeds10 vs compare_nb201_*_noiseaware_seeds10) 40 vs 53.5 and 27.5 vs 36; over the 20 seeds 40
#: [30, 45] vs 46 [38, 60] and 26 [20, 40] vs 30.5 [24, 41] (95% intervals of the medians; within 100: 20/20 vs 19/20
#: and 20/20); ImageNet16-120 optimum found by 150 in 10/10 vs 7/10 seeds (by 100: 6/10 vs 5/10), mean validation
#: regret at 40 / 100 evaluations 0.26 / 0.033 vs 0.39 / 0.038. On MBv3 the acquisition hill-climb and the generated
#: pool alone gain most (84.55 vs 84.33 and 84.41 vs 84.19 at 100); on CIFAR-100 the generated pool alone is slower
#: (median 27 vs 23, 9/10 vs 10/10 seeds within 100).
SURROGATE_DEFAULTS: dict[str, Any] = {
    "bootstrap": True, "normal_scores": True, "size_prior": True, "prior_proxy": "auto", "path_encoding": True,
    "clean_fraction": 1.0, "selection_model": "auto",
}
#: The proxy of ``prior_proxy="auto"`` per space (other spaces: ``"params"``). NB201: the pairwise SynFlow fit,
#: which ranks the best cells better than the linear fit and the size (benchmarks/results/proxies.md). 10 seeds,
#: qLogNEI, pairwise vs linear SynFlow fit, both without the path encoding (benchmarks/results/compare_nb201_*_nopaths
#: vs compare_nb201_*_synflow), median evaluations to the optimum with refinement (``diffusion``): 42.5 vs 57 on
#: CIFAR-10 (10/10 seeds within 100
#: either way; fresh seeds 10-19: 53.5 vs 63.5), 31.5 vs 41 on CIFAR-100; without refinement 48.5 vs 54 and
#: 32 vs 52. ImageNet16-120: optimum found by 150 in 6/10 vs 7/10 seeds. MBv3: the parameter count, which ranks
#: subnets better than SynFlow (rank correlation with accuracy 0.66 vs 0.39, benchmarks/results/proxies.md).
DEFAULT_PRIOR_PROXY: dict[str, str] = {"nb201": "synflow_pairwise", "mbv3": "params"}
#: Values of the ``prior_proxy`` option.
PRIOR_PROXIES = ("auto", *PROXIES)
#: The model that chooses each round's batch from the optimiser's candidates (``selection_model``, the loop's own
#: option; ``"auto"`` takes the space's entry here, other spaces ``"ensemble"``). ``"ensemble"``: the ensemble
#: that guided generation and the climbs; ``"gp"``: :class:`~bo_diffnag.surrogate.ProxyMeanGP` on the space's
#: factor features with the prior proxy (``size_prior``/``prior_proxy``) as its mean, under the same acquisition.
#: Every optimiser chooses with it, so only the proposal step still differs. On MobileNetV3 the ensemble ranks
#: the candidates it selected itself poorly (a winner's curse); the GP never selected them. One DiffusionNAG round
#: replayed per run (benchmarks/results/top_region.md): from the same candidate pools the GP's 10 picks reach
#: 84.34 / 84.51 at best after 50 / 90 evaluations, the ensemble's 84.16 / 84.40.
#: DiffusionNAG, qLogNEI, 10 seeds, GP vs ensemble choosing (benchmarks/results/compare_mbv3[_seeds10] vs
#: compare_mbv3_ensemble_selection[_seeds10]), best at 100 evaluations: 84.55 vs 84.40 on seeds 0-9 (7 / 3 seeds
#: better), 84.56 vs 84.45 on seeds 10-19 (7 / 3); the generated pool alone 84.60 vs 84.41 and 84.56 vs 84.39.
#: Not on NB201, where every surrogate-based optimiser already finds the optimum as soon as the exact maximiser does,
#: and the GP choosing is no better (compare_nb201_{cifar10,cifar100}_gp_selection, seeds 0-9): DiffusionNAG's
#: median evaluations to the optimum 38.5 vs 38.5 on CIFAR-10, 38.5 vs 26 on CIFAR-100, at 1.7-2 times the round cost.
DEFAULT_SELECTION_MODEL: dict[str, str] = {"mbv3": "gp"}
#: Values of the ``selection_model`` option.
SELECTION_MODELS = ("auto", "ensemble", "gp")
#: The ensemble options a ``surrogate_options`` dict may set: the scalar keyword arguments of
#: :class:`NoiseAwareEnsemble`, ``size_prior``, ``prior_proxy``, ``path_encoding`` and ``selection_model``.
SURROGATE_OPTIONS = (
    *(
        name
        for name in inspect.signature(NoiseAwareEnsemble).parameters
        if name not in ("train_X", "train_Y", "sde", "features", "proxy", "paths", "seed")
    ),
    "size_prior",
    "prior_proxy",
    "path_encoding",
    "selection_model",
)
OPTIMIZERS = (
    "diffusion",
    "diffusion_norefine",
    "random_pool",
    "mutation",
    "mutation_random",
    "acqf_local_search",
    "exhaustive",
)
#: The optimisers that sample from the diffusion prior (they load the space's pretrained one unless given one).
GENERATIVE_OPTIMIZERS = ("diffusion", "diffusion_norefine")
#: The optimisers whose candidates come from the ensemble's acquisition (guidance, climbs); the others only choose.
GUIDED_OPTIMIZERS = (*GENERATIVE_OPTIMIZERS, "acqf_local_search")
#: ``diffusion`` (our method): DiffusionNAG's generated pool, refined by acquisition hill-climbs from its
#: ``REFINE_STARTS`` best samples and from the ``REFINE_STARTS`` best observed architectures before the
#: batch is chosen (see :func:`optimize_acqf_diffusion`); ``diffusion_norefine``: the generated pool alone,
#: the paper's proposal step. Refinement became the default with noise-aware members, on MobileNetV3
#: (83.98 / 84.37 vs 83.74 / 84.19 at 40 / 100 evaluations, 10 seeds, qLogNEI; benchmarks/results/
#: compare_mbv3_noiseaware) and on NB201 before the path encoding (compare_nb201_cifar10_nopaths: optimum
#: within 100 evaluations in 10/10 vs 9/10 seeds, median 42.5 vs 48.5). With clean-only members the two are
#: level on MBv3 (84.07 / 84.40 vs 84.06 / 84.41; compare_mbv3; with fresh seeds 10-19, compare_mbv3_seeds10,
#: over 20 seeds 84.10 / 84.42 vs 84.03 / 84.40, ahead on 12 / 13 of them) and within seed noise on NB201 (optimum
#: within 100 evaluations in 10/10 vs 9/10 seeds on CIFAR-10 and on CIFAR-100, medians 38.5 vs 39 and 26 vs
#: 27; compare_nb201_*).
REFINE_STARTS = 10
TRACE_COLUMNS = ["eval", "round", "arch", "objective", "test", "best_objective", "best_test", "status", "seconds"]


def refine_options(space: SearchSpace, train_archs: list[str], train_Y: torch.Tensor) -> dict[str, Any]:
    """The refinement arguments of :func:`optimize_acqf_diffusion` in the ``diffusion`` optimiser: climbs from
    its ``REFINE_STARTS`` best samples and from the ``REFINE_STARTS`` best observed architectures."""
    return {"num_refine": REFINE_STARTS, "X_start": encode_flat(space, top_k(train_archs, train_Y, REFINE_STARTS))}


def propose(
    optimizer: str,
    acq_function: Any,
    space: SearchSpace,
    train_archs: list[str],
    train_Y: torch.Tensor,
    q: int,
    X_avoid: torch.Tensor,
    seed: int,
    prior: DiffusionPrior | None = None,
    selection_acqf: AcquisitionFunction | None = None,
) -> list[str]:
    """Run the named acquisition optimiser and return its ``q`` proposals as canonical strings.

    ``acq_function`` guides generation and the climbs; ``selection_acqf`` (default ``acq_function``) chooses the
    batch, and is the whole acquisition of the optimisers whose candidates need none (random, mutation, exhaustive).
    """
    select = selection_acqf or acq_function
    optimizers: dict[str, Callable[[], tuple[torch.Tensor, torch.Tensor]]] = {
        "diffusion": lambda: optimize_acqf_diffusion(
            acq_function, prior, q=q, X_avoid=X_avoid, seed=seed, selection_acqf=selection_acqf,
            **refine_options(space, train_archs, train_Y),
        ),
        "diffusion_norefine": lambda: optimize_acqf_diffusion(
            acq_function, prior, q=q, X_avoid=X_avoid, seed=seed, selection_acqf=selection_acqf
        ),
        "random_pool": lambda: optimize_acqf_random(select, space, q=q, X_avoid=X_avoid, seed=seed),
        "mutation": lambda: optimize_acqf_mutation(select, space, train_archs, train_Y, q=q, X_avoid=X_avoid, seed=seed),
        "mutation_random": lambda: optimize_acqf_mutation(
            select, space, train_archs, train_Y, q=q, random_fraction=0.5, X_avoid=X_avoid, seed=seed
        ),
        "acqf_local_search": lambda: optimize_acqf_local_search(
            acq_function, space, train_archs, train_Y, q=q, X_avoid=X_avoid, selection_acqf=selection_acqf
        ),
        "exhaustive": lambda: optimize_acqf_exhaustive(select, space, q=q, X_avoid=X_avoid),
    }
    if optimizer not in optimizers:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {list(OPTIMIZERS)}")
    candidates, _ = optimizers[optimizer]()
    return [a for a in decode_flat(space, candidates) if a is not None]


def propose_batch(
    space: SearchSpace,
    optimizer: str,
    acquisition: str,
    train_archs: list[str],
    train_Y: torch.Tensor,
    avoid_archs: list[str],
    q: int,
    seed: int,
    prior: DiffusionPrior | None = None,
    surrogate_options: dict[str, Any] | None = None,
) -> list[str]:
    """One BO proposal round: fit the ensemble on ``(train_archs, train_Y)``, build ``acquisition`` and
    return ``q`` new architectures from ``optimizer``, none of them in ``avoid_archs``.

    This is the step shared by :func:`run_bo` and the Ax generation node, so both run the same algorithm.

    Example:
        >>> from bo_diffnag.spaces import get_space
        >>> space = get_space("nb201")
        >>> archs = space.sample(8, seed=0)
        >>> Y = torch.rand(8, 1, dtype=torch.double)
        >>> len(propose_batch(space, "random_pool", "qLogNEI", archs, Y, archs, q=2, seed=0))  # doctest: +SKIP
        2
    """
    if optimizer in GENERATIVE_OPTIMIZERS and prior is None:
        prior = DiffusionPrior.pretrained(space.name)
    sde = prior.sde if prior is not None else DEFAULT_SDE[space.name]
    selection = selection_acquisition(space, acquisition, train_archs, train_Y, seed, surrogate_options)
    if selection is not None and optimizer not in GUIDED_OPTIMIZERS:
        acqf = selection  # the optimiser only chooses, so the ensemble would go unused
    else:
        model = fit_surrogate(space, train_archs, train_Y, sde, seed, surrogate_options)
        acqf = make_acquisition(acquisition, model, seed=seed)
    return propose(optimizer, acqf, space, train_archs, train_Y, q, encode_flat(space, avoid_archs), seed, prior, selection)


def fit_surrogate(
    space: SearchSpace,
    train_archs: list[str],
    train_Y: torch.Tensor,
    sde: VESDE,
    seed: int,
    options: dict[str, Any] | None = None,
) -> NoiseAwareEnsemble:
    """The loop's ensemble on ``(train_archs, train_Y)``: :data:`SURROGATE_DEFAULTS` updated by ``options``
    (``size_prior``: a zero-cost proxy of the space's network, ``prior_proxy``, as the members' prior mean;
    ``path_encoding``: the space's path encoding as extra member inputs, where it has cell paths)."""
    recipe = {**SURROGATE_DEFAULTS, **(options or {})}
    proxy = prior_proxy(space, recipe)
    selection_model_name(space, recipe)  # checked here too, so a bad option fails before any proposal
    for key in ("prior_proxy", "size_prior", "selection_model"):
        del recipe[key]
    paths = space.path_encoding if recipe.pop("path_encoding") and space.cell_paths else None
    return NoiseAwareEnsemble(encode_flat(space, train_archs), train_Y, sde, proxy=proxy, paths=paths, seed=seed, **recipe)


def prior_proxy(space: SearchSpace, recipe: dict[str, Any]) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None:
    """The zero-cost proxy that a ``recipe`` (:data:`SURROGATE_DEFAULTS` keys) makes the models' prior mean, or
    ``None`` without ``size_prior``."""
    proxy_name = recipe["prior_proxy"]
    if proxy_name not in PRIOR_PROXIES:
        raise ValueError(f"unknown prior_proxy {proxy_name!r}; expected one of {list(PRIOR_PROXIES)}")
    if proxy_name == "auto":
        proxy_name = DEFAULT_PRIOR_PROXY.get(space.name, "params")
    return PROXIES[proxy_name](space.name) if recipe["size_prior"] else None


def selection_model_name(space: SearchSpace, recipe: dict[str, Any]) -> str:
    """``"ensemble"`` or ``"gp"``: the ``selection_model`` of a ``recipe``, ``"auto"`` resolved for ``space``."""
    name = recipe["selection_model"]
    if name not in SELECTION_MODELS:
        raise ValueError(f"unknown selection_model {name!r}; expected one of {list(SELECTION_MODELS)}")
    return DEFAULT_SELECTION_MODEL.get(space.name, "ensemble") if name == "auto" else name


def selection_acquisition(
    space: SearchSpace,
    acquisition: str,
    train_archs: list[str],
    train_Y: torch.Tensor,
    seed: int,
    options: dict[str, Any] | None = None,
) -> AcquisitionFunction | None:
    """The acquisition that chooses the batch, over the loop's ``selection_model`` (:data:`SURROGATE_DEFAULTS`
    updated by ``options``): ``None`` when that is the ensemble itself, and for Thompson sampling (``TS``,
    ``ITS``), which draws ensemble members. ``"gp"``: :class:`ProxyMeanGP` on ``(train_archs, train_Y)``, reading
    the space's factor features, with the prior proxy as its mean and the ensemble's target warp."""
    recipe = {**SURROGATE_DEFAULTS, **(options or {})}
    if selection_model_name(space, recipe) == "ensemble" or acquisition in MEMBER_ACQUISITIONS:
        return None
    gp = ProxyMeanGP(
        encode_flat(space, train_archs),
        train_Y,
        features=space.factor_features(),
        proxy=prior_proxy(space, recipe),
        normal_scores=recipe["normal_scores"],
    ).fit(seed)
    return make_acquisition(acquisition, gp, seed=seed)


#: ``propose(history, q, generator) → q new architectures``; ``history`` holds the trace rows so far.
Proposer = Callable[[list[dict[str, Any]], int, torch.Generator], list[str]]


def split_history(rows: list[dict[str, Any]]) -> tuple[list[str], torch.Tensor, list[str]]:
    """A :data:`Proposer`'s view of the trace rows: ``(train_archs, train_Y [n, 1], seen_archs)``.

    ``train_archs``/``train_Y`` are the completed evaluations (failed ones are not fitted); ``seen_archs`` is
    every architecture evaluated so far, failed ones included, which a proposal must avoid.

    Example:
        >>> rows = [{"arch": "a", "objective": 1.0, "status": "completed"},
        ...         {"arch": "b", "objective": float("nan"), "status": "failed"}]
        >>> archs, Y, seen = split_history(rows)
        >>> archs, Y.tolist(), seen
        (['a'], [[1.0]], ['a', 'b'])
    """
    done = [r for r in rows if r["status"] == "completed"]
    train_Y = torch.tensor([[r["objective"]] for r in done], dtype=torch.double)
    return [r["arch"] for r in done], train_Y, [r["arch"] for r in rows]


def run_rounds(
    benchmark: Benchmark,
    propose: Proposer,
    budget: int,
    n_init: int = 10,
    batch_size: int = 10,
    seed: int = 0,
    desc: str = "search",
    progress: bool = False,
) -> pd.DataFrame:
    """The loop every optimiser shares: the seed's initial design, then timed rounds of ``propose``.

    The seed's generator draws the initial design first (so every optimiser starts from the same
    architectures) and is then passed to ``propose``. An evaluation that raises or returns NaN is recorded
    with status ``"failed"``.

    Returns:
        One row per evaluation: ``eval, round, arch, objective, test, best_objective, best_test, status,
        seconds`` (``seconds``: the proposal time of that row's round, 0 for the design).
    """
    if not 0 < n_init <= budget or batch_size < 1:
        raise ValueError(f"need 0 < n_init <= budget and batch_size >= 1, got {n_init}, {budget}, {batch_size}")
    if budget > benchmark.space.cardinality:
        raise ValueError(f"budget {budget} exceeds the {benchmark.space.cardinality} architectures of {benchmark.space.name}")
    rows: list[dict[str, Any]] = []
    best = {"objective": -math.inf, "test": math.nan}
    bar = tqdm(total=budget, disable=not progress, desc=desc)

    def record(archs: list[str], round_index: int, seconds: float) -> None:
        for arch in archs:
            try:
                result = benchmark.evaluate(arch)
                objective, test = float(result["objective"]), float(result["test"])
                status = "failed" if math.isnan(objective) else "completed"
            except Exception:  # a failed trial is data, not a crash
                objective, test, status = math.nan, math.nan, "failed"
            if status == "completed" and objective > best["objective"]:
                best.update(objective=objective, test=test)
            rows.append(
                {
                    "eval": len(rows) + 1,
                    "round": round_index,
                    "arch": arch,
                    "objective": objective,
                    "test": test,
                    "best_objective": best["objective"] if best["objective"] > -math.inf else math.nan,
                    "best_test": best["test"],
                    "status": status,
                    "seconds": seconds,
                }
            )
            bar.update(1)

    generator = as_generator(seed)
    record(initial_design(benchmark.space, n_init, generator), 0, 0.0)
    round_index = 0
    while len(rows) < budget:
        round_index += 1
        start = time.perf_counter()
        proposals = propose(rows, min(batch_size, budget - len(rows)), generator)
        record(proposals, round_index, time.perf_counter() - start)
        bar.set_postfix(best=f"{best['objective']:.3f}")
    bar.close()
    return pd.DataFrame(rows, columns=TRACE_COLUMNS)


def run_bo(
    benchmark: Benchmark,
    optimizer: str = "diffusion",
    acquisition: str = "qLogNEI",
    budget: int = 100,
    n_init: int = 10,
    batch_size: int = 10,
    seed: int = 0,
    prior: DiffusionPrior | None = None,
    surrogate_options: dict[str, Any] | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Bayesian optimisation of ``benchmark`` with ``budget`` unique architecture evaluations.

    ``n_init`` uniformly random architectures (same for every optimiser given ``seed``), then rounds of
    ``batch_size`` proposals (:func:`propose_batch`): fit the ensemble on the successful evaluations, build
    ``acquisition``, propose with ``optimizer``, evaluate. An evaluation that raises or returns NaN is
    recorded with status ``"failed"``, excluded from the fit, and never proposed again.

    Returns:
        The trace of :func:`run_rounds`.

    Example:
        >>> from bo_diffnag.benchmarks import get_benchmark
        >>> trace = run_bo(get_benchmark("nb201:cifar10"), "mutation", budget=12, n_init=10, batch_size=2)  # doctest: +SKIP
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {list(OPTIMIZERS)}")
    space = benchmark.space
    if optimizer in GENERATIVE_OPTIMIZERS and prior is None:
        prior = DiffusionPrior.pretrained(space.name)

    def propose(rows: list[dict[str, Any]], q: int, generator: torch.Generator) -> list[str]:
        train_archs, train_Y, seen = split_history(rows)
        return propose_batch(
            space, optimizer, acquisition, train_archs, train_Y, seen,
            q=q, seed=draw_seed(generator), prior=prior, surrogate_options=surrogate_options,
        )

    return run_rounds(benchmark, propose, budget, n_init, batch_size, seed, f"BO {optimizer}", progress)


def initial_design(space: SearchSpace, n: int, seed: SeedLike = None) -> list[str]:
    """``n`` unique uniformly random architectures; a seed gives the same design to every optimiser.

    Example:
        >>> from bo_diffnag.spaces import get_space
        >>> initial_design(get_space("nb201"), 3, seed=0) == initial_design(get_space("nb201"), 3, seed=0)
        True
    """
    generator = as_generator(seed)
    archs: list[str] = []
    while len(archs) < n:
        archs += [a for a in space.sample(n - len(archs), seed=generator) if a not in archs]
    return archs

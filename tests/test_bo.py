"""Tests of the BO-NAS loop ``run_bo``: trace contract, common random numbers, failures, determinism.

Every optimiser runs on the real NAS-Bench-201 CIFAR-10 table with the exact-score prior (no checkpoint
needed) and a short surrogate fit; values in the trace are checked against the oracle itself.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from bo_diffnag.benchmarks import get_benchmark
from bo_diffnag.bo import (
    OPTIMIZERS,
    TRACE_COLUMNS,
    fit_surrogate,
    propose_batch,
    refine_options,
    run_bo,
    selection_acquisition,
)
from bo_diffnag.diffusion.exact_score import ExactScore
from bo_diffnag.diffusion.prior import DEFAULT_SDE, DiffusionPrior
from bo_diffnag.models import parameter_count_weights, synflow_pairwise_weights, synflow_weights
from bo_diffnag.optim import decode_flat, diffusion_candidates, encode_flat, select_from_pool
from bo_diffnag.optim.pool import SELECTION_SHORTLIST
from bo_diffnag.spaces import get_space
from bo_diffnag.surrogate import ProxyMeanGP, make_acquisition

pytestmark = pytest.mark.usefixtures("single_thread")

BUDGET, N_INIT, BATCH = 14, 10, 2
SURROGATE = {"epochs": 100}


@pytest.fixture(scope="module")
def bench(data_dir):
    return get_benchmark("nb201:cifar10", data_dir=data_dir)


@pytest.fixture(scope="module")
def prior(bench):
    return DiffusionPrior(bench.space, DEFAULT_SDE["nb201"], ExactScore.uniform(bench.space))


@pytest.fixture(scope="module")
def trace(bench, prior):
    """``trace(optimizer, seed)``: a cached ``run_bo`` run with the module's small settings."""
    cache: dict[tuple[str, int], pd.DataFrame] = {}

    def get(optimizer: str, seed: int = 0) -> pd.DataFrame:
        if (optimizer, seed) not in cache:
            cache[optimizer, seed] = run_bo(
                bench, optimizer, budget=BUDGET, n_init=N_INIT, batch_size=BATCH, seed=seed, prior=prior,
                surrogate_options=SURROGATE,
            )
        return cache[optimizer, seed]

    return get


def check_trace(trace: pd.DataFrame, bench, budget: int) -> None:
    """The invariants of any trace: shape, unique valid archs, oracle values, running best."""
    assert list(trace.columns) == TRACE_COLUMNS
    assert len(trace) == budget
    assert trace["eval"].tolist() == list(range(1, budget + 1))
    assert trace["arch"].is_unique
    assert all(bench.space.canonical(a) == a for a in trace["arch"])
    assert trace["round"].is_monotonic_increasing
    done = trace["status"] == "completed"
    assert set(trace["status"]) <= {"completed", "failed"}
    for row in trace[done].itertuples():
        result = bench.evaluate(row.arch)
        assert row.objective == result["objective"] and row.test == result["test"]
    running = trace["objective"].where(done).cummax().ffill()  # NaN until the first completed evaluation
    np.testing.assert_array_equal(trace["best_objective"].to_numpy(), running.to_numpy())
    best = trace["best_objective"].dropna()
    assert best.is_monotonic_increasing
    # best_test is the test value of the row holding the running best
    for i, row in enumerate(trace.itertuples()):
        if not math.isnan(row.best_objective):
            incumbent = trace.iloc[: i + 1][done.iloc[: i + 1]]["objective"].idxmax()
            assert row.best_test == trace.loc[incumbent, "test"]


# ---------------------------------------------------------------------------------- the contract
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_trace_contract(trace, bench, optimizer: str) -> None:
    result = trace(optimizer)
    check_trace(result, bench, BUDGET)
    assert (result["status"] == "completed").all()
    assert result["round"].value_counts().sort_index().tolist() == [N_INIT] + [BATCH] * ((BUDGET - N_INIT) // BATCH)
    assert (result.loc[result["round"] == 0, "seconds"] == 0).all()
    assert (result.loc[result["round"] > 0, "seconds"] > 0).all()


def test_initial_design_is_common_to_all_optimizers(trace, bench) -> None:
    designs = {opt: trace(opt).loc[lambda t: t["round"] == 0, "arch"].tolist() for opt in OPTIMIZERS}
    first = designs[OPTIMIZERS[0]]
    assert len(first) == N_INIT
    assert all(design == first for design in designs.values())
    # the design alone (budget == n_init): the same for that seed, another one for another seed
    same = run_bo(bench, "random_pool", budget=N_INIT, n_init=N_INIT, seed=0)
    other = run_bo(bench, "random_pool", budget=N_INIT, n_init=N_INIT, seed=1)
    assert same["arch"].tolist() == first
    assert set(other["arch"]) != set(first)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_same_seed_same_trace(trace, bench, prior, optimizer: str) -> None:
    again = run_bo(
        bench, optimizer, budget=BUDGET, n_init=N_INIT, batch_size=BATCH, seed=0, prior=prior, surrogate_options=SURROGATE
    )
    columns = [c for c in TRACE_COLUMNS if c != "seconds"]
    pd.testing.assert_frame_equal(again[columns], trace(optimizer)[columns])


def test_different_seed_different_proposals(trace) -> None:
    a, b = trace("mutation_random", 0), trace("mutation_random", 1)
    assert a["arch"].tolist() != b["arch"].tolist()


# ------------------------------------------------------------------------------------- failures
class FlakyBenchmark:
    """Wraps a benchmark: raises for archs whose first edge is ``none``, NaN objective for ``avg_pool_3x3``."""

    def __init__(self, bench, fail_after: int | None = None) -> None:
        self.inner, self.space, self.name = bench, bench.space, bench.name
        self.fail_after, self.calls, self.seen = fail_after, 0, []

    @staticmethod
    def first_op(arch: str) -> str:
        return arch.split("|")[1].split("~")[0]

    def evaluate(self, arch):
        self.calls += 1
        self.seen.append(arch)
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("worker lost")
        if self.first_op(arch) == "none":
            raise RuntimeError("training diverged")
        result = self.inner.evaluate(arch)
        if self.first_op(arch) == "avg_pool_3x3":
            result["objective"] = float("nan")
        return result


@pytest.mark.parametrize("optimizer", ["mutation", "exhaustive"])
def test_failed_evaluations_are_recorded_and_not_reproposed(bench, optimizer: str) -> None:
    flaky = FlakyBenchmark(bench)
    result = run_bo(flaky, optimizer, budget=16, n_init=10, batch_size=3, seed=2, surrogate_options=SURROGATE)
    check_trace(result, bench, 16)
    assert flaky.seen == result["arch"].tolist()  # every arch evaluated exactly once
    ops = result["arch"].map(FlakyBenchmark.first_op)
    failed = result["status"] == "failed"
    assert {"none", "avg_pool_3x3"} <= set(ops[result["round"] == 0])  # both failure kinds happen
    assert (failed == ops.isin(["none", "avg_pool_3x3"])).all()
    assert result.loc[failed, "objective"].isna().all()
    assert result.loc[ops == "none", "test"].isna().all()
    completed = result.loc[~failed, "objective"]
    assert result["best_objective"].iloc[-1] == completed.max()


def test_every_proposal_failing_still_finishes_without_repeats(bench) -> None:
    """All proposals fail, so the data (and the acquisition's argmax) never change: only avoiding failed
    architectures keeps the exhaustive optimiser from proposing the same ones again."""
    flaky = FlakyBenchmark(bench, fail_after=10)
    result = run_bo(flaky, "exhaustive", budget=18, n_init=10, batch_size=2, seed=0, surrogate_options=SURROGATE)
    assert len(result) == 18 and result["arch"].is_unique
    assert (result.loc[result["round"] > 0, "status"] == "failed").all()
    assert result["best_objective"].iloc[-1] == result.loc[result["status"] == "completed", "objective"].max()


# ----------------------------------------------------------------------------------- arguments
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"optimizer": "bananas"}, "unknown optimizer"),
        ({"budget": 5, "n_init": 10}, "n_init"),
        ({"budget": 10, "n_init": 0}, "n_init"),
        ({"budget": 10, "n_init": -1}, "n_init"),
        ({"budget": 12, "n_init": 10, "batch_size": 0}, "batch_size"),
    ],
)
def test_bad_arguments_raise(bench, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        run_bo(bench, **{"optimizer": "random_pool", **kwargs})


def test_unknown_acquisition_raises(bench) -> None:
    with pytest.raises(ValueError, match="unknown acquisition"):
        run_bo(bench, "random_pool", acquisition="qEI", budget=12, n_init=10, surrogate_options=SURROGATE)


# ---------------------------------------------------------------------------------------- MBv3
def test_mbv3_mutation_tiny_budget(data_dir) -> None:
    bench = get_benchmark("mbv3:imagenet", data_dir=data_dir)
    result = run_bo(bench, "mutation", budget=9, n_init=5, batch_size=2, seed=0, surrogate_options={"epochs": 50})
    check_trace(result, bench, 9)
    assert (result["status"] == "completed").all()
    assert result["round"].max() == 2


def test_loop_surrogate_uses_the_size_prior_unless_switched_off(bench) -> None:
    """NB201's default proxy is the pairwise SynFlow fit; ``prior_proxy`` picks another, ``size_prior`` switches it off."""
    archs = bench.space.sample(12, seed=0)
    Y = torch.tensor(bench.evaluate_batch(archs)["objective"].to_numpy(), dtype=torch.double).unsqueeze(-1)
    sde = DEFAULT_SDE["nb201"]
    default = fit_surrogate(bench.space, archs, Y, sde, seed=0, options=SURROGATE)
    w, Q, _ = synflow_pairwise_weights("nb201")
    assert torch.equal(default.proxy, w.float()) and torch.equal(default.proxy_pairwise, Q.float())
    linear = fit_surrogate(bench.space, archs, Y, sde, seed=0, options={**SURROGATE, "prior_proxy": "synflow"})
    assert torch.equal(linear.proxy, synflow_weights("nb201")[0].float()) and linear.proxy_pairwise is None
    params = fit_surrogate(bench.space, archs, Y, sde, seed=0, options={**SURROGATE, "prior_proxy": "params"})
    assert torch.equal(params.proxy, parameter_count_weights("nb201")[0].float())
    assert fit_surrogate(bench.space, archs, Y, sde, seed=0, options={**SURROGATE, "size_prior": False}).proxy is None
    with pytest.raises(ValueError, match="unknown prior_proxy 'flops'"):
        fit_surrogate(bench.space, archs, Y, sde, seed=0, options={**SURROGATE, "prior_proxy": "flops"})


def test_loop_surrogate_reads_the_path_encoding_where_the_space_has_paths(bench) -> None:
    archs = bench.space.sample(12, seed=0)
    Y = torch.tensor(bench.evaluate_batch(archs)["objective"].to_numpy(), dtype=torch.double).unsqueeze(-1)
    sde = DEFAULT_SDE["nb201"]
    default = fit_surrogate(bench.space, archs, Y, sde, seed=0, options=SURROGATE)
    assert default.paths == bench.space.path_encoding and default.net.weights[0].shape[1] == 56 + 180 + 16
    off = fit_surrogate(bench.space, archs, Y, sde, seed=0, options={**SURROGATE, "path_encoding": False})
    assert off.paths is None and off.net.weights[0].shape[1] == 56 + 16
    mbv3 = get_space("mbv3")
    assert fit_surrogate(mbv3, mbv3.sample(6, seed=0), Y[:6], DEFAULT_SDE["mbv3"], seed=0, options=SURROGATE).paths is None


def test_loop_members_fit_clean_encodings_unless_asked_for_noise_aware_ones(bench) -> None:
    archs = bench.space.sample(12, seed=0)
    Y = torch.tensor(bench.evaluate_batch(archs)["objective"].to_numpy(), dtype=torch.double).unsqueeze(-1)
    sde, X = DEFAULT_SDE["nb201"], encode_flat(bench.space, bench.space.sample(5, seed=1))
    fits = {
        fraction: fit_surrogate(bench.space, archs, Y, sde, seed=0, options={**SURROGATE, **options})
        for fraction, options in ((None, {}), (1.0, {"clean_fraction": 1.0}), (0.5, {"clean_fraction": 0.5}))
    }
    mean = {fraction: model.posterior(X).mean for fraction, model in fits.items()}
    assert torch.equal(mean[None], mean[1.0]) and not torch.allclose(mean[None], mean[0.5])


def test_mbv3_loop_surrogate_follows_the_parameter_count() -> None:
    space = get_space("mbv3")
    archs = space.sample(6, seed=0)
    model = fit_surrogate(space, archs, torch.arange(6.0, dtype=torch.double).unsqueeze(-1), DEFAULT_SDE["mbv3"], seed=0,
                          options=SURROGATE)
    assert torch.equal(model.proxy, parameter_count_weights("mbv3")[0].float())


def test_selection_model_is_a_gp_on_mbv3_and_the_ensemble_elsewhere(bench) -> None:
    """``selection_model="auto"``: MBv3 chooses its batches with a :class:`ProxyMeanGP` (parameter-count mean,
    kernel/expand factor features), NB201 with the ensemble; Thompson sampling always with the ensemble."""
    mbv3 = get_space("mbv3")
    archs = mbv3.sample(12, seed=0)
    Y = torch.linspace(80.0, 84.0, 12, dtype=torch.double).unsqueeze(-1)
    acqf = selection_acquisition(mbv3, "qLogNEI", archs, Y, seed=0)
    assert isinstance(acqf.model, ProxyMeanGP)
    assert torch.equal(acqf.model.mean_module.proxy, parameter_count_weights("mbv3")[0])
    assert acqf.model.features[0].shape == (180, 120)
    X = encode_flat(mbv3, mbv3.sample(5, seed=1)).unsqueeze(1)
    again = selection_acquisition(mbv3, "qLogNEI", archs, Y, seed=0)
    assert torch.equal(acqf(X), again(X))  # same seed, same fit and samples
    assert selection_acquisition(mbv3, "qLogNEI", archs, Y, seed=0, options={"selection_model": "ensemble"}) is None
    assert selection_acquisition(mbv3, "TS", archs, Y, seed=0) is None
    nb_archs = bench.space.sample(12, seed=0)
    assert selection_acquisition(bench.space, "qLogNEI", nb_archs, Y, seed=0) is None
    gp = selection_acquisition(bench.space, "qLogNEI", nb_archs, Y, seed=0, options={"selection_model": "gp"})
    assert gp.model.features is None  # NB201's ops are not products of choices: the kernel reads the one-hot
    with pytest.raises(ValueError, match="unknown selection_model 'forest'"):
        fit_surrogate(bench.space, nb_archs, Y, DEFAULT_SDE["nb201"], seed=0, options={**SURROGATE, "selection_model": "forest"})


def test_mbv3_batch_is_the_selection_models_choice_from_the_generated_pool(data_dir) -> None:
    """The ``diffusion`` round on MBv3: the ensemble builds the candidate pool, the GP's qLogNEI chooses from it."""
    bench = get_benchmark("mbv3:imagenet", data_dir=data_dir)
    space, prior = bench.space, DiffusionPrior.pretrained("mbv3")
    archs = space.sample(12, seed=3)
    Y = torch.tensor(bench.evaluate_batch(archs)["objective"].to_numpy(), dtype=torch.double).unsqueeze(-1)
    options = {"epochs": 50}
    batch = propose_batch(space, "diffusion", "qLogNEI", archs, Y, archs, q=3, seed=5, prior=prior, surrogate_options=options)
    model = fit_surrogate(space, archs, Y, prior.sde, 5, options)
    pool = diffusion_candidates(
        make_acquisition("qLogNEI", model, seed=5), prior, q=3, num_samples=256, X_avoid=encode_flat(space, archs), seed=5,
        **refine_options(space, archs, Y),
    )
    selection = selection_acquisition(space, "qLogNEI", archs, Y, 5, options)
    chosen = decode_flat(space, select_from_pool(selection, space, pool, 3, shortlist=SELECTION_SHORTLIST)[0])
    assert batch == chosen and set(batch) <= set(pool)

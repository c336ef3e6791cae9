"""Tests of acquisition guidance and the acquisition optimisers (REFERENCE §1, §5).

Every optimiser is checked against the exact acquisition maximum, found by scoring all 15,625 NB201
architectures, on a surrogate fitted to real NAS-Bench-201 CIFAR-10 observations. The prior is the
closed-form (exact) score of the uniform distribution, so no trained checkpoint is needed.
"""

from __future__ import annotations

import math

import pytest
import torch
from botorch.acquisition import LogExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from gpytorch.mlls import ExactMarginalLogLikelihood

from bo_diffnag.benchmarks import get_benchmark
from bo_diffnag.diffusion.exact_score import ExactScore, from_signed
from bo_diffnag.diffusion.prior import DEFAULT_SDE, DiffusionPrior
from bo_diffnag.diffusion.sampler import SamplerConfig
from bo_diffnag.guidance import AcquisitionGuidance
from bo_diffnag.optim import (
    decode_flat,
    diffusion_candidates,
    encode_flat,
    hill_climb_acqf,
    optimize_acqf_diffusion,
    optimize_acqf_exhaustive,
    optimize_acqf_local_search,
    optimize_acqf_mutation,
    optimize_acqf_random,
    select_from_pool,
)
from bo_diffnag.optim.baselines import top_k
from bo_diffnag.optim.pool import SELECTION_SHORTLIST
from bo_diffnag.spaces import get_space
from bo_diffnag.surrogate import ACQUISITIONS, NoiseAwareEnsemble, make_acquisition

pytestmark = pytest.mark.usefixtures("single_thread")

NB201 = get_space("nb201")
D = NB201.num_nodes * NB201.num_ops
FAST_SAMPLER = SamplerConfig(steps=20)
OPTIMIZERS = ("diffusion", "diffusion_norefine", "random", "mutation", "mutation_random", "local_search", "exhaustive")


@pytest.fixture(scope="module")
def setup(data_dir):
    """Surrogate on 30 real NB201 points, its qLogNEI, the exact-score prior and the acquisition of every arch."""
    bench = get_benchmark("nb201:cifar10", data_dir=data_dir)
    train_archs = NB201.sample(30, seed=1)
    train_Y = torch.tensor(bench.evaluate_batch(train_archs)["objective"].to_numpy(), dtype=torch.double).unsqueeze(-1)
    train_X = encode_flat(NB201, train_archs)
    model = NoiseAwareEnsemble(train_X, train_Y, DEFAULT_SDE["nb201"], seed=0)
    acqf = make_acquisition("qLogNEI", model)
    prior = DiffusionPrior(NB201, DEFAULT_SDE["nb201"], ExactScore.uniform(NB201))
    everything = NB201.enumerate()
    with torch.no_grad():
        values = acqf(encode_flat(NB201, everything).unsqueeze(1))
    value_of = dict(zip(everything, values.tolist()))
    ranked = sorted((a for a in everything if a not in set(train_archs)), key=value_of.get, reverse=True)
    # "pending" points: the two global maximisers (so avoidance is tested where it matters) and three random ones
    pending = ranked[:2] + [a for a in NB201.sample(10, seed=7) if a not in set(train_archs)][:3]
    avoid = set(train_archs) | set(pending)
    best_rest = max((a for a in everything if a not in avoid), key=value_of.get)
    return {
        "model": model,
        "acqf": acqf,
        "prior": prior,
        "train_archs": train_archs,
        "train_X": train_X,
        "train_Y": train_Y,
        "value_of": value_of,
        "avoid": avoid,
        "X_avoid": encode_flat(NB201, train_archs + pending),
        "best_rest": best_rest,
    }


@pytest.fixture(scope="module")
def gp_acqf(setup):
    """LogEI over a SingleTaskGP fitted on the one-hot data (a model without noise awareness)."""
    gp = SingleTaskGP(setup["train_X"], setup["train_Y"])
    fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp), optimizer_kwargs={"options": {"maxiter": 30}})
    return LogExpectedImprovement(gp, best_f=setup["train_Y"].max())


def run(name: str, setup: dict, q: int, X_avoid, seed: int = 0, acqf=None):
    acqf = setup["acqf"] if acqf is None else acqf
    archs, Y = setup["train_archs"], setup["train_Y"]
    if name in ("diffusion", "diffusion_norefine"):
        refine = {"num_refine": 3, "X_start": encode_flat(NB201, top_k(archs, Y, 3))} if name == "diffusion" else {}
        return optimize_acqf_diffusion(
            acqf, setup["prior"], q=q, num_samples=64, sampler=FAST_SAMPLER, X_avoid=X_avoid, seed=seed, **refine
        )
    if name == "random":
        return optimize_acqf_random(acqf, NB201, q=q, num_candidates=128, X_avoid=X_avoid, seed=seed)
    if name == "mutation":
        return optimize_acqf_mutation(acqf, NB201, archs, Y, q=q, num_candidates=64, X_avoid=X_avoid, seed=seed)
    if name == "mutation_random":
        return optimize_acqf_mutation(
            acqf, NB201, archs, Y, q=q, num_candidates=64, random_fraction=0.5, X_avoid=X_avoid, seed=seed
        )
    if name == "local_search":
        return optimize_acqf_local_search(acqf, NB201, archs, Y, q=q, X_avoid=X_avoid, seed=seed)
    return optimize_acqf_exhaustive(acqf, NB201, q=q, X_avoid=X_avoid)


def acq_values(acqf, X: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return acqf(X.unsqueeze(1))


def sample_mean_acquisition(setup, acqf, scale: float, seed: int = 0) -> float:
    guidance = AcquisitionGuidance(acqf, setup["prior"], scale=scale)
    samples = setup["prior"].sample(64, seed=seed, sampler=FAST_SAMPLER, guidance=guidance)
    assert samples.validity >= 0.95
    return float(acq_values(acqf, encode_flat(NB201, samples.archs)).mean())


# ------------------------------------------------------------------------------------- guidance
def test_guidance_raises_acquisition_with_scale(setup) -> None:
    means = [sample_mean_acquisition(setup, setup["acqf"], scale) for scale in (0.0, 0.5, 2.0)]
    assert means[0] < means[1] < means[2], means


def test_guidance_is_the_normalised_noise_aware_gradient(setup) -> None:
    """λ (√D/σ) ∇a/‖∇a‖ with a evaluated by the model at the sample's noise level."""
    model, acqf = setup["model"], setup["acqf"]
    sigma, scale = 0.8, 1.5
    x = torch.randn(6, *NB201.matrix_shape, generator=torch.Generator().manual_seed(0)) * sigma + 0.3
    out = AcquisitionGuidance(acqf, setup["prior"], scale=scale)(x, torch.full((6,), sigma))

    def gradient(level: float) -> torch.Tensor:
        xg = x.detach().clone().double().requires_grad_(True)
        with model.at_noise_level(level):
            acqf(from_signed(xg).reshape(6, 1, D)).sum().backward()
        return xg.grad.float()

    expected_norm = scale * math.sqrt(D) / sigma
    torch.testing.assert_close(out.flatten(1).norm(dim=-1), torch.full((6,), expected_norm), rtol=1e-4, atol=1e-4)
    cosine = torch.nn.functional.cosine_similarity(out.flatten(1), gradient(sigma).flatten(1))
    assert (cosine > 0.999).all()
    cosine_clean = torch.nn.functional.cosine_similarity(out.flatten(1), gradient(0.0).flatten(1))
    assert (cosine_clean < 0.99).any(), "the noise level must reach the model"


def test_guidance_scale_zero_is_zero_and_negative_raises(setup) -> None:
    x = torch.randn(4, *NB201.matrix_shape)
    zero = AcquisitionGuidance(setup["acqf"], setup["prior"], scale=0.0)(x, torch.full((4,), 1.0))
    assert torch.equal(zero, torch.zeros_like(x))
    with pytest.raises(ValueError, match=">= 0"):
        AcquisitionGuidance(setup["acqf"], setup["prior"], scale=-0.1)
    with pytest.raises(ValueError, match="unknown guidance mode"):
        AcquisitionGuidance(setup["acqf"], setup["prior"], mode="clean")


def test_guidance_mode_auto_and_noise_aware_requirement(setup, gp_acqf) -> None:
    assert AcquisitionGuidance(setup["acqf"], setup["prior"]).mode == "noise_aware"
    assert AcquisitionGuidance(gp_acqf, setup["prior"]).mode == "denoised"
    with pytest.raises(ValueError, match="NoiseAwareEnsemble"):
        AcquisitionGuidance(gp_acqf, setup["prior"], mode="noise_aware")


def test_denoised_guidance_differentiates_through_the_score_model(setup, gp_acqf) -> None:
    sigma, scale = 1.0, 1.0
    x = torch.randn(8, *NB201.matrix_shape, generator=torch.Generator().manual_seed(0)) * sigma
    sigmas = torch.full((8,), sigma)
    out = AcquisitionGuidance(gp_acqf, setup["prior"], scale=scale)(x, sigmas)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.flatten(1).norm(dim=-1), torch.full((8,), scale * math.sqrt(D) / sigma), rtol=1e-4, atol=1e-4)
    # the same guidance with the score cut from the graph points elsewhere: the Jacobian of x̂₀ matters
    exact = setup["prior"].score_model
    detached = DiffusionPrior(NB201, setup["prior"].sde, lambda x, s: exact(x, s).detach())
    out_detached = AcquisitionGuidance(gp_acqf, detached, scale=scale)(x, sigmas)
    cosine = torch.nn.functional.cosine_similarity(out.flatten(1), out_detached.flatten(1))
    assert (cosine < 0.95).any()


def test_denoised_guidance_raises_gp_acquisition(setup, gp_acqf) -> None:
    unguided, guided = (sample_mean_acquisition(setup, gp_acqf, scale) for scale in (0.0, 2.0))
    assert guided > unguided
    candidates, values = optimize_acqf_diffusion(
        gp_acqf, setup["prior"], q=2, num_samples=32, sampler=SamplerConfig(steps=10), X_avoid=setup["X_avoid"], seed=0
    )
    archs = decode_flat(NB201, candidates)
    assert None not in archs and len(set(archs)) == 2 and not set(archs) & setup["avoid"]
    torch.testing.assert_close(values[:1], acq_values(gp_acqf, candidates[:1]))


# ----------------------------------------------------------------------------------- optimisers
@pytest.mark.parametrize("q", [1, 3])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_contract(setup, name: str, q: int) -> None:
    acqf = setup["acqf"]
    candidates, values = run(name, setup, q, setup["X_avoid"], seed=0)
    assert candidates.shape == (q, D) and values.shape == (q,)
    assert set(candidates.unique().tolist()) <= {0.0, 1.0}
    archs = decode_flat(NB201, candidates)
    assert None not in archs
    torch.testing.assert_close(candidates, encode_flat(NB201, archs))
    assert len(set(archs)) == q
    assert not set(archs) & setup["avoid"]
    # the value of each pick: the acquisition at it, given the earlier picks as pending points (greedy batch)
    assert acqf.X_pending is None  # the optimiser restored the (absent) pending points
    try:
        for i in range(q):
            acqf.set_X_pending(candidates[:i] if i else None)
            torch.testing.assert_close(values[i : i + 1], acq_values(acqf, candidates[i : i + 1]), rtol=1e-6, atol=1e-6)
    finally:
        acqf.set_X_pending(None)
    # no optimiser beats the exact maximum over the non-avoided architectures
    assert values[0] <= setup["value_of"][setup["best_rest"]] + 1e-9
    if name == "exhaustive":
        assert archs[0] == setup["best_rest"]
    again, values_again = run(name, setup, q, setup["X_avoid"], seed=0)
    assert torch.equal(again, candidates) and torch.equal(values_again, values)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_never_returns_its_own_pick_once_avoided(setup, name: str) -> None:
    first, _ = run(name, setup, 1, setup["train_X"], seed=3)
    X_avoid = torch.cat([setup["train_X"], first])
    second, _ = run(name, setup, 1, X_avoid, seed=3)
    assert not torch.equal(first, second)
    assert decode_flat(NB201, second)[0] not in set(setup["train_archs"])


def test_optimizers_restore_pending_points(setup) -> None:
    acqf = setup["acqf"]
    pending = encode_flat(NB201, NB201.sample(2, seed=11))
    acqf.set_X_pending(pending)
    try:
        optimize_acqf_random(acqf, NB201, q=3, num_candidates=32, X_avoid=setup["train_X"], seed=0)
        assert torch.equal(acqf.X_pending, pending)
    finally:
        acqf.set_X_pending(None)


def test_random_differs_between_seeds_and_diffusion_finds_the_top(setup) -> None:
    a, _ = run("diffusion_norefine", setup, 3, setup["X_avoid"], seed=0)
    b, _ = run("random", setup, 3, setup["X_avoid"], seed=0)
    c, _ = run("random", setup, 3, setup["X_avoid"], seed=1)
    assert not torch.equal(b, c)
    # guided generation lands on (near-)optimal acquisition values
    value_of, best = setup["value_of"], setup["value_of"][setup["best_rest"]]
    assert value_of[decode_flat(NB201, a)[0]] >= best - 0.1 * abs(best)


@pytest.mark.parametrize("name", ACQUISITIONS)
def test_batches_for_every_acquisition(setup, name: str) -> None:
    """q > 1 works for every acquisition; without pending-point support or with one MC sample (analytic, TS,
    ITS), the batch is the q best marginal values rather than arbitrary ties."""
    acqf = make_acquisition(name, setup["model"], seed=0)
    pool = [a for a in NB201.sample(64, seed=5) if a not in setup["avoid"]]
    candidates, values = select_from_pool(acqf, NB201, pool, 4, X_avoid=setup["X_avoid"])
    archs = decode_flat(NB201, candidates)
    assert len(set(archs)) == 4 and None not in archs and not set(archs) & setup["avoid"]
    if name in ("LogEI", "UCB", "TS", "ITS"):
        all_values = acq_values(acqf, encode_flat(NB201, pool))
        torch.testing.assert_close(values, all_values.topk(4).values)


def test_select_from_pool_raises_when_everything_is_avoided(setup) -> None:
    pool = setup["train_archs"][:5]
    with pytest.raises(ValueError, match="no candidate"):
        select_from_pool(setup["acqf"], NB201, pool, 1, X_avoid=setup["train_X"])
    with pytest.raises(ValueError, match="no candidate"):
        select_from_pool(setup["acqf"], NB201, [], 1)
    # fewer choices than q: all of them
    candidates, _ = select_from_pool(setup["acqf"], NB201, pool + [NB201.sample(1, seed=99)[0]], 3, X_avoid=setup["train_X"])
    assert len(candidates) == 1


def test_shortlisted_selection_chooses_among_the_best_single_values(setup) -> None:
    """``shortlist``: sequential greedy over the candidates of highest single-point value only; a shortlist as
    large as the pool changes nothing."""
    pool = [a for a in NB201.sample(200, seed=5) if a not in setup["avoid"]]
    exact, _ = select_from_pool(setup["acqf"], NB201, pool, 4)
    assert torch.equal(select_from_pool(setup["acqf"], NB201, pool, 4, shortlist=len(pool))[0], exact)
    short, _ = select_from_pool(setup["acqf"], NB201, pool, 4, shortlist=8)
    best8 = set(sorted(pool, key=setup["value_of"].get, reverse=True)[:8])
    assert set(decode_flat(NB201, short)) <= best8


def test_a_selection_acquisition_chooses_from_the_same_candidates(setup) -> None:
    """``selection_acqf`` changes the choice, not the candidates: the hill-climb's batch under another acquisition
    is that acquisition's choice from the climbs' pool."""
    top = top_k(setup["train_archs"], setup["train_Y"], 3)
    other = make_acquisition("qSimpleRegret", setup["model"])
    pool = list(hill_climb_acqf(setup["acqf"], NB201, top, 256))
    pool = [a for a in pool if a not in setup["avoid"]]
    candidates, _ = optimize_acqf_local_search(
        setup["acqf"], NB201, setup["train_archs"], setup["train_Y"], q=3, num_starts=3, max_evaluations=256,
        X_avoid=setup["X_avoid"], selection_acqf=other,
    )
    expected, _ = select_from_pool(other, NB201, pool, 3, shortlist=SELECTION_SHORTLIST)
    assert torch.equal(candidates, expected)


def test_diffusion_fills_up_when_guided_samples_are_all_avoided(setup) -> None:
    # Everything but three architectures is evaluated or pending: the guided and unguided prior samples are
    # (almost surely) all avoided, and the uniform fallback must still find the three.
    everything = NB201.enumerate()
    left = set(NB201.sample(3, seed=123))
    avoid = encode_flat(NB201, [a for a in everything if a not in left])
    candidates, values = optimize_acqf_diffusion(
        setup["acqf"], setup["prior"], q=2, num_samples=32, schedule=(8.0,), sampler=FAST_SAMPLER, X_avoid=avoid, seed=0
    )
    archs = decode_flat(NB201, candidates)
    assert len(set(archs)) == 2 and set(archs) <= left and values.isfinite().all()


def test_mutation_and_local_search_fall_back_when_neighbourhoods_are_exhausted(setup) -> None:
    parent = NB201.sample(1, seed=7)[0]
    evaluated = [parent, *NB201.neighbors(parent)]  # every child of the only parent is already evaluated
    Y = torch.rand(len(evaluated), 1, dtype=torch.double, generator=torch.Generator().manual_seed(0))
    Y[0] = 2.0
    avoid = encode_flat(NB201, evaluated)
    for candidates, _ in (
        optimize_acqf_mutation(setup["acqf"], NB201, evaluated, Y, q=3, num_parents=1, X_avoid=avoid, seed=0),
        optimize_acqf_local_search(setup["acqf"], NB201, [parent], Y[:1], q=3, num_starts=1, max_evaluations=24, X_avoid=avoid, seed=0),
    ):
        archs = decode_flat(NB201, candidates)
        assert len(set(archs)) == 3 and not set(archs) & set(evaluated)


def test_hill_climb_ends_at_a_local_maximum_of_the_acquisition(setup) -> None:
    value_of = setup["value_of"]
    start = NB201.sample(1, seed=21)[0]
    visited = hill_climb_acqf(setup["acqf"], NB201, [start], max_evaluations=10_000)
    for arch, value in visited.items():  # the values are the acquisition's
        assert value == pytest.approx(value_of[arch], rel=1e-5, abs=1e-5)  # batch shape changes the last digits
    top = max(visited, key=visited.get)
    assert len(visited) > len(NB201.neighbors(start))  # it moved more than once from a random start
    assert all(value_of[n] <= visited[top] + 1e-5 for n in NB201.neighbors(top))
    # the budget bounds the work: one NB201 neighbourhood (24 architectures) is one step
    assert len(hill_climb_acqf(setup["acqf"], NB201, [start], max_evaluations=24)) == len(NB201.neighbors(start))


def test_refinement_only_adds_to_the_generated_pool(setup) -> None:
    """The climbs run after generation and add candidates: same samples, a best pick at least as good, and
    the climbs' starts (evaluated architectures) are never returned."""
    value_of, archs, Y = setup["value_of"], setup["train_archs"], setup["train_Y"]
    plain, _ = run("diffusion_norefine", setup, 1, setup["train_X"], seed=4)
    refined, _ = run("diffusion", setup, 1, setup["train_X"], seed=4)
    plain_arch, refined_arch = decode_flat(NB201, plain)[0], decode_flat(NB201, refined)[0]
    assert value_of[refined_arch] >= value_of[plain_arch] - 1e-5
    assert refined_arch not in set(archs)
    # from the best observed alone (no climbs from samples), a one-step climb from one start
    starts = top_k(archs, Y, 1)
    candidates, _ = optimize_acqf_diffusion(
        setup["acqf"], setup["prior"], q=1, num_samples=8, schedule=(0.0,), sampler=FAST_SAMPLER,
        X_avoid=setup["train_X"], X_start=encode_flat(NB201, starts), refine_evaluations=24, seed=0,
    )
    best_neighbor = max((n for n in NB201.neighbors(starts[0]) if n not in set(archs)), key=value_of.get)
    assert value_of[decode_flat(NB201, candidates)[0]] >= value_of[best_neighbor] - 1e-5


def test_diffusion_candidates_is_the_pool_the_optimiser_chooses_from(setup) -> None:
    """Same arguments and seed: the pool holds the optimiser's picks, and those are its best by acquisition
    value; it repeats exactly, avoids the evaluated architectures and holds the climbs' finds too."""
    value_of, train_X = setup["value_of"], setup["train_X"]
    options = dict(q=3, num_samples=16, schedule=(1.0, 0.0), sampler=FAST_SAMPLER, X_avoid=train_X, num_refine=2, seed=5)
    pool = diffusion_candidates(setup["acqf"], setup["prior"], **options)
    picks = decode_flat(NB201, optimize_acqf_diffusion(setup["acqf"], setup["prior"], **options)[0])
    assert pool == diffusion_candidates(setup["acqf"], setup["prior"], **options)
    assert len(set(pool)) == len(pool) > 16 and not set(pool) & set(setup["train_archs"])
    assert set(picks) <= set(pool)
    assert value_of[picks[0]] == pytest.approx(max(value_of[a] for a in pool), rel=1e-5, abs=1e-5)


def test_exhaustive_needs_an_enumerable_space(setup) -> None:
    with pytest.raises(ValueError, match="enumerable"):
        optimize_acqf_exhaustive(setup["acqf"], get_space("mbv3"))


def test_mbv3_diffusion_smoke(data_dir) -> None:
    bench = get_benchmark("mbv3:imagenet", data_dir=data_dir)
    space = bench.space
    archs = space.sample(30, seed=0)
    Y = torch.tensor(bench.evaluate_batch(archs)["objective"].to_numpy(), dtype=torch.double).unsqueeze(-1)
    X = encode_flat(space, archs)
    model = NoiseAwareEnsemble(X, Y, DEFAULT_SDE["mbv3"], seed=0, epochs=100)
    prior = DiffusionPrior(space, DEFAULT_SDE["mbv3"], ExactScore.uniform(space))
    acqf = make_acquisition("qLogNEI", model)
    candidates, values = optimize_acqf_diffusion(
        acqf, prior, q=2, num_samples=32, sampler=SamplerConfig(steps=10), X_avoid=X, seed=0
    )
    assert candidates.shape == (2, space.num_nodes * space.num_ops) and values.shape == (2,)
    new = decode_flat(space, candidates)
    assert None not in new and len(set(new)) == 2 and not set(new) & set(archs)
    assert all(math.isfinite(bench.evaluate(a)["objective"]) for a in new)
    # The ensemble computes in float32: a pool-sized and a single-point forward pass may round differently.
    torch.testing.assert_close(values[:1], acq_values(acqf, candidates[:1]), rtol=1e-5, atol=1e-6)

"""Tests of the surrogate: the noise-aware ensemble as a BoTorch model, member samplers, acquisitions (REFERENCE §5).

Expected values come from BoTorch itself where it has an equivalent (qLogNEI with an explicit baseline, the
ensemble mean for qSimpleRegret) or from the definition (one member's predictions for Thompson sampling).
Observations are real NAS-Bench-201 CIFAR-10 validation accuracies.
"""

from __future__ import annotations

import pytest
import torch
from botorch.acquisition import qLogNoisyExpectedImprovement
from botorch.acquisition.objective import ScalarizedPosteriorTransform
from botorch.posteriors.ensemble import EnsemblePosterior
from botorch.sampling.index_sampler import IndexSampler
from scipy.stats import spearmanr

from bo_diffnag.benchmarks import get_benchmark
from bo_diffnag.diffusion.prior import DEFAULT_SDE
from bo_diffnag.models import pairwise_mask, parameter_count_weights
from bo_diffnag.optim.pool import encode_flat
from bo_diffnag.spaces import get_space
from bo_diffnag.surrogate import ACQUISITIONS, MEMBER_ACQUISITIONS, MemberSampler, NoiseAwareEnsemble, ProxyMeanGP, make_acquisition
from bo_diffnag.surrogate.ensemble import to_normal_scores

pytestmark = pytest.mark.usefixtures("single_thread")

SDE = DEFAULT_SDE["nb201"]
MEMBERS = 5
FAST = {"epochs": 60, "hidden": 32}  # for fits whose quality does not matter
GRADIENT_ACQUISITIONS = ("qLogNEI", "qLogEI", "qUCB", "qSimpleRegret", "UCB", "LogEI", "TS", "ITS")


@pytest.fixture(scope="module")
def observations(data_dir):
    """60 random NB201 architectures and their CIFAR-10 validation accuracies."""
    bench = get_benchmark("nb201:cifar10", data_dir=data_dir)
    archs = bench.space.sample(60, seed=0)
    Y = torch.tensor(bench.evaluate_batch(archs)["objective"].to_numpy(), dtype=torch.double).unsqueeze(-1)
    return bench.space, archs, encode_flat(bench.space, archs), Y


@pytest.fixture(scope="module")
def model(observations) -> NoiseAwareEnsemble:
    _, _, X, Y = observations
    return NoiseAwareEnsemble(X, Y, SDE, num_members=MEMBERS, seed=0)


@pytest.fixture(scope="module")
def candidates(observations) -> torch.Tensor:
    """20 architectures that are not training points, as ``[20, 1, d]``."""
    space, archs, _, _ = observations
    new = [a for a in space.sample(40, seed=123) if a not in set(archs)][:20]
    return encode_flat(space, new).unsqueeze(1)


# ------------------------------------------------------------------------------------ the model
@pytest.mark.parametrize("shape", [(7,), (4, 1), (3, 2)], ids=["n,d", "b,1,d", "b,q,d"])
def test_posterior_shapes(model, observations, shape) -> None:
    X = observations[2][: shape[0] * (shape[1] if len(shape) > 1 else 1)].reshape(*shape, -1)
    posterior = model.posterior(X)
    assert isinstance(posterior, EnsemblePosterior)
    batch, q = shape[:-1], shape[-1]
    assert posterior.values.shape == (*batch, MEMBERS, q, 1)
    assert posterior.mean.shape == (*batch, q, 1)
    assert posterior.variance.shape == (*batch, q, 1)
    assert torch.isfinite(posterior.values).all()
    assert (posterior.variance > 0).all()  # members disagree off a perfect fit


def test_posterior_under_scalarized_transform(model, observations) -> None:
    """Ax always passes a ScalarizedPosteriorTransform (REFERENCE §5); it must apply, not crash."""
    X = observations[2][:6].unsqueeze(1)
    plain = model.posterior(X)
    identity = model.posterior(X, posterior_transform=ScalarizedPosteriorTransform(weights=torch.ones(1)))
    assert isinstance(identity, EnsemblePosterior)
    assert identity.values.shape == plain.values.shape == (6, MEMBERS, 1, 1)
    torch.testing.assert_close(identity.mean, plain.mean)
    affine = model.posterior(X, posterior_transform=ScalarizedPosteriorTransform(torch.tensor([2.0]), offset=-1.0))
    torch.testing.assert_close(affine.values, 2 * plain.values - 1)


def test_analytic_acquisition_leaves_the_model_usable(observations) -> None:
    """BoTorch's analytic acquisitions call ``.to(X)`` on their model (float64): predictions must survive that."""
    _, _, X, Y = observations
    model = NoiseAwareEnsemble(X, Y, SDE, seed=0, **FAST)
    with torch.no_grad():
        before = model.posterior(X).values
        make_acquisition("UCB", model)(X.unsqueeze(1))
        after = model.posterior(X).values
        make_acquisition("qLogNEI", model)(X.unsqueeze(1))  # MC acquisitions keep working too
    assert after.dtype == X.dtype
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-4)


def test_gradients_flow_to_inputs(model, observations) -> None:
    X = observations[2][:5].unsqueeze(1).clone().requires_grad_(True)
    model.posterior(X).mean.sum().backward()
    assert X.grad is not None and X.grad.shape == X.shape
    assert (X.grad.flatten(1).norm(dim=-1) > 0).all()


def test_fit_is_deterministic_per_seed(observations) -> None:
    _, _, X, Y = observations
    a, b, c = (NoiseAwareEnsemble(X, Y, SDE, seed=s, **FAST) for s in (3, 3, 4))
    with torch.no_grad():
        pa, pb, pc = (m.posterior(X).values for m in (a, b, c))
    assert torch.equal(pa, pb)
    assert not torch.allclose(pa, pc)


def test_bootstrap_members_disagree_more_and_stay_deterministic(observations) -> None:
    """Each bootstrap member fits its own resample, so members spread out on the data (exploration)."""
    _, _, X, Y = observations
    plain = NoiseAwareEnsemble(X[:20], Y[:20], SDE, seed=0)
    boot, again = (NoiseAwareEnsemble(X[:20], Y[:20], SDE, seed=0, bootstrap=True) for _ in range(2))
    with torch.no_grad():
        spread = {name: m.posterior(X[:20]).values.std(dim=0).mean() for name, m in (("plain", plain), ("boot", boot))}
        assert torch.equal(boot.posterior(X).values, again.posterior(X).values)
    assert spread["boot"] > 2 * spread["plain"]


def test_random_prior_members_disagree_off_the_data_but_still_fit_it(observations) -> None:
    """Randomized prior functions (Osband et al., 2018): each member is a trained net plus a fixed random one.

    Away from the observations the members keep their priors' disagreement, so they spread out there far
    more than plain members; on the observations the trained nets cancel it, so the fit stays close.
    """
    _, _, X, Y = observations
    fits = {s: NoiseAwareEnsemble(X[:20], Y[:20], SDE, seed=0, prior_scale=s) for s in (0.0, 1.0)}
    again = NoiseAwareEnsemble(X[:20], Y[:20], SDE, seed=0, prior_scale=1.0)
    with torch.no_grad():
        off = {s: m.posterior(X[20:]).values.std(dim=0).mean() for s, m in fits.items()}
        on_error = (fits[1.0].posterior(X[:20]).mean - Y[:20]).abs().mean() / Y[:20].std()
        assert torch.equal(fits[1.0].posterior(X).values, again.posterior(X).values)
        signed, clean = 2 * X[20:].float() - 1, torch.zeros(1, 40, 1)
        prior_part = fits[1.0]._members(signed, clean) - fits[1.0].net(signed, clean)
    assert off[1.0] > 2 * off[0.0]
    assert on_error < 0.1  # in standard deviations of the observations
    assert prior_part.std(dim=1).mean() == pytest.approx(1.0, abs=0.5)  # unit-variance priors off the data too


def test_size_prior_extrapolates_along_the_proxy_with_per_member_slopes(observations) -> None:
    """Fitted on the 30 smallest nets, members predict larger ones along the parameter count, each with its own
    bootstrap slope, while the trained nets fit the residual on the data."""
    _, _, X, Y = observations
    w, _ = parameter_count_weights("nb201")
    size = X @ w
    order = size.argsort()
    small, large = order[:30], order[30:]
    # Targets that grow with size: the size prior extrapolates them, the plain ensemble cannot.
    Y_size = (size / size.std()).unsqueeze(-1) + 0.1 * Y / Y.std()
    fits = {
        name: NoiseAwareEnsemble(X[small], Y_size[small], SDE, seed=0, bootstrap=True, proxy=proxy)
        for name, proxy in (("plain", None), ("size", w))
    }
    again = NoiseAwareEnsemble(X[small], Y_size[small], SDE, seed=0, bootstrap=True, proxy=w)
    with torch.no_grad():
        error = {n: (m.posterior(X[large]).mean - Y_size[large]).abs().mean() for n, m in fits.items()}
        on_data = (fits["size"].posterior(X[small]).mean - Y_size[small]).abs().mean() / Y_size[small].std()
        assert torch.equal(fits["size"].posterior(X).values, again.posterior(X).values)
    slopes = fits["size"].proxy_slopes.flatten()
    assert error["size"] < 0.5 * error["plain"], error
    assert on_data < 0.3
    assert (slopes > 0).all() and slopes.std() > 0.01  # each member's resample gives its own slope
    # guidance differentiates through the prior mean too
    x = X[large[:2]].clone().requires_grad_(True)
    fits["size"].posterior(x).mean.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_pairwise_proxy_prior_mean_follows_the_quadratic_form(observations) -> None:
    """A ``(w, Q)`` proxy is the prior mean ``x·w + xᵀQx``: fitted on 30 cells, targets that follow a pairwise
    interaction are predicted elsewhere from the proxy (the plain ensemble cannot), also through noised inputs."""
    _, _, X, _ = observations
    Q = torch.randn(56, 56, generator=torch.Generator().manual_seed(0), dtype=X.dtype) * pairwise_mask(8, 7)
    w = torch.zeros(56, dtype=X.dtype)
    value = ((X @ Q) * X).sum(-1)
    Y = (value / value.std()).unsqueeze(-1)
    fits = {name: NoiseAwareEnsemble(X[:30], Y[:30], SDE, seed=0, proxy=proxy) for name, proxy in (("plain", None), ("pairwise", (w, Q)))}
    with torch.no_grad():
        error = {n: (m.posterior(X[30:]).mean - Y[30:]).abs().mean() for n, m in fits.items()}
    assert error["pairwise"] < 0.3 * error["plain"], error
    x = X[30:32].clone().requires_grad_(True)
    with fits["pairwise"].at_noise_level(1.0):
        fits["pairwise"].posterior(x).mean.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_size_prior_of_equal_nets_has_zero_slope(observations) -> None:
    _, _, X, Y = observations
    same = X[:1].expand(4, -1)
    model = NoiseAwareEnsemble(same, Y[:4], SDE, proxy=parameter_count_weights("nb201")[0], **FAST)
    assert torch.equal(model.proxy_slopes, torch.zeros_like(model.proxy_slopes))
    with torch.no_grad():
        assert model.posterior(X[4:10]).mean.isfinite().all()


def test_mbv3_ordinal_features_predict_held_out_subnets_better_than_one_hot(data_dir) -> None:
    """Ordered choices as values let 50 observations generalise (REFERENCE §2 space; the OFA oracle)."""
    bench = get_benchmark("mbv3:imagenet", data_dir=data_dir)
    space, sde = bench.space, DEFAULT_SDE["mbv3"]
    archs = space.sample(550, seed=0)
    X = encode_flat(space, archs)
    Y = torch.tensor(bench.evaluate_batch(archs)["objective"].to_numpy(), dtype=torch.double).unsqueeze(-1)
    rho = {}
    for name, features in (("one-hot", None), ("ordinal", space.surrogate_features())):
        model = NoiseAwareEnsemble(X[:50], Y[:50], sde, features=features, seed=0)
        with torch.no_grad():
            mean = model.posterior(X[50:]).mean.squeeze(-1)
        rho[name] = spearmanr(mean.numpy(), Y[50:].squeeze(-1).numpy()).statistic
    assert rho["ordinal"] > rho["one-hot"] + 0.1, rho
    # guidance differentiates through the feature map
    x = X[50:52].clone().requires_grad_(True)
    model.posterior(x).mean.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_path_encoding_learns_an_interaction_along_paths_better_than_one_hot() -> None:
    """A target that counts the cell paths made of convolutions only (a product of three edges' ops along the
    longest path) is linear in the path encoding: members that read it rank held-out cells better."""
    space = get_space("nb201")
    conv = [space.op_names.index("nor_conv_1x1"), space.op_names.index("nor_conv_3x3")]

    def conv_paths(X: torch.Tensor) -> torch.Tensor:
        is_conv = X.reshape(-1, *space.matrix_shape)[..., conv].sum(-1)
        return sum(is_conv[:, list(rows)].prod(-1) for rows in space.cell_paths).unsqueeze(-1)

    X, X_test = encode_flat(space, space.sample(60, seed=0)), encode_flat(space, space.sample(1000, seed=100))
    rho = {}
    for name, paths in (("one-hot", None), ("paths", space.path_encoding)):
        model = NoiseAwareEnsemble(X, conv_paths(X), DEFAULT_SDE["nb201"], paths=paths, seed=0)
        with torch.no_grad():
            mean = model.posterior(X_test).mean.squeeze(-1)
        rho[name] = spearmanr(mean.numpy(), conv_paths(X_test).squeeze(-1).numpy()).statistic
    assert rho["paths"] > rho["one-hot"] + 0.03, rho
    with model.at_noise_level(2.0):  # noised inputs read the path encoding of their clean estimate
        x = X_test[:2].clone().requires_grad_(True)
        model.posterior(x).mean.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_normal_scores_hand_computed_and_blind_to_how_far_the_tail_lies(observations) -> None:
    torch.testing.assert_close(
        to_normal_scores(torch.tensor([[10.0], [90.0], [91.0], [90.0]], dtype=torch.double)).squeeze(-1),
        torch.tensor([-1.150349, 0.0, 1.150349, 0.0], dtype=torch.double),  # Φ⁻¹(1/8), Φ⁻¹(1/2), Φ⁻¹(7/8)
        atol=1e-6, rtol=0,
    )
    _, _, X, Y = observations
    far = Y[:30].clone()
    far[far.argmin()] = -1000.0  # a collapsed architecture far below the rest: same ranks, same fit
    a, b = (NoiseAwareEnsemble(X[:30], y, SDE, normal_scores=True, seed=0, **FAST) for y in (Y[:30], far))
    plain = NoiseAwareEnsemble(X[:30], far, SDE, seed=0, **FAST)
    with torch.no_grad():
        torch.testing.assert_close(a.posterior(X).values, b.posterior(X).values)
        assert not torch.allclose(plain.posterior(X).values, a.posterior(X).values)


def test_predictions_rank_training_points(model, observations) -> None:
    _, _, X, Y = observations
    with torch.no_grad():
        mean = model.posterior(X).mean.squeeze(-1)
    assert spearmanr(mean.numpy(), Y.squeeze(-1).numpy()).statistic > 0.8
    # outcome transform undone: predictions are on the accuracy scale, not standardised
    assert abs(float(mean.mean() - Y.mean())) < 0.5 * float(Y.std())


def test_noise_level_changes_output_and_is_restored(model, observations) -> None:
    X = observations[2][:8].unsqueeze(1)
    with torch.no_grad():
        clean = model.posterior(X).values
        with model.at_noise_level(2.0):
            noisy = model.posterior(X).values
        after = model.posterior(X).values
        with pytest.raises(RuntimeError, match="boom"):
            with model.at_noise_level(5.0):
                raise RuntimeError("boom")
        after_error = model.posterior(X).values
        with model.at_noise_level(1.0):
            with model.at_noise_level(3.0):
                pass
            inner_restored = model.posterior(X).values
            with model.at_noise_level(1.0):
                expected_inner = model.posterior(X).values
    assert (noisy - clean).abs().max() > 1e-3
    assert torch.equal(after, clean)
    assert torch.equal(after_error, clean)
    assert torch.equal(inner_restored, expected_inner)


def test_nan_targets_are_dropped(observations) -> None:
    _, _, X, Y = observations
    Y_nan = Y[:20].clone()
    Y_nan[[1, 5, 7]] = float("nan")
    model = NoiseAwareEnsemble(X[:20], Y_nan, SDE, seed=0, **FAST)
    keep = ~Y_nan.isnan().squeeze(-1)
    assert model.train_inputs[0].shape == (17, X.shape[-1])
    assert torch.equal(model.train_inputs[0], X[:20][keep])
    assert torch.equal(model.train_targets, Y[:20][keep])
    with torch.no_grad():
        assert torch.isfinite(model.posterior(X[:20]).values).all()
    # the fit is the same as on the cleaned data
    reference = NoiseAwareEnsemble(X[:20][keep], Y[:20][keep], SDE, seed=0, **FAST)
    with torch.no_grad():
        torch.testing.assert_close(model.posterior(X).values, reference.posterior(X).values)


@pytest.mark.parametrize(
    "X_shape, Y_shape, nan_rows, match",
    [
        ((5, 56), (5, 1), [0, 1, 2, 3], "at least 2"),
        ((5, 56), (5, 1), [0, 1, 2, 3, 4], "at least 2"),
        ((5, 56), (5,), [], "expected train_X"),
        ((5, 56), (4, 1), [], "expected train_X"),
        ((56,), (1, 1), [], "expected train_X"),
        ((2, 5, 56), (5, 1), [], "expected train_X"),
    ],
)
def test_bad_training_data_raises(X_shape, Y_shape, nan_rows, match) -> None:
    X = torch.zeros(X_shape, dtype=torch.double)
    Y = torch.arange(float(torch.Size(Y_shape).numel()), dtype=torch.double).reshape(Y_shape)
    if nan_rows:
        Y[nan_rows] = float("nan")
    with pytest.raises(ValueError, match=match):
        NoiseAwareEnsemble(X, Y, SDE, **FAST)


def test_feature_map_or_proxy_of_the_wrong_shape_raises(observations) -> None:
    _, _, X, Y = observations
    with pytest.raises(ValueError, match=r"proxy must be weights of shape \(56,\) .* got \(55,\)"):
        NoiseAwareEnsemble(X, Y, SDE, proxy=torch.zeros(55), **FAST)
    with pytest.raises(ValueError, match=r"\(56,\), \(56, 56\), got \(\(56,\), \(56, 55\)\)"):
        NoiseAwareEnsemble(X, Y, SDE, proxy=(torch.zeros(56), torch.zeros(56, 55)), **FAST)
    with pytest.raises(ValueError, match=r"features must be W \[56, k\] and b \[k\]"):
        NoiseAwareEnsemble(X, Y, SDE, features=(torch.zeros(55, 3), torch.zeros(3)), **FAST)
    with pytest.raises(ValueError, match="features must be"):
        NoiseAwareEnsemble(X, Y, SDE, features=(torch.zeros(56, 3), torch.zeros(4)), **FAST)


# ------------------------------------------------------------------------------- member sampler
def test_member_sampler_picks_members_for_every_candidate(model, candidates) -> None:
    posterior = model.posterior(candidates)
    sampler = MemberSampler(range(MEMBERS))
    samples = sampler(posterior)
    assert samples.shape == (MEMBERS, len(candidates), 1, 1)
    assert torch.equal(sampler.base_samples, torch.arange(MEMBERS).view(-1, 1).expand(MEMBERS, len(candidates)))
    torch.testing.assert_close(samples, posterior.values.movedim(-3, 0))
    assert torch.equal(sampler(posterior), samples)  # deterministic across calls
    # a fresh sampler (new random seed) and another batch size give the same assignment
    other = MemberSampler(range(MEMBERS))(model.posterior(candidates[:7]))
    assert torch.equal(other, samples[:, :7])
    # BoTorch's IndexSampler assigns members at random per candidate: not the same member for all of them
    index_base = IndexSampler(torch.Size([MEMBERS]), seed=0)
    index_base(posterior)
    assert any(len(set(row.tolist())) > 1 for row in index_base.base_samples)


def test_member_sampler_subset_and_order(model, candidates) -> None:
    posterior = model.posterior(candidates)
    samples = MemberSampler([3, 1])(posterior)
    torch.testing.assert_close(samples[0], posterior.values[:, 3])
    torch.testing.assert_close(samples[1], posterior.values[:, 1])


def test_member_sampler_rejects_missing_member(model, candidates) -> None:
    with pytest.raises(ValueError, match="member 5"):
        MemberSampler([0, MEMBERS])(model.posterior(candidates))


# --------------------------------------------------------------------------------- acquisitions
@pytest.mark.parametrize("name", ACQUISITIONS)
def test_every_acquisition_has_shape_b_and_finite_values(model, candidates, name) -> None:
    acqf = make_acquisition(name, model, seed=0)
    X = candidates.clone().requires_grad_(True)
    values = acqf(X)
    assert values.shape == (len(candidates),)
    assert torch.isfinite(values).all()
    if name in GRADIENT_ACQUISITIONS:
        values.sum().backward()
        assert torch.isfinite(X.grad).all()
        assert (X.grad.flatten(1).norm(dim=-1) > 0).all(), f"{name}: zero gradient on some candidate"


def test_qlognei_equals_botorch_qlognei(model, observations, candidates) -> None:
    """The documented equivalence: a constant per-member incumbent is BoTorch's qLogNEI with one sample per member."""
    ours = make_acquisition("qLogNEI", model)
    reference = qLogNoisyExpectedImprovement(
        model,
        X_baseline=model.train_inputs[0],
        sampler=MemberSampler(range(MEMBERS)),
        prune_baseline=False,
        cache_root=False,
    )
    with torch.no_grad():
        mine, theirs = ours(candidates), reference(candidates)
        at_train = ours(observations[2][:10].unsqueeze(1)), reference(observations[2][:10].unsqueeze(1))
    torch.testing.assert_close(mine, theirs, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(*at_train, rtol=1e-9, atol=1e-9)
    assert mine.std() > 0  # not a degenerate constant


def test_mc_acquisitions_average_over_all_members(model, candidates) -> None:
    posterior = model.posterior(candidates)
    with torch.no_grad():
        regret = make_acquisition("qSimpleRegret", model)(candidates)
        ucb = make_acquisition("UCB", model, beta=4.0)(candidates)
    torch.testing.assert_close(regret, posterior.mean.view(-1))
    torch.testing.assert_close(ucb, (posterior.mean + 2.0 * posterior.variance.sqrt()).view(-1))


def test_thompson_sampling_is_one_member_and_deterministic_per_seed(model, candidates) -> None:
    values = model.posterior(candidates).values.squeeze(-1).squeeze(-1).detach()  # [b, s]
    picked = set()
    for seed in range(8):
        with torch.no_grad():
            ts = make_acquisition("TS", model, seed=seed)(candidates)
            again = make_acquisition("TS", model, seed=seed)(candidates)
        assert torch.equal(ts, again)
        members = [k for k in range(MEMBERS) if torch.allclose(ts, values[:, k])]
        assert len(members) == 1, "TS must be one member's prediction for all candidates"
        picked.add(members[0])
    assert len(picked) > 1, "the seed must choose the member"


def test_independent_thompson_sampling_is_deterministic_per_seed(model, candidates) -> None:
    with torch.no_grad():
        a = make_acquisition("ITS", model, seed=1)(candidates)
        b = make_acquisition("ITS", model, seed=1)(candidates)
    assert torch.equal(a, b)


def test_unknown_acquisition_raises(model) -> None:
    with pytest.raises(ValueError, match="unknown acquisition"):
        make_acquisition("qEI", model)


# ------------------------------------------------------------------------------------ ProxyMeanGP
def _size_data(n: int = 30, seed: int = 0):
    space = get_space("mbv3")
    X = encode_flat(space, space.sample(n, seed=seed))
    size = X @ parameter_count_weights("mbv3")[0]
    return space, X, ((size - size.mean()) / size.std()).unsqueeze(-1)


def test_proxy_mean_gp_learns_the_proxy_slope_and_drops_nan_rows():
    """Targets that follow the parameter count: the mean's learned slope is positive and the GP ranks new subnets
    by size; a NaN observation is left out of the fit."""
    space, X, Y = _size_data()
    Y[3] = float("nan")
    gp = ProxyMeanGP(X, Y, features=space.factor_features(), proxy=parameter_count_weights("mbv3")[0]).fit(seed=0)
    assert gp.train_inputs[0].shape == (29, 180)
    assert gp.mean_module.slope.item() > 0
    _, X_new, Y_new = _size_data(200, seed=1)
    with torch.no_grad():
        mean = gp.posterior(X_new).mean.squeeze(-1)
    assert spearmanr(mean, Y_new.squeeze(-1)).statistic > 0.9


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"train_Y": torch.ones(5, 2)}, "expected train_X"),
        ({"features": (torch.ones(10, 4), torch.ones(4))}, "features must be"),
        ({"train_Y": torch.full((30, 1), float("nan"))}, "at least 2 non-NaN"),
    ],
)
def test_proxy_mean_gp_rejects_bad_shapes(kwargs, match):
    _, X, Y = _size_data()
    with pytest.raises(ValueError, match=match):
        ProxyMeanGP(**{"train_X": X, "train_Y": Y, **kwargs})


@pytest.mark.parametrize("name", [a for a in ACQUISITIONS if a not in MEMBER_ACQUISITIONS])
def test_acquisitions_over_a_gp_are_finite_and_seeded(name):
    space, X, Y = _size_data()
    gp = ProxyMeanGP(X, Y, proxy=parameter_count_weights("mbv3")[0]).fit(seed=0)
    candidates = encode_flat(space, space.sample(6, seed=2)).unsqueeze(1)
    values = make_acquisition(name, gp, seed=1)(candidates)
    assert values.shape == (6,) and values.isfinite().all()
    assert torch.equal(values, make_acquisition(name, gp, seed=1)(candidates))


def test_qlognei_over_a_gp_improves_on_its_best_prediction_at_the_data():
    """qLogNEI's incumbent over a GP is its best posterior mean at the observed points, as over the ensemble."""
    space, X, Y = _size_data()
    gp = ProxyMeanGP(X, Y, proxy=parameter_count_weights("mbv3")[0]).fit(seed=0)
    with torch.no_grad():
        assert make_acquisition("qLogNEI", gp).best_f == gp.posterior(X).mean.max()
    for name in MEMBER_ACQUISITIONS:
        with pytest.raises(ValueError, match="needs a NoiseAwareEnsemble"):
            make_acquisition(name, gp)

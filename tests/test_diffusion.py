"""Tests of the diffusion prior: SDE, exact score, samplers, training, checkpoints (REFERENCE §1–3).

Expected values are derived independently of the code under test: the SDE marginal by simulating the
forward SDE, the exact score by autograd of a brute-force mixture log-density, the MBv3 stage support
enumerated from the validity rule, depth shares from counting (9^d stages of depth d).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import bo_diffnag.diffusion.checkpoint as checkpoint_module
import bo_diffnag.diffusion.train as train_module
from bo_diffnag.diffusion.checkpoint import CheckpointError, load_checkpoint
from bo_diffnag.integrity import sha256_file
from bo_diffnag.diffusion.exact_score import ExactScore, to_signed
from bo_diffnag.diffusion.prior import DEFAULT_SDE, DiffusionPrior, PriorSamples
from bo_diffnag.diffusion.sampler import SamplerConfig, discretize, sample_reverse
from bo_diffnag.diffusion.score_net import ScoreTransformer
from bo_diffnag.diffusion.sde import VESDE
from bo_diffnag.diffusion.train import TrainConfig, dsm_loss, train_prior
from bo_diffnag.spaces import get_space

pytestmark = pytest.mark.usefixtures("single_thread")

NB201 = get_space("nb201")
MBV3 = get_space("mbv3")
PREDICTORS = ("reverse_diffusion", "euler_maruyama", "ode")
# Share of depth-4 stages under the uniform distribution on MBv3: 9^4 / (9^2 + 9^3 + 9^4).
DEPTH4_SHARE = 9**4 / (9**2 + 9**3 + 9**4)
TINY = TrainConfig(steps=20, batch_size=32, warmup=5, eval_every=0, checkpoint_every=10)


@pytest.fixture
def float64():
    """Default dtype float64 for the duration of a test (exact-score comparisons at tiny σ)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def signed(space, codes: torch.Tensor) -> torch.Tensor:
    return to_signed(space.codes_to_matrix(codes))


def autograd_mixture_score(x: torch.Tensor, sigma: float, centres: torch.Tensor) -> torch.Tensor:
    """∇_x log Σ_k N(x; c_k, σ² I) by autograd, brute force over all centres ``[K, ...]``."""
    x = x.detach().clone().requires_grad_(True)
    d2 = ((x.flatten(1).unsqueeze(1) - centres.flatten(1).unsqueeze(0)) ** 2).sum(-1)
    torch.logsumexp(-d2 / (2 * sigma**2), dim=-1).sum().backward()
    return x.grad


def mbv3_stage_candidates() -> torch.Tensor:
    """Every valid 4-slot stage as codes, enumerated from the rule (slots 1, 2 used; slot 4 only with 3)."""
    rows = [
        c
        for c in itertools.product(range(-1, 9), repeat=4)
        if c[0] >= 0 and c[1] >= 0 and (c[2] >= 0 or c[3] < 0)
    ]
    return torch.tensor(rows)


def mbv3_fast_score(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Exact uniform-MBv3 score via the depth mixture of per-slot products (much cheaper than 7371 centres).

    p_σ(stage) ∝ Σ_d Π_{l<d} Σ_op N(x_l; op) · Π_{l≥d} N(x_l; empty); checked against ExactScore below.
    """
    with torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        var = sigma.view(-1, 1, 1, 1) ** 2
        xs = x.view(-1, 5, 4, 1, 9)
        ops = 2 * torch.eye(9) - 1
        lse_ops = torch.logsumexp(-((xs - ops) ** 2).sum(-1) / (2 * var), -1)
        log_empty = -((xs[..., 0, :] + 1) ** 2).sum(-1) / (2 * var[..., 0])
        terms = torch.stack([lse_ops[..., :d].sum(-1) + log_empty[..., d:].sum(-1) for d in (2, 3, 4)], -1)
        (grad,) = torch.autograd.grad(torch.logsumexp(terms, -1).sum(), x)
    return grad


def exact_score_fn(space):
    return ExactScore.uniform(space) if space.name == "nb201" else mbv3_fast_score


def depth_shares(codes: torch.Tensor) -> torch.Tensor:
    depth = (codes >= 0).view(-1, 5, 4).sum(-1).flatten()
    return torch.stack([(depth == d).double().mean() for d in (2, 3, 4)])


def weights(prior: DiffusionPrior) -> dict[str, torch.Tensor]:
    return prior.score_model.state_dict()


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------------------------------- SDE
def test_vesde_sigma_is_geometric_between_its_ends() -> None:
    sde = VESDE(0.1, 5.0)
    t = torch.linspace(0, 1, 11)
    sigma = sde.sigma(t)
    assert sigma[0].item() == pytest.approx(0.1) and sigma[-1].item() == pytest.approx(5.0)
    torch.testing.assert_close(sigma, 0.1 * 50.0**t)
    # geometric: constant ratio between equally spaced times, σ(1/2) the geometric mean of the ends
    ratios = sigma[1:] / sigma[:-1]
    torch.testing.assert_close(ratios, torch.full_like(ratios, 50.0**0.1))
    assert sde.sigma(torch.tensor(0.5)).item() == pytest.approx(math.sqrt(0.1 * 5.0))


def test_vesde_forward_simulation_reproduces_marginal_std() -> None:
    sde = VESDE(0.01, 10.0)
    gen = torch.Generator().manual_seed(0)
    x0 = signed(NB201, NB201.sample_codes(400, gen))  # 400 × 56 coordinates
    x = x0 + sde.sigma_min * torch.randn(x0.shape, generator=gen)
    steps, checks = 1000, {300: 0.3, 700: 0.7, 1000: 1.0}
    dt = 1.0 / steps
    for i in range(steps):
        t = torch.full((x.shape[0],), i * dt)
        f, g = sde.coefficients(x, t)
        x = x + f * dt + g.view(-1, 1, 1) * math.sqrt(dt) * torch.randn(x.shape, generator=gen)
        if i + 1 in checks:
            t_check = torch.full((x.shape[0],), checks[i + 1])
            mean, std = sde.marginal(x0, t_check)
            z = (x - mean) / std.view(-1, 1, 1)
            assert z.std().item() == pytest.approx(1.0, abs=0.03), f"t={checks[i + 1]}"
            assert z.mean().item() == pytest.approx(0.0, abs=0.03)


def test_vesde_prior_sample_has_std_sigma_max() -> None:
    sde = VESDE(0.01, 7.0)
    x = sde.prior_sample((4000, 8, 7), torch.Generator().manual_seed(1))
    assert x.shape == (4000, 8, 7)
    assert x.std().item() == pytest.approx(7.0, rel=0.02) and abs(x.mean().item()) < 0.05
    same = sde.prior_sample((4000, 8, 7), torch.Generator().manual_seed(1))
    assert torch.equal(x, same)


@pytest.mark.parametrize(("lo", "hi"), [(0.0, 1.0), (-0.1, 1.0), (1.0, 1.0), (2.0, 1.0)])
def test_vesde_rejects_bad_sigmas(lo: float, hi: float) -> None:
    with pytest.raises(ValueError, match="sigma_min"):
        VESDE(lo, hi)


# ---------------------------------------------------------------------------------- exact score
@pytest.mark.parametrize("sigma", [0.05, 0.3, 1.0, 3.0, 10.0])
def test_exact_score_nb201_equals_autograd_over_all_architectures(float64: None, sigma: float) -> None:
    gen = torch.Generator().manual_seed(int(sigma * 100))
    all_signed = signed(NB201, NB201.enumerate_codes())
    assert all_signed.shape == (15625, 8, 7)
    x = signed(NB201, NB201.sample_codes(6, gen)) + sigma * torch.randn(6, 8, 7, generator=gen)
    x[:2] = 1.5 * torch.randn(2, 8, 7, generator=gen)  # and points far from any architecture
    sig = torch.full((6,), sigma)
    expected = autograd_mixture_score(x, sigma, all_signed)
    uniform = ExactScore.uniform(NB201)(x, sig)
    empirical = ExactScore.empirical(NB201, NB201.enumerate_codes())(x, sig)
    torch.testing.assert_close(uniform, expected, rtol=1e-7, atol=1e-7 / sigma**2)
    torch.testing.assert_close(empirical, expected, rtol=1e-7, atol=1e-7 / sigma**2)


@pytest.mark.parametrize("sigma", [0.1, 0.7, 3.0])
def test_exact_score_mbv3_factorises_by_stage(float64: None, sigma: float) -> None:
    stage_codes = mbv3_stage_candidates()
    assert len(stage_codes) == 9**2 + 9**3 + 9**4
    centres = to_signed(torch.nn.functional.one_hot(stage_codes.clamp_min(0), 9) * (stage_codes >= 0).unsqueeze(-1))
    gen = torch.Generator().manual_seed(7)
    x = signed(MBV3, MBV3.sample_codes(4, gen)) + sigma * torch.randn(4, 20, 9, generator=gen)
    sig = torch.full((4,), sigma)
    score = ExactScore.uniform(MBV3)(x, sig)
    for stage in range(5):
        rows = slice(4 * stage, 4 * stage + 4)
        expected = autograd_mixture_score(x[:, rows], sigma, centres.double())
        torch.testing.assert_close(score[:, rows], expected, rtol=1e-7, atol=1e-7 / sigma**2)
    # the cheap depth-mixture score used by the sampler tests below is the same function
    torch.testing.assert_close(mbv3_fast_score(x, sig), score, rtol=1e-7, atol=1e-7 / sigma**2)


def test_exact_denoise_at_tiny_sigma_returns_nearest_training_matrix() -> None:
    gen = torch.Generator().manual_seed(3)
    x = 2 * torch.rand(32, 8, 7, generator=gen) - 1
    sigma = torch.full((32,), 1e-3)
    for codes in (NB201.enumerate_codes(), NB201.sample_codes(40, gen)):
        centres = signed(NB201, codes)
        nearest = centres[torch.cdist(x.flatten(1), centres.flatten(1)).argmin(-1)]
        score = ExactScore.empirical(NB201, codes)
        torch.testing.assert_close(score.denoise(x, sigma), nearest, rtol=0, atol=1e-5)
    full = signed(NB201, NB201.enumerate_codes())
    nearest = full[torch.cdist(x.flatten(1), full.flatten(1)).argmin(-1)]
    torch.testing.assert_close(ExactScore.uniform(NB201).denoise(x, sigma), nearest, rtol=0, atol=1e-5)


# --------------------------------------------------------------------------------------- sampler
@pytest.mark.parametrize("corrector_steps", [0, 1])
@pytest.mark.parametrize("predictor", PREDICTORS)
@pytest.mark.parametrize("space", [NB201, MBV3], ids=["nb201", "mbv3"])
def test_exact_score_sampling_is_fully_valid(space, predictor: str, corrector_steps: int) -> None:
    config = SamplerConfig(steps=50, predictor=predictor, corrector_steps=corrector_steps)
    x = sample_reverse(exact_score_fn(space), DEFAULT_SDE[space.name], (256, *space.matrix_shape), config, seed=0)
    assert x.shape == (256, *space.matrix_shape) and torch.isfinite(x).all()
    codes, valid = space.matrix_to_codes(discretize(x))
    assert valid.all(), f"{int((~valid).sum())} invalid samples"
    assert len({space.format(c) for c in codes}) > 200  # spread over the space, not one mode


@pytest.mark.parametrize("predictor", PREDICTORS)
def test_mbv3_exact_sampling_reproduces_depth_distribution(predictor: str) -> None:
    shape, config = (512, 20, 9), SamplerConfig(steps=100, predictor=predictor)
    x = sample_reverse(mbv3_fast_score, VESDE(0.01, 15.0), shape, config, seed=1)
    codes, valid = MBV3.matrix_to_codes(discretize(x))
    assert valid.all()
    assert depth_shares(codes)[2].item() == pytest.approx(DEPTH4_SHARE, abs=0.05)
    # every op equally likely on the used slots
    op_share = torch.bincount(codes[codes >= 0], minlength=9).double() / (codes >= 0).sum()
    torch.testing.assert_close(op_share, torch.full((9,), 1 / 9, dtype=torch.float64), rtol=0, atol=0.03)


def test_mbv3_small_sigma_max_inflates_depth4() -> None:
    """REFERENCE §3's σ_max = 1 does not cover the data: samples pile up on the largest mode (depth 4)."""
    x = sample_reverse(mbv3_fast_score, VESDE(0.01, 1.0), (512, 20, 9), SamplerConfig(steps=100), seed=1)
    codes, valid = MBV3.matrix_to_codes(discretize(x))
    assert valid.all()
    assert depth_shares(codes)[2].item() > 0.92


def test_discretize_threshold_versus_argmax() -> None:
    x = torch.tensor([[[0.3, 0.5, -1.0], [-0.2, -0.1, -0.5], [0.9, -1.0, -1.0], [-0.3, 0.0, -0.4]]])
    assert discretize(x, "threshold").tolist() == [[[1, 1, 0], [0, 0, 0], [1, 0, 0], [0, 0, 0]]]
    assert discretize(x, "argmax").tolist() == [[[0, 1, 0], [0, 0, 0], [1, 0, 0], [0, 0, 0]]]
    assert discretize(x).tolist() == discretize(x, "argmax").tolist()
    # on a real NB201 matrix: one edge row with two positive entries
    arch = NB201.sample(1, seed=0)[0]
    y = to_signed(NB201.encode(arch)).unsqueeze(0) * 0.8
    op = int(NB201.parse(arch)[3])
    y[0, 3, 2 if op != 2 else 3] = 0.3  # a second, smaller positive entry in edge row 3
    assert not NB201.is_valid_batch(discretize(y, "threshold"))[0]
    assert NB201.decode_batch(discretize(y, "argmax")) == [arch]
    with pytest.raises(ValueError, match="argmax"):
        discretize(x, "round")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"steps": 0}, "steps"), ({"steps": -3}, "steps"), ({"predictor": "heun"}, "predictor"), ({"corrector_steps": -1}, "corrector")],
)
def test_sampler_config_rejects_bad_values(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SamplerConfig(**kwargs)


def test_sampling_is_deterministic_per_seed() -> None:
    score, sde, shape = ExactScore.uniform(NB201), DEFAULT_SDE["nb201"], (32, 8, 7)
    config = SamplerConfig(steps=20, corrector_steps=1)
    a = sample_reverse(score, sde, shape, config, seed=5)
    assert torch.equal(a, sample_reverse(score, sde, shape, config, seed=5))
    assert torch.equal(a, sample_reverse(score, sde, shape, config, seed=torch.Generator().manual_seed(5)))
    assert not torch.allclose(a, sample_reverse(score, sde, shape, config, seed=6))


def test_guidance_pushes_towards_the_guided_op() -> None:
    col = NB201.op_names.index("nor_conv_3x3")
    direction = torch.zeros(8, 7)
    direction[1:7, col] = 1.0
    calls = []

    def guidance(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        calls.append(sigma.shape)
        return 1.0 * direction.expand_as(x)

    score, sde, shape = ExactScore.uniform(NB201), DEFAULT_SDE["nb201"], (512, 8, 7)
    config = SamplerConfig(steps=50)

    def share(**kw) -> float:
        codes, valid = NB201.matrix_to_codes(discretize(sample_reverse(score, sde, shape, config, seed=2, **kw)))
        assert valid.all()
        return (codes[:, 1:7] == col).double().mean().item()

    unguided, guided = share(), share(guidance=guidance)
    assert unguided == pytest.approx(0.2, abs=0.04)
    assert guided > 0.5
    assert len(calls) == config.steps and all(s == (512,) for s in calls)


# -------------------------------------------------------------------------------------- training
def fixed_batch(space, n: int = 512, seed: int = 11):
    gen = torch.Generator().manual_seed(seed)
    x0 = signed(space, space.sample_codes(n, gen))
    return x0, torch.rand(n, generator=gen), torch.randn(x0.shape, generator=gen)


def test_training_lowers_the_denoising_loss() -> None:
    sde = DEFAULT_SDE["nb201"]
    untrained = train_prior(NB201, seed=0, config=TrainConfig(steps=0, eval_every=0), progress=False)
    trained = train_prior(NB201, seed=0, config=TrainConfig(steps=60, batch_size=64, eval_every=0), progress=False)
    x0, t, z = fixed_batch(NB201)
    with torch.no_grad():
        before = dsm_loss(untrained.score_model, sde, x0, t, z).mean().item()
        after = dsm_loss(trained.score_model, sde, x0, t, z).mean().item()
        floor = dsm_loss(ExactScore.uniform(NB201), sde, x0, t, z).mean().item()
    assert floor < after < 0.85 * before
    assert trained.info["steps_done"] == 60 and trained.info["loss_floor"] == pytest.approx(floor, rel=0.5)


def test_training_is_deterministic_per_seed() -> None:
    config = TrainConfig(steps=3, batch_size=16, eval_every=0)
    a = train_prior(NB201, seed=4, config=config, progress=False)
    torch.rand(10)  # global RNG state must not matter
    b = train_prior(NB201, seed=4, config=config, progress=False)
    c = train_prior(NB201, seed=5, config=config, progress=False)
    assert same_weights(weights(a), weights(b))
    assert not same_weights(weights(a), weights(c))


def test_train_fraction_keeps_half_of_nb201_and_stores_it(tmp_path: Path) -> None:
    out = tmp_path / "half.pt"
    config = TrainConfig(steps=2, batch_size=16, eval_every=0, train_fraction=0.5)
    prior = train_prior(NB201, seed=3, config=config, out=out, progress=False)
    codes = prior.train_codes
    assert len(codes) in (7812, 7813)
    assert len({tuple(c) for c in codes.tolist()}) == len(codes) and NB201.valid_codes(codes).all()
    loaded = DiffusionPrior.from_checkpoint(out, space="nb201")
    assert torch.equal(loaded.train_codes, codes.long())
    assert loaded.training_archs == {NB201.format(c) for c in codes} and len(loaded.training_archs) == len(codes)
    other = train_prior(NB201, seed=4, config=replace(config, steps=0), progress=False)
    assert not torch.equal(other.train_codes, codes)  # the subset depends on the seed
    with pytest.raises(ValueError, match="enumerable"):
        train_prior(MBV3, config=replace(config, steps=1), progress=False)


def test_resume_after_interrupt_equals_uninterrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    full = train_prior(NB201, seed=1, config=TINY, out=tmp_path / "full.pt", progress=False)

    real_save, saved_steps = train_module.save_checkpoint, []

    def save_then_interrupt(payload, path):
        sha = real_save(payload, path)
        saved_steps.append(payload["step"])
        if len(saved_steps) == 1:
            raise KeyboardInterrupt
        return sha

    monkeypatch.setattr(train_module, "save_checkpoint", save_then_interrupt)
    out = tmp_path / "resumed.pt"
    with pytest.raises(KeyboardInterrupt):
        train_prior(NB201, seed=1, config=TINY, out=out, progress=False)
    assert saved_steps == [10] and not out.exists()
    assert load_checkpoint(Path(str(out) + ".state"))["step"] == 10

    resumed = train_prior(NB201, seed=1, config=TINY, out=out, resume=True, progress=False)
    assert saved_steps == [10, 20] and resumed.info["steps_done"] == 20
    assert same_weights(weights(resumed), weights(full))
    assert same_weights(weights(DiffusionPrior.from_checkpoint(out)), weights(full))

    for changed in ({"seed": 2}, {"config": replace(TINY, lr=1e-3)}):
        with pytest.raises(CheckpointError, match="other settings"):
            train_prior(NB201, **{"seed": 1, "config": TINY, **changed}, out=out, resume=True, progress=False)


# ----------------------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def saved_prior(tmp_path_factory: pytest.TempPathFactory) -> tuple[DiffusionPrior, Path, str]:
    """An (untrained, seeded) NB201 prior with a training subset, saved once."""
    torch.manual_seed(0)
    codes = NB201.sample_codes(50, torch.Generator().manual_seed(0))
    prior = DiffusionPrior(NB201, VESDE(0.02, 8.0), ScoreTransformer(NB201).eval(), codes, {"note": "test"})
    path = tmp_path_factory.mktemp("ckpt") / "prior.pt"
    sha = prior.save(path)
    return prior, path, sha


def test_checkpoint_round_trip_samples_identically(saved_prior) -> None:
    prior, path, sha = saved_prior
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest() == sha256_file(path)
    loaded = DiffusionPrior.from_checkpoint(path, space="nb201", expected_sha256=sha)
    assert loaded.space.name == "nb201" and loaded.sde.config() == {"sigma_min": 0.02, "sigma_max": 8.0}
    assert torch.equal(loaded.train_codes, prior.train_codes) and loaded.info == {"note": "test"}
    assert not loaded.score_model.training
    config = SamplerConfig(steps=10)
    a, b = prior.sample(16, seed=3, sampler=config), loaded.sample(16, seed=3, sampler=config)
    assert torch.equal(a.x, b.x) and a.archs == b.archs


def _rewrite(path: Path, target: Path, **changes) -> Path:
    payload = load_checkpoint(path)
    payload.update(changes)
    torch.save(payload, target)
    return target


def test_broken_checkpoints_raise_checkpoint_errors(saved_prior, tmp_path: Path) -> None:
    _, path, sha = saved_prior
    assert issubclass(CheckpointError, ValueError)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    flipped = tmp_path / "flipped.pt"
    flipped.write_bytes(data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:])
    junk = tmp_path / "junk.pt"
    junk.write_bytes(bytes(range(256)) * 10)
    a_list = tmp_path / "list.pt"
    torch.save([1, 2, 3], a_list)
    other_net = ScoreTransformer(NB201, replace(ScoreTransformer(NB201).config, width=32)).state_dict()
    missing_key = {k: v for i, (k, v) in enumerate(load_checkpoint(path)["weights"].items()) if i}
    cases = [
        (lambda: DiffusionPrior.from_checkpoint(tmp_path / "absent.pt"), "not found"),
        (lambda: DiffusionPrior.from_checkpoint(truncated), "cannot be read"),
        (lambda: DiffusionPrior.from_checkpoint(flipped, expected_sha256=sha), "corrupted"),
        (lambda: DiffusionPrior.from_checkpoint(path, expected_sha256="0" * 64), "corrupted"),
        (lambda: DiffusionPrior.from_checkpoint(junk), "cannot be read"),
        (lambda: DiffusionPrior.from_checkpoint(a_list), "not a bo-diffnag prior checkpoint"),
        (lambda: DiffusionPrior.from_checkpoint(path, space="mbv3"), "'nb201', not 'mbv3'"),
        (lambda: DiffusionPrior.from_checkpoint(_rewrite(path, tmp_path / "shape.pt", matrix_shape=[8, 6])), "matrix shape"),
        (lambda: DiffusionPrior.from_checkpoint(_rewrite(path, tmp_path / "space.pt", space="darts")), "unknown search space"),
        (lambda: DiffusionPrior.from_checkpoint(_rewrite(path, tmp_path / "w1.pt", weights=other_net)), "does not fit"),
        (lambda: DiffusionPrior.from_checkpoint(_rewrite(path, tmp_path / "w2.pt", weights=missing_key)), "does not fit"),
    ]
    for load, match in cases:
        with pytest.raises(CheckpointError, match=match):
            load()
    # the sha guard also protects a file whose content still loads
    assert DiffusionPrior.from_checkpoint(path, expected_sha256=sha).space.name == "nb201"


def _manifest() -> dict:
    return json.loads(checkpoint_module.MANIFEST.read_text())


@pytest.mark.parametrize("space", ["nb201", "mbv3"])
def test_shipped_prior_matches_manifest_and_samples_valid(space: str) -> None:
    entry = _manifest()[space]
    path = checkpoint_module.PRETRAINED_DIR / entry["file"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
    prior = DiffusionPrior.pretrained(space)
    assert prior.space.name == space and isinstance(prior.score_model, ScoreTransformer)
    assert prior.train_codes is None and prior.training_archs is None  # trained on the whole space
    samples = prior.sample(128, seed=0, batch_size=128)
    assert samples.validity >= 0.99
    assert all(prior.space.canonical(a) == a for a in samples.archs)


def test_corrupted_copy_of_shipped_prior_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = _manifest()
    entry = manifest["nb201"]
    data = (checkpoint_module.PRETRAINED_DIR / entry["file"]).read_bytes()
    copy = tmp_path / entry["file"]
    copy.write_bytes(data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 0x01]) + data[len(data) // 2 + 1 :])
    with pytest.raises(CheckpointError, match="corrupted"):
        DiffusionPrior.from_checkpoint(copy, space="nb201", expected_sha256=entry["sha256"])
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(checkpoint_module, "PRETRAINED_DIR", tmp_path)
    monkeypatch.setattr(checkpoint_module, "MANIFEST", tmp_path / "manifest.json")
    with pytest.raises(CheckpointError, match="corrupted"):
        DiffusionPrior.pretrained("nb201")
    with pytest.raises(CheckpointError, match="no pretrained prior"):
        DiffusionPrior.pretrained("darts")


# ------------------------------------------------------------------------------------- metrics
def test_prior_samples_metrics_on_a_hand_made_example() -> None:
    a, b, c = NB201.sample(3, seed=9)
    assert len({a, b, c}) == 3
    samples = PriorSamples(
        x=torch.zeros(5, 8, 7),
        codes=torch.zeros(5, 8, dtype=torch.long),
        valid=torch.tensor([True, True, False, True, True]),
        archs=[a, a, b, c],
    )
    assert samples.validity == pytest.approx(4 / 5)
    assert samples.uniqueness == pytest.approx(3 / 4)
    assert samples.novelty({a}) == pytest.approx(2 / 3)
    assert samples.novelty({a, b, c}) == 0.0 and samples.novelty(set()) == 1.0
    assert samples.novelty(None) is None
    empty = PriorSamples(x=torch.zeros(0, 8, 7), codes=torch.zeros(0, 8), valid=torch.zeros(0, dtype=torch.bool), archs=[])
    assert math.isnan(empty.validity) and math.isnan(empty.uniqueness)


def test_balanced_factor_sampler_oversamples_rare_depths_without_bias():
    """τ = 0.5 draws shallow MBv3 stages far more often, and the importance weights undo it exactly."""
    from bo_diffnag.diffusion.train import BalancedFactorSampler

    space = get_space("mbv3")
    codes, weights = BalancedFactorSampler(space, 0.5).draw(20000, torch.Generator().manual_seed(0))
    assert bool(space.valid_codes(codes).all())
    depth = (codes >= 0).view(-1, 5, 4).sum(-1)
    stage_weight = weights.view(-1, 5, 4)[..., 0]
    assert torch.equal(weights.view(-1, 5, 4), stage_weight.unsqueeze(-1).expand(-1, -1, 4))
    uniform = torch.tensor([81.0, 729.0, 6561.0]) / 7371.0
    drawn = torch.stack([(depth == d).float().mean() for d in (2, 3, 4)])
    reweighted = torch.stack([(stage_weight * (depth == d)).sum() / stage_weight.numel() for d in (2, 3, 4)])
    assert drawn[0] > 5 * uniform[0]  # depth-2 stages: ~7.7% instead of 1.1%
    assert torch.allclose(reweighted, uniform, atol=0.01)


def test_balance_exponent_rejects_training_subsets():
    from bo_diffnag.diffusion.train import TrainConfig, train_prior

    with pytest.raises(ValueError, match="balance_exponent"):
        train_prior(get_space("nb201"), config=TrainConfig(steps=1, train_fraction=0.5, balance_exponent=0.5), progress=False)

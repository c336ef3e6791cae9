"""Training a score network by denoising score matching, with EMA weights, seeding and resume."""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from bo_diffnag.diffusion.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from bo_diffnag.diffusion.exact_score import ExactScore, to_signed
from bo_diffnag.diffusion.prior import DEFAULT_SDE, DiffusionPrior
from bo_diffnag.diffusion.sampler import SamplerConfig
from bo_diffnag.diffusion.score_net import ScoreNetConfig, ScoreTransformer
from bo_diffnag.diffusion.sde import SDE, VESDE
from bo_diffnag.seeding import as_generator
from bo_diffnag.spaces import SearchSpace


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (defaults: minutes on a 2-core CPU; see benchmarks/results/prior.md).

    ``train_fraction < 1`` trains on a seeded random subset of an enumerable space (NB201), to measure
    novelty; otherwise batches are uniform draws from the whole space. ``balance_exponent = τ < 1`` draws
    each factor's row-emptiness patterns (an MBv3 stage's depth) ∝ size^τ instead of ∝ size and weights
    those rows' loss by ``p/q`` (see :class:`BalancedFactorSampler`).
    """

    steps: int = 3000
    batch_size: int = 256
    lr: float = 2e-3
    warmup: int = 100
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    train_fraction: float = 1.0
    eval_every: int = 500
    eval_samples: int = 256
    eval_sampler_steps: int = 50
    checkpoint_every: int = 500
    balance_exponent: float = 1.0


# Per-space defaults used by `bo-diffnag prior train`; the shipped checkpoints were trained with them.
DEFAULT_TRAIN = {"nb201": TrainConfig(steps=3000), "mbv3": TrainConfig(steps=16000, eval_every=1000, checkpoint_every=1000)}


def dsm_loss(
    score_model: Any, sde: SDE, x0: Tensor, t: Tensor, z: Tensor, row_weights: Tensor | None = None
) -> Tensor:
    """Per-sample denoising score-matching loss with weight ``σ²``: ``mean_d w_row (σ s(x0 + σ z, σ) + z)²``.

    Its minimiser is the score of ``p_σ``; the value at the exact score (:class:`ExactScore`) is the floor.
    ``row_weights[B, N]`` (default 1) are importance weights per row.
    """
    mean, std = sde.marginal(x0, t)
    std = std.view(-1, 1, 1)
    score = score_model(mean + std * z, std.view(-1))
    err = (std * score + z) ** 2
    if row_weights is not None:
        err = err * row_weights.unsqueeze(-1)
    return err.flatten(1).mean(-1)


class BalancedFactorSampler:
    """Uniform architectures with rare row-emptiness patterns oversampled, plus importance weights.

    Per factor of :meth:`SearchSpace.uniform_factors`, settings are grouped by which rows are empty (an
    MBv3 stage's depth: groups of 81, 729 and 6,561 settings). Uniform sampling picks group ``g`` with
    ``p_g ∝ |g|``; this sampler uses ``q_g ∝ |g|^τ`` (then a uniform setting within the group) and returns
    weight ``p_g / q_g`` for the factor's rows. Factors are independent and the true score of a factor's rows
    depends on those rows alone, so the weighted loss has the same minimiser while the rare patterns
    (MBv3: a stage without slot 3, 1.1% of stages) are seen ``q/p`` times more often.
    """

    def __init__(self, space: SearchSpace, exponent: float) -> None:
        self.num_nodes = space.num_nodes
        self.factors = []
        for rows, codes in space.uniform_factors():
            patterns, group = torch.unique(codes >= 0, dim=0, return_inverse=True)
            order = torch.argsort(group, stable=True)
            sizes = torch.bincount(group, minlength=len(patterns)).double()
            p, q = sizes / sizes.sum(), sizes**exponent / (sizes**exponent).sum()
            offsets = torch.cumsum(sizes, 0).long() - sizes.long()
            self.factors.append((rows, codes[order], sizes.long(), offsets, q, (p / q).float()))

    def draw(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``(codes[n, N], row_weights[n, N])``."""
        codes = torch.empty(n, self.num_nodes, dtype=torch.long)
        weights = torch.ones(n, self.num_nodes)
        for rows, settings, sizes, offsets, q, ratio in self.factors:
            g = torch.multinomial(q, n, replacement=True, generator=generator)
            pick = offsets[g] + (torch.rand(n, generator=generator, dtype=torch.double) * sizes[g]).long()
            codes[:, rows] = settings[pick]
            weights[:, rows] = ratio[g].unsqueeze(-1)
        return codes, weights


def training_subset(space: SearchSpace, fraction: float, seed: int) -> Tensor | None:
    """Codes of a seeded random ``fraction`` of an enumerable space, or ``None`` for the whole space."""
    if fraction == 1.0:
        return None
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1], got {fraction}")
    if not hasattr(space, "enumerate_codes"):
        raise ValueError(f"train_fraction < 1 needs an enumerable space; {space.name} is sampled on the fly")
    codes = space.enumerate_codes()
    keep = torch.randperm(len(codes), generator=as_generator(seed))[: round(fraction * len(codes))]
    return codes[keep.sort().values]


def _lr_factor(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 5% of the base rate."""
    if step < config.warmup:
        return (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def train_prior(
    space: SearchSpace,
    seed: int = 0,
    config: TrainConfig = TrainConfig(),
    net_config: ScoreNetConfig = ScoreNetConfig(),
    sde: VESDE | None = None,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
) -> DiffusionPrior:
    """Train a :class:`ScoreTransformer` prior for ``space`` and return it (EMA weights).

    With ``out``, the training state is saved every ``checkpoint_every`` steps to ``out + ".state"`` and
    the final inference checkpoint to ``out``; ``resume=True`` continues from the state file, giving the
    same result as an uninterrupted run.

    Example:
        >>> from bo_diffnag.spaces import get_space
        >>> prior = train_prior(get_space("nb201"), config=TrainConfig(steps=10, eval_every=0), progress=False)
    """
    sde = sde or DEFAULT_SDE[space.name]
    generator = as_generator(seed)
    train_codes = training_subset(space, config.train_fraction, seed)
    if config.balance_exponent != 1.0 and train_codes is not None:
        raise ValueError("balance_exponent < 1 applies to training on the whole space, not to a subset")
    balanced = BalancedFactorSampler(space, config.balance_exponent) if config.balance_exponent != 1.0 else None
    with torch.random.fork_rng(devices=[]):  # seeded initial weights, global RNG left untouched
        torch.manual_seed(seed)
        net = ScoreTransformer(space, net_config)
    ema = AveragedModel(net, avg_fn=_ema_update(config.ema_decay))
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, config))
    settings = {"space": space.name, "seed": seed, "train": asdict(config), "net": net_config.to_dict(), "sde": sde.config()}
    state_path = None if out is None else Path(str(out) + ".state")
    step, history, elapsed = 0, [], 0.0
    if resume and state_path is not None and state_path.is_file():
        state = load_checkpoint(state_path)
        if state["settings"] != settings:
            raise CheckpointError(f"cannot resume from {state_path}: it was trained with other settings")
        net.load_state_dict(state["net_state"])
        ema.load_state_dict(state["ema_state"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        step, history, elapsed = state["step"], state["history"], state["seconds"]

    exact = ExactScore.uniform(space) if train_codes is None else ExactScore.empirical(space, train_codes)
    eval_gen = as_generator(seed + 1)
    eval_x0 = to_signed(space.codes_to_matrix(_draw(space, train_codes, 1024, eval_gen)))
    eval_t, eval_z = torch.rand(1024, generator=eval_gen), torch.randn(eval_x0.shape, generator=eval_gen)
    with torch.no_grad():
        floor = float(dsm_loss(exact, sde, eval_x0, eval_t, eval_z).mean())

    def save_state() -> None:
        save_checkpoint(
            {
                "settings": settings,
                "net_state": net.state_dict(),
                "ema_state": ema.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "generator": generator.get_state(),
                "step": step,
                "history": history,
                "seconds": elapsed,
            },
            state_path,
        )

    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc=f"train {space.name} prior")
    start = time.perf_counter() - elapsed
    while step < config.steps:
        if balanced is None:
            codes, row_weights = _draw(space, train_codes, config.batch_size, generator), None
        else:
            codes, row_weights = balanced.draw(config.batch_size, generator)
        x0 = to_signed(space.codes_to_matrix(codes))
        t = torch.rand(config.batch_size, generator=generator)
        z = torch.randn(x0.shape, generator=generator)
        loss = dsm_loss(net, sde, x0, t, z, row_weights).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        ema.update_parameters(net)
        step += 1
        bar.update(1)
        if config.eval_every and (step % config.eval_every == 0 or step == config.steps):
            record = _evaluate(space, sde, ema.module, eval_x0, eval_t, eval_z, config, seed)
            record.update(step=step, train_loss=loss.item(), loss_floor=floor, seconds=time.perf_counter() - start)
            history.append(record)
            bar.set_postfix(loss=f"{record['eval_loss']:.4f}", floor=f"{floor:.4f}", validity=f"{record['validity']:.3f}")
        elapsed = time.perf_counter() - start
        if state_path is not None and (step % config.checkpoint_every == 0 or step == config.steps):
            save_state()
    bar.close()

    ema.module.eval()
    info = {**settings, "steps_done": step, "seconds": elapsed, "loss_floor": floor, "history": history}
    prior = DiffusionPrior(space, sde, ema.module, train_codes, info)
    if out is not None:
        prior.save(out)
    return prior


def _ema_update(decay: float):
    """EMA with a warm-up, ``decay_n = min(decay, (1 + n) / (10 + n))``: a plain EMA started at step 0 keeps
    a share of the untrained weights for thousands of steps, which short CPU runs cannot afford."""

    def update(averaged: Tensor, current: Tensor, num_averaged: Tensor) -> Tensor:
        rate = min(decay, (1 + float(num_averaged)) / (10 + float(num_averaged)))
        return rate * averaged + (1 - rate) * current

    return update


def _draw(space: SearchSpace, train_codes: Tensor | None, n: int, generator: torch.Generator) -> Tensor:
    if train_codes is None:
        return space.sample_codes(n, generator)
    return train_codes[torch.randint(len(train_codes), (n,), generator=generator)]


@torch.no_grad()
def _evaluate(
    space: SearchSpace, sde: SDE, model: ScoreTransformer, x0: Tensor, t: Tensor, z: Tensor, config: TrainConfig, seed: int
) -> dict[str, float]:
    was_training = model.training
    model.eval()
    eval_loss = float(dsm_loss(model, sde, x0, t, z).mean())
    prior = DiffusionPrior(space, sde, model)
    samples = prior.sample(config.eval_samples, seed=seed + 2, sampler=SamplerConfig(steps=config.eval_sampler_steps))
    model.train(was_training)
    return {"eval_loss": eval_loss, "validity": samples.validity}

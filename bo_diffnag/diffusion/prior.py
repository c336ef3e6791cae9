"""The DiffusionNAG prior: a search space, an SDE and a score model, sampled into valid architectures."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from bo_diffnag.diffusion.checkpoint import CheckpointError, load_checkpoint, pretrained_path, save_checkpoint
from bo_diffnag.diffusion.sampler import Guidance, SamplerConfig, discretize, sample_reverse
from bo_diffnag.diffusion.score_net import ScoreNetConfig, ScoreTransformer
from bo_diffnag.diffusion.sde import VESDE
from bo_diffnag.seeding import SeedLike, as_generator
from bo_diffnag.spaces import SearchSpace, get_space

# Noise ranges chosen with the exact score (benchmarks/results/prior.md): σ_max near the largest distance
# between training matrices so that the prior N(0, σ_max²) covers the data.
DEFAULT_SDE = {"nb201": VESDE(0.01, 10.0), "mbv3": VESDE(0.01, 15.0)}


@dataclass
class PriorSamples:
    """Output of :meth:`DiffusionPrior.sample`.

    Attributes:
        x: continuous samples ``[n, N, F]`` on the ``[-1, 1]`` scale, before discretisation.
        codes: discretised codes ``[n, N]`` (meaningless where invalid).
        valid: ``BoolTensor[n]``.
        archs: canonical strings of the valid samples, in order, duplicates included.
    """

    x: Tensor
    codes: Tensor
    valid: Tensor
    archs: list[str]

    @property
    def validity(self) -> float:
        """Valid samples / all samples (before any filtering)."""
        return float(self.valid.float().mean()) if len(self.valid) else float("nan")

    @property
    def uniqueness(self) -> float:
        """Unique valid / valid."""
        return len(set(self.archs)) / len(self.archs) if self.archs else float("nan")

    def novelty(self, training_archs: set[str] | None) -> float | None:
        """Unique valid not in ``training_archs`` / unique valid; ``None`` without a finite training set."""
        if training_archs is None:
            return None
        unique = set(self.archs)
        return len(unique - training_archs) / len(unique) if unique else float("nan")


class DiffusionPrior:
    """A trained score model over one search space, ready to sample.

    Args:
        space: the search space.
        sde: the forward SDE the model was trained with.
        score_model: ``(x[B, N, F], σ[B]) → score``; a :class:`ScoreTransformer` or any callable.
        train_codes: the finite training set (codes), or ``None`` when trained on the whole space.

    Example:
        >>> prior = DiffusionPrior.pretrained("nb201")
        >>> samples = prior.sample(8, seed=0)
        >>> samples.validity
        1.0
    """

    def __init__(
        self,
        space: SearchSpace,
        sde: VESDE,
        score_model: Any,
        train_codes: Tensor | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.space, self.sde, self.score_model = space, sde, score_model
        self.train_codes = train_codes
        self.info = info or {}

    @cached_property
    def training_archs(self) -> set[str] | None:
        """Canonical strings of the training set, or ``None`` when the prior was trained on the whole space."""
        if self.train_codes is None:
            return None
        return {self.space.format(c) for c in self.train_codes.long()}

    @torch.no_grad()
    def sample(
        self,
        n: int,
        seed: SeedLike = None,
        sampler: SamplerConfig = SamplerConfig(),
        guidance: Guidance | None = None,
        batch_size: int = 512,
        rule: str = "argmax",
        progress: bool = False,
    ) -> PriorSamples:
        """Draw ``n`` samples, discretise them and keep the valid ones (no repair).

        ``guidance(x, σ)`` is added to the score at every step (it may enable gradients itself).
        The same ``seed`` gives the same samples.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        generator = as_generator(seed)
        chunks = []
        for start in tqdm(range(0, n, batch_size), disable=not progress, desc="sampling", unit="batch"):
            shape = (min(batch_size, n - start), *self.space.matrix_shape)
            chunks.append(sample_reverse(self.score_model, self.sde, shape, sampler, generator, guidance))
        x = torch.cat(chunks) if chunks else torch.zeros(0, *self.space.matrix_shape)
        codes, valid = self.space.matrix_to_codes(discretize(x, rule))
        archs = [self.space.format(c) for c in codes[valid]]
        return PriorSamples(x=x, codes=codes, valid=valid, archs=archs)

    # ------------------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike, **extra: Any) -> str:
        """Write an inference checkpoint (EMA weights and metadata); returns its sha256."""
        if not isinstance(self.score_model, ScoreTransformer):
            raise TypeError("only a ScoreTransformer prior can be saved")
        return save_checkpoint(
            {
                "space": self.space.name,
                "matrix_shape": list(self.space.matrix_shape),
                "sde": self.sde.config(),
                "net": self.score_model.config.to_dict(),
                "weights": self.score_model.state_dict(),
                "train_codes": None if self.train_codes is None else self.train_codes.to(torch.int8),
                "info": self.info,
                **extra,
            },
            path,
        )

    @classmethod
    def from_checkpoint(
        cls, path: str | os.PathLike, space: str | None = None, expected_sha256: str | None = None
    ) -> "DiffusionPrior":
        """Load a prior saved by :meth:`save`; ``space`` (if given) must match the checkpoint's.

        Raises:
            CheckpointError: missing, corrupted or mismatched checkpoint (wrong space, wrong shapes).
        """
        payload = load_checkpoint(path, expected_sha256)
        name = payload.get("space")
        if space is not None and name != space:
            raise CheckpointError(f"prior checkpoint {path} is for search space {name!r}, not {space!r}")
        try:
            search_space = get_space(name)
        except ValueError as err:
            raise CheckpointError(f"prior checkpoint {path}: {err}") from None
        if tuple(payload.get("matrix_shape", ())) != search_space.matrix_shape:
            raise CheckpointError(
                f"prior checkpoint {path} has matrix shape {payload.get('matrix_shape')}, but {name} "
                f"matrices are {list(search_space.matrix_shape)}"
            )
        net = ScoreTransformer(search_space, ScoreNetConfig(**payload["net"]))
        try:
            net.load_state_dict(payload["weights"])
        except RuntimeError as err:
            raise CheckpointError(f"prior checkpoint {path} does not fit its network: {err}") from None
        net.eval()
        train_codes = payload.get("train_codes")
        return cls(
            search_space,
            VESDE(**payload["sde"]),
            net,
            None if train_codes is None else train_codes.long(),
            payload.get("info", {}),
        )

    @classmethod
    def pretrained(cls, space: str) -> "DiffusionPrior":
        """The prior shipped with the package for ``space``, verified against its sha256."""
        path, sha = pretrained_path(space)
        return cls.from_checkpoint(path, space=space, expected_sha256=sha)

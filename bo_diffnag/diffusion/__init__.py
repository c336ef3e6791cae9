"""The DiffusionNAG prior: SDEs, score models, samplers and pretrained checkpoints (score-SDE style pieces)."""

from bo_diffnag.diffusion.checkpoint import CheckpointError
from bo_diffnag.diffusion.exact_score import ExactScore
from bo_diffnag.diffusion.prior import DiffusionPrior, PriorSamples
from bo_diffnag.diffusion.sampler import SamplerConfig, discretize, sample_reverse
from bo_diffnag.diffusion.score_net import ScoreNetConfig, ScoreTransformer
from bo_diffnag.diffusion.sde import SDE, VESDE

__all__ = [
    "SDE",
    "VESDE",
    "CheckpointError",
    "DiffusionPrior",
    "ExactScore",
    "PriorSamples",
    "SamplerConfig",
    "ScoreNetConfig",
    "ScoreTransformer",
    "discretize",
    "sample_reverse",
]

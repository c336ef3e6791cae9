"""Acquisition optimisers over architecture spaces, all with BoTorch's ``(candidates, acq_values)`` convention."""

from bo_diffnag.optim.baselines import (
    optimize_acqf_exhaustive,
    optimize_acqf_local_search,
    optimize_acqf_mutation,
    optimize_acqf_random,
)
from bo_diffnag.optim.diffusion import DEFAULT_SCHEDULE, diffusion_candidates, optimize_acqf_diffusion
from bo_diffnag.optim.local_search import hill_climb_acqf
from bo_diffnag.optim.pool import decode_flat, encode_flat, select_from_pool

__all__ = [
    "DEFAULT_SCHEDULE",
    "decode_flat",
    "diffusion_candidates",
    "encode_flat",
    "hill_climb_acqf",
    "optimize_acqf_diffusion",
    "optimize_acqf_exhaustive",
    "optimize_acqf_local_search",
    "optimize_acqf_mutation",
    "optimize_acqf_random",
    "select_from_pool",
]

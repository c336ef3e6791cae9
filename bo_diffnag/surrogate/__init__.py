"""Noise-aware ensemble surrogate, deterministic member samplers and acquisition functions by name."""

from bo_diffnag.surrogate.acquisition import ACQUISITIONS, make_acquisition
from bo_diffnag.surrogate.ensemble import NoiseAwareEnsemble
from bo_diffnag.surrogate.sampling import MemberSampler

__all__ = ["ACQUISITIONS", "MemberSampler", "NoiseAwareEnsemble", "make_acquisition"]

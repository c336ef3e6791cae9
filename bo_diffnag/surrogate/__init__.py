"""Noise-aware ensemble surrogate, the batch-choosing GP, deterministic member samplers and acquisition functions
by name."""

from bo_diffnag.surrogate.acquisition import ACQUISITIONS, MEMBER_ACQUISITIONS, make_acquisition
from bo_diffnag.surrogate.ensemble import NoiseAwareEnsemble
from bo_diffnag.surrogate.gp import ProxyMean, ProxyMeanGP
from bo_diffnag.surrogate.sampling import MemberSampler

__all__ = [
    "ACQUISITIONS",
    "MEMBER_ACQUISITIONS",
    "MemberSampler",
    "NoiseAwareEnsemble",
    "ProxyMean",
    "ProxyMeanGP",
    "make_acquisition",
]

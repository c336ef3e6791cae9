"""Guidance terms that steer the prior's reverse diffusion (acquisition gradients)."""

from bo_diffnag.guidance.acquisition import AcquisitionGuidance

__all__ = ["AcquisitionGuidance"]

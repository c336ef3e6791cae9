"""bo-diffnag: DiffusionNAG as an acquisition optimiser for Bayesian-optimisation NAS (Ax / BoTorch)."""

__version__ = "0.1.0"

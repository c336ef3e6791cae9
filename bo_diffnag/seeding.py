"""Seed handling: every random path in bo-diffnag takes a seed or a ``torch.Generator``."""

from __future__ import annotations

import torch

SeedLike = int | torch.Generator | None


def as_generator(seed: SeedLike = None) -> torch.Generator:
    """Return a CPU ``torch.Generator`` for ``seed``.

    An ``int`` seeds a fresh generator (same seed, same stream); a generator is returned as is so
    callers can thread one stream through several calls; ``None`` draws a fresh seed from torch's
    global generator, so code stays reproducible under ``torch.manual_seed``.

    Example:
        >>> g = as_generator(0)
        >>> torch.rand(1, generator=g).item() == torch.rand(1, generator=as_generator(0)).item()
        True
    """
    if isinstance(seed, torch.Generator):
        return seed
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, a torch.Generator or None, got {seed!r}")
    return torch.Generator().manual_seed(seed)


def draw_seed(generator: torch.Generator) -> int:
    """The next 31-bit seed from ``generator``: how one seeded stream hands out seeds to successive rounds."""
    return int(torch.randint(2**31, (1,), generator=generator))

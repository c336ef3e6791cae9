"""Search spaces: NAS-Bench-201 cells and Once-for-All MobileNetV3."""

from bo_diffnag.spaces.base import EMPTY, SearchSpace, Validity
from bo_diffnag.spaces.mbv3 import MBv3Space
from bo_diffnag.spaces.nb201 import NB201Space

SPACES: dict[str, type[SearchSpace]] = {"nb201": NB201Space, "mbv3": MBv3Space}


def get_space(name: str) -> SearchSpace:
    """The search space called ``name`` (``"nb201"`` or ``"mbv3"``)."""
    if name not in SPACES:
        raise ValueError(f"unknown search space {name!r}; expected one of {sorted(SPACES)}")
    return SPACES[name]()


__all__ = ["EMPTY", "SPACES", "MBv3Space", "NB201Space", "SearchSpace", "Validity", "get_space"]

"""Search spaces in Ax terms: one ``ChoiceParameterConfig`` per decision of a core search space.

NB201: six unordered string choices (one per cell edge). MBv3: five ordered depths and, per slot,
ordered kernel-size and expand-ratio choices (45 parameters). Slots past a stage's depth have no effect;
rather than Ax's hierarchical ``dependent_parameters`` (which Ax's BoTorch stack flattens anyway) we use a
documented normalisation: :func:`parameters_to_arch` ignores them and :func:`arch_to_parameters` writes
them as kernel 3 / expand 3, so every architecture has exactly one canonical parameterisation and two
parameterisations that differ only in inactive slots are the same architecture.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ax.api.configs import ChoiceParameterConfig

from bo_diffnag.spaces import SearchSpace


def parameter_configs(space: SearchSpace) -> list[ChoiceParameterConfig]:
    """The Ax parameters of ``space``, in the order of :attr:`SearchSpace.parameters`.

    Example:
        >>> from bo_diffnag.spaces import get_space
        >>> [p.name for p in parameter_configs(get_space("nb201"))][:2]
        ['op0_e01', 'op1_e02']
    """
    configs = []
    for name, choices in space.parameters.items():
        numeric = all(isinstance(c, int) and not isinstance(c, bool) for c in choices)
        configs.append(
            ChoiceParameterConfig(
                name=name,
                values=list(choices),
                parameter_type="int" if numeric else "str",
                is_ordered=numeric,
            )
        )
    return configs


def arch_to_parameters(space: SearchSpace, arch: Any) -> dict[str, Any]:
    """The canonical Ax parameterisation of ``arch`` (inactive MBv3 slots set to 3/3)."""
    return space.to_parameters(arch)


def parameters_to_arch(space: SearchSpace, parameters: Mapping[str, Any]) -> str:
    """The canonical architecture string of an Ax parameterisation; ``ValueError`` names a bad entry."""
    return space.from_parameters(parameters)

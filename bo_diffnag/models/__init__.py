"""Trainable networks for the search spaces: NB201 cells in the NB201 skeleton, OFA MobileNetV3 subnets."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from torch import Tensor, nn

from bo_diffnag.models import mbv3, nb201
from bo_diffnag.models.mbv3 import MobileNetV3Network
from bo_diffnag.models.nb201 import NB201Network
from bo_diffnag.spaces import get_space

MODELS: dict[str, Callable[..., nn.Module]] = {"nb201": NB201Network, "mbv3": MobileNetV3Network}
#: Per space: ``[N, F]`` parameters that the op in each row of the encoding adds to the space's network.
OP_PARAMETER_COUNTS: dict[str, Callable[[], Tensor]] = {"nb201": nb201.op_parameter_counts, "mbv3": mbv3.op_parameter_counts}


def build_model(space_name: str, arch: str | Mapping[str, Any], **options: Any) -> nn.Module:
    """The network of architecture ``arch`` from search space ``space_name``.

    ``options`` go to the network's constructor (:class:`NB201Network` or :class:`MobileNetV3Network`);
    ``ValueError`` for an unknown space, a malformed architecture or a bad option value.

    Example:
        >>> import torch
        >>> net = build_model("nb201", "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|",
        ...                   channels=8, cells_per_stage=1, in_channels=1)
        >>> net(torch.zeros(4, 1, 8, 8)).shape
        torch.Size([4, 10])
    """
    if space_name not in MODELS:
        raise ValueError(f"unknown search space {space_name!r}; expected one of {sorted(MODELS)}")
    return MODELS[space_name](arch, **options)


def parameter_count_weights(space_name: str) -> tuple[Tensor, float]:
    r"""``(w [N·F], c)`` such that ``build_model(space_name, arch)`` has exactly ``x·w + c`` parameters, ``x`` the
    flattened one-hot encoding of ``arch``.

    Each row's op (an NB201 edge, an MBv3 layer slot) brings its own parameters, so the count is linear in
    the encoding: a zero-cost size measure, available before any training, that the surrogate can use as a
    prior mean (:class:`~bo_diffnag.surrogate.NoiseAwareEnsemble` ``proxy``). Computed once per space.

    Example:
        >>> w, c = parameter_count_weights("nb201")
        >>> arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
        >>> int(get_space("nb201").encode(arch).flatten().double() @ w + c)  # CIFAR-10 params_mb: 1.073466
        1073466
    """
    w, c = _parameter_count_weights(space_name)
    return w.clone(), c


@cache
def _parameter_count_weights(space_name: str) -> tuple[Tensor, float]:
    if space_name not in OP_PARAMETER_COUNTS:
        raise ValueError(f"unknown search space {space_name!r}; expected one of {sorted(OP_PARAMETER_COUNTS)}")
    w = OP_PARAMETER_COUNTS[space_name]().flatten()
    # The constant (stem, reductions, head) is what any one network has beyond its rows' ops.
    space = get_space(space_name)
    arch = space.sample(1, seed=0)[0]
    total = sum(p.numel() for p in build_model(space_name, arch).parameters())
    return w, float(total - space.encode(arch).flatten().to(w) @ w)


__all__ = ["MODELS", "OP_PARAMETER_COUNTS", "MobileNetV3Network", "NB201Network", "build_model", "parameter_count_weights"]

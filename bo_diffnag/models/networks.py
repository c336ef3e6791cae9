"""The network of each search space: a registry and :func:`build_model`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import Tensor, nn

from bo_diffnag.models import mbv3, nb201
from bo_diffnag.models.mbv3 import MobileNetV3Network
from bo_diffnag.models.nb201 import NB201Network

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

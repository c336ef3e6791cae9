"""The NAS-Bench-201 network: a cell architecture stacked into NB201's fixed macro skeleton.

Skeleton (as in NAS-Bench-201): stem ``Conv3×3 → BN``; three stages of ``cells_per_stage`` cells with
``C``, ``2C``, ``4C`` channels, separated by residual reduction blocks (ResNet basic block, stride 2, with an
``AvgPool2×2 → Conv1×1`` shortcut); then ``BN → ReLU → global average pool → Linear``. Every batch norm is
affine and tracks running statistics, and convolutions have no bias, so at ``channels=16``,
``cells_per_stage=5``, ``num_classes=10`` the parameter count is exactly the benchmark's ``params_mb × 10⁶``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bo_diffnag.spaces import get_space
from bo_diffnag.spaces.nb201 import EDGES, OPS


class ReLUConvBN(nn.Sequential):
    """``ReLU → Conv(k×k, no bias) → BN``: NB201's ``nor_conv_k×k`` op and its reduction-block convolution."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> None:
        super().__init__(
            nn.ReLU(inplace=False),  # not in place: the op's input is shared with other edges
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_channels),
        )


def make_op(name: str, channels: int) -> nn.Module | None:
    """The module of the cell op ``name`` on ``channels`` channels; ``None`` for ``"none"`` (the zero op).

    Example:
        >>> type(make_op("avg_pool_3x3", 8)).__name__
        'AvgPool2d'
    """
    if name == "none":
        return None
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if name == "avg_pool_3x3":
        # NB201 pools without counting the zero padding, so border pixels are plain means too.
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NB201 op {name!r}; expected one of {list(OPS)}")


def op_parameter_counts(channels: int = 16, cells_per_stage: int = 5) -> Tensor:
    """``[8, 7]``: the parameters the op in each row of NB201's encoding adds to :class:`NB201Network`.

    Every edge op appears once per cell, in all ``3 · cells_per_stage`` cells (on ``C``, ``2C``, ``4C``
    channels); the input and output rows add none. So a network's parameter count is linear in its one-hot
    encoding (see :func:`bo_diffnag.models.parameter_count_weights`).

    Example:
        >>> op_parameter_counts()[1].tolist()  # none, skip and pooling have no parameters
        [0.0, 0.0, 0.0, 0.0, 28000.0, 243040.0, 0.0]
    """
    space = get_space("nb201")
    counts = torch.zeros(space.matrix_shape, dtype=torch.double)
    for op in OPS:
        modules = [make_op(op, width) for width in (channels, 2 * channels, 4 * channels)]
        per_cell = sum(p.numel() for module in modules if module is not None for p in module.parameters())
        counts[1:-1, space.op_names.index(op)] = cells_per_stage * per_cell
    return counts


class NB201Cell(nn.Module):
    """A 4-node NB201 cell: node ``j`` is the sum over edges ``i → j`` of ``op(node i)``; node 3 is the output.

    ``ops`` lists the six edge ops in arch-string order (0→1, 0→2, 1→2, 0→3, 1→3, 2→3). Zero edges hold no
    module and are skipped in the sum; a node whose every incoming edge is zero is all zeros.
    """

    def __init__(self, ops: list[str], channels: int) -> None:
        super().__init__()
        if len(ops) != len(EDGES):
            raise ValueError(f"an NB201 cell needs {len(EDGES)} edge ops, got {len(ops)}")
        self.ops = list(ops)
        # ModuleDict keys must be strings; the zero op has no entry at all.
        self.edges = nn.ModuleDict(
            {str(k): module for k, op in enumerate(ops) if (module := make_op(op, channels)) is not None}
        )
        # incoming[j - 1]: (edge key, source node) of every non-zero edge into node j.
        self._incoming = [
            [(str(k), i) for k, (i, t) in enumerate(EDGES) if t == j and str(k) in self.edges] for j in (1, 2, 3)
        ]

    def forward(self, x: Tensor) -> Tensor:
        nodes = [x]
        for incoming in self._incoming:
            terms = [self.edges[key](nodes[i]) for key, i in incoming]
            nodes.append(sum(terms[1:], terms[0]) if terms else torch.zeros_like(x))
        return nodes[-1]


class ResidualReduction(nn.Module):
    """NB201's reduction block: ``ReLUConvBN(3×3, stride 2) → ReLUConvBN(3×3)`` plus an ``AvgPool2×2 → Conv1×1``
    shortcut, halving the resolution and changing ``in_channels`` to ``out_channels``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(in_channels, out_channels, 3, stride=2)
        self.conv_b = ReLUConvBN(out_channels, out_channels, 3)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, stride=2), nn.Conv2d(in_channels, out_channels, 1, bias=False)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The NAS-Bench-201 network of the cell ``arch``.

    Args:
        arch: NB201 arch string (validated with :class:`~bo_diffnag.spaces.NB201Space`; ``ValueError`` if malformed).
        channels: channels ``C`` of the first stage (the benchmark used 16).
        cells_per_stage: cells per stage (the benchmark used 5).
        num_classes: outputs of the classifier.
        in_channels: channels of the input images.

    Any input of at least 1×1 pixels works: the two reductions pad, and the classifier pools globally.

    Example:
        >>> net = NB201Network("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")
        >>> sum(p.numel() for p in net.parameters())  # CIFAR-10 params_mb of this arch: 1.073466
        1073466
        >>> net(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self, arch: str, channels: int = 16, cells_per_stage: int = 5, num_classes: int = 10, in_channels: int = 3
    ) -> None:
        super().__init__()
        for name, value in (("channels", channels), ("num_classes", num_classes), ("in_channels", in_channels)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if cells_per_stage < 0:
            raise ValueError(f"cells_per_stage must be non-negative, got {cells_per_stage}")
        space = get_space("nb201")
        self.arch = space.canonical(arch)
        ops = list(space.to_parameters(self.arch).values())

        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        layers: list[nn.Module] = []
        widths = (channels, 2 * channels, 4 * channels)
        for stage, width in enumerate(widths):
            if stage > 0:
                layers.append(ResidualReduction(widths[stage - 1], width))
            layers.extend(NB201Cell(ops, width) for _ in range(cells_per_stage))
        self.cells = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.BatchNorm2d(widths[-1]), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(widths[-1], num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.head(self.cells(self.stem(x))))

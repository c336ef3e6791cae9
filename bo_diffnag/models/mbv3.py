"""The Once-for-All MobileNetV3 network of an MBv3 subnet config ``{"ks", "e", "d"}``.

Layout (OFA ``ofa_mbv3_d234_e346_k357_w1.2``, the supernet behind the benchmark's accuracy predictor and
latency tables; see the data README): first conv 3×3 stride 2 + BN + h-swish (24 channels); a fixed first
MBConv block (expand 1, 3×3, ReLU, identity skip); five stages of widths 32, 48, 96, 136, 192 with strides
2, 2, 2, 1, 2, squeeze-and-excitation in stages 2, 4, 5 and h-swish in stages 3–5, each running the first
``d[s]`` of its four layer slots; then a 1×1 expand conv to 1152 (BN, h-swish), global average pooling, a 1×1
feature-mix conv to 1536 (no BN, h-swish) and the linear classifier. ``width_mult=1.0`` means these widths;
other multipliers scale every width and round it to a multiple of 8 as OFA does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import product
from typing import Any

import torch
from torch import Tensor, nn

from bo_diffnag.spaces import get_space
from bo_diffnag.spaces.mbv3 import EXPAND_RATIOS, KERNEL_SIZES, MAX_DEPTH, NUM_SLOTS, NUM_STAGES

FIRST_WIDTH = 24  # first conv and first block
STAGE_WIDTHS = (32, 48, 96, 136, 192)
STAGE_STRIDES = (2, 2, 2, 1, 2)
STAGE_SE = (False, True, False, True, True)
STAGE_HSWISH = (False, False, True, True, True)
FINAL_EXPAND_WIDTH = 1152
FEATURE_MIX_WIDTH = 1536
CHANNEL_DIVISOR = 8
SE_REDUCTION = 4


def make_divisible(value: float, divisor: int = CHANNEL_DIVISOR) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``divisor``), never more than 10 % below.

    Example:
        >>> [make_divisible(w) for w in (19.2, 34.0, 134.4, 6.0)]
        [24, 32, 136, 8]
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    # Rounding down by more than 10 % would cut a layer's capacity too much: take the next multiple instead.
    return rounded + divisor if rounded < 0.9 * value else rounded


def _activation(hswish: bool) -> nn.Module:
    return nn.Hardswish() if hswish else nn.ReLU()


class ConvBNAct(nn.Sequential):
    """``Conv(k×k, no bias, groups) → BN → activation`` (activation ``None`` for a linear projection)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1,
        activation: nn.Module | None = None,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        if activation is not None:
            layers.append(activation)
        super().__init__(*layers)


class SqueezeExcite(nn.Module):
    """Channel gating ``x · h_sigmoid(W₂ ReLU(W₁ avgpool(x)))``, bottleneck ``channels/4`` rounded to 8."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        mid = make_divisible(channels // SE_REDUCTION)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, mid, 1),
            nn.ReLU(),
            nn.Conv2d(mid, channels, 1),
            nn.Hardsigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x)


class MBConv(nn.Module):
    """Inverted residual block: ``1×1 expand → k×k depthwise (stride) → [SE] → 1×1 project``, with an identity
    skip when ``residual``. ``expand_ratio=1`` drops the expand conv (OFA's first block).

    Example:
        >>> import torch
        >>> MBConv(16, 16, kernel_size=5, expand_ratio=3, stride=1, se=True, hswish=True, residual=True)(
        ...     torch.zeros(1, 16, 8, 8)).shape
        torch.Size([1, 16, 8, 8])
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, expand_ratio: int, stride: int, se: bool,
        hswish: bool, residual: bool,
    ) -> None:
        super().__init__()
        if residual and (stride != 1 or in_channels != out_channels):
            raise ValueError("an identity skip needs stride 1 and equal input and output channels")
        mid = make_divisible(round(in_channels * expand_ratio))
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNAct(in_channels, mid, 1, activation=_activation(hswish)))
        else:
            mid = in_channels
        layers.append(ConvBNAct(mid, mid, kernel_size, stride, groups=mid, activation=_activation(hswish)))
        if se:
            layers.append(SqueezeExcite(mid))
        layers.append(ConvBNAct(mid, out_channels, 1))
        self.body = nn.Sequential(*layers)
        self.residual = residual
        # Kept to describe the block (e.g. as a latency-table key), not used by forward.
        self.kernel_size, self.stride, self.mid_channels, self.se, self.hswish = kernel_size, stride, mid, se, hswish

    def forward(self, x: Tensor) -> Tensor:
        out = self.body(x)
        return x + out if self.residual else out


def op_parameter_counts(width_mult: float = 1.0) -> Tensor:
    """``[20, 9]``: the parameters the op in each row of MBv3's encoding (a layer slot) adds to
    :class:`MobileNetV3Network` — its MBConv block, whose input width is the previous stage's width in a
    stage's first slot and the stage's own width after it. A skipped slot (zero row) adds none, so a
    network's parameter count is linear in its one-hot encoding (see
    :func:`bo_diffnag.models.parameter_count_weights`).

    Example:
        >>> op_parameter_counts()[0, :3].tolist()  # stage 1, first layer, kernel 3, expand 3 / 4 / 6
        [5032.0, 6688.0, 10000.0]
    """
    counts = torch.zeros(NUM_SLOTS, len(KERNEL_SIZES) * len(EXPAND_RATIOS), dtype=torch.double)
    width = make_divisible(FIRST_WIDTH * width_mult)
    for s in range(NUM_STAGES):
        out = make_divisible(STAGE_WIDTHS[s] * width_mult)
        for layer in range(MAX_DEPTH):
            # Stride and the identity skip add no parameters; only the widths, kernel and expansion do.
            for column, (ks, e) in enumerate(product(KERNEL_SIZES, EXPAND_RATIOS)):
                block = MBConv(width if layer == 0 else out, out, ks, e, 1, STAGE_SE[s], STAGE_HSWISH[s], residual=False)
                counts[s * MAX_DEPTH + layer, column] = sum(p.numel() for p in block.parameters())
        width = out
    return counts


class MobileNetV3Network(nn.Module):
    """The OFA MobileNetV3 subnet ``config`` as a standalone network.

    Args:
        config: MBv3 canonical JSON string or dict ``{"ks": [20], "e": [20], "d": [5]}`` (``ValueError`` if invalid).
        width_mult: multiplier on every width (rounded to multiples of 8); 1.0 is OFA's w1.2 supernet.
        num_classes: outputs of the classifier.
        in_channels: channels of the input images.
        stem_stride: stride of the first conv (2 in OFA).
        stage_strides: stride of the first layer of each stage (OFA: ``(2, 2, 2, 1, 2)``).
        dropout: dropout rate before the classifier.

    With the OFA strides the network downsamples 32×; a smaller input still runs (padded stride-2 convs keep at
    least 1×1 pixels, and pooling is global) but its later stages then see 1×1 maps, so for small images
    (e.g. 8×8 digits) lower ``stem_stride`` and ``stage_strides``.

    Example:
        >>> import torch
        >>> from bo_diffnag.spaces import get_space
        >>> net = MobileNetV3Network(get_space("mbv3").sample(1, seed=0)[0], width_mult=0.25, num_classes=10)
        >>> net(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        config: str | Mapping[str, Any],
        width_mult: float = 1.0,
        num_classes: int = 1000,
        in_channels: int = 3,
        stem_stride: int = 2,
        stage_strides: Sequence[int] = STAGE_STRIDES,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not width_mult > 0:
            raise ValueError(f"width_mult must be positive, got {width_mult}")
        for name, value in (("num_classes", num_classes), ("in_channels", in_channels), ("stem_stride", stem_stride)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if len(stage_strides) != NUM_STAGES or any(s < 1 for s in stage_strides):
            raise ValueError(f"stage_strides must be {NUM_STAGES} positive ints, got {list(stage_strides)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        space = get_space("mbv3")
        self.arch = space.canonical(config)
        cfg = space.config(self.arch)

        first = make_divisible(FIRST_WIDTH * width_mult)
        self.first_conv = ConvBNAct(in_channels, first, 3, stem_stride, activation=nn.Hardswish())
        blocks: list[nn.Module] = [
            MBConv(first, first, 3, expand_ratio=1, stride=1, se=False, hswish=False, residual=True)
        ]
        width = first
        for s in range(NUM_STAGES):
            out = make_divisible(STAGE_WIDTHS[s] * width_mult)
            for layer in range(cfg["d"][s]):
                slot = s * MAX_DEPTH + layer
                # Only a stage's first layer changes resolution and width, so only it lacks the identity skip.
                blocks.append(
                    MBConv(
                        width, out, cfg["ks"][slot], cfg["e"][slot], stride=stage_strides[s] if layer == 0 else 1,
                        se=STAGE_SE[s], hswish=STAGE_HSWISH[s], residual=layer > 0,
                    )
                )
                width = out
        self.blocks = nn.Sequential(*blocks)
        final = make_divisible(FINAL_EXPAND_WIDTH * width_mult)
        mix = make_divisible(FEATURE_MIX_WIDTH * width_mult)
        self.head = nn.Sequential(
            ConvBNAct(width, final, 1, activation=nn.Hardswish()),
            nn.AdaptiveAvgPool2d(1),
            # OFA mixes the pooled features with a bias-free 1×1 conv and no batch norm (1×1 maps).
            nn.Conv2d(final, mix, 1, bias=False),
            nn.Hardswish(),
            nn.Flatten(),
            nn.Dropout(dropout),
        )
        self.classifier = nn.Linear(mix, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.head(self.blocks(self.first_conv(x))))

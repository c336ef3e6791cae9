"""Once-for-All MobileNetV3 oracle: OFA's ImageNet accuracy predictor and the Note10 latency lookup table."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import Tensor

from bo_diffnag.benchmarks.base import Benchmark
from bo_diffnag.data import data_file
from bo_diffnag.spaces import get_space
from bo_diffnag.spaces.mbv3 import EXPAND_RATIOS, KERNEL_SIZES, MAX_DEPTH, NUM_SLOTS, NUM_STAGES, MBv3Space

PREDICTOR_FILE = "ofa_mbv3/ofa_mbv3_acc_predictor_mlp.npz"
LATENCY_FILE = "ofa_mbv3/note10_latency_lut/{r}_lookup_table.yaml"
RESOLUTIONS = (160, 176, 192, 208, 224)
_PREDICTOR_LAYERS = ("0", "2", "4", "6")  # Linear layers of the MLP; ReLU between them
_NUM_RES_BINS = 8  # resolution one-hot: bin (r - 112) // 16 of 8
# Per-stage MobileNetV3 macro-architecture (OFA's w1.2 network).
_STEM_WIDTH = 24
_STAGE_STRIDE = (2, 2, 2, 1, 2)
_STAGE_WIDTH = (32, 48, 96, 136, 192)
_STAGE_SE = (0, 1, 0, 1, 1)
_STAGE_HSWISH = (0, 0, 1, 1, 1)
_HEAD_WIDTH, _FEATURE_WIDTH, _NUM_CLASSES = 1152, 1536, 1000
# Position of each slot's latency in the flattened (stage, later-layer, op) table.
_SLOT_BASE = (torch.arange(NUM_SLOTS) // MAX_DEPTH) * 2 * len(MBv3Space.op_names) + (
    torch.arange(NUM_SLOTS) % MAX_DEPTH > 0
).long() * len(MBv3Space.op_names)


@cache
def _load_predictor(path: Path) -> tuple[tuple[Tensor, Tensor], ...]:
    """The accuracy MLP's ``(weight[out, in], bias[out])`` pairs in float64."""
    with np.load(path) as npz:
        return tuple(
            (torch.from_numpy(npz[f"{l}_weight"]).double(), torch.from_numpy(npz[f"{l}_bias"]).double())
            for l in _PREDICTOR_LAYERS
        )


@cache
def _load_lut(path: Path) -> dict[str, dict]:
    with open(path) as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _shape(size: int, width: int) -> str:
    return f"{size}x{size}x{width}"


def _block_key(
    in_size: int, in_width: int, out_width: int, expand: int, kernel: int, stride: int, idskip: int, se: int, hs: int
) -> str:
    """LUT key of an ``expanded_conv`` (MBConv) block."""
    out_size = (in_size - 1) // stride + 1
    return (
        f"expanded_conv-input:{_shape(in_size, in_width)}-output:{_shape(out_size, out_width)}-expand:{expand}"
        f"-kernel:{kernel}-stride:{stride}-idskip:{idskip}-se:{se}-hs:{hs}"
    )


def note10_latency_table(lut: Mapping[str, Mapping], resolution: int, source: str) -> tuple[float, Tensor]:
    """Split the Note10 latency of any subnet at ``resolution`` into a fixed part and per-slot parts.

    Returns ``(fixed_ms, slot_ms)`` with ``slot_ms[stage, later, op]`` the latency of op code ``op`` as the
    first (``later = 0``) or a later (``later = 1``) layer of ``stage``; a subnet's latency is ``fixed_ms``
    plus the sum over its active slots. The recipe follows OFA's ``LatencyTable``: stem conv, fixed first
    block, the MBConv layers, then the final expand conv, pooling, feature mix and classifier.
    ``LookupError`` names a key missing from the table read from ``source``.

    Example:
        >>> from bo_diffnag.data import data_file
        >>> path = data_file(LATENCY_FILE.format(r=224))
        >>> fixed, slots = note10_latency_table(yaml.safe_load(path.read_text()), 224, str(path))
        >>> slots.shape
        torch.Size([5, 2, 9])
    """

    def ms(key: str) -> float:
        if key not in lut or "mean" not in lut[key]:
            raise LookupError(f"Note10 latency table {source} has no entry {key!r}")
        return float(lut[key]["mean"])

    size = (resolution + 1) // 2
    fixed = ms(f"Conv-input:{_shape(resolution, 3)}-output:{_shape(size, _STEM_WIDTH)}")
    fixed += ms(_block_key(size, _STEM_WIDTH, _STEM_WIDTH, _STEM_WIDTH, kernel=3, stride=1, idskip=1, se=0, hs=0))
    slots = torch.empty(NUM_STAGES, 2, len(MBv3Space.op_names), dtype=torch.float64)
    width = _STEM_WIDTH
    for stage in range(NUM_STAGES):
        out_width = _STAGE_WIDTH[stage]
        out_size = (size - 1) // _STAGE_STRIDE[stage] + 1
        se, hs = _STAGE_SE[stage], _STAGE_HSWISH[stage]
        # A stage's first layer strides and changes width (no identity skip); later layers keep the shape.
        layers = ((size, width, _STAGE_STRIDE[stage], 0), (out_size, out_width, 1, 1))
        for later, (in_size, in_width, stride, idskip) in enumerate(layers):
            for op in range(len(MBv3Space.op_names)):
                kernel = KERNEL_SIZES[op // len(EXPAND_RATIOS)]
                expand = round(in_width * EXPAND_RATIOS[op % len(EXPAND_RATIOS)])
                key = _block_key(in_size, in_width, out_width, expand, kernel, stride, idskip, se, hs)
                slots[stage, later, op] = ms(key)
        size, width = out_size, out_width
    fixed += ms(f"Conv_1-input:{_shape(size, width)}-output:{_shape(size, _HEAD_WIDTH)}")
    fixed += ms(f"AvgPool2D-input:{_shape(size, _HEAD_WIDTH)}-output:{_shape(1, _HEAD_WIDTH)}")
    fixed += ms(f"Conv_2-input:{_shape(1, _HEAD_WIDTH)}-output:{_shape(1, _FEATURE_WIDTH)}")
    fixed += ms(f"Logits-input:{_shape(1, _FEATURE_WIDTH)}-output:{_NUM_CLASSES}")
    return fixed, slots


class MBv3Benchmark(Benchmark):
    """OFA MobileNetV3 on ImageNet at one input resolution: surrogate accuracy and Note10 latency.

    ``objective`` = ``test`` = the OFA accuracy predictor's top-1 accuracy (%) on its 10K-image hold-out
    set; extra keys ``accuracy`` (the same as a fraction), ``latency_ms`` (Samsung Note10 lookup-table
    latency) and ``resolution``. The predictor input is built from codes: per slot a one-hot of the kernel
    size at ``3i..3i+2`` and of the expand ratio at ``60+3i..60+3i+2`` (all zero for skipped slots), then a
    one-hot of ``(r - 112) // 16`` at ``120..127``. The MLP runs in float64.

    Example:
        >>> bench = MBv3Benchmark(resolution=224)
        >>> r = bench.evaluate({"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5})
        >>> round(r["accuracy"], 5), round(r["latency_ms"], 3)
        (0.83593, 92.398)
    """

    space: MBv3Space

    def __init__(self, resolution: int = 224, data_dir: str | os.PathLike | None = None) -> None:
        if resolution not in RESOLUTIONS or isinstance(resolution, bool):
            raise ValueError(f"unsupported MBv3 resolution {resolution!r}; expected one of {list(RESOLUTIONS)}")
        self.name = "mbv3:imagenet"
        self.space = get_space("mbv3")
        self.resolution = resolution
        self.objective_name = f"ImageNet top-1 accuracy (%) predicted by OFA's predictor at r={resolution}"
        self._layers = _load_predictor(data_file(PREDICTOR_FILE, data_dir).resolve())
        self._resolution_onehot = torch.nn.functional.one_hot(
            torch.tensor((resolution - 112) // 16), _NUM_RES_BINS
        ).double()
        lut_path = data_file(LATENCY_FILE.format(r=resolution), data_dir).resolve()
        self._fixed_ms, slot_ms = note10_latency_table(_load_lut(lut_path), resolution, str(lut_path))
        self._slot_ms = slot_ms.flatten()

    def features(self, X: Tensor) -> Tensor:
        """Predictor input ``[B, 128]`` (float64) of one-hot matrices ``X[B, 20, 9]`` (empty slots: zero rows).

        Linear in ``X`` (op index = 3·ks_idx + e_idx, so the kernel one-hot sums a row over expand ratios and
        the expand one-hot over kernel sizes), hence defined and differentiable on relaxed encodings too.

        Example:
            >>> bench = MBv3Benchmark(resolution=224)
            >>> bench.features(bench.space.encode_batch([{"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5}])).sum().item()
            41.0
        """
        by_ks_e = X.double().reshape(len(X), NUM_SLOTS, len(KERNEL_SIZES), len(EXPAND_RATIOS))
        res = self._resolution_onehot.expand(len(X), -1)
        return torch.cat([by_ks_e.sum(-1).flatten(1), by_ks_e.sum(-2).flatten(1), res], dim=1)

    def predict_accuracy(self, X: Tensor) -> Tensor:
        """The oracle's accuracy (a fraction) ``[B]`` of one-hot matrices ``X[B, 20, 9]``, differentiable in ``X``.

        On valid one-hot matrices this is the ``objective``; on relaxed ones it is the predictor MLP applied
        to the relaxed features, which lets the oracle itself stand in for an acquisition function (the
        proposal-step ceiling in ``benchmarks/bench_ceiling.py``).

        Example:
            >>> bench = MBv3Benchmark(resolution=224)
            >>> round(bench.predict_accuracy(bench.space.encode_batch([{"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5}])).item(), 5)
            0.83593
        """
        h = self.features(X)
        for i, (weight, bias) in enumerate(self._layers):
            h = torch.nn.functional.linear(h, weight, bias)
            if i < len(self._layers) - 1:
                h = h.relu()
        return h.squeeze(-1)

    def _evaluate_valid_codes(self, codes: Tensor) -> dict[str, Tensor]:
        accuracy = self.predict_accuracy(self.space.codes_to_matrix(codes))
        slot_ms = self._slot_ms[_SLOT_BASE + codes.clamp_min(0)] * (codes >= 0)
        return {
            "objective": accuracy * 100,
            "test": accuracy * 100,
            "accuracy": accuracy,
            "latency_ms": self._fixed_ms + slot_ms.sum(-1),
            "resolution": torch.full((len(codes),), self.resolution, dtype=torch.long),
        }

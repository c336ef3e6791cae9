"""The benchmark-oracle abstraction: architecture in, objective and metrics out.

A :class:`Benchmark` wraps a search space and a table or surrogate read from the benchmark data directory.
Subclasses implement one batched tensor path, :meth:`Benchmark.evaluate_codes`, on the space's internal
codes; the string-facing :meth:`Benchmark.evaluate` and :meth:`Benchmark.evaluate_batch` are built on it
here, so every benchmark parses, validates and tabulates results the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from bo_diffnag.spaces import SearchSpace

Arch = str | Mapping[str, Any]
Result = dict[str, float | int | str]


class Benchmark(ABC):
    """An oracle that scores architectures of :attr:`space`.

    Every result has the keys ``arch`` (canonical string), ``objective`` (what an optimiser maximises,
    in %) and ``test`` (the metric to report, in %), plus benchmark-specific keys.

    Attributes:
        name: registry name, e.g. ``"nb201:cifar10"``.
        space: the search space the architectures come from.
        objective_name: a readable description of ``objective``.

    Example:
        >>> from bo_diffnag.benchmarks import get_benchmark
        >>> bench = get_benchmark("nb201:cifar10")
        >>> result = bench.evaluate(bench.space.sample(1, seed=0)[0])
        >>> sorted(result)[:3]
        ['arch', 'flops_m', 'index']
    """

    name: str
    space: SearchSpace
    objective_name: str

    @abstractmethod
    def _evaluate_valid_codes(self, codes: Tensor) -> dict[str, Tensor]:
        """Metrics of the checked codes ``[B, N]``: key → ``Tensor[B]`` (float64 or int64), ``arch`` excluded."""

    def evaluate_codes(self, codes: Tensor) -> dict[str, Tensor]:
        """Batched tensor path: codes ``LongTensor[B, N]`` → ``{key: Tensor[B]}`` (every key but ``arch``).

        ``ValueError`` if ``codes`` has the wrong shape or holds an invalid architecture.

        Example:
            >>> from bo_diffnag.benchmarks import get_benchmark
            >>> bench = get_benchmark("mbv3:imagenet")
            >>> codes = bench.space.sample_codes(4, torch.Generator().manual_seed(0))
            >>> bench.evaluate_codes(codes)["objective"].shape
            torch.Size([4])
        """
        self._check_codes(codes)
        return self._evaluate_valid_codes(codes)

    def evaluate(self, arch: Arch) -> Result:
        """Score one architecture (canonical string, or an equivalent the space parses).

        Example:
            >>> from bo_diffnag.benchmarks import get_benchmark
            >>> bench = get_benchmark("nb201:cifar10")
            >>> bench.evaluate("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")["index"]
            6111
        """
        codes = self.space.parse(arch)
        values = self.evaluate_codes(codes.unsqueeze(0))
        return {"arch": self.space.format(codes), **{key: value[0].item() for key, value in values.items()}}

    def evaluate_batch(self, archs: Sequence[Arch]) -> pd.DataFrame:
        """Score many architectures at once: one row per arch, the keys of :meth:`evaluate` as columns.

        Example:
            >>> from bo_diffnag.benchmarks import get_benchmark
            >>> bench = get_benchmark("nb201:cifar100")
            >>> bench.evaluate_batch(bench.space.sample(3, seed=0)).shape[0]
            3
        """
        if len(archs) == 0:
            codes = torch.empty(0, self.space.num_nodes, dtype=torch.long)
        else:
            codes = torch.stack([self.space.parse(arch) for arch in archs])
        values = self.evaluate_codes(codes)
        return pd.DataFrame(
            {"arch": [self.space.format(c) for c in codes], **{key: value.numpy() for key, value in values.items()}}
        )

    def _check_codes(self, codes: Tensor) -> None:
        if not isinstance(codes, Tensor) or codes.dtype != torch.long:
            raise ValueError(f"{self.name}: codes must be a LongTensor, got {getattr(codes, 'dtype', type(codes))}")
        if codes.dim() != 2 or codes.shape[1] != self.space.num_nodes:
            raise ValueError(f"{self.name}: codes must have shape (B, {self.space.num_nodes}), got {tuple(codes.shape)}")
        in_range = ((codes >= -1) & (codes < self.space.num_ops)).all(-1)
        bad = (~(in_range & self.space.valid_codes(codes.clamp(-1, self.space.num_ops - 1)))).nonzero()
        if len(bad):
            row = int(bad[0])
            raise ValueError(f"{self.name}: codes row {row} is not a valid {self.space.name} architecture: {codes[row].tolist()}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

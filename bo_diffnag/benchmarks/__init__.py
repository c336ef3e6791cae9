"""Benchmark oracles: NAS-Bench-201 table lookup (three datasets) and the OFA MobileNetV3 predictor.

Example:
    >>> from bo_diffnag.benchmarks import get_benchmark
    >>> bench = get_benchmark("nb201:cifar10", noisy=True, seed=0)
    >>> bench.evaluate(bench.space.sample(1, seed=0)[0])["objective"] > 0
    True
"""

from __future__ import annotations

import os
from typing import Any

from bo_diffnag.benchmarks.base import Arch, Benchmark, Result
from bo_diffnag.benchmarks.mbv3 import MBv3Benchmark
from bo_diffnag.benchmarks.nb201 import NB201Benchmark

BENCHMARKS = ("nb201:cifar10", "nb201:cifar100", "nb201:imagenet16-120", "mbv3:imagenet")


def get_benchmark(name: str, data_dir: str | os.PathLike | None = None, **options: Any) -> Benchmark:
    """The benchmark called ``name`` (one of :data:`BENCHMARKS`), reading data from ``data_dir``.

    ``options`` go to the benchmark's constructor: ``noisy``, ``seed``, ``latency_devices`` for NB201;
    ``resolution`` for MBv3.

    Example:
        >>> get_benchmark("mbv3:imagenet", resolution=192).resolution
        192
    """
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; expected one of {list(BENCHMARKS)}")
    family, dataset = name.split(":")
    if family == "nb201":
        return NB201Benchmark(dataset, data_dir=data_dir, **options)
    return MBv3Benchmark(data_dir=data_dir, **options)


__all__ = ["BENCHMARKS", "Arch", "Benchmark", "MBv3Benchmark", "NB201Benchmark", "Result", "get_benchmark"]

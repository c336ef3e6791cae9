"""Ax metrics and runners over bo-diffnag's benchmark oracles, for ``Client.run_trials``.

Example:
    >>> from ax.api.client import Client
    >>> from ax_integration import BenchmarkMetric, BenchmarkRunner, nas_generation_strategy, parameter_configs
    >>> from bo_diffnag.spaces import get_space
    >>> client = Client()
    >>> client.configure_experiment(parameters=parameter_configs(get_space("nb201")))
    >>> client.configure_optimization(objective="accuracy")
    >>> client.configure_runner(BenchmarkRunner("nb201:cifar10"))
    >>> client.configure_metrics([BenchmarkMetric("accuracy"), BenchmarkMetric("test_accuracy", key="test")])
    >>> client.set_generation_strategy(nas_generation_strategy("nb201", optimizer="mutation"))
    >>> client.run_trials(max_trials=12)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from ax.api.protocols.metric import IMetric
from ax.api.protocols.runner import IRunner
from ax.core.trial_status import TrialStatus

from bo_diffnag.benchmarks import Benchmark, get_benchmark


class BenchmarkRunner(IRunner):
    """Runs a trial by scoring its architecture on a benchmark oracle (synchronously: oracles are fast).

    The oracle's result is the trial's run metadata; a trial whose evaluation raises or gives a
    non-finite objective polls as ``FAILED``.

    Args:
        benchmark: a name of :data:`bo_diffnag.benchmarks.BENCHMARKS`, e.g. ``"nb201:cifar10"``.
        data_dir: the benchmark data directory (default: ``$BO_DIFFNAG_DATA``, then ``../shared/data``).
        options: benchmark options (``noisy``, ``seed``, ``resolution``, ...).
    """

    def __init__(self, benchmark: str, data_dir: str | None = None, options: dict[str, Any] | None = None) -> None:
        self.benchmark = benchmark
        self.data_dir = data_dir
        self.options = dict(options or {})

    @cached_property
    def oracle(self) -> Benchmark:
        return get_benchmark(self.benchmark, data_dir=self.data_dir, **self.options)

    def run_trial(self, trial_index: int, parameterization: Mapping[str, Any]) -> dict[str, Any]:
        try:
            arch = self.oracle.space.from_parameters(parameterization)
            return {"results": self.oracle.evaluate(arch)}
        except Exception as err:  # a failed trial is data, not a crash
            return {"error": f"{type(err).__name__}: {err}"}

    def poll_trial(self, trial_index: int, trial_metadata: Mapping[str, Any]) -> TrialStatus:
        objective = trial_metadata.get("results", {}).get("objective", math.nan)
        return TrialStatus.COMPLETED if math.isfinite(objective) else TrialStatus.FAILED

    def stop_trial(self, trial_index: int, trial_metadata: Mapping[str, Any]) -> dict[str, Any]:
        return {}


class BenchmarkMetric(IMetric):
    """Reads one key (``"objective"``, ``"test"``, ``"params_mb"``, a latency column, ...) of the oracle's result.

    Args:
        name: the Ax metric name, e.g. ``"accuracy"``.
        key: the result key to report (default ``"objective"``).
    """

    def __init__(self, name: str, key: str = "objective") -> None:
        super().__init__(name=name)
        self.key = key

    def fetch(self, trial_index: int, trial_metadata: Mapping[str, Any]) -> tuple[int, float]:
        results = trial_metadata.get("results")
        if results is None or self.key not in results:
            raise ValueError(f"trial {trial_index} has no {self.key!r} result: {trial_metadata.get('error', results)}")
        return 0, float(results[self.key])

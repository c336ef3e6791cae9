"""The comparison harness: every optimiser on a benchmark over many seeds (``bench``), then statistics (``report``).

Example:
    >>> from bo_diffnag.harness import run_bench, write_report
    >>> run_bench("nb201", "nb201:cifar10", ["diffusion", "random"], budget=100, seeds=10, out_dir="runs/c10")  # doctest: +SKIP
    >>> write_report("runs/c10")["win_rate"]["random"]["final"]  # doctest: +SKIP
"""

from bo_diffnag.harness.bench import (
    TRACE_CONTRACT,
    TRACE_RUNNERS,
    TraceRunner,
    collect_traces,
    global_best_objective,
    register_trace_runner,
    run_bench,
)
from bo_diffnag.harness.report import default_checkpoints, mean_ci, median_ci, summarize, write_report
from bo_diffnag.harness.search_baselines import run_evolution, run_local_search, run_random_search

__all__ = [
    "TRACE_CONTRACT",
    "TRACE_RUNNERS",
    "TraceRunner",
    "collect_traces",
    "default_checkpoints",
    "global_best_objective",
    "mean_ci",
    "median_ci",
    "register_trace_runner",
    "run_bench",
    "run_evolution",
    "run_local_search",
    "run_random_search",
    "summarize",
    "write_report",
]

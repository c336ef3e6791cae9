"""Ax's own strategy (``ax_default``) as an optimiser of the comparison harness (``bo-diffnag bench``).

:func:`register` adds the ``ax_default`` runner to :data:`bo_diffnag.harness.bench.TRACE_RUNNERS`, and
:func:`add_harness_commands` is the CLI extension that does so before adding ``bench`` and ``report``. The
runner is a module-level function, so the harness's spawned workers receive it by reference (module and
name) and import this module, and Ax, only when an ``ax_default`` run is actually done.

Example:
    >>> from bo_diffnag.benchmarks import get_benchmark
    >>> trace = run_ax_default_trace(get_benchmark("nb201:cifar10"), budget=6, n_init=3, batch_size=2, seed=0,
    ...                              acquisition="qLogNEI", prior=None)  # doctest: +SKIP
    >>> list(trace["eval"])  # doctest: +SKIP
    [1, 2, 3, 4, 5, 6]
"""

from __future__ import annotations

import logging
import math
from typing import Any

import pandas as pd
from ax.utils.common.logger import set_stderr_log_level

from ax_integration.experiment import default_name, run_nas_experiment
from bo_diffnag.benchmarks import Benchmark
from bo_diffnag.bo import TRACE_COLUMNS
from bo_diffnag.diffusion.prior import DiffusionPrior
from bo_diffnag.harness.bench import register_trace_runner
from bo_diffnag.harness.cli import add_harness_commands as add_core_harness_commands


def run_ax_default_trace(
    benchmark: Benchmark,
    budget: int,
    n_init: int,
    batch_size: int,
    seed: int,
    acquisition: str,
    prior: DiffusionPrior | None,
    surrogate_options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Run Ax's default strategy (``n_init`` centre + Sobol trials, then a BoTorch GP) for ``budget`` trials.

    Ax chooses its own model and acquisition, so ``acquisition`` only names the experiment and ``prior`` and
    ``surrogate_options`` are unused; its initial design is Ax's, not the harness's shared one. Only
    completed trials are evaluations (``eval`` 1, 2, ...), with the running ``best_objective`` and ``best_test`` of
    :func:`bo_diffnag.bo.run_bo`. The first ``n_init`` trials are round 0 (``seconds = 0``, as for
    ``run_bo``'s design); every later ask–tell step is one round, whose ``seconds`` is the time Ax took to
    propose that step's trials (0 if the steps cannot be told apart). Evaluations are unique architectures:
    when Ax's model keeps proposing evaluated points, Ax falls back to Sobol without deduplication (seen on
    NB201), so the run goes on until ``budget`` distinct architectures are completed, and a repeat — its
    result already known — is not a row of the trace.

    Returns:
        A DataFrame with the columns of :func:`bo_diffnag.bo.run_bo`.
    """
    set_stderr_log_level(logging.WARNING)  # Ax logs every trial at INFO, which would flood a bench run
    created: list[int] = []  # number of trials created, seen after every reported trial
    result = run_nas_experiment(
        benchmark.space.name,
        benchmark.evaluate,
        optimizer="ax_default",
        acquisition=acquisition,
        trials=budget,
        batch_size=batch_size,
        n_init=n_init,
        seed=seed,
        storage=None,
        name=default_name(benchmark.name, "ax_default", acquisition, seed),
        progress=False,
        on_trial=lambda table: created.append(len(table)),
        count_unique=True,
    )
    # The inline loop creates a step's trials together, so each new trial count ends one step, and
    # proposal_seconds[k] is step k's time per trial. Should the counts disagree, the times are unknown (0).
    step_ends = list(dict.fromkeys(created))
    known = len(step_ends) == len(result.proposal_seconds)
    step_of: dict[int, int] = {}
    step_seconds: list[float] = []
    for step, end in enumerate(step_ends):
        start = len(step_of)
        step_of |= {position: step for position in range(start, end)}
        step_seconds.append(result.proposal_seconds[step] * (end - start) if known else 0.0)
    rows: list[dict[str, Any]] = []
    best = {"objective": -math.inf, "test": math.nan}
    rounds: dict[int, int] = {}  # step → round number among the steps after the initial design
    seen: set[str] = set()
    for position, trial in enumerate(result.trials.itertuples()):
        if trial.status != "COMPLETED" or trial.arch in seen:
            continue
        seen.add(trial.arch)
        if trial.objective > best["objective"]:
            best.update(objective=trial.objective, test=trial.test)
        step = step_of[position]
        initial = position < n_init
        if not initial:
            rounds.setdefault(step, len(rounds) + 1)
        rows.append(
            {
                "eval": len(rows) + 1,
                "round": 0 if initial else rounds[step],
                "arch": trial.arch,
                "objective": trial.objective,
                "test": trial.test,
                "best_objective": best["objective"],
                "best_test": best["test"],
                "status": "completed",
                "seconds": 0.0 if initial else step_seconds[step],
            }
        )
    return pd.DataFrame(rows, columns=TRACE_COLUMNS)


def register() -> None:
    """Make ``ax_default`` an optimiser of :func:`bo_diffnag.harness.bench.run_bench`."""
    register_trace_runner("ax_default", run_ax_default_trace)


def add_harness_commands(sub: Any) -> None:
    """CLI extension: ``bench`` and ``report`` with ``ax_default`` available (for ``ax_integration.cli``)."""
    register()
    add_core_harness_commands(sub)

"""Where Ax's own strategy (``ax_default``) spends its proposal time on a benchmark.

Runs the harness's ``ax_default`` optimiser (``ax_integration.harness.run_ax_default_trace``, Ax unmodified)
with timing wrappers around the two steps Ax's BoTorch generator takes every time it proposes a trial:
fitting the GP (``fit_gpytorch_mll``, as Ax's ``botorch_modular.utils`` calls it) and optimising the
acquisition (``optimize_acqf_discrete_local_search``, which Ax picks for discrete spaces of more than
10,000 combinations whose parameters have at most 100 values each). A forward hook on each acquisition
function counts its calls and the points it scores. The wrappers only time and count; the run's proposals
are Ax's.

    python benchmarks/bench_ax_profile.py [--benchmark mbv3:imagenet] [--budget 100] [--seeds 2] [--jobs 2]
Writes benchmarks/results/ax_profile_<space>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from functools import wraps
from pathlib import Path
from typing import Any, Callable

import ax.generators.torch.botorch_modular.acquisition as ax_acquisition
import ax.generators.torch.botorch_modular.utils as ax_utils
import torch

from ax_integration.harness import run_ax_default_trace
from bo_diffnag.benchmarks import get_benchmark

RESULTS = Path(__file__).resolve().parent / "results"
#: What a profiled run counts: calls and seconds of each timed step, acquisition calls and the points they score.
COUNTERS = ("fit_calls", "fit_seconds", "local_search_calls", "local_search_seconds", "acqf_calls", "acqf_points")


def timed(counters: dict[str, float], name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` adding its calls and seconds to ``counters[name + "_calls" | "_seconds"]``."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            counters[f"{name}_calls"] += 1
            counters[f"{name}_seconds"] += time.perf_counter() - start

    return wrapper


def profiled_run(benchmark_name: str, budget: int, seed: int) -> dict[str, Any]:
    """One ``ax_default`` run of the harness with Ax's fit and acquisition optimisation timed."""
    torch.set_num_threads(1)
    counters: dict[str, float] = dict.fromkeys(COUNTERS, 0)
    local_search = ax_acquisition.optimize_acqf_discrete_local_search

    def counted_local_search(acq_function: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        def count(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            counters["acqf_calls"] += 1
            counters["acqf_points"] += inputs[0].shape[:-2].numel()

        hook = acq_function.register_forward_hook(count)
        try:
            return local_search(acq_function, *args, **kwargs)
        finally:
            hook.remove()

    ax_acquisition.optimize_acqf_discrete_local_search = timed(counters, "local_search", counted_local_search)
    ax_utils.fit_gpytorch_mll = timed(counters, "fit", ax_utils.fit_gpytorch_mll)
    start = time.perf_counter()
    trace = run_ax_default_trace(
        get_benchmark(benchmark_name), budget=budget, n_init=10, batch_size=10, seed=seed, acquisition="qLogNEI", prior=None
    )
    rounds = trace[trace["round"] > 0].groupby("round")["seconds"].first()
    return {
        "seed": seed,
        "wall_seconds": time.perf_counter() - start,
        "rounds": len(rounds),
        "proposal_seconds": float(rounds.sum()),
        "best_objective": float(trace["best_objective"].iloc[-1]),
        **counters,
    }


def render(report: dict[str, Any]) -> str:
    runs, totals = report["runs"], report["totals"]
    lines = [
        f"# Where `ax_default` spends its time on {report['benchmark']} (`benchmarks/bench_ax_profile.py`)",
        "",
        f"Machine: {report['machine']}. Ax 1.3.1's own strategy through the harness (`run_ax_default_trace`), "
        f"budget {report['budget']}, initial design 10, batch 10, qLogNEI named only; seeds 0..{len(runs) - 1}, "
        f"{report['jobs']} jobs. Seconds are wall clock inside each worker.",
        "",
        "| seed | proposal rounds | proposal s | s / round | GP fits | fit s | local searches | local search s "
        "| s / local search | acquisition calls | points scored |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run['seed']} | {run['rounds']} | {run['proposal_seconds']:.0f} | {run['proposal_seconds'] / run['rounds']:.1f} "
            f"| {run['fit_calls']} | {run['fit_seconds']:.1f} | {run['local_search_calls']} "
            f"| {run['local_search_seconds']:.0f} | {run['local_search_seconds'] / max(run['local_search_calls'], 1):.2f} "
            f"| {run['acqf_calls']:,} | {run['acqf_points']:,} |"
        )
    lines += [
        "",
        f"Share of the proposal time: acquisition local search **{totals['local_search_share']:.0%}**, GP fitting "
        f"{totals['fit_share']:.0%}, the rest (Ax's transforms and bookkeeping) {totals['other_share']:.0%}. "
        f"Per local search: {totals['acqf_calls_per_local_search']:.0f} acquisition calls scoring "
        f"{totals['points_per_acqf_call']:.0f} points each on average. One local search per proposed trial: Ax's "
        "`get_next_trials` fits the GP once per step, then optimises one trial at a time, the earlier ones pending.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", default="mbv3:imagenet")
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    space = args.benchmark.split(":")[0]
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = list(pool.map(profiled_run, [args.benchmark] * args.seeds, [args.budget] * args.seeds, range(args.seeds)))
    total = {key: sum(run[key] for run in runs) for key in (*COUNTERS, "proposal_seconds")}
    proposal = total["proposal_seconds"]
    report: dict[str, Any] = {
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs, 1 torch thread per job",
        "benchmark": args.benchmark, "budget": args.budget, "jobs": args.jobs, "runs": runs,
        "totals": {
            "local_search_share": total["local_search_seconds"] / proposal,
            "fit_share": total["fit_seconds"] / proposal,
            "other_share": 1 - (total["local_search_seconds"] + total["fit_seconds"]) / proposal,
            "acqf_calls_per_local_search": total["acqf_calls"] / max(total["local_search_calls"], 1),
            "points_per_acqf_call": total["acqf_points"] / max(total["acqf_calls"], 1),
        },
    }
    stem = f"ax_profile_{space}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=1))
    (RESULTS / f"{stem}.md").write_text(render(report))
    print(render(report))


if __name__ == "__main__":
    main()

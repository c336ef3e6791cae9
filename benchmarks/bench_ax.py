"""Ax path vs core loop: wall-time overhead and quality parity for the same optimiser.

For each seed, runs the core BO loop (:func:`bo_diffnag.bo.run_bo`) and the Ax path
(:func:`ax_integration.experiment.run_nas_experiment`: ``ax.api.Client`` + our generation strategy, the
same proposal step) with the same settings, alternating so both see the same machine load. The Ax path
runs once in memory and once with SQLite storage (saving after every trial, as ``bo-diffnag run`` does).

    python benchmarks/bench_ax.py [--seeds 5] [--trials 50] [--optimizer diffusion]
Writes benchmarks/results/ax.json and ax.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from scipy.stats import mannwhitneyu

from ax_integration.experiment import run_nas_experiment
from bo_diffnag.benchmarks import get_benchmark
from bo_diffnag.bo import run_bo
from bo_diffnag.diffusion.prior import DiffusionPrior

RESULTS = Path(__file__).resolve().parent / "results"


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its normal 95% interval."""
    mean = statistics.fmean(values)
    half = 1.96 * statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan")
    return mean, half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--n-init", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--optimizer", default="diffusion")
    parser.add_argument("--benchmark", default="nb201:cifar10")
    args = parser.parse_args()
    bench = get_benchmark(args.benchmark)
    space = bench.space.name
    prior = DiffusionPrior.pretrained(space)  # loaded once, outside the timings
    settings = dict(optimizer=args.optimizer, batch_size=args.batch_size, n_init=args.n_init)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            row = {"seed": seed}
            t0, c0 = time.perf_counter(), time.process_time()
            trace = run_bo(bench, budget=args.trials, seed=seed, prior=prior, **settings)
            row["core_seconds"], row["core_cpu_seconds"] = time.perf_counter() - t0, time.process_time() - c0
            row["core_best"] = float(trace["best_objective"].iloc[-1])
            row["core_best_test"] = float(trace["best_test"].iloc[-1])
            for label, storage in (("ax", None), ("ax_sqlite", f"sqlite:///{tmp}/bench.db")):
                t0, c0 = time.perf_counter(), time.process_time()
                result = run_nas_experiment(
                    space, bench.evaluate, trials=args.trials, seed=seed, storage=storage,
                    name=f"bench-{seed}", progress=False, **settings,
                )
                row[f"{label}_seconds"] = time.perf_counter() - t0
                row[f"{label}_cpu_seconds"] = time.process_time() - c0
                done = result.completed
                best = done.loc[done["objective"].idxmax()]
                row[f"{label}_best"] = float(best["objective"])
                row[f"{label}_best_test"] = float(best["test"])
            runs.append(row)
            print(json.dumps({k: round(v, 3) for k, v in row.items()}))

    summary = {}
    for label in ("core", "ax", "ax_sqlite"):
        summary[label] = {
            "seconds": mean_ci([r[f"{label}_seconds"] for r in runs]),
            "cpu_seconds": mean_ci([r[f"{label}_cpu_seconds"] for r in runs]),
            "best_objective": mean_ci([r[f"{label}_best"] for r in runs]),
            "best_test": mean_ci([r[f"{label}_best_test"] for r in runs]),
        }
    for label in ("ax", "ax_sqlite"):
        summary[label]["overhead"] = sum(r[f"{label}_seconds"] for r in runs) / sum(r["core_seconds"] for r in runs) - 1
        summary[label]["cpu_overhead"] = (
            sum(r[f"{label}_cpu_seconds"] for r in runs) / sum(r["core_cpu_seconds"] for r in runs) - 1
        )
        summary[label]["mannwhitney_p_best_objective"] = float(
            mannwhitneyu([r[f"{label}_best"] for r in runs], [r["core_best"] for r in runs]).pvalue
        )
    report = {
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads",
        "settings": {**vars(args)},
        "runs": runs,
        "summary": summary,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ax.json").write_text(json.dumps(report, indent=1))
    lines = [
        "# Ax path vs core loop (`benchmarks/bench_ax.py`)",
        "",
        f"Machine: {report['machine']}. {args.benchmark}, optimizer `{args.optimizer}`, qLogNEI, {args.trials} trials,",
        f"initial design {args.n_init}, batch {args.batch_size}, seeds 0–{args.seeds - 1}; mean ± 95% CI over seeds.",
        "Core: `run_bo`. Ax: `run_nas_experiment` (ax.api.Client + our generation strategy), in memory and with",
        "SQLite storage written after every trial. Overhead = total Ax seconds / total core seconds − 1 (one run,",
        "interleaved per seed); CPU = process time, less sensitive to other jobs on the machine.",
        "",
        "| path | wall s per run | wall overhead | CPU s per run | CPU overhead | best objective | best test | Mann–Whitney p vs core |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label in ("core", "ax", "ax_sqlite"):
        s = summary[label]
        overhead = f"{100 * s['overhead']:+.1f}%" if "overhead" in s else "—"
        cpu_overhead = f"{100 * s['cpu_overhead']:+.1f}%" if "overhead" in s else "—"
        p = f"{s['mannwhitney_p_best_objective']:.2f}" if "overhead" in s else "—"
        lines.append(
            f"| {label} | {s['seconds'][0]:.2f} ± {s['seconds'][1]:.2f} | {overhead} | "
            f"{s['cpu_seconds'][0]:.2f} ± {s['cpu_seconds'][1]:.2f} | {cpu_overhead} | "
            f"{s['best_objective'][0]:.3f} ± {s['best_objective'][1]:.3f} | {s['best_test'][0]:.3f} ± {s['best_test'][1]:.3f} | {p} |"
        )
    (RESULTS / "ax.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

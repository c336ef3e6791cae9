"""Cost and reproducibility of a full comparison: every optimiser of ``bo-diffnag bench`` on one benchmark.

Runs the CLI exactly as a user would (``bo-diffnag bench --optimizers ALL --budget 100 --seeds 10 --jobs 2``;
all optimisers, ``exhaustive`` only on NB201)
into a fresh temporary directory and measures its wall clock: issue 7's target is ≤ 30 minutes with two
worker processes. It then compares every (optimiser, seed) run with the committed comparison of the same
benchmark (``--reference``, by default ``results/compare_<space>[_<dataset>]``, usually run on another machine
with a larger budget): a run counts as
reproduced when its first ``budget`` evaluated architectures are the reference's, in the same order.

    python benchmarks/bench_full_comparison.py [--space nb201] [--benchmark nb201:cifar10] [--budget 100]
        [--seeds 10] [--jobs 2] [--reference DIR] [--exclude ax_default]
Writes benchmarks/results/full_comparison_<space>.json and .md (with ``--exclude``:
full_comparison_<space>_without_<names>.json and .md), e.g. to time the optimisers whose cost is ours apart
from Ax's own strategy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from ax_integration.harness import register as register_ax_default
from bo_diffnag.harness import TRACE_RUNNERS
from bo_diffnag.harness.report import summarize

RESULTS = Path(__file__).resolve().parent / "results"
register_ax_default()  # the optimisers of `bo-diffnag bench`, Ax's own strategy included


def reproduced_seeds(traces: pd.DataFrame, reference: pd.DataFrame, budget: int) -> dict[str, dict[str, int]]:
    """Per optimiser: how many seeds evaluated the reference's first ``budget`` architectures in its order."""
    counts = {}
    for optimizer, runs in traces.groupby("optimizer"):
        same = 0
        for seed, run in runs.groupby("seed"):
            ref = reference[(reference.optimizer == optimizer) & (reference.seed == seed)].sort_values("eval")
            same += run.sort_values("eval").arch.tolist() == ref.arch.tolist()[:budget]
        counts[optimizer] = {"reproduced": same, "seeds": runs.seed.nunique()}
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="nb201")
    parser.add_argument("--benchmark", default="nb201:cifar10")
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--reference", type=Path, default=None)
    parser.add_argument("--exclude", default="", help="comma-separated optimisers to leave out, e.g. ax_default")
    args = parser.parse_args()
    excluded = [name for name in args.exclude.split(",") if name]
    if unknown := set(excluded) - set(TRACE_RUNNERS):
        parser.error(f"--exclude: unknown optimisers {sorted(unknown)}; expected names from {', '.join(TRACE_RUNNERS)}")
    if args.reference is None:
        dataset = args.benchmark.split(":")[-1]
        args.reference = RESULTS / ("compare_mbv3" if args.space == "mbv3" else f"compare_nb201_{dataset}")
    optimizers = [
        name for name in TRACE_RUNNERS
        if (args.space == "nb201" or name != "exhaustive") and name not in excluded
    ]
    bench = [str(Path(sys.executable).parent / "bo-diffnag"), "bench", "--space", args.space, "--benchmark", args.benchmark,
             "--optimizers", ",".join(optimizers), "--budget", str(args.budget), "--seeds", str(args.seeds),
             "--jobs", str(args.jobs), "--no-progress"]
    with tempfile.TemporaryDirectory(prefix="full_comparison_") as out:
        start = time.perf_counter()
        subprocess.run([*bench, "--out", out], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        wall = time.perf_counter() - start
        traces = pd.read_csv(Path(out) / "traces.csv")
    summary = summarize(traces)["optimizers"]
    reference = pd.read_csv(args.reference / "traces.csv")
    report = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "settings": {**{k: v for k, v in vars(args).items() if k not in ("reference", "exclude")}, "optimizers": optimizers,
                     "excluded": excluded,
                     "reference": str(args.reference.relative_to(RESULTS.parent.parent)), "n_init": 10, "batch_size": 10},
        "wall_seconds": round(wall, 1),
        "seconds_per_round": {name: entry["seconds_per_round"] for name, entry in summary.items()},
        "reproduced": reproduced_seeds(traces, reference, args.budget),
    }
    RESULTS.mkdir(exist_ok=True)
    stem = f"full_comparison_{args.space}" + "".join(f"_without_{name}" for name in excluded)
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=1))
    (RESULTS / f"{stem}.md").write_text(markdown(report))
    print(markdown(report))


def optimizer_set(settings: dict) -> str:
    """"all 10 optimisers", or "9 optimisers (all but ax_default)" for a run with ``--exclude``."""
    excluded = settings.get("excluded", [])
    count = f"{len(settings['optimizers'])} optimisers"
    return f"{count} (all but {', '.join(excluded)})" if excluded else f"all {count}"


def markdown(report: dict) -> str:
    """The markdown table of a report (``full_comparison_<space>.json``)."""
    settings = report["settings"]
    lines = [
        "# Cost and reproducibility of a full comparison (`benchmarks/bench_full_comparison.py`)",
        "",
        f"Machine: {report['machine']['platform']}, {report['machine']['cpus']} CPUs. `bo-diffnag bench` on "
        f"{settings['benchmark']}, {optimizer_set(settings)}, seeds 0–{settings['seeds'] - 1}, "
        f"budget {settings['budget']}, initial design 10, batch 10, `--jobs {settings['jobs']}` (one torch thread "
        f"each): **{report['wall_seconds'] / 60:.1f} minutes** wall clock (target ≤ 30).",
        "",
        f"Reproduced: runs whose first {settings['budget']} architectures, in order, equal those of the committed "
        f"`{settings['reference']}` (another machine, same seeds).",
        "",
        "| optimiser | s / proposal round | reproduced seeds |",
        "|---|---|---|",
    ]
    for name, entry in report["reproduced"].items():
        seconds = report["seconds_per_round"].get(name)
        lines.append(f"| {name} | {'–' if seconds is None else f'{seconds:.2f}'} | {entry['reproduced']}/{entry['seeds']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

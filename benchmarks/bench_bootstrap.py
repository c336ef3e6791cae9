"""Does the ensemble's recipe decide whether BO finds the NB201 optimum? (plain vs bootstrap members, normal scores).

BO with the exact acquisition maximiser (``exhaustive``: on NB201 DiffusionNAG proposes the same
architectures, benchmarks/results/acqf.md), qLogNEI, 10 initial + rounds of 10, 100 evaluations, seeds 0–9,
one torch thread per run; only ``surrogate_options`` differ between variants. Per variant: evaluations until
the global best-validation architecture is evaluated (median over seeds; "not reached" counts as ∞), the
share of seeds that reach it, and the mean test accuracy of the best-validation architecture after 100.

    python benchmarks/bench_bootstrap.py [--benchmarks cifar10,cifar100] [--variants plain,bootstrap,...]

Traces go to runs/bench_bootstrap/ (a finished variant is not rerun); the summary to
benchmarks/results/bootstrap.json and bootstrap.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
from pathlib import Path

import pandas as pd
import torch

from bo_diffnag.benchmarks import get_benchmark
from bo_diffnag.bo import run_bo

RESULTS = Path(__file__).resolve().parent / "results"
RUNS = Path("runs/bench_bootstrap")
VARIANTS = {  # explicit, so each row stays what it says whatever the loop's defaults become
    "plain": {"bootstrap": False, "normal_scores": False},
    "plain_10_members": {"bootstrap": False, "normal_scores": False, "num_members": 10},
    "bootstrap": {"bootstrap": True, "normal_scores": False},
    "bootstrap_normal_scores": {"bootstrap": True, "normal_scores": True},
}
BUDGET, SEEDS = 100, range(10)


def traces(dataset: str, variant: str) -> pd.DataFrame:
    path = RUNS / f"{dataset}-{variant}.csv"
    if not path.exists():
        bench = get_benchmark(f"nb201:{dataset}")
        runs = [
            run_bo(bench, "exhaustive", "qLogNEI", budget=BUDGET, seed=seed, surrogate_options=VARIANTS[variant]).assign(seed=seed)
            for seed in SEEDS
        ]
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.concat(runs).to_csv(path, index=False)
    return pd.read_csv(path)


def summarize(trace: pd.DataFrame, optimum: float) -> dict:
    evals = []
    for _, run in trace.groupby("seed"):
        hit = run.loc[run["objective"] >= optimum - 1e-9, "eval"]
        evals.append(int(hit.min()) if len(hit) else math.inf)
    median = statistics.median(evals)
    return {
        "evals_to_optimum": [e if math.isfinite(e) else None for e in evals],
        "median_evals_to_optimum": median if math.isfinite(median) else None,  # None: not reached
        "share_reaching_optimum": sum(math.isfinite(e) for e in evals) / len(evals),
        "mean_best_test_at_100": float(trace.loc[trace["eval"] == BUDGET, "best_test"].mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", default="cifar10,cifar100")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    path = RESULTS / "bootstrap.json"
    report = json.loads(path.read_text()) if path.exists() else {"results": {}}
    report["machine"] = f"{platform.platform()}, {os.cpu_count()} CPUs, 1 torch thread per run"
    for dataset in args.benchmarks.split(","):
        bench = get_benchmark(f"nb201:{dataset}")
        optimum = float(bench.evaluate_batch(bench.space.enumerate())["objective"].max())
        for variant in args.variants.split(","):
            report["results"].setdefault(dataset, {})[variant] = summarize(traces(dataset, variant), optimum)
            print(dataset, variant, json.dumps(report["results"][dataset][variant]))
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    table = pd.DataFrame(
        [
            {
                "benchmark": dataset,
                "ensemble": variant,
                "median evals to optimum": r["median_evals_to_optimum"] or "not reached",
                "seeds reaching it": f"{r['share_reaching_optimum']:.0%}",
                f"test % at {BUDGET}": round(r["mean_best_test_at_100"], 2),
                "evals per seed": ", ".join("–" if e is None else str(e) for e in r["evals_to_optimum"]),
            }
            for dataset, variants in report["results"].items()
            for variant, r in variants.items()
        ]
    )
    text = (
        "# Ensemble recipe vs finding the NB201 optimum (`benchmarks/bench_bootstrap.py`)\n\n"
        f"Machine: {report['machine']}. BO with `exhaustive` proposals, qLogNEI, 10 initial + rounds of 10, "
        f"{BUDGET} evaluations, seeds 0–9.\n\n{table.to_markdown(index=False)}\n"
    )
    (RESULTS / "bootstrap.md").write_text(text)
    print(text)

if __name__ == "__main__":
    main()

"""Proposal-step ceiling on MobileNetV3: every acquisition optimiser of the BO loop given a perfect model.

The loop of the comparison harness (``run_rounds``: the seed's initial design of 10, rounds of 10, 100 unique
evaluations) with the surrogate's acquisition replaced by the oracle itself,
``MBv3Benchmark.predict_accuracy`` (the OFA predictor MLP, differentiable in the one-hot encoding): each
round an optimiser proposes the ``q`` best of its candidates by true accuracy. Diffusion is guided by the
oracle's gradient through the denoised estimate (``mode="denoised"``, the path any non-ensemble model takes).

The gap between these curves and the same optimiser's committed harness run
(``results/compare_mbv3``: 5-member ensemble, qLogNEI) is what the surrogate costs; what is left between the
ceiling and the best known value (≈ 85.40) is the proposal step's own limit.

    python benchmarks/bench_ceiling.py [--seeds 10] [--jobs 2]
Writes benchmarks/results/ceiling.json, ceiling.md and ceiling_traces.csv.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import torch

from bo_diffnag.benchmarks import get_benchmark
from bo_diffnag.benchmarks.mbv3 import MBv3Benchmark
from bo_diffnag.bo import propose, run_rounds
from bo_diffnag.diffusion.prior import DiffusionPrior
from bo_diffnag.harness.report import summarize
from bo_diffnag.optim import encode_flat
from bo_diffnag.seeding import draw_seed

RESULTS = Path(__file__).resolve().parent / "results"
HARNESS_RUN = RESULTS / "compare_mbv3" / "traces.csv"
OPTIMIZERS = ("diffusion", "random_pool", "mutation", "mutation_random", "acqf_local_search")
CHECKPOINTS = [20, 40, 60, 80, 100]


class OracleAcquisition(torch.nn.Module):
    """The benchmark's true accuracy as an acquisition value: ``[b, q, 180] → [b]``, the best of each q-batch.

    A noiseless, exact model makes every improvement-based acquisition rank candidates by this value.
    """

    def __init__(self, benchmark: MBv3Benchmark) -> None:
        super().__init__()
        self.benchmark = benchmark

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        space = self.benchmark.space
        accuracy = self.benchmark.predict_accuracy(X.reshape(-1, *space.matrix_shape))
        return accuracy.reshape(X.shape[:-1]).amax(-1)


def oracle_trace(optimizer: str, seed: int, budget: int) -> pd.DataFrame:
    """One seed of the BO loop with ``optimizer`` proposing by the oracle's values."""
    torch.set_num_threads(1)
    benchmark = get_benchmark("mbv3:imagenet")
    space, acqf = benchmark.space, OracleAcquisition(benchmark)
    prior = DiffusionPrior.pretrained("mbv3") if optimizer == "diffusion" else None

    def proposer(rows: list[dict], q: int, generator: torch.Generator) -> list[str]:
        done = [r for r in rows if r["status"] == "completed"]
        archs = [r["arch"] for r in done]
        train_Y = torch.tensor([[r["objective"]] for r in done], dtype=torch.double)
        X_avoid = encode_flat(space, [r["arch"] for r in rows])
        return propose(optimizer, acqf, space, archs, train_Y, q, X_avoid, draw_seed(generator), prior)

    trace = run_rounds(benchmark, proposer, budget, n_init=10, batch_size=10, seed=seed)
    return trace.assign(optimizer=optimizer, seed=seed)


def _cells(entry: dict) -> list[str]:
    return [f"{p['mean']:.2f} ± {p['ci95']:.2f}" for p in entry["best_objective"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--budget", type=int, default=100)
    args = parser.parse_args()
    start = time.perf_counter()
    tasks = [(o, s, args.budget) for o in OPTIMIZERS for s in range(args.seeds)]
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        traces = pd.concat(list(pool.map(oracle_trace, *zip(*tasks))), ignore_index=True)
    minutes = (time.perf_counter() - start) / 60
    traces.to_csv(RESULTS / "ceiling_traces.csv", index=False)

    harness = pd.read_csv(HARNESS_RUN)
    harness = harness[harness["optimizer"].isin(OPTIMIZERS) & harness["seed"].isin(range(args.seeds))]
    oracle = summarize(traces, checkpoints=CHECKPOINTS)["optimizers"]
    surrogate = summarize(harness, checkpoints=CHECKPOINTS)["optimizers"]
    report = {
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs, 1 torch thread per job, {args.jobs} jobs",
        "settings": {"benchmark": "mbv3:imagenet", "seeds": args.seeds, "budget": args.budget, "n_init": 10,
                     "batch_size": 10, "checkpoints": CHECKPOINTS, "harness_run": str(HARNESS_RUN.relative_to(RESULTS))},
        "minutes": round(minutes, 1),
        "oracle": oracle,
        "surrogate": surrogate,
    }
    (RESULTS / "ceiling.json").write_text(json.dumps(report, indent=1))
    lines = [
        "# Proposal-step ceiling on MobileNetV3 (`benchmarks/bench_ceiling.py`)",
        "",
        f"Machine: {report['machine']}; {minutes:.1f} min in all. Seeds 0..{args.seeds - 1}, initial design 10 "
        f"(the same per seed), batch 10, {args.budget} unique evaluations. Cells: mean best accuracy (%) ± 95% CI "
        "half-width after n evaluations. *oracle*: the acquisition is the true accuracy (perfect model); "
        f"*ensemble*: the committed harness run `{report['settings']['harness_run']}` (5-member ensemble, qLogNEI). "
        "Best known value ≈ 85.40.",
        "",
        "| optimiser | model | " + " | ".join(f"n={c}" for c in CHECKPOINTS) + " |",
        "|---|---|" + "---|" * len(CHECKPOINTS),
    ]
    for name in OPTIMIZERS:
        lines.append(f"| {name} | oracle | " + " | ".join(_cells(oracle[name])) + " |")
        if name in surrogate:
            lines.append(f"| {name} | ensemble | " + " | ".join(_cells(surrogate[name])) + " |")
    (RESULTS / "ceiling.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

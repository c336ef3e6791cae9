"""Proposal-step ceiling on MobileNetV3: the acquisition optimisers of the BO loop given a perfect model.

Part ``oracle``: the loop of the comparison harness (``run_rounds``: the seed's initial design of 10, rounds of
10, 100 unique evaluations) with the surrogate's acquisition replaced by the oracle itself,
``MBv3Benchmark.predict_accuracy`` (the OFA predictor MLP, differentiable in the one-hot encoding): each
round an optimiser proposes the ``q`` best of its candidates by true accuracy. Diffusion is guided by the
oracle's gradient through the denoised estimate (``mode="denoised"``, the path any non-ensemble model takes).
The gap between these curves and the same optimiser's committed harness runs (``HARNESS_RUNS``: the
5-member ensemble choosing each batch, and the default where a GP chooses it; qLogNEI) is what the surrogate
costs; what is left between the ceiling and the best known value (≈ 85.40) is the proposal step's own limit.

Part ``labels``: how far more data takes the loop's surrogate. The BO loop's ensemble (default recipe, but the
ensemble also chooses the batch: ``LABELS_RECIPE``; an exact GP on 3,000 labels is too slow for this part) is
fitted on N uniformly random labelled subnets, N = 100 … 3000, and one DiffusionNAG round (qLogNEI, q = 10)
proposes from it; the best true accuracy of the 10 proposals, beside the oracle's one-round value above.

    python benchmarks/bench_ceiling.py [--parts oracle,labels] [--seeds 10] [--label-seeds 5] [--jobs 2]
Writes benchmarks/results/ceiling.json, ceiling.md and (part oracle) ceiling_traces.csv; a run of one part keeps
the other's earlier results, and every run (``--parts ""`` runs none) re-reads the committed harness runs.
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
from bo_diffnag.bo import SURROGATE_DEFAULTS, initial_design, propose, propose_batch, run_rounds, split_history
from bo_diffnag.diffusion.prior import DiffusionPrior
from bo_diffnag.harness.report import mean_ci, summarize
from bo_diffnag.optim import encode_flat
from bo_diffnag.seeding import draw_seed

RESULTS = Path(__file__).resolve().parent / "results"
#: The committed harness runs measured beside the ceiling, by the model that chose each batch.
HARNESS_RUNS = {"ensemble": "compare_mbv3_ensemble_selection", "GP chooses": "compare_mbv3"}
#: The recipe of the labels part, as measured: the ensemble also chooses the batch.
LABELS_RECIPE = {"selection_model": "ensemble"}
OPTIMIZERS = ("diffusion", "random_pool", "mutation", "mutation_random", "acqf_local_search")
CHECKPOINTS = [20, 40, 60, 80, 100]
LABELS = (100, 300, 1000, 3000)


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
        train_archs, train_Y, seen = split_history(rows)
        return propose(optimizer, acqf, space, train_archs, train_Y, q, encode_flat(space, seen), draw_seed(generator), prior)

    trace = run_rounds(benchmark, proposer, budget, n_init=10, batch_size=10, seed=seed)
    return trace.assign(optimizer=optimizer, seed=seed)


def one_round_from_labels(num_labels: int, seed: int) -> dict:
    """The loop's ensemble fitted on ``num_labels`` random subnets; the best true accuracy of one round's 10 proposals."""
    torch.set_num_threads(1)
    benchmark = get_benchmark("mbv3:imagenet")
    archs = initial_design(benchmark.space, num_labels, seed=1000 + seed)
    Y = torch.tensor(benchmark.evaluate_batch(archs)["objective"].to_numpy()).unsqueeze(-1)
    proposals = propose_batch(
        benchmark.space, "diffusion", "qLogNEI", archs, Y, archs, q=10, seed=seed, surrogate_options=LABELS_RECIPE
    )
    best = float(benchmark.evaluate_batch(proposals)["objective"].max())
    return {"labels": num_labels, "seed": seed, "best_proposal": best, "best_label": float(Y.max())}


def run_oracle_part(args: argparse.Namespace, pool: ProcessPoolExecutor) -> dict:
    start = time.perf_counter()
    tasks = [(o, s, args.budget) for o in OPTIMIZERS for s in range(args.seeds)]
    traces = pd.concat(list(pool.map(oracle_trace, *zip(*tasks))), ignore_index=True)
    minutes = (time.perf_counter() - start) / 60
    traces.to_csv(RESULTS / "ceiling_traces.csv", index=False)
    return {
        "seeds": args.seeds, "budget": args.budget, "n_init": 10, "batch_size": 10, "checkpoints": CHECKPOINTS,
        "minutes": round(minutes, 1), "oracle": summarize(traces, checkpoints=CHECKPOINTS)["optimizers"],
    }


def harness_summaries(seeds: int) -> dict[str, dict]:
    """Per model of ``HARNESS_RUNS``: its committed run of the same optimisers and seeds, summarised alike."""
    summaries = {}
    for model, run in HARNESS_RUNS.items():
        harness = pd.read_csv(RESULTS / run / "traces.csv")
        harness = harness[harness["optimizer"].isin(OPTIMIZERS) & harness["seed"].isin(range(seeds))]
        summaries[model] = {"run": run, "optimizers": summarize(harness, checkpoints=CHECKPOINTS)["optimizers"]}
    return summaries


def run_labels_part(args: argparse.Namespace, pool: ProcessPoolExecutor) -> dict:
    start = time.perf_counter()
    tasks = [(n, s) for n in LABELS for s in range(args.label_seeds)]
    rows = pd.DataFrame(list(pool.map(one_round_from_labels, *zip(*tasks))))
    summary = {
        str(n): {column: dict(zip(("mean", "ci95"), mean_ci(group[column]))) for column in ("best_proposal", "best_label")}
        for n, group in rows.groupby("labels")
    }
    return {"seeds": args.label_seeds, "minutes": round((time.perf_counter() - start) / 60, 1),
            "surrogate": {**SURROGATE_DEFAULTS, **LABELS_RECIPE}, "rows": rows.to_dict("records"), "summary": summary}


def _ci(point: dict) -> str:
    return f"{point['mean']:.2f} ± {point['ci95']:.2f}"


def render(report: dict) -> str:
    lines = ["# Proposal-step ceiling on MobileNetV3 (`benchmarks/bench_ceiling.py`)", "", f"Machine: {report['machine']}."]
    if "oracle_part" in report:
        part = report["oracle_part"]
        lines += [
            "",
            "## The loop with a perfect model",
            "",
            f"{part['minutes']:.1f} min. Seeds 0..{part['seeds'] - 1}, initial design 10 (the same per seed), batch 10, "
            f"{part['budget']} unique evaluations. Cells: mean best accuracy (%) ± 95% CI half-width after n "
            "evaluations. *oracle*: the acquisition is the true accuracy (perfect model); the other rows are the "
            "committed harness runs (qLogNEI): "
            + "; ".join(f"*{model}*: `{h['run']}`" for model, h in part["harness"].items())
            + " (the 5-member ensemble guides and climbs; in the second a GP chooses each batch, the whole acquisition of the optimisers that only choose). Best known value ≈ 85.40.",
            "",
            "| optimiser | model | " + " | ".join(f"n={c}" for c in part["checkpoints"]) + " |",
            "|---|---|" + "---|" * len(part["checkpoints"]),
        ]
        models = {"oracle": part["oracle"], **{model: h["optimizers"] for model, h in part["harness"].items()}}
        for name in OPTIMIZERS:
            for model, summary in models.items():
                if name in summary:
                    cells = " | ".join(_ci(p) for p in summary[name]["best_objective"])
                    lines.append(f"| {name} | {model} | {cells} |")
    if "labels_part" in report:
        part = report["labels_part"]
        lines += [
            "",
            "## One DiffusionNAG round from the loop's ensemble fitted on N random labels",
            "",
            f"{part['minutes']:.1f} min. Seeds 0..{part['seeds'] - 1} (random subnets drawn with seed 1000 + seed); "
            f"ensemble recipe {part['surrogate']}, qLogNEI, q = 10. Cells: mean ± 95% CI half-width over seeds.",
            "",
            "| N random labels | best of the 10 proposals | best of the N labels |",
            "|---|---|---|",
        ]
        for n, cells in part["summary"].items():
            lines.append(f"| {int(n):,} | {_ci(cells['best_proposal'])} | {_ci(cells['best_label'])} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="oracle,labels", help="comma-separated: oracle, labels")
    parser.add_argument("--seeds", type=int, default=10, help="seeds of the oracle part")
    parser.add_argument("--label-seeds", type=int, default=5, help="seeds of the labels part")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--budget", type=int, default=100)
    args = parser.parse_args()
    parts = {"oracle": run_oracle_part, "labels": run_labels_part}
    chosen = [name for name in args.parts.split(",") if name]
    if unknown := set(chosen) - set(parts):
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; valid: {', '.join(parts)}")
    path = RESULTS / "ceiling.json"
    report = json.loads(path.read_text()) if path.is_file() else {}
    report["machine"] = f"{platform.platform()}, {os.cpu_count()} CPUs, 1 torch thread per job, {args.jobs} jobs"
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for name in chosen:
            report[f"{name}_part"] = parts[name](args, pool)
    if "oracle_part" in report:  # the model rows always follow the committed harness runs
        report["oracle_part"]["harness"] = harness_summaries(report["oracle_part"]["seeds"])
    path.write_text(json.dumps(report, indent=1))
    (RESULTS / "ceiling.md").write_text(render(report))
    print(render(report))


if __name__ == "__main__":
    main()

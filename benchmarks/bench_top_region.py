"""MobileNetV3's top region: how well the loop's ensemble and selection GP rank the oracle's best subnets.

The test sets are the distinct subnets of the oracle-guided runs (``results/ceiling_traces.csv``, written by
``bench_ceiling.py``) at or above 83, 84 and 85 % predicted accuracy: the region a run has to search once it
is past 84 %, which random subnets almost never reach. For each seed of the committed DiffusionNAG runs
(``results/compare_mbv3``), the loop's ensemble (:func:`bo_diffnag.bo.fit_surrogate`, the default recipe) is
fitted on the run's first n evaluations, and so is the loop's selection model
(:func:`bo_diffnag.bo.selection_acquisition`: on MobileNetV3 a GP, ``ProxyMeanGP``); each one's predictive mean
ranks each test set. Reported: Spearman rank correlation with the true accuracy, and the mean true accuracy
of the 10 subnets it ranks highest (a batch chosen from the test set). The ensemble's prior mean alone, the parameter count, needs no data.
The profile compares the mean expand ratio and kernel size of the active layers, per stage, of the oracle's
best subnets with those of the runs' last 20 evaluations. The pool part replays one DiffusionNAG proposal
round after n evaluations of each run (the loop's settings, seeded with the run's seed): how much of the
candidate pool (:func:`~bo_diffnag.optim.diffusion_candidates`) lies in the top region, its best candidate
against the best evaluated so far, and the best of the 10 the round picks, with the loop's selection model and
with the ensemble that built the pool.

    python benchmarks/bench_top_region.py [--evaluations 30 60 90] [--pool-evaluations 50 90]
Writes benchmarks/results/top_region.json and top_region.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from botorch.acquisition import AcquisitionFunction
from scipy.stats import spearmanr

from bo_diffnag.benchmarks import Benchmark, get_benchmark
from bo_diffnag.bo import SURROGATE_DEFAULTS, fit_surrogate, refine_options, selection_acquisition
from bo_diffnag.diffusion.prior import DiffusionPrior
from bo_diffnag.models import parameter_count_weights
from bo_diffnag.optim import decode_flat, diffusion_candidates, encode_flat
from bo_diffnag.optim.pool import select_by
from bo_diffnag.surrogate import make_acquisition
from bo_diffnag.spaces.mbv3 import MAX_DEPTH, NUM_STAGES

RESULTS = Path(__file__).resolve().parent / "results"
THRESHOLDS = (83.0, 84.0, 85.0)
BATCH = 10
POOL_THRESHOLDS = (84.0, 84.5, 85.0)


def ranking(scores: np.ndarray, accuracy: np.ndarray) -> dict[str, float]:
    """Spearman of ``scores`` with ``accuracy`` and the mean accuracy of the ``BATCH`` highest scores."""
    return {"spearman": float(spearmanr(scores, accuracy)[0]), "top10": float(accuracy[np.argsort(-scores)[:BATCH]].mean())}


def stage_profile(archs: pd.Series) -> dict[str, list[float]]:
    """Mean expand ratio and kernel size of the active layers of each stage, and mean depth per stage."""
    configs = [json.loads(a) for a in archs]
    profile: dict[str, list[float]] = {"e": [], "ks": [], "d": []}
    for stage in range(NUM_STAGES):
        active = [(c, MAX_DEPTH * stage + layer) for c in configs for layer in range(c["d"][stage])]
        profile["e"].append(float(np.mean([c["e"][slot] for c, slot in active])))
        profile["ks"].append(float(np.mean([c["ks"][slot] for c, slot in active])))
        profile["d"].append(float(np.mean([c["d"][stage] for c in configs])))
    return profile


def proposal_round(benchmark: Benchmark, prior: DiffusionPrior, run: pd.DataFrame, seed: int) -> dict[str, float]:
    """One DiffusionNAG round (qLogNEI, the loop's ensemble and refinement) after the evaluations in ``run``:
    the true accuracy of its candidate pool and of its ``BATCH`` picks."""
    space, archs = benchmark.space, list(run.arch)
    Y = torch.tensor(run.objective.to_numpy(), dtype=torch.double).unsqueeze(-1)
    acqf = make_acquisition("qLogNEI", fit_surrogate(space, archs, Y, prior.sde, seed), seed=seed)
    pool = diffusion_candidates(
        acqf, prior, q=BATCH, X_avoid=encode_flat(space, archs), seed=seed, **refine_options(space, archs, Y)
    )
    selection = selection_acquisition(space, "qLogNEI", archs, Y, seed)
    accuracy = benchmark.evaluate_batch(pool)["objective"].to_numpy()

    def best_pick(select: AcquisitionFunction | None) -> float:
        picks = decode_flat(space, select_by(acqf, select, space, pool, BATCH)[0])
        return float(benchmark.evaluate_batch(picks)["objective"].max())

    return {
        "pool size": len(pool),
        **{f"share >= {t:g}": float((accuracy >= t).mean()) for t in POOL_THRESHOLDS},
        "best evaluated": float(Y.max()),
        "pool best": float(accuracy.max()),
        "ensemble picks best": best_pick(None),
        "picks best": best_pick(selection),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, nargs="+", default=[30, 60, 90])
    parser.add_argument("--pool-evaluations", type=int, nargs="+", default=[50, 90])
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    benchmark = get_benchmark("mbv3:imagenet")
    space, prior = benchmark.space, DiffusionPrior.pretrained("mbv3")
    runs = pd.read_csv(RESULTS / "compare_mbv3" / "traces.csv")
    runs = runs[runs.optimizer == "diffusion"].sort_values(["seed", "eval"])
    oracle = pd.read_csv(RESULTS / "ceiling_traces.csv").drop_duplicates("arch")
    tests = {t: oracle[oracle.objective >= t] for t in THRESHOLDS}
    encoded = {t: encode_flat(space, list(test.arch)) for t, test in tests.items()}
    size, _ = parameter_count_weights("mbv3")
    report: dict = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()},
        "settings": {"runs": "compare_mbv3 diffusion, seeds " + ", ".join(map(str, sorted(runs.seed.unique()))),
                     "surrogate": SURROGATE_DEFAULTS, "evaluations": args.evaluations,
                     "pool_evaluations": args.pool_evaluations, "batch": BATCH},
        "test_sets": {str(t): {"subnets": len(test), "mean": float(test.objective.mean()),
                               "best10": float(test.objective.nlargest(BATCH).mean())} for t, test in tests.items()},
        "parameter count": {str(t): ranking((encoded[t].double() @ size.double()).numpy(), tests[t].objective.to_numpy())
                            for t in THRESHOLDS},
        "ensemble": {},
        "selection GP": {},
    }
    for n in args.evaluations:
        per_seed: dict[str, list] = {"ensemble": [], "selection GP": []}
        for seed, run in runs.groupby("seed"):
            first = run[run["eval"] <= n]
            Y = torch.tensor(first.objective.to_numpy(), dtype=torch.double).unsqueeze(-1)
            models = {
                "ensemble": fit_surrogate(space, list(first.arch), Y, prior.sde, int(seed)),
                "selection GP": selection_acquisition(space, "qLogNEI", list(first.arch), Y, int(seed)).model,
            }
            for name, model in models.items():
                with torch.no_grad():
                    means = {t: model.posterior(X.unsqueeze(1)).mean.reshape(-1).numpy() for t, X in encoded.items()}
                per_seed[name].append({t: ranking(means[t], tests[t].objective.to_numpy()) for t in THRESHOLDS})
        for name, seeds in per_seed.items():
            report[name][str(n)] = {
                str(t): {k: float(np.mean([s[t][k] for s in seeds])) for k in ("spearman", "top10")} for t in THRESHOLDS
            }
        print(f"n={n} done", round(time.perf_counter() - start), "s", flush=True)
    report["pool"] = {}
    for n in args.pool_evaluations:
        rounds = [proposal_round(benchmark, prior, run[run["eval"] <= n], int(seed)) for seed, run in runs.groupby("seed")]
        report["pool"][str(n)] = {key: float(np.mean([r[key] for r in rounds])) for key in rounds[0]}
        print(f"pool after {n} done", round(time.perf_counter() - start), "s", flush=True)
    last = runs[runs["eval"] > runs["eval"].max() - 20]
    report["profile"] = {
        "oracle subnets >= 85": stage_profile(tests[85.0].arch),
        f"runs' evaluations {runs['eval'].max() - 19}-{runs['eval'].max()}": stage_profile(last.arch),
    }
    report["seconds"] = round(time.perf_counter() - start, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "top_region.json").write_text(json.dumps(report, indent=1))
    (RESULTS / "top_region.md").write_text(render(report))


def render(report: dict) -> str:
    heads = " | ".join(f"≥ {t:g} %" for t in THRESHOLDS)
    sets = report["test_sets"]
    lines = [
        "# The loop's surrogate in MobileNetV3's top region (`benchmarks/bench_top_region.py`)",
        "",
        f"Machine: {report['machine']['platform']}, {report['machine']['cpus']} CPUs, 1 torch thread; "
        f"{report['seconds']:.0f} s. Runs: {report['settings']['runs']} (qLogNEI, the default ensemble). Test sets: "
        "the distinct subnets of the oracle-guided runs (`ceiling_traces.csv`) at or above each accuracy: "
        + "; ".join(f"≥ {t} %: {s['subnets']} subnets, mean {s['mean']:.2f}, best 10 {s['best10']:.2f}" for t, s in sets.items())
        + ". Cells: Spearman rank correlation with the true accuracy / mean true accuracy of the 10 subnets ranked "
        "highest, averaged over seeds.",
        "",
        f"| ranking by | {heads} |",
        "|---|" + "---|" * len(THRESHOLDS),
        "| parameter count (the ensemble's prior mean, no data) | "
        + " | ".join(f"{r['spearman']:.3f} / {r['top10']:.2f}" for r in report["parameter count"].values()) + " |",
    ]
    for name in ("ensemble", "selection GP"):
        for n, cells in report[name].items():
            lines.append(f"| {name} fitted on the first {n} evaluations | "
                         + " | ".join(f"{r['spearman']:.3f} / {r['top10']:.2f}" for r in cells.values()) + " |")
    lines += ["", "## One DiffusionNAG round: its candidate pool and its picks (means over seeds)", "",
              "The loop's picks are chosen by its selection model (`selection_model`: on MobileNetV3 a GP, "
              "`ProxyMeanGP`); the ensemble's are chosen by the ensemble that built the pool (the default before).", "",
              "| after n evaluations | pool size | " + " | ".join(f"pool share ≥ {t:g} %" for t in POOL_THRESHOLDS)
              + " | best evaluated | pool's best | best of the ensemble's 10 picks | best of the loop's 10 picks |",
              "|---|" + "---|" * (len(POOL_THRESHOLDS) + 5)]
    for n, r in report["pool"].items():
        lines.append(f"| {n} | {r['pool size']:.0f} | " + " | ".join(f"{r[f'share >= {t:g}']:.1%}" for t in POOL_THRESHOLDS)
                     + f" | {r['best evaluated']:.2f} | {r['pool best']:.2f} | {r['ensemble picks best']:.2f}"
                     f" | {r['picks best']:.2f} |")
    lines += ["", "## Mean expand ratio / kernel size of the active layers, per stage", "",
              "| subnets | " + " | ".join(f"stage {s + 1}" for s in range(NUM_STAGES)) + " |",
              "|---|" + "---|" * NUM_STAGES]
    for name, profile in report["profile"].items():
        lines.append(f"| {name} | " + " | ".join(f"{e:.2f} / {k:.2f}" for e, k in zip(profile["e"], profile["ks"])) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

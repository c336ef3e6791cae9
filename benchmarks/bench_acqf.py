"""Benchmark of acquisition-guided generation against baseline acquisition optimisers.

A. NB201 quality: ensemble fitted on 20/50/100 random CIFAR-10 evaluations, qLogNEI; where each optimiser's
   pick falls among the exact acquisition values of all unevaluated architectures (percentile, gap to max).
B. Guidance ablation (NB201): validity, diversity and acquisition value of samples vs guidance strength,
   the schedule, and noise-aware vs denoised (clean-model) guidance, including a BoTorch GP.
C. MBv3 quality: acquisition value of the pick at equal acquisition-evaluation budgets.
D. Speed: one proposal round (refit, generate, rank) for diffusion and mutation, same run.

    python benchmarks/bench_acqf.py [--trials 50] [--parts speed,nb201,ablation,mbv3]
Writes benchmarks/results/acqf.json and acqf.md; a run of some parts keeps the others' earlier results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from botorch.acquisition import qLogNoisyExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from gpytorch.mlls import ExactMarginalLogLikelihood

from bo_diffnag.benchmarks import get_benchmark
from bo_diffnag.diffusion.prior import DiffusionPrior
from bo_diffnag.guidance import AcquisitionGuidance
from bo_diffnag.optim import (
    DEFAULT_SCHEDULE,
    encode_flat,
    optimize_acqf_diffusion,
    optimize_acqf_local_search,
    optimize_acqf_mutation,
    optimize_acqf_random,
)
from bo_diffnag.optim.diffusion import DEFAULT_SAMPLER
from bo_diffnag.surrogate import NoiseAwareEnsemble, make_acquisition

RESULTS = Path(__file__).resolve().parent / "results"


class Counter:
    """Counts architectures passed to an acquisition function (forward pre-hook)."""

    def __init__(self, acqf: torch.nn.Module) -> None:
        self.count = 0
        acqf.register_forward_pre_hook(self)

    def __call__(self, module, args) -> None:
        self.count += args[0].shape[:-1].numel()


def observed(space, bench, n: int, seed: int) -> tuple[list[str], torch.Tensor]:
    archs: list[str] = []
    generator = torch.Generator().manual_seed(seed)
    while len(archs) < n:
        archs += [a for a in space.sample(n - len(archs), seed=generator) if a not in archs]
    Y = torch.tensor(bench.evaluate_batch(archs)["objective"].values, dtype=torch.double).unsqueeze(-1)
    return archs, Y


def timed(fn: Callable[[], tuple[torch.Tensor, torch.Tensor]], acqf) -> dict:
    counter = Counter(acqf)
    start = time.perf_counter()
    _, values = fn()
    return {"value": float(values[0]), "evals": counter.count, "seconds": time.perf_counter() - start}


def part_a(prior: DiffusionPrior, trials: int) -> dict:
    space, bench = prior.space, get_benchmark("nb201:cifar10")
    all_archs = space.enumerate()
    out = {}
    for n_obs in (20, 50, 100):
        rows = []
        for trial in range(trials):
            archs, Y = observed(space, bench, n_obs, seed=10_000 * n_obs + trial)
            model = NoiseAwareEnsemble(encode_flat(space, archs), Y, prior.sde, seed=trial)
            acqf = make_acquisition("qLogNEI", model)
            X_avoid = encode_flat(space, archs)
            unseen = [a for a in all_archs if a not in set(archs)]
            with torch.no_grad():
                exact = acqf(encode_flat(space, unseen).unsqueeze(1)).sort().values
            best = float(exact[-1])
            runs = {
                "diffusion": timed(lambda: optimize_acqf_diffusion(acqf, prior, X_avoid=X_avoid, seed=trial), acqf),
                "random_pool": timed(lambda: optimize_acqf_random(acqf, space, X_avoid=X_avoid, seed=trial), acqf),
                "mutation": timed(lambda: optimize_acqf_mutation(acqf, space, archs, Y, X_avoid=X_avoid, seed=trial), acqf),
                "mutation_random": timed(
                    lambda: optimize_acqf_mutation(acqf, space, archs, Y, random_fraction=0.5, X_avoid=X_avoid, seed=trial), acqf
                ),
                "acqf_local_search": timed(lambda: optimize_acqf_local_search(acqf, space, archs, Y, X_avoid=X_avoid), acqf),
            }
            budget = min(runs["diffusion"]["evals"], len(unseen))
            runs["random_pool_equal_evals"] = timed(
                lambda: optimize_acqf_random(acqf, space, num_candidates=budget, X_avoid=X_avoid, seed=trial), acqf
            )
            for run in runs.values():
                run["percentile"] = float((exact < run["value"]).double().mean())
                run["gap"] = best - run["value"]
            rows.append(runs)
            print(f"A n_obs={n_obs} trial={trial}", {k: round(v["percentile"], 4) for k, v in runs.items()}, flush=True)
        out[n_obs] = {
            name: {
                "share_at_or_above_p99": statistics.mean(r[name]["percentile"] >= 0.99 for r in rows),
                "median_percentile": statistics.median(r[name]["percentile"] for r in rows),
                "median_gap": statistics.median(r[name]["gap"] for r in rows),
                "mean_evals": statistics.mean(r[name]["evals"] for r in rows),
                "median_seconds": statistics.median(r[name]["seconds"] for r in rows),
            }
            for name in rows[0]
        }
    return out


def part_b(prior: DiffusionPrior, trials: int) -> dict:
    space, bench = prior.space, get_benchmark("nb201:cifar10")
    all_X = encode_flat(space, space.enumerate())
    settings = [("scale", s) for s in (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)] + [("schedule", DEFAULT_SCHEDULE)]
    rows: dict[str, list[dict]] = {}
    for trial in range(trials):
        archs, Y = observed(space, bench, 50, seed=777 + trial)
        model = NoiseAwareEnsemble(encode_flat(space, archs), Y, prior.sde, seed=trial)
        acqf = make_acquisition("qLogNEI", model)
        gp = SingleTaskGP(encode_flat(space, archs), Y)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
        gp_acqf = qLogNoisyExpectedImprovement(gp, X_baseline=encode_flat(space, archs), prune_baseline=False)
        with torch.no_grad():
            exact = acqf(all_X.unsqueeze(1)).sort().values
            gp_exact = torch.cat([gp_acqf(chunk.unsqueeze(1)) for chunk in all_X.split(2048)]).sort().values

        def record(key: str, archs_out: list[str], validity: float, acq, reference) -> None:
            with torch.no_grad():
                values = acq(encode_flat(space, archs_out).unsqueeze(1)) if archs_out else torch.zeros(0)
            pct = [float((reference < v).double().mean()) for v in values]
            rows.setdefault(key, []).append(
                {
                    "validity": validity,
                    "unique": len(set(archs_out)),
                    "mean_percentile": statistics.mean(pct) if pct else float("nan"),
                    "best_percentile": max(pct) if pct else float("nan"),
                }
            )

        for kind, setting in settings:
            if kind == "scale":
                samples = prior.sample(256, seed=trial, sampler=DEFAULT_SAMPLER, guidance=AcquisitionGuidance(acqf, prior, setting))
                record(f"noise_aware scale={setting}", samples.archs, samples.validity, acqf, exact)
            else:
                generator = torch.Generator().manual_seed(trial)
                archs_out, valid = [], []
                for scale in setting:
                    samples = prior.sample(256, seed=generator, sampler=DEFAULT_SAMPLER, guidance=AcquisitionGuidance(acqf, prior, scale))
                    archs_out += samples.archs
                    valid.append(samples.validity)
                    if len(set(archs_out)) >= 256:
                        break
                record(f"noise_aware schedule={list(setting)}", archs_out, statistics.mean(valid), acqf, exact)
        for scale in (0.5, 2.0):
            samples = prior.sample(256, seed=trial, sampler=DEFAULT_SAMPLER, guidance=AcquisitionGuidance(acqf, prior, scale, mode="denoised"))
            record(f"denoised ensemble scale={scale}", samples.archs, samples.validity, acqf, exact)
            samples = prior.sample(256, seed=trial, sampler=DEFAULT_SAMPLER, guidance=AcquisitionGuidance(gp_acqf, prior, scale))
            record(f"denoised GP scale={scale}", samples.archs, samples.validity, gp_acqf, gp_exact)
        samples = prior.sample(256, seed=trial, sampler=DEFAULT_SAMPLER)
        record("GP unguided", samples.archs, samples.validity, gp_acqf, gp_exact)
        print(f"B trial={trial}", flush=True)
    return {key: {m: statistics.mean(r[m] for r in values) for m in values[0]} for key, values in rows.items()}


def part_c(prior: DiffusionPrior, trials: int) -> dict:
    space, bench = prior.space, get_benchmark("mbv3:imagenet")
    rows = []
    for trial in range(trials):
        archs, Y = observed(space, bench, 50, seed=555 + trial)
        model = NoiseAwareEnsemble(encode_flat(space, archs), Y, prior.sde, seed=trial)
        acqf = make_acquisition("qLogNEI", model)
        X_avoid = encode_flat(space, archs)
        runs = {"diffusion": timed(lambda: optimize_acqf_diffusion(acqf, prior, X_avoid=X_avoid, seed=trial), acqf)}
        budget = runs["diffusion"]["evals"]
        runs["random_pool_equal_evals"] = timed(
            lambda: optimize_acqf_random(acqf, space, num_candidates=budget, X_avoid=X_avoid, seed=trial), acqf
        )
        runs["mutation_equal_evals"] = timed(
            lambda: optimize_acqf_mutation(acqf, space, archs, Y, num_candidates=budget, X_avoid=X_avoid, seed=trial), acqf
        )
        runs["acqf_local_search_equal_evals"] = timed(
            lambda: optimize_acqf_local_search(acqf, space, archs, Y, max_evaluations=budget, X_avoid=X_avoid), acqf
        )
        runs["random_pool_256"] = timed(lambda: optimize_acqf_random(acqf, space, X_avoid=X_avoid, seed=trial), acqf)
        runs["mutation_256"] = timed(lambda: optimize_acqf_mutation(acqf, space, archs, Y, X_avoid=X_avoid, seed=trial), acqf)
        rows.append(runs)
        print(f"C trial={trial}", {k: round(v["value"], 4) for k, v in runs.items()}, flush=True)
    names = list(rows[0])
    wins = {n: statistics.mean(r["diffusion"]["value"] > r[n]["value"] for r in rows) for n in names if n != "diffusion"}
    return {
        "mean_value": {n: statistics.mean(r[n]["value"] for r in rows) for n in names},
        "mean_evals": {n: statistics.mean(r[n]["evals"] for r in rows) for n in names},
        "diffusion_win_rate": wins,
    }


def part_d(priors: dict[str, DiffusionPrior], repeats: int) -> dict:
    out = {}
    for name, prior in priors.items():
        space = prior.space
        bench = get_benchmark("nb201:cifar10" if name == "nb201" else "mbv3:imagenet")
        archs, Y = observed(space, bench, 50, seed=4242)
        times: dict[str, list[float]] = {"diffusion": [], "mutation": []}
        for rep in range(repeats):
            for optimizer in times:
                start = time.perf_counter()
                model = NoiseAwareEnsemble(encode_flat(space, archs), Y, prior.sde, seed=rep)
                acqf = make_acquisition("qLogNEI", model)
                X_avoid = encode_flat(space, archs)
                if optimizer == "diffusion":
                    optimize_acqf_diffusion(acqf, prior, X_avoid=X_avoid, seed=rep)
                else:
                    optimize_acqf_mutation(acqf, space, archs, Y, X_avoid=X_avoid, seed=rep)
                times[optimizer].append(time.perf_counter() - start)
        med = {k: statistics.median(v) for k, v in times.items()}
        out[name] = {"median_seconds": med, "ratio_diffusion_to_mutation": med["diffusion"] / med["mutation"]}
        print("D", name, out[name], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--ablation-trials", type=int, default=10)
    parser.add_argument("--mbv3-trials", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--parts", default="speed,nb201,ablation,mbv3")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    priors = {name: DiffusionPrior.pretrained(name) for name in ("nb201", "mbv3")}
    path = RESULTS / "acqf.json"
    report = json.loads(path.read_text()) if path.is_file() else {}
    report |= {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()},
        "settings": {
            "acquisition": "qLogNEI",
            "ensemble": "NoiseAwareEnsemble defaults (5 members, 2x128 MLP, 300 full-batch epochs)",
            "num_samples": 256,
            "schedule": list(DEFAULT_SCHEDULE),
            "sampler_steps": DEFAULT_SAMPLER.steps,
            "trials": args.trials,
            "ablation_trials": args.ablation_trials,
            "mbv3_trials": args.mbv3_trials,
        },
    }
    parts_run = {
        "speed": lambda: part_d(priors, args.repeats),
        "nb201": lambda: part_a(priors["nb201"], args.trials),
        "ablation": lambda: part_b(priors["nb201"], args.ablation_trials),
        "mbv3": lambda: part_c(priors["mbv3"], args.mbv3_trials),
    }
    keys = {"speed": "speed", "nb201": "nb201_quality", "ablation": "ablation", "mbv3": "mbv3_quality"}
    for part in parts:
        report[keys[part]] = parts_run[part]()
        report.setdefault("machine_per_part", {})[keys[part]] = {
            "load_average": os.getloadavg(), "torch_threads": torch.get_num_threads()
        }
        RESULTS.mkdir(exist_ok=True)
        path.write_text(json.dumps(report, indent=1))
    if all(key in report for key in keys.values()):
        (RESULTS / "acqf.md").write_text(render(report))


def render(report: dict) -> str:
    m, s = report["machine"], report["settings"]
    lines = [
        "# Acquisition-optimisation benchmark (`benchmarks/bench_acqf.py`)",
        "",
        f"Machine: {m['platform']}, {m['cpus']} CPUs, {m['torch_threads']} torch threads. Acquisition {s['acquisition']} on "
        f"{s['ensemble']}; diffusion: {s['num_samples']} samples per round, schedule λ = {s['schedule']}, "
        f"{s['sampler_steps']} sampler steps, pretrained priors. Baseline pools: 256 candidates unless marked "
        "'equal_evals' (as many acquisition evaluations as diffusion used, guidance gradients included).",
        "Threads and 1-min load average per part (timings of parts run beside other jobs are pessimistic): "
        + "; ".join(
            f"{part}: {info['torch_threads']} threads, load {info['load_average'][0]:.1f}"
            for part, info in report.get("machine_per_part", {}).items()
        )
        + ".",
        "",
        "## Speed of one proposal round (refit + propose), 50 observations",
        "",
        "| space | diffusion s | mutation s | ratio |",
        "|---|---|---|---|",
    ]
    for name, row in report["speed"].items():
        ms = row["median_seconds"]
        lines.append(f"| {name} | {ms['diffusion']:.2f} | {ms['mutation']:.2f} | {row['ratio_diffusion_to_mutation']:.1f} |")
    lines += [
        "",
        f"## NB201 CIFAR-10: pick's percentile among all unevaluated architectures ({s['trials']} trials each)",
        "",
        "| observations | optimiser | share ≥ 99th pct | median pct | median gap to max | mean acq evals | median s |",
        "|---|---|---|---|---|---|---|",
    ]
    for n_obs, table in report["nb201_quality"].items():
        for name, row in table.items():
            lines.append(
                f"| {n_obs} | {name} | {row['share_at_or_above_p99']:.2f} | {row['median_percentile']:.4f} | "
                f"{row['median_gap']:.4f} | {row['mean_evals']:.0f} | {row['median_seconds']:.2f} |"
            )
    lines += [
        "",
        f"## Guidance ablation (NB201, 50 observations, 256 samples, {s['ablation_trials']} trials)",
        "",
        "| setting | validity | unique | mean pct of samples | best pct |",
        "|---|---|---|---|---|",
    ]
    for key, row in report["ablation"].items():
        lines.append(
            f"| {key} | {row['validity']:.3f} | {row['unique']:.1f} | {row['mean_percentile']:.4f} | {row['best_percentile']:.4f} |"
        )
    c = report["mbv3_quality"]
    lines += [
        "",
        f"## MBv3: acquisition value of the pick ({s['mbv3_trials']} trials, 50 observations)",
        "",
        "| optimiser | mean acq value | mean evals | diffusion wins |",
        "|---|---|---|---|",
    ]
    for name, value in c["mean_value"].items():
        win = "" if name == "diffusion" else f"{c['diffusion_win_rate'][name]:.2f}"
        lines.append(f"| {name} | {value:.4f} | {c['mean_evals'][name]:.0f} | {win} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

"""The digits task: parallel throughput and whether the demo beats random architectures.

* throughput — trials completed per minute of ``bo-diffnag run``'s loop on digits (NB201): serial (inline,
  torch on all cores, batch 1) vs ``--parallel 2`` (batch 2, the CLI default) with local processes and with
  Ray, one run each, for the demo's
  settings (diffusion, 6 epochs), longer trials (24 epochs) and evaluation alone (random search).
* demo — the ``make demo`` setting (30 trials, 10 initial, parallel 2) for several seeds: the test accuracy of
  the best-validation architecture vs the median test accuracy of 20 uniformly random NB201 architectures
  trained with the same recipe.

    python benchmarks/bench_digits.py [--parts throughput,demo] [--seeds 3]
Writes benchmarks/results/digits.json and digits.md (merging parts).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from pathlib import Path

import torch

from ax_integration.experiment import run_nas_experiment
from bo_diffnag.parallel import make_executor
from bo_diffnag.spaces import get_space
from bo_diffnag.training.task import digits_task

RESULTS = Path(__file__).resolve().parent / "results"


#: (optimizer, epochs per trial): the demo's settings, longer trials, and evaluation alone (no surrogate).
THROUGHPUT_SETTINGS = (("diffusion", None), ("diffusion", 24), ("random", None))


def throughput(trials: int) -> dict:
    out = {}
    for optimizer, epochs in THROUGHPUT_SETTINGS:
        task = digits_task("nb201", epochs=epochs)
        setting = f"{optimizer}, {task.recipe.epochs} epochs"
        rows = {}
        for label, parallel, backend in (("serial", 1, "inline"), ("process x2", 2, "process"), ("ray x2", 2, "ray")):
            with make_executor(parallel, backend=backend) as executor:
                # batch_size = parallel, as `bo-diffnag run` defaults: one surrogate fit per `parallel` results.
                result = run_nas_experiment(
                    "nb201", task, optimizer, trials=trials, batch_size=parallel, n_init=6, seed=0, progress=False,
                    executor=executor,
                )
            rows[label] = {"trials": trials, "seconds": result.seconds, "trials_per_minute": trials / (result.seconds / 60)}
            print(setting, label, json.dumps(rows[label]))
        for label in ("process x2", "ray x2"):
            rows[label]["speedup_vs_serial"] = rows[label]["trials_per_minute"] / rows["serial"]["trials_per_minute"]
        out[setting] = rows
    return out


def demo(seeds: int) -> dict:
    task = digits_task("nb201")
    space = get_space("nb201")
    random_archs = space.sample(20, seed=12345)
    random_tests = [task(arch)["test"] for arch in random_archs]
    median_random = statistics.median(random_tests)
    runs = []
    for seed in range(seeds):
        with make_executor(2) as executor:
            result = run_nas_experiment(
                "nb201", digits_task("nb201", seed=seed), "diffusion", trials=30, n_init=10, seed=seed,
                progress=False, executor=executor,
            )
        done = result.completed
        best = done.loc[done["objective"].idxmax()]
        runs.append({"seed": seed, "best_arch": best["arch"], "best_val": float(best["objective"]),
                     "best_test": float(best["test"]), "seconds": result.seconds,
                     "beats_random_median": float(best["test"]) > median_random})
        print(json.dumps(runs[-1]))
    return {"random_test": random_tests, "random_median_test": median_random, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="throughput,demo")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=20, help="throughput: trials per run")
    args = parser.parse_args()
    path = RESULTS / "digits.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    report["machine"] = f"{platform.platform()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads"
    parts = args.parts.split(",")
    if "throughput" in parts:
        report["throughput"] = throughput(args.trials)
    if "demo" in parts:
        report["demo"] = demo(args.seeds)
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    lines = ["# Digits task (`benchmarks/bench_digits.py`)", "", f"Machine: {report['machine']}.", ""]
    if "throughput" in report:
        lines += [
            "## Throughput: NB201 on digits, 20 trials (6 initial), one run per row, interleaved by setting",
            "",
            "| optimizer, epochs per trial | executor | seconds | trials / minute | vs serial |",
            "|---|---|---|---|---|",
        ]
        for setting, rows in report["throughput"].items():
            for label, row in rows.items():
                ratio = f"{row['speedup_vs_serial']:.2f}×" if "speedup_vs_serial" in row else "1.00×"
                lines.append(f"| {setting} | {label} | {row['seconds']:.1f} | {row['trials_per_minute']:.1f} | {ratio} |")
        lines.append("")
    if "demo" in report:
        d = report["demo"]
        lines += [
            "## The demo setting vs random architectures",
            "",
            f"20 uniformly random NB201 architectures (seed 12345), same recipe: median test accuracy "
            f"{d['random_median_test']:.2f}% (range {min(d['random_test']):.2f}–{max(d['random_test']):.2f}).",
            "",
            "| seed | best (validation) arch | validation % | test % | beats random median | seconds |",
            "|---|---|---|---|---|---|",
        ]
        for r in d["runs"]:
            lines.append(f"| {r['seed']} | `{r['best_arch']}` | {r['best_val']:.2f} | {r['best_test']:.2f} | "
                         f"{'yes' if r['beats_random_median'] else 'no'} | {r['seconds']:.0f} |")
    (RESULTS / "digits.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

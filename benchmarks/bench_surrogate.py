"""Surrogate member choice: rank correlation on held-out NB201 / MBv3 architectures.

Fits each candidate surrogate on n random evaluated architectures and measures Spearman and Kendall rank
correlation of its clean (σ = 0) mean prediction with the true objective on 1,000 held-out ones.
Candidates: the NoiseAwareEnsemble MLP members at several sizes, the same without noise augmentation,
the same on the space's value features (``SearchSpace.surrogate_features``: MBv3's ordinal kernel, expand
and depth values; NB201 has none), and BoTorch's SingleTaskGP on either input as a reference.

    python benchmarks/bench_surrogate.py [--seeds 5]
Writes benchmarks/results/surrogate.json and surrogate.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from gpytorch.mlls import ExactMarginalLogLikelihood

from bo_diffnag.benchmarks import get_benchmark
from bo_diffnag.diffusion.prior import DEFAULT_SDE
from bo_diffnag.optim import encode_flat
from bo_diffnag.surrogate import NoiseAwareEnsemble

RESULTS = Path(__file__).resolve().parent / "results"
CANDIDATES = {
    "mlp 2x128 noise-aware one-hot": {},
    "mlp 2x128 noise-aware value features": {"features": "space"},
    "mlp 2x64 noise-aware": {"hidden": 64},
    "mlp 3x256 noise-aware": {"hidden": 256, "layers": 3},
    "mlp 2x128 clean only": {"clean_fraction": 1.0},
}


def ranks(x: torch.Tensor) -> torch.Tensor:
    return x.argsort().argsort().double()


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([ranks(a), ranks(b)]))[0, 1])


def kendall(a: torch.Tensor, b: torch.Tensor) -> float:
    sa = torch.sign(a.unsqueeze(0) - a.unsqueeze(1))
    sb = torch.sign(b.unsqueeze(0) - b.unsqueeze(1))
    n = len(a)
    return float((sa * sb).sum() / (n * (n - 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    report = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()},
        "settings": {"seeds": args.seeds, "held_out": 1000, "train_sizes": [20, 50, 100, 200]},
        "results": {},
    }
    for bench_name in ("nb201:cifar10", "mbv3:imagenet"):
        bench = get_benchmark(bench_name)
        space = bench.space
        sde = DEFAULT_SDE[space.name]
        table: dict = {}
        for n in report["settings"]["train_sizes"]:
            for seed in range(args.seeds):
                archs = list(dict.fromkeys(space.sample(n + 1200, seed=seed)))
                train, test = archs[:n], archs[n : n + 1000]
                Y = torch.tensor(bench.evaluate_batch(train)["objective"].values, dtype=torch.double).unsqueeze(-1)
                y_test = torch.tensor(bench.evaluate_batch(test)["objective"].values, dtype=torch.double)
                X, X_test = encode_flat(space, train), encode_flat(space, test)
                features = space.surrogate_features()
                models = {}
                for name, options in CANDIDATES.items():
                    if options.get("features") == "space":
                        if features is None:
                            continue
                        options = {**options, "features": features}
                    start = time.perf_counter()
                    model = NoiseAwareEnsemble(X, Y, sde, seed=seed, **options)  # featurises its own inputs
                    models[name] = (model, time.perf_counter() - start, lambda x: x)
                gp_inputs = {"one-hot": lambda x: x}
                if features is not None:
                    gp_inputs["value features"] = lambda x: x @ features[0].to(x) + features[1].to(x)
                for input_name, featurize in gp_inputs.items():
                    start = time.perf_counter()
                    gp = SingleTaskGP(featurize(X), Y)
                    fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
                    models[f"SingleTaskGP {input_name} (reference)"] = (gp, time.perf_counter() - start, featurize)
                for name, (model, seconds, featurize) in models.items():
                    with torch.no_grad():
                        pred = model.posterior(featurize(X_test)).mean.reshape(-1)
                    row = table.setdefault(name, {}).setdefault(n, {"spearman": [], "kendall": [], "fit_seconds": []})
                    row["spearman"].append(spearman(pred, y_test))
                    row["kendall"].append(kendall(pred, y_test))
                    row["fit_seconds"].append(seconds)
                print(bench_name, n, seed, flush=True)
        report["results"][bench_name] = {
            name: {n: {k: statistics.mean(v) for k, v in row.items()} for n, row in rows.items()} for name, rows in table.items()
        }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "surrogate.json").write_text(json.dumps(report, indent=1))
    lines = [
        "# Surrogate member choice (`benchmarks/bench_surrogate.py`)",
        "",
        f"Machine: {report['machine']['platform']}, {report['machine']['cpus']} CPUs, "
        f"{report['machine']['torch_threads']} torch threads. Mean over {args.seeds} seeds of the rank correlation "
        "(Spearman / Kendall τ) between the clean prediction and the true objective on 1,000 held-out random "
        "architectures; fit time in seconds.",
        "",
    ]
    for bench_name, table in report["results"].items():
        lines += [f"## {bench_name}", "", "| surrogate | " + " | ".join(f"n={n}" for n in report["settings"]["train_sizes"]) + " |"]
        lines.append("|---|" + "---|" * len(report["settings"]["train_sizes"]))
        for name, rows in table.items():
            cells = [f"{r['spearman']:.3f} / {r['kendall']:.3f} ({r['fit_seconds']:.2f}s)" for r in rows.values()]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    (RESULTS / "surrogate.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()

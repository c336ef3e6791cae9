"""Zero-cost proxies for the surrogate's prior mean: how well each ranks architectures by accuracy.

Proxies (all computed without data or training): the exact parameter count (``parameter_count_weights``),
the SynFlow score (``synflow``) and its linear and pairwise fits in the one-hot encoding (``synflow_weights``,
``synflow_pairwise_weights``: the forms the ensemble can use as a prior mean). NB201: Spearman rank
correlation with the mean validation accuracy over all 15,625 cells and among the best 20 % of them, per
dataset, for the polynomial proxies; exact SynFlow and the fits' accuracy (R² and Spearman against exact
log-SynFlow) on ``--held-out`` unseen random cells.
MBv3: the same on ``--mbv3-archs`` random subnets (OFA predictor accuracy at r = 224; SynFlow at 32 × 32).

    python benchmarks/bench_proxies.py [--held-out 200] [--mbv3-archs 300]
Writes benchmarks/results/proxies.json and proxies.md.
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
from scipy.stats import spearmanr

from bo_diffnag.benchmarks import get_benchmark
from bo_diffnag.data import data_file
from bo_diffnag.models import architecture_synflow, parameter_count_weights, proxy_value, synflow_pairwise_weights, synflow_weights
from bo_diffnag.spaces import get_space

RESULTS = Path(__file__).resolve().parent / "results"
NB201_DATASETS = {"cifar10": "c10_val_acc_mean", "cifar100": "c100_val_acc_mean", "imagenet16-120": "in16_val_acc_mean"}
TOP_SHARE = 0.2


def rank_correlations(scores: dict[str, np.ndarray], accuracy: np.ndarray) -> dict[str, dict[str, float]]:
    """Spearman of each proxy with ``accuracy``, over all and over the best ``TOP_SHARE`` by accuracy."""
    top = accuracy > np.quantile(accuracy, 1 - TOP_SHARE)
    return {
        name: {"all": float(spearmanr(s, accuracy)[0]), "top": float(spearmanr(s[top], accuracy[top])[0])}
        for name, s in scores.items()
    }


def exact_log_synflow(space_name: str, archs: list[str]) -> np.ndarray:
    """log-SynFlow with the initialisation ``synflow_weights`` uses (seed 0 for every network)."""
    return np.log([architecture_synflow(space_name, arch) for arch in archs])


def polynomial_scores(space_name: str, X: torch.Tensor) -> dict[str, np.ndarray]:
    """The proxies the ensemble can take as a prior mean, on encodings ``X``; NB201 adds the pairwise fit."""
    (size, _), (fit, c) = parameter_count_weights(space_name), synflow_weights(space_name)
    scores = {"parameter count": (X @ size).numpy(), "SynFlow fit": (X @ fit + c).numpy()}
    if space_name == "nb201":
        w, Q, c = synflow_pairwise_weights(space_name)
        scores["SynFlow pairwise fit"] = (proxy_value(X, (w, Q)) + c).numpy()
    return scores


def fit_quality(fitted: np.ndarray, exact: np.ndarray) -> dict[str, float]:
    return {"r2": float(1 - np.var(exact - fitted) / np.var(exact)), "spearman": float(spearmanr(fitted, exact)[0])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--held-out", type=int, default=200)
    parser.add_argument("--mbv3-archs", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    report = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()},
        "settings": {"held_out": args.held_out, "mbv3_archs": args.mbv3_archs, "top_share": TOP_SHARE,
                     "synflow_fit": "synflow_weights defaults: 256 random architectures, seed 0",
                     "synflow_pairwise_fit": "synflow_pairwise_weights defaults: 600 random architectures, seed 0, ridge 1"},
        "nb201": {}, "mbv3": {},
    }
    space = get_space("nb201")
    table = pd.read_csv(data_file("nb201/nb201_consolidated.csv"))
    X = space.encode_batch(list(table.arch_str)).flatten(1).double()
    scores = polynomial_scores("nb201", X)
    for dataset, column in NB201_DATASETS.items():
        report["nb201"][dataset] = rank_correlations(scores, table[column].to_numpy())
    # Held-out cells: none of those either fit was computed on (the fits' samples use seed 0).
    fitted_on = {*space.sample(256, seed=0), *space.sample(600, seed=0)}
    held_out = [a for a in space.sample(2 * args.held_out, seed=12345) if a not in fitted_on][: args.held_out]
    index = {a: i for i, a in enumerate(space.canonical(a) for a in table.arch_str)}
    rows = [index[a] for a in held_out]
    exact = exact_log_synflow("nb201", held_out)
    report["nb201"]["synflow fit vs exact (held-out)"] = fit_quality(scores["SynFlow fit"][rows], exact)
    report["nb201"]["synflow pairwise fit vs exact (held-out)"] = fit_quality(scores["SynFlow pairwise fit"][rows], exact)
    for dataset, column in NB201_DATASETS.items():
        accuracy = table[column].to_numpy()[rows]
        report["nb201"][dataset]["exact SynFlow (held-out)"] = rank_correlations({"exact": exact}, accuracy)["exact"]
    print("nb201 done", round(time.perf_counter() - start), "s", flush=True)

    mbv3 = get_benchmark("mbv3:imagenet")
    archs = mbv3.space.sample(args.mbv3_archs, seed=12345)
    encoded = mbv3.space.encode_batch(archs)
    X = encoded.flatten(1).double()
    accuracy = mbv3.predict_accuracy(encoded).numpy() * 100
    scores = polynomial_scores("mbv3", X)
    exact = exact_log_synflow("mbv3", archs)
    report["mbv3"]["imagenet"] = rank_correlations({**scores, "exact SynFlow": exact}, accuracy)
    report["mbv3"]["synflow fit vs exact"] = fit_quality(scores["SynFlow fit"], exact)
    report["seconds"] = round(time.perf_counter() - start, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "proxies.json").write_text(json.dumps(report, indent=1))

    def cell(r: dict[str, float]) -> str:
        return f"{r['all']:.3f} / {r['top']:.3f}"

    lines = [
        "# Zero-cost proxies for the surrogate's prior mean (`benchmarks/bench_proxies.py`)",
        "",
        f"Machine: {report['machine']['platform']}, {report['machine']['cpus']} CPUs, 1 torch thread; "
        f"{report['seconds']:.0f} s. Cells: Spearman rank correlation with accuracy over all architectures / "
        f"among the best {TOP_SHARE:.0%} by accuracy. The SynFlow fit is `synflow_weights` (least squares of "
        "log-SynFlow on the one-hot encoding over 256 random architectures, seed 0); the pairwise fit is "
        "`synflow_pairwise_weights` (ridge fit with the products of every two edges' ops, 600 architectures, "
        "seed 0; NB201's default prior proxy).",
        "",
        f"## NAS-Bench-201 (validation accuracy; linear proxies over all 15,625 cells, exact SynFlow over "
        f"{args.held_out} random cells the fit did not see)",
        "",
        "| dataset | parameter count | SynFlow fit | SynFlow pairwise fit | exact SynFlow |",
        "|---|---|---|---|---|",
    ]
    for dataset in NB201_DATASETS:
        r = report["nb201"][dataset]
        lines.append(
            f"| {dataset} | {cell(r['parameter count'])} | {cell(r['SynFlow fit'])} | {cell(r['SynFlow pairwise fit'])} "
            f"| {cell(r['exact SynFlow (held-out)'])} |"
        )
    q, p = report["nb201"]["synflow fit vs exact (held-out)"], report["nb201"]["synflow pairwise fit vs exact (held-out)"]
    lines += [
        "",
        f"Fits vs exact log-SynFlow on the held-out cells: linear R² {q['r2']:.3f}, Spearman {q['spearman']:.3f}; "
        f"pairwise R² {p['r2']:.3f}, Spearman {p['spearman']:.3f}.",
        "",
    ]
    r, q = report["mbv3"]["imagenet"], report["mbv3"]["synflow fit vs exact"]
    lines += [
        f"## MobileNetV3 ({args.mbv3_archs} random subnets, OFA predictor accuracy at r = 224)",
        "",
        "| parameter count | SynFlow fit | exact SynFlow |",
        "|---|---|---|",
        f"| {cell(r['parameter count'])} | {cell(r['SynFlow fit'])} | {cell(r['exact SynFlow'])} |",
        "",
        f"Fit vs exact log-SynFlow on these subnets: R² {q['r2']:.3f}, Spearman {q['spearman']:.3f}.",
        "",
    ]
    (RESULTS / "proxies.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()

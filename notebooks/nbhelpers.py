"""Views and one runner shared by the notebooks of this folder (imported by them; not part of the package).

The statistics are the comparison harness's own (:func:`bo_diffnag.harness.report.summarize`, evaluated at
every evaluation instead of a few checkpoints); this module only lays them out as tables and figures.
:func:`run_diffusion_variant` is a harness runner (``bo_diffnag.harness.bench.TraceRunner``) for the
ablations; it lives in a module, not a notebook cell, so that the harness's spawned workers can import it.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from matplotlib.axes import Axes

from bo_diffnag.benchmarks import Benchmark
from bo_diffnag.bo import fit_surrogate, run_rounds, selection_acquisition, split_history
from bo_diffnag.diffusion.prior import DiffusionPrior
from bo_diffnag.harness.bench import CONFIG_FILE, TRACES_FILE
from bo_diffnag.harness.report import format_median_ci, markdown, summarize
from bo_diffnag.optim import decode_flat, encode_flat, optimize_acqf_diffusion
from bo_diffnag.seeding import draw_seed
from bo_diffnag.surrogate import make_acquisition

#: Readable names of the harness's optimisers (``bo-diffnag bench --optimizers``).
OPTIMIZER_LABELS = {
    "diffusion": "DiffusionNAG + refinement + BO (ours)",
    "diffusion_norefine": "DiffusionNAG + BO, generation only",
    "mutation": "BO + BANANAS mutation",
    "mutation_random": "BO + mutation / random",
    "random_pool": "BO + random pool",
    "acqf_local_search": "BO + acquisition hill-climb",
    "exhaustive": "BO + exhaustive acquisition",
    "local_search": "local search",
    "evolution": "regularised evolution",
    "random": "random search",
    "ax_default": "Ax default (GP)",
}


def load_comparison(out_dir: str | Path, reference: str = "diffusion") -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """``(traces, config, summary)`` of a ``bo-diffnag bench`` directory (the summary recomputed from the traces)."""
    out = Path(out_dir)
    traces = pd.read_csv(out / TRACES_FILE)
    config = json.loads((out / CONFIG_FILE).read_text())
    return traces, config, summarize(traces, global_best_objective=config.get("global_best_objective"), reference=reference)


def report_markdown(summary: dict[str, Any], config: dict[str, Any]) -> str:
    """The tables of ``bo-diffnag report`` (:func:`markdown`), headings demoted two levels to nest in a notebook."""
    return re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + 2) + " ", markdown(summary, config), flags=re.M)


def anytime(traces: pd.DataFrame, column: str = "best_test", start: int = 1, reference: str = "diffusion") -> pd.DataFrame:
    """Mean and 95% CI half-width over seeds of ``column`` after every evaluation from ``start`` on.

    One row per (optimizer, eval): ``optimizer, eval, mean, ci95, n`` (``ci95`` NaN below two seeds).
    Optimisers are in :func:`summarize`'s order (``reference`` first).
    """
    checkpoints = list(range(start, int(traces["eval"].max()) + 1))
    summary = summarize(traces, checkpoints=checkpoints, reference=reference)
    rows = [{"optimizer": name, **point} for name, entry in summary["optimizers"].items() for point in entry[column]]
    return pd.DataFrame(rows).astype({"mean": float, "ci95": float})


def plot_anytime(ax: Axes, curves: pd.DataFrame, labels: dict[str, str] | None = None, regret_of: float | None = None) -> None:
    """Draw each optimiser's mean curve with its 95% CI band (the rows of :func:`anytime`), as steps.

    ``regret_of``: plot ``regret_of - mean`` (regret against that optimum) instead of the mean.
    """
    labels = labels or {}
    for name, curve in curves.groupby("optimizer", sort=False):
        mean = curve["mean"] if regret_of is None else regret_of - curve["mean"]
        label = f"{labels.get(name, name)} (n={int(curve['n'].max())})"
        line = ax.plot(curve["eval"], mean, drawstyle="steps-post", label=label)[0]
        band = (mean - curve["ci95"], mean + curve["ci95"])
        ax.fill_between(curve["eval"], *band, step="post", color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xlabel("evaluations")
    ax.grid(alpha=0.3)


def plot_evals_to_optimum(ax: Axes, summary: dict[str, Any], labels: dict[str, str] | None = None) -> None:
    """Share of seeds at the global best objective after n evaluations (an ECDF per optimiser of ``summary``)."""
    labels = labels or {}
    evals = range(1, summary["budget"] + 1)
    for name, entry in summary["optimizers"].items():
        hits = [math.inf if s["evals"] is None else s["evals"] for s in entry["evals_to_optimum"]["per_seed"]]
        ax.step(evals, [sum(h <= n for h in hits) / len(hits) for n in evals], where="post", label=labels.get(name, name))
    ax.set(xlabel="evaluations", ylabel="share of seeds at the global best", ylim=(-0.02, 1.02))
    ax.grid(alpha=0.3)


def checkpoint_table(
    summary: dict[str, Any], column: str = "best_test", labels: dict[str, str] | None = None, regret_of: float | None = None
) -> pd.DataFrame:
    """``mean ± ci95`` of ``column`` (or of the regret ``regret_of - column``) at the summary's checkpoints,
    one row per optimiser, plus the number of seeds and the seconds per proposal round."""
    labels = labels or {}
    rows = {}
    for name, entry in summary["optimizers"].items():
        cells = {
            f"n={p['eval']}": format_ci(p["mean"] if regret_of is None or p["mean"] is None else regret_of - p["mean"], p["ci95"])
            for p in entry[column]
        }
        seconds = entry["seconds_per_round"]
        rows[labels.get(name, name)] = cells | {
            "seeds": len(entry["seeds"]),
            "s / round": "–" if seconds is None else f"{seconds:.2f}",
        }
    return pd.DataFrame.from_dict(rows, orient="index")


#: Recipe variants of a comparison directory ``DIR``: directory-name suffix → label of its DiffusionNAG rows
#: (``benchmarks/run_comparisons.sh noiseaware``, ``nopaths``, ``synflow``, ``params``, ``nosize``, ``logei`` and
#: ``prior``); ``""`` is ``DIR`` itself (qLogNEI, the default ensemble of clean-only members with its proxy prior:
#: pairwise SynFlow fit on NB201, the parameter count on MBv3; on NB201 the members also read the path encoding);
#: ``_noiseaware``: the default with DiffusionNAG's noise-aware members (``clean_fraction = 0.5``), as are all the
#: later ones; ``_nopaths``: that without the path encoding (``path_encoding = false``), as are all the later
#: ones; ``_synflow`` / ``_params``: the prior on the linear SynFlow fit / the parameter count (NB201);
#: ``_nosize``: measured without a proxy prior.
DIFFUSION_VARIANTS = {
    "": "default: qLogNEI, proxy prior, path encoding, clean-only members; MBv3: GP chooses",
    "_ensemble_selection": "qLogNEI, proxy prior, clean-only members, ensemble chooses",
    "_gp_selection": "qLogNEI, proxy prior, path encoding, clean-only members, GP chooses (budget 100)",
    "_noiseaware": "qLogNEI, proxy prior, path encoding, noise-aware members",
    "_nopaths": "qLogNEI, proxy prior, no path encoding",
    "_synflow": "qLogNEI, linear SynFlow prior",
    "_params": "qLogNEI, size prior (parameter count)",
    "_nosize": "qLogNEI, no size prior",
    "_LogEI_nosize": "LogEI, no size prior",
    "_prior1_nosize": "qLogNEI, random priors, no size prior",
    "_LogEI_prior1_nosize": "LogEI, random priors, no size prior",
}


def diffusion_variants_table(
    out_dir: str | Path, column: str = "best_test", checkpoints: list[int] | None = None
) -> pd.DataFrame | None:
    """DiffusionNAG's rows of ``out_dir`` and of its :data:`DIFFUSION_VARIANTS` siblings that exist, side by side:
    per variant, its generation-only ``diffusion_norefine`` rows (every variant ran it) and, where it has them,
    its ``diffusion`` rows (generation + refinement, the default optimiser).

    ``column`` (mean ± 95 % CI) at the checkpoints, plus, where the optimum is known, the median evaluations
    to it (with its distribution-free 95 % interval) and the share of seeds reaching it. ``None`` if neither
    ``out_dir`` nor any sibling has traces.
    """
    out = Path(out_dir)
    runs, config = [], None
    for suffix, label in DIFFUSION_VARIANTS.items():
        variant = out.with_name(out.name + suffix)
        if (variant / TRACES_FILE).is_file():
            traces, variant_config, _ = load_comparison(variant)
            config = config or variant_config
            for optimizer in ("diffusion_norefine", "diffusion"):
                rows = traces[traces["optimizer"] == optimizer]
                if len(rows):
                    runs.append(rows.assign(optimizer=f"{optimizer} ({label})"))
    if config is None:
        return None
    reference = runs[0]["optimizer"].iloc[0]
    summary = summarize(pd.concat(runs), checkpoints, config.get("global_best_objective"), reference=reference)
    table = checkpoint_table(summary, column)
    if summary["global_best_objective"] is not None:
        to_optimum = [entry["evals_to_optimum"] for entry in summary["optimizers"].values()]
        table["median evals to optimum"] = [entry["median"] or "not reached" for entry in to_optimum]
        table["95% CI of the median"] = [format_median_ci(entry["median_ci95"]) for entry in to_optimum]
        table["share reaching it"] = [entry["reached"] for entry in to_optimum]
    return table


def format_ci(mean: float | None, ci95: float | None) -> str:
    """``"93.12 ± 0.21"``; ``"–"`` without a value, no interval below two seeds."""
    if mean is None:
        return "–"
    return f"{mean:.2f}" if ci95 is None else f"{mean:.2f} ± {ci95:.2f}"


def run_diffusion_variant(
    benchmark: Benchmark,
    budget: int,
    n_init: int,
    batch_size: int,
    seed: int,
    acquisition: str,
    prior: DiffusionPrior | None,
    surrogate_options: dict[str, Any] | None = None,
    *,
    acquisition_override: str | None = None,
    surrogate_override: dict[str, Any] | None = None,
    **diffusion_options: Any,
) -> pd.DataFrame:
    """``run_bo(benchmark, "diffusion_norefine", ...)`` with options of :func:`optimize_acqf_diffusion`.

    The same loop, surrogate (``surrogate_options`` as there), acquisition and seeds as
    :func:`bo_diffnag.bo.run_bo` (so with no options the trace is identical to ``run_bo``'s), but
    ``diffusion_options`` (``schedule``, ``mode``, ``num_samples``, ...) reach the proposal step,
    ``acquisition_override`` replaces the harness's acquisition and ``surrogate_override`` updates the surrogate
    options. Bind the options with ``functools.partial`` and register the result with
    :func:`bo_diffnag.harness.register_trace_runner`.
    """
    space = benchmark.space
    prior = prior or DiffusionPrior.pretrained(space.name)
    acquisition = acquisition_override or acquisition
    surrogate_options = {**(surrogate_options or {}), **(surrogate_override or {})}

    def propose(rows: list[dict[str, Any]], q: int, generator: torch.Generator) -> list[str]:
        train_archs, train_Y, seen = split_history(rows)
        round_seed = draw_seed(generator)
        model = fit_surrogate(space, train_archs, train_Y, prior.sde, round_seed, surrogate_options)
        acqf = make_acquisition(acquisition, model, seed=round_seed)
        selection = selection_acquisition(space, acquisition, train_archs, train_Y, round_seed, surrogate_options)
        avoid = encode_flat(space, seen)
        candidates, _ = optimize_acqf_diffusion(
            acqf, prior, q=q, X_avoid=avoid, seed=round_seed, selection_acqf=selection, **diffusion_options
        )
        return [arch for arch in decode_flat(space, candidates) if arch is not None]

    return run_rounds(benchmark, propose, budget, n_init, batch_size, seed)

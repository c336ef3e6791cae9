"""Statistics, tables and plots of a ``bo-diffnag bench`` output directory.

Statistics (all per optimiser, over seeds):

* anytime performance: mean and 95% confidence half-width of ``best_test`` and ``best_objective`` at
  checkpoints (10, 20, 40, 60, ... evaluations, and the budget). The interval is Student's t:
  ``mean ± t_{0.975, n-1} · sd / √n`` with the sample standard deviation (``ddof = 1``); it is undefined
  (``null``) for a single seed;
* evaluations to the optimum: the first ``eval`` whose ``best_objective`` reaches the global best objective
  (within 1e-9); a seed that never reaches it counts as +∞, so the median is ``null`` ("not reached") when
  at least half of the seeds miss it; plus the share of seeds that reach it, and a distribution-free 95%
  interval of the median: the order statistics ``[x_(j), x_(k)]`` with
  ``P(j ≤ B < k) ≥ 0.95``, ``B ~ Binomial(n, ½)`` (:func:`scipy.stats.quantile_test`; with 10 seeds the
  2nd and 9th smallest), undefined (``null``) below 6 seeds. Only when the global best is known (NB201);
* paired win rate of the reference optimiser (``diffusion``) against every other: on each seed both ran,
  1 if the reference's ``best_test`` is higher, 0.5 if equal, 0 if lower, averaged over seeds, at the budget
  and at each checkpoint;
* seconds per proposal round: the mean of the ``seconds`` column over rounds. Every row of a round carries
  that round's proposal time, so a round is one distinct positive ``seconds`` value of a seed (the initial
  design has ``seconds = 0`` and is excluded).

Example:
    >>> import pandas as pd
    >>> rows = [("a", s, e, e + s, e + s) for s in (0, 1) for e in (1, 2)]
    >>> traces = pd.DataFrame(rows, columns=["optimizer", "seed", "eval", "best_objective", "best_test"])
    >>> traces["seconds"] = 0.0
    >>> summarize(traces)["optimizers"]["a"]["best_test"][-1]["mean"]
    2.5
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from bo_diffnag.harness.bench import CONFIG_FILE, TRACES_FILE

#: Tolerance of "reached the global best objective".
OPTIMUM_TOL = 1e-9
PLOTS = ("anytime_best_test.png", "anytime_best_objective.png", "evals_to_optimum.png")


def default_checkpoints(budget: int) -> list[int]:
    """10, 20, then every 20 evaluations up to ``budget``, and ``budget`` itself.

    Example:
        >>> default_checkpoints(100), default_checkpoints(50), default_checkpoints(8)
        ([10, 20, 40, 60, 80, 100], [10, 20, 40, 50], [8])
    """
    points = [c for c in [10, *range(20, budget + 1, 20)] if c <= budget]
    return points if points and points[-1] == budget else [*points, budget]


def mean_ci(values: Any) -> tuple[float, float]:
    """``(mean, half-width)`` of the 95% Student-t interval of the mean; half-width NaN below two values.

    Example:
        >>> mean, half = mean_ci([1.0, 2.0, 3.0])
        >>> mean, round(half, 4)  # t_{0.975,2} = 4.3027, sd / sqrt(3) = 0.5774
        (2.0, 2.4841)
    """
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return math.nan, math.nan
    if len(x) < 2:
        return float(x.mean()), math.nan
    return float(x.mean()), float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))


def median_ci(values: Any, confidence: float = 0.95) -> list[float | None] | None:
    """Distribution-free interval ``[low, high]`` of the median of ``values`` with coverage at least
    ``confidence``: a pair of order statistics (:func:`scipy.stats.quantile_test`). Values may be +inf (a seed
    that never reached the optimum): an infinite bound is ``None``, as in the rest of the summary. ``None``
    when no pair of order statistics has that coverage (fewer than 6 values at 95%).

    Example:
        >>> median_ci([5, 1, 9, 3, 7, 2, 8, 4, 6, float("inf")])  # 10 values: the 2nd and 9th smallest
        [2.0, 9.0]
        >>> median_ci([1, 2, 3]) is None
        True
    """
    x = np.asarray(values, dtype=float)
    # ``q`` is the tested median, which only the test's p-value depends on, not the interval.
    interval = stats.quantile_test(x, q=0.0, p=0.5).confidence_interval(confidence)
    if np.isnan(interval.low) or np.isnan(interval.high):
        return None
    return [_num(interval.low), _num(interval.high)]


def evals_to_reach(run: pd.DataFrame, target: float) -> float:
    """First ``eval`` of one run (rows sorted by ``eval``) with ``best_objective >= target - 1e-9``, else +inf."""
    hit = run.loc[run["best_objective"] >= target - OPTIMUM_TOL, "eval"]
    return float(hit.iloc[0]) if len(hit) else math.inf


def summarize(
    traces: pd.DataFrame,
    checkpoints: list[int] | None = None,
    global_best_objective: float | None = None,
    reference: str = "diffusion",
) -> dict[str, Any]:
    """The statistics of the module docstring for a ``traces.csv`` table (JSON-ready: NaN and inf → ``None``).

    ``traces`` needs the columns ``optimizer, seed, eval, best_objective, best_test, seconds``. A run
    shorter than a checkpoint does not count at that checkpoint (``n`` says how many did).

    Returns:
        ``{"budget", "checkpoints", "global_best_objective", "reference", "optimizers": {name: {"seeds",
        "best_test", "best_objective", "evals_to_optimum", "seconds_per_round"}}, "win_rate": {baseline:
        {"final", "n", "by_checkpoint"}}}``; ``best_test``/``best_objective`` are lists of
        ``{"eval", "mean", "ci95", "n"}``.

    Example:
        >>> traces = pd.DataFrame({"optimizer": ["a", "a"], "seed": [0, 0], "eval": [1, 2],
        ...                        "best_objective": [1.0, 3.0], "best_test": [1.0, 2.0], "seconds": [0.0, 0.5]})
        >>> s = summarize(traces, global_best_objective=3.0)
        >>> s["optimizers"]["a"]["evals_to_optimum"]["median"], s["optimizers"]["a"]["seconds_per_round"]
        (2.0, 0.5)
    """
    traces = traces.sort_values(["optimizer", "seed", "eval"], kind="stable")
    budget = int(traces["eval"].max())
    checkpoints = default_checkpoints(budget) if checkpoints is None else sorted(checkpoints)
    names = list(dict.fromkeys(traces["optimizer"]))
    if reference in names:  # the method under study leads every table
        names.remove(reference)
        names.insert(0, reference)
    at = {c: traces[traces["eval"] == c].set_index(["optimizer", "seed"]) for c in checkpoints}
    optimizers = {}
    for name in names:
        runs = traces[traces["optimizer"] == name]
        entry: dict[str, Any] = {"seeds": sorted(int(s) for s in runs["seed"].unique())}
        for column in ("best_test", "best_objective"):
            entry[column] = []
            for c in checkpoints:
                values = at[c].loc[name, column] if name in at[c].index.get_level_values(0) else []
                mean, half = mean_ci(values)
                entry[column].append({"eval": c, "mean": _num(mean), "ci95": _num(half), "n": len(values)})
        entry["evals_to_optimum"] = None if global_best_objective is None else _evals_to_optimum(runs, global_best_objective)
        rounds = runs.loc[runs["seconds"] > 0, ["seed", "seconds"]].drop_duplicates()
        entry["seconds_per_round"] = _num(rounds["seconds"].mean()) if len(rounds) else None
        optimizers[name] = entry
    win_rate = {}
    if reference in names:
        for baseline in names[1:]:
            by_checkpoint = [{"eval": c, **_win_rate(at[c], reference, baseline)} for c in checkpoints]
            win_rate[baseline] = {"final": by_checkpoint[-1]["win_rate"], "n": by_checkpoint[-1]["n"], "by_checkpoint": by_checkpoint}
    return {
        "budget": budget,
        "checkpoints": checkpoints,
        "global_best_objective": global_best_objective,
        "reference": reference,
        "optimizers": optimizers,
        "win_rate": win_rate,
    }


def write_report(out_dir: str | os.PathLike) -> dict[str, Any]:
    """Summarise ``out_dir/traces.csv`` into ``summary.json``, ``summary.md`` and PNG plots in ``out_dir``.

    The global best objective comes from ``out_dir/config.json`` (written by ``bo-diffnag bench``; ``null``
    for MBv3, whose optimum is unknown, in which case ``evals_to_optimum.png`` is not drawn).

    Returns:
        The summary of :func:`summarize`, plus ``"files"``: the paths written.

    Example:
        >>> summary = write_report("runs/demo")  # doctest: +SKIP
        >>> summary["files"]["markdown"]  # doctest: +SKIP
        'runs/demo/summary.md'
    """
    out = Path(out_dir)
    if not (out / TRACES_FILE).is_file():
        raise ValueError(f"{out / TRACES_FILE} not found; run `bo-diffnag bench --out {out}` first")
    traces = pd.read_csv(out / TRACES_FILE)
    if traces.empty:
        raise ValueError(f"{out / TRACES_FILE} holds no evaluations")
    config = json.loads((out / CONFIG_FILE).read_text()) if (out / CONFIG_FILE).is_file() else {}
    summary = summarize(traces, global_best_objective=config.get("global_best_objective"))
    files = {"json": out / "summary.json", "markdown": out / "summary.md"}
    files |= _plot_anytime(traces, summary, out)
    if summary["global_best_objective"] is not None:
        files["evals_to_optimum"] = _plot_evals_to_optimum(summary, out / PLOTS[2])
    summary["files"] = {key: str(path) for key, path in files.items()}
    files["markdown"].write_text(markdown(summary, config))
    files["json"].write_text(json.dumps(summary, indent=1))
    return summary


def markdown(summary: dict[str, Any], config: dict[str, Any] | None = None) -> str:
    """The summary as readable markdown tables (``config``: the bench settings shown in the header)."""
    config = config or {}
    lines = [f"# Benchmark report: {config.get('benchmark', 'traces')}", ""]
    if config:
        settings = ", ".join(f"{k} {config[k]}" for k in ("budget", "n_init", "batch_size", "acquisition") if k in config)
        if "surrogate" in config:  # the BO optimisers' ensemble recipe (options of NoiseAwareEnsemble)
            settings += ", surrogate " + " ".join(f"{k}={v}" for k, v in config["surrogate"].items())
        lines += [f"Settings: {settings}. Cells: mean ± 95% CI half-width over seeds (Student t).", ""]
    opts = summary["optimizers"]
    for column, title in (("best_test", "Best test metric"), ("best_objective", "Best objective")):
        table = {
            name: {f"n={p['eval']}": _cell(p) for p in entry[column]} | {"seeds": len(entry["seeds"])}
            for name, entry in opts.items()
        }
        lines += [f"## {title} after n evaluations", "", _table(table), ""]
    best = summary["global_best_objective"]
    lines += ["## Evaluations to the global best objective", ""]
    if best is None:
        lines += ["n/a: the global optimum of this benchmark is unknown.", ""]
    else:
        table = {
            name: {
                "median evals": _fmt(entry["evals_to_optimum"]["median"], "not reached", 1),
                "95% CI of the median": format_median_ci(entry["evals_to_optimum"]["median_ci95"]),
                "share of seeds reaching it": _fmt(entry["evals_to_optimum"]["reached"]),
            }
            for name, entry in opts.items()
        }
        lines += [f"Global best objective: {best:.4f}.", "", _table(table), ""]
    lines += [f"## Paired win rate of {summary['reference']} (1 win, 0.5 tie, 0 loss on best test metric)", ""]
    if summary["win_rate"]:
        table = {
            f"vs {name}": {f"n={p['eval']}": _fmt(p["win_rate"]) for p in rate["by_checkpoint"]} | {"seeds": rate["n"]}
            for name, rate in summary["win_rate"].items()
        }
        lines += [_table(table), ""]
    else:
        lines += [f"n/a: no {summary['reference']} runs.", ""]
    table = {name: {"seconds per proposal round": _fmt(entry["seconds_per_round"], "n/a", 4)} for name, entry in opts.items()}
    lines += ["## Proposal time", "", _table(table), ""]
    return "\n".join(lines)


def _evals_to_optimum(runs: pd.DataFrame, target: float) -> dict[str, Any]:
    per_seed = {int(seed): evals_to_reach(run, target) for seed, run in runs.groupby("seed")}
    values = np.array(list(per_seed.values()))
    return {
        "median": _num(float(np.median(values))),
        "median_ci95": median_ci(values),
        "reached": float(np.isfinite(values).mean()),
        "per_seed": [{"seed": seed, "evals": _num(value)} for seed, value in per_seed.items()],
    }


def _win_rate(at: pd.DataFrame, reference: str, baseline: str) -> dict[str, Any]:
    """Mean of win = 1, tie = 0.5, loss = 0 of ``reference`` over the seeds both optimisers reached."""
    optimizers = at.index.get_level_values(0)
    if reference not in optimizers or baseline not in optimizers:
        return {"win_rate": None, "n": 0}
    pair = pd.concat([at.loc[reference, "best_test"], at.loc[baseline, "best_test"]], axis=1, join="inner")
    ours, theirs = pair.iloc[:, 0].to_numpy(), pair.iloc[:, 1].to_numpy()
    scores = np.where(ours > theirs, 1.0, np.where(ours == theirs, 0.5, 0.0))
    return {"win_rate": float(scores.mean()) if len(scores) else None, "n": len(scores)}


def _plot_anytime(traces: pd.DataFrame, summary: dict[str, Any], out: Path) -> dict[str, Path]:
    """Mean curve and 95% CI band per optimiser against evaluations, for ``best_test`` and ``best_objective``."""
    files = {}
    for column, filename, label in (
        ("best_test", PLOTS[0], "best test metric (%)"),
        ("best_objective", PLOTS[1], "best objective (%)"),
    ):
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.add_subplot()
        for name in summary["optimizers"]:
            curves = traces[traces["optimizer"] == name].pivot(index="eval", columns="seed", values=column)
            # Start at the first checkpoint: earlier evaluations are the initial design every optimiser shares.
            curves = curves[curves.index >= summary["checkpoints"][0]]
            n = curves.notna().sum(axis=1).to_numpy()
            mean = curves.mean(axis=1).to_numpy()
            # Student-t half-width per evaluation; NaN (no band) where fewer than two seeds ran.
            t = np.where(n > 1, stats.t.ppf(0.975, np.maximum(n - 1, 1)), np.nan)
            half = t * curves.std(axis=1, ddof=1).to_numpy() / np.sqrt(n)
            line = ax.plot(curves.index, mean, label=f"{name} (n={int(n.max())})")[0]
            ax.fill_between(curves.index, mean - half, mean + half, color=line.get_color(), alpha=0.2, linewidth=0)
        if column == "best_objective" and summary["global_best_objective"] is not None:
            ax.axhline(summary["global_best_objective"], color="black", linestyle="--", linewidth=1, label="global best")
        ax.set(xlabel="evaluations", ylabel=label, title=f"Anytime {label}: mean ± 95% CI over seeds")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
        fig.savefig(out / filename, dpi=120)
        files[f"anytime_{column}"] = out / filename
    return files


def _plot_evals_to_optimum(summary: dict[str, Any], path: Path) -> Path:
    """Share of seeds that have found the global best objective after n evaluations (an ECDF per optimiser)."""
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    grid = np.arange(1, summary["budget"] + 1)
    for name, entry in summary["optimizers"].items():
        evals = np.array([math.inf if s["evals"] is None else s["evals"] for s in entry["evals_to_optimum"]["per_seed"]])
        ax.step(grid, (evals[None, :] <= grid[:, None]).mean(axis=1), where="post", label=name)
    ax.set(
        xlabel="evaluations",
        ylabel="share of seeds at the global best",
        ylim=(-0.02, 1.02),
        title=f"Evaluations to the global best objective ({summary['global_best_objective']:.4f})",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.savefig(path, dpi=120)
    return path


def _num(value: float) -> float | None:
    """JSON has no NaN or infinity: both become ``None``."""
    return float(value) if value is not None and math.isfinite(value) else None


def format_median_ci(bounds: list[float | None] | None) -> str:
    """``[31, 67]`` or ``[31, not reached]`` for a median's interval; ``n/a`` when it is undefined."""
    if bounds is None:
        return "n/a (< 6 seeds)"
    return "[" + ", ".join(_fmt(b, "not reached", 0) for b in bounds) + "]"


def _fmt(value: float | None, missing: str = "n/a", digits: int = 2) -> str:
    return missing if value is None else f"{value:.{digits}f}"


def _cell(point: dict[str, Any]) -> str:
    if point["mean"] is None:
        return "–"
    return f"{point['mean']:.2f}" if point["ci95"] is None else f"{point['mean']:.2f} ± {point['ci95']:.2f}"


def _table(rows: dict[str, dict[str, Any]]) -> str:
    return pd.DataFrame.from_dict(rows, orient="index").to_markdown()

"""The ``bench`` and ``report`` subcommands of ``bo-diffnag``, added to a parser by :func:`add_harness_commands`.

``bo-diffnag bench --space nb201 --benchmark cifar10 --optimizers diffusion,mutation,random --budget 100
--seeds 10 --jobs 4 --out runs/c10`` runs (or resumes) the comparison and writes ``runs/c10/traces.csv``;
``bo-diffnag report runs/c10`` writes ``summary.json``, ``summary.md`` and the plots.

Example:
    >>> from bo_diffnag.cli import main
    >>> main(["report", "runs/c10"], extensions=(add_harness_commands,))  # doctest: +SKIP
    0
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bo_diffnag.cli import BadInput, add_data_dir
from bo_diffnag.spaces import SPACES


def add_harness_commands(sub: Any) -> None:
    """Add ``bench`` and ``report`` to the core parser's subcommands (an extension of :func:`bo_diffnag.cli.main`)."""
    bench = sub.add_parser("bench", help="compare optimisers on a benchmark over many seeds (parallel, resumable)")
    bench.add_argument("--space", required=True, choices=sorted(SPACES))
    bench.add_argument("--benchmark", required=True, help="full (nb201:cifar10) or short (cifar10) benchmark name")
    bench.add_argument(
        "--optimizers",
        required=True,
        help="comma-separated, e.g. diffusion,diffusion_norefine,mutation,random_pool,mutation_random,acqf_local_search,exhaustive,"
        "local_search,evolution,random,ax_default",
    )
    bench.add_argument("--acquisition", default="qLogNEI", help="acquisition of the BO optimisers (default: qLogNEI)")
    bench.add_argument("--budget", required=True, type=int, help="unique architecture evaluations per run")
    bench.add_argument("--seeds", required=True, type=int, help="number of seeds per optimiser")
    bench.add_argument("--seed-offset", type=int, default=0, help="first seed (seeds are OFFSET .. OFFSET+K-1)")
    bench.add_argument("--n-init", type=int, default=10, help="initial-design size, shared across optimisers per seed")
    bench.add_argument("--batch-size", type=int, default=10, help="proposals per round")
    bench.add_argument("--jobs", type=int, default=1, help="parallel worker processes (one torch thread each)")
    bench.add_argument(
        "--surrogate-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override the BO loop's ensemble recipe for every surrogate-based optimiser, e.g. prior_scale=1.0 "
        "or selection_model=ensemble (repeatable; VALUE is a JSON number, true/false (or True/False), or a name)",
    )
    bench.add_argument("--out", required=True, type=Path, help="output directory (resumed if it exists)")
    bench.add_argument("--no-progress", action="store_true")
    add_data_dir(bench)
    bench.set_defaults(func=_cmd_bench)

    report = sub.add_parser("report", help="summary tables and plots of a bench output directory")
    report.add_argument("dir", type=Path, help="the --out directory of `bo-diffnag bench`")
    report.set_defaults(func=_cmd_report)


def _cmd_bench(args: argparse.Namespace) -> dict[str, Any]:
    from bo_diffnag.harness.bench import check_settings, run_bench

    benchmark = args.benchmark if ":" in args.benchmark else f"{args.space}:{args.benchmark}"
    optimizers = [name.strip() for name in args.optimizers.split(",") if name.strip()]
    settings = {
        "acquisition": args.acquisition,
        "budget": args.budget,
        "seeds": args.seeds,
        "seed_offset": args.seed_offset,
        "n_init": args.n_init,
        "batch_size": args.batch_size,
        "jobs": args.jobs,
    }
    try:
        settings["surrogate_options"] = parse_options(args.surrogate_option)
        check_settings(args.space, benchmark, optimizers, **settings)
    except ValueError as err:
        raise BadInput(str(err)) from err
    return run_bench(
        args.space, benchmark, optimizers, out_dir=args.out, data_dir=args.data_dir, progress=not args.no_progress, **settings
    )


PYTHON_BOOLEANS = {"True": True, "False": False}


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["prior_scale=1.0", "bootstrap=false", "prior_proxy=params"]`` → ``{"prior_scale": 1.0, "bootstrap": False,
    "prior_proxy": "params"}``: JSON values (Python's ``True``/``False`` too), or a bare name as a string.

    Example:
        >>> parse_options(["prior_scale=1", "bootstrap=False", "prior_proxy=params"])
        {'prior_scale': 1, 'bootstrap': False, 'prior_proxy': 'params'}
    """
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = (part.strip() for part in pair.partition("="))
        if not sep or not key:
            raise ValueError(f"malformed option {pair!r}; expected KEY=VALUE, e.g. prior_scale=1.0")
        if value in PYTHON_BOOLEANS:  # what a Python user types for a keyword argument's boolean
            options[key] = PYTHON_BOOLEANS[value]
            continue
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            if not value.isidentifier():
                raise ValueError(f"option {key}: {value!r} is not a JSON value (a number, true or false) or a name") from None
            options[key] = value
    return options


def _cmd_report(args: argparse.Namespace) -> dict[str, Any]:
    from bo_diffnag.harness.report import write_report

    summary = write_report(args.dir)
    final = {
        name: {
            "best_test": entry["best_test"][-1]["mean"],
            "best_test_ci95": entry["best_test"][-1]["ci95"],
            "evals_to_optimum": None if entry["evals_to_optimum"] is None else entry["evals_to_optimum"]["median"],
        }
        for name, entry in summary["optimizers"].items()
    }
    return {
        "summary": summary["files"]["json"],
        "markdown": summary["files"]["markdown"],
        "budget": summary["budget"],
        "final": final,
        "win_rate": {name: rate["final"] for name, rate in summary["win_rate"].items()},
    }

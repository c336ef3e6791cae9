"""The ``bo-diffnag`` console script: the core commands plus ``run``, an Ax NAS experiment.

``bo-diffnag run --space nb201 --benchmark cifar10 --optimizer diffusion --trials 50`` shows a progress bar,
stores the experiment after every step (SQLite by default) so the same command resumes after a crash,
optionally writes the trial table (``--out``), and prints one JSON object as its last stdout line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bo_diffnag.benchmarks import BENCHMARKS
from bo_diffnag.cli import BadInput, add_data_dir
from bo_diffnag.cli import main as core_main
from bo_diffnag.spaces import SPACES
from bo_diffnag.surrogate.acquisition import ACQUISITIONS

DEFAULT_STORAGE = "sqlite:///runs/bo-diffnag.db"


def benchmark_names(space: str) -> list[str]:
    """Valid ``--benchmark`` values for ``space``: full names and their short forms (``cifar10``)."""
    full = [name for name in BENCHMARKS if name.startswith(f"{space}:")]
    return [*full, *(name.split(":")[1] for name in full)]


def add_run_command(sub: Any) -> None:
    """Add ``run`` to the core parser's subcommands."""
    from ax_integration.strategy import STRATEGIES

    run = sub.add_parser("run", help="run (or resume) an Ax NAS experiment on a benchmark")
    run.add_argument("--space", required=True, choices=sorted(SPACES))
    run.add_argument(
        "--benchmark",
        required=True,
        help="table oracles: cifar10, cifar100, imagenet16-120 (nb201), imagenet (mbv3); training tasks: "
        "digits (embedded), images:FOLDER, arrays:FILE.npz",
    )
    run.add_argument("--optimizer", required=True, choices=STRATEGIES)
    run.add_argument("--acquisition", default="qLogNEI", choices=ACQUISITIONS)
    run.add_argument("--trials", required=True, type=int, help="number of completed trials to reach")
    run.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="architectures proposed jointly per round; the surrogate is refitted once per batch (default: --parallel)",
    )
    run.add_argument("--n-init", type=int, default=10, help="initial-design trials")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument(
        "--storage",
        default=DEFAULT_STORAGE,
        help=f"SQLAlchemy URL or a .json snapshot path; 'none' keeps it in memory (default: {DEFAULT_STORAGE})",
    )
    run.add_argument("--name", default=None, help="experiment name (default: from space, benchmark, optimizer, seed)")
    run.add_argument("--out", type=Path, default=None, help="write the trial table (CSV) here")
    run.add_argument("--plot", type=Path, default=None, help="best-so-far PNG (default: next to --out)")
    run.add_argument("--parallel", type=int, default=1, help="trials evaluated at once (Ray if installed, else processes)")
    run.add_argument("--ray-address", default=None, help="Ray cluster address (e.g. ray://head:10001); implies Ray")
    run.add_argument("--backend", default="auto", choices=("auto", "inline", "process", "ray"), help="executor for trials")
    run.add_argument("--trial-timeout", type=float, default=None, help="seconds before a trial is failed")
    run.add_argument("--epochs", type=int, default=None, help="training tasks: epochs per trial")
    run.add_argument("--no-progress", action="store_true")
    add_data_dir(run)
    run.set_defaults(func=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> dict[str, Any]:
    from ax.utils.common.logger import set_stderr_log_level

    from ax_integration.experiment import default_name, run_nas_experiment
    from bo_diffnag.benchmarks import get_benchmark
    from bo_diffnag.parallel import make_executor
    from bo_diffnag.plots import plot_best_so_far
    from bo_diffnag.training.task import TASK_FORMS, get_training_task, is_training_task

    set_stderr_log_level(logging.WARNING)  # Ax logs every trial at INFO; the progress bar says it better

    if args.batch_size is None:
        args.batch_size = args.parallel
    valid = [*benchmark_names(args.space), *TASK_FORMS]
    if args.benchmark not in valid and not is_training_task(args.benchmark):
        raise BadInput(f"unknown benchmark {args.benchmark!r} for space {args.space!r}; valid: {', '.join(valid)}")
    for flag in ("trials", "batch_size", "n_init", "parallel"):
        if getattr(args, flag) < 1:
            raise BadInput(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    if args.trial_timeout is not None and args.trial_timeout <= 0:
        raise BadInput(f"--trial-timeout must be > 0, got {args.trial_timeout}")
    if is_training_task(args.benchmark):
        benchmark = f"{args.space}:{args.benchmark}"
        evaluate = get_training_task(args.benchmark, args.space, args.seed, args.epochs, args.trial_timeout)
    else:
        benchmark = args.benchmark if ":" in args.benchmark else f"{args.space}:{args.benchmark}"
        evaluate = get_benchmark(benchmark, data_dir=args.data_dir).evaluate
    name = args.name or default_name(benchmark, args.optimizer, args.acquisition, args.seed)
    plot = args.plot or (args.out.with_suffix(".png") if args.out is not None else None)

    def write_table(table: Any) -> None:
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            tmp = args.out.with_name(args.out.name + ".partial")
            table.to_csv(tmp, index=False)
            tmp.replace(args.out)

    with make_executor(args.parallel, args.ray_address, args.backend) as executor:
        result = run_nas_experiment(
            args.space,
            evaluate,
            optimizer=args.optimizer,
            acquisition=args.acquisition,
            trials=args.trials,
            batch_size=args.batch_size,
            n_init=args.n_init,
            seed=args.seed,
            storage=None if args.storage.lower() == "none" else args.storage,
            name=name,
            progress=not args.no_progress,
            on_trial=write_table,
            executor=executor,
            # The trainer stops itself at the budget; the loop's hard limit only catches hung workers.
            trial_timeout=None if args.trial_timeout is None else 2 * args.trial_timeout + 30,
        )
    write_table(result.trials)
    summary = result.summary()
    if args.out is not None:
        summary["out"] = str(args.out)
    if plot is not None:
        plot.parent.mkdir(parents=True, exist_ok=True)
        plot_best_so_far(result.trials, plot, title=f"{name} ({summary['trials_completed']} trials)")
        summary["plot"] = str(plot)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bo-diffnag`` console script; returns the exit code."""
    from ax_integration.harness import add_harness_commands

    return core_main(argv, extensions=(add_run_command, add_harness_commands))


if __name__ == "__main__":
    sys.exit(main())

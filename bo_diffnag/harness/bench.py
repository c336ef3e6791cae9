"""The comparison harness: every optimiser × seed on one benchmark, in parallel, resumable, one trace table.

Each (optimiser, seed) run is a task. A finished task writes ``DIR/runs/{optimizer}-{acquisition}-seed{seed}.csv``
atomically; that file is the resume marker, so running the same command again (or with more seeds or
optimisers) only does the missing runs. After all tasks, every run file is concatenated into
``DIR/traces.csv`` with the :data:`TRACE_CONTRACT` columns. ``DIR/config.json`` holds the settings (a DIR
never mixes budgets, batch sizes, surrogate recipes, ... ) and the benchmark's global best objective for the
report.

Optimisers come from :data:`TRACE_RUNNERS`; other packages add theirs with :func:`register_trace_runner`
(``ax_integration.harness`` adds ``ax_default``). Worker processes are *spawned*, and they receive the
runner itself (pickled by reference, i.e. by module and name), so a runner registered in the parent works
in every worker without re-registration, and importing this module never imports a runner's package.

Example:
    >>> summary = run_bench("nb201", "nb201:cifar10", ["random", "mutation"], budget=20, seeds=2, out_dir="runs/demo")  # doctest: +SKIP
    >>> summary["runs_done"]  # doctest: +SKIP
    4
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from bo_diffnag.benchmarks import BENCHMARKS, Benchmark, get_benchmark
from bo_diffnag.bo import OPTIMIZERS, PRIOR_PROXIES, SELECTION_MODELS, SURROGATE_DEFAULTS, SURROGATE_OPTIONS, run_bo
from bo_diffnag.diffusion.prior import DiffusionPrior
from bo_diffnag.harness.search_baselines import run_evolution, run_local_search, run_random_search
from bo_diffnag.spaces import SPACES
from bo_diffnag.surrogate.acquisition import ACQUISITIONS

#: ``runner(benchmark=, budget=, n_init=, batch_size=, seed=, acquisition=, prior=, surrogate_options=) → trace``
#: with the columns of :func:`bo_diffnag.bo.run_bo`; it must be picklable (a module-level function or a partial).
TraceRunner = Callable[..., pd.DataFrame]

#: Columns of ``traces.csv``, in order (the public contract of ``bo-diffnag bench``).
TRACE_CONTRACT = [
    "optimizer", "acquisition", "seed", "eval", "arch", "objective", "test", "best_objective", "best_test", "seconds"
]
#: Settings that must match to resume into an existing output directory. ``surrogate`` is the BO loop's
#: ensemble recipe (:data:`bo_diffnag.bo.SURROGATE_DEFAULTS`): a directory never mixes runs fitted differently.
RESUME_KEYS = ("space", "benchmark", "budget", "n_init", "batch_size", "acquisition", "surrogate")
CONFIG_FILE, TRACES_FILE, RUNS_DIR = "config.json", "traces.csv", "runs"


def _bo_trace(
    optimizer: str,
    benchmark: Benchmark,
    budget: int,
    n_init: int,
    batch_size: int,
    seed: int,
    acquisition: str,
    prior: DiffusionPrior | None,
    surrogate_options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    return run_bo(benchmark, optimizer, acquisition, budget, n_init, batch_size, seed, prior, surrogate_options)


def _search_trace(
    search: Callable[..., pd.DataFrame],
    benchmark: Benchmark,
    budget: int,
    n_init: int,
    batch_size: int,
    seed: int,
    acquisition: str,
    prior: DiffusionPrior | None,
    surrogate_options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """A surrogate-free baseline as a runner: it has no use for ``acquisition``, ``prior`` or ``surrogate_options``."""
    return search(benchmark, budget, n_init, batch_size, seed)


#: Optimiser name → runner: the BO loop with each acquisition optimiser of ``run_bo``, and the
#: surrogate-free ``random`` search, ``local_search`` and regularised ``evolution``.
TRACE_RUNNERS: dict[str, TraceRunner] = {
    **{name: partial(_bo_trace, name) for name in OPTIMIZERS},
    "random": partial(_search_trace, run_random_search),
    "local_search": partial(_search_trace, run_local_search),
    "evolution": partial(_search_trace, run_evolution),
}


def register_trace_runner(name: str, runner: TraceRunner) -> None:
    """Make ``runner`` available to :func:`run_bench` as optimiser ``name`` (replacing any runner of that name).

    Example:
        >>> from bo_diffnag.harness.search_baselines import run_random_search
        >>> register_trace_runner("random_again", partial(_search_trace, run_random_search))
        >>> "random_again" in TRACE_RUNNERS
        True
        >>> del TRACE_RUNNERS["random_again"]
    """
    TRACE_RUNNERS[name] = runner


def check_settings(
    space: str,
    benchmark: str,
    optimizers: Sequence[str],
    acquisition: str,
    budget: int,
    seeds: int,
    seed_offset: int,
    n_init: int,
    batch_size: int,
    jobs: int,
    surrogate_options: dict[str, Any] | None = None,
) -> None:
    """``ValueError`` naming the first bad setting of :func:`run_bench` (checked before any work starts)."""
    if space not in SPACES:
        raise ValueError(f"unknown search space {space!r}; expected one of {sorted(SPACES)}")
    if benchmark not in BENCHMARKS or benchmark.split(":")[0] != space:
        valid = [name for name in BENCHMARKS if name.startswith(f"{space}:")]
        raise ValueError(f"unknown benchmark {benchmark!r} for space {space!r}; valid: {', '.join(valid)}")
    if not optimizers:
        raise ValueError("no optimizers given")
    unknown = [name for name in optimizers if name not in TRACE_RUNNERS]
    if unknown:
        raise ValueError(f"unknown optimizer(s) {', '.join(unknown)}; valid: {', '.join(TRACE_RUNNERS)}")
    if "exhaustive" in optimizers and space != "nb201":
        raise ValueError(f"optimizer 'exhaustive' needs the enumerable nb201 space, not {space!r}")
    if acquisition not in ACQUISITIONS:
        raise ValueError(f"unknown acquisition {acquisition!r}; valid: {', '.join(ACQUISITIONS)}")
    for flag, value in (("budget", budget), ("seeds", seeds), ("n_init", n_init), ("batch_size", batch_size), ("jobs", jobs)):
        if value < 1:
            raise ValueError(f"{flag} must be >= 1, got {value}")
    if seed_offset < 0:
        raise ValueError(f"seed_offset must be >= 0, got {seed_offset}")
    if n_init > budget:
        raise ValueError(f"n_init ({n_init}) must not exceed the budget ({budget})")
    unknown = sorted(set(surrogate_options or {}) - set(SURROGATE_OPTIONS))
    if unknown:
        raise ValueError(f"unknown surrogate option(s) {', '.join(unknown)}; valid: {', '.join(SURROGATE_OPTIONS)}")
    named = {"prior_proxy": PRIOR_PROXIES, "selection_model": SELECTION_MODELS}  # the options whose values are names
    for key, value in (surrogate_options or {}).items():
        if key in named:
            if value not in named[key]:
                raise ValueError(f"surrogate option {key} must be one of {', '.join(named[key])}, got {value!r}")
        elif not isinstance(value, (bool, int, float)):
            raise ValueError(f"surrogate option {key} must be a number or a boolean, got {value!r}")


def global_best_objective(benchmark: Benchmark) -> float | None:
    """The best ``objective`` over the whole space when it can be enumerated (NB201), else ``None``.

    Example:
        >>> round(global_best_objective(get_benchmark("nb201:cifar10")), 4)
        91.6067
    """
    if not hasattr(benchmark.space, "enumerate_codes"):
        return None
    return float(benchmark.evaluate_codes(benchmark.space.enumerate_codes())["objective"].max())


def run_file(out_dir: str | os.PathLike, optimizer: str, acquisition: str, seed: int) -> Path:
    """Where the trace of one (optimiser, seed) run is stored; its existence marks the run as done."""
    return Path(out_dir) / RUNS_DIR / f"{optimizer}-{acquisition}-seed{seed}.csv"


def run_bench(
    space: str,
    benchmark: str,
    optimizers: Sequence[str],
    *,
    acquisition: str = "qLogNEI",
    budget: int = 100,
    seeds: int = 5,
    seed_offset: int = 0,
    n_init: int = 10,
    batch_size: int = 10,
    jobs: int = 1,
    surrogate_options: dict[str, Any] | None = None,
    out_dir: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Run every optimiser on seeds ``seed_offset .. seed_offset + seeds - 1`` and write ``out_dir/traces.csv``.

    ``surrogate_options`` update the BO loop's ensemble recipe (:data:`~bo_diffnag.bo.SURROGATE_DEFAULTS`;
    keyword arguments of :class:`~bo_diffnag.surrogate.NoiseAwareEnsemble`, e.g. ``{"prior_scale": 1.0}``) for
    every surrogate-based optimiser; ``config.json`` records the resulting recipe as ``surrogate``.
    Runs already stored in ``out_dir/runs`` are skipped. ``jobs > 1`` runs tasks in that many spawned
    processes, each with one torch thread; ``jobs = 1`` runs them in this process. ``traces.csv`` holds
    every stored run of ``out_dir`` (also those of earlier calls), sorted by optimiser, seed and eval.

    Returns:
        ``{"out", "traces", "runs_done", "runs_skipped", "seconds"}``.

    Raises:
        ValueError: a bad setting (:func:`check_settings`) or ``out_dir`` holding a run with other settings.
    """
    optimizers = list(dict.fromkeys(optimizers))  # a repeated name is one optimiser
    check_settings(
        space, benchmark, optimizers, acquisition, budget, seeds, seed_offset, n_init, batch_size, jobs, surrogate_options
    )
    start = time.perf_counter()
    out = Path(out_dir)
    bench = get_benchmark(benchmark, data_dir=data_dir)
    seed_list = list(range(seed_offset, seed_offset + seeds))
    _update_config(
        out,
        {"space": space, "benchmark": benchmark, "budget": budget, "n_init": n_init, "batch_size": batch_size,
         "acquisition": acquisition, "surrogate": {**SURROGATE_DEFAULTS, **(surrogate_options or {})},
         "global_best_objective": global_best_objective(bench)},
        optimizers,
        seed_list,
    )
    restore_runs(out)
    todo = [(o, s) for o in optimizers for s in seed_list if not run_file(out, o, acquisition, s).exists()]
    settings = {
        "budget": budget, "n_init": n_init, "batch_size": batch_size, "acquisition": acquisition,
        "surrogate_options": dict(surrogate_options) if surrogate_options else None,
    }
    bar = tqdm(total=len(todo), disable=not progress, desc="bench runs", unit="run")
    if jobs == 1 or len(todo) <= 1:
        for optimizer, seed in todo:
            _run_task(TRACE_RUNNERS[optimizer], benchmark, data_dir, settings, optimizer, seed, out)
            bar.update(1)
    else:
        context = multiprocessing.get_context("spawn")  # fork would copy torch's thread pools and locks
        with ProcessPoolExecutor(min(jobs, len(todo)), mp_context=context, initializer=_init_worker) as pool:
            futures: list[Future] = [
                pool.submit(_run_task, TRACE_RUNNERS[o], benchmark, data_dir, settings, o, s, out) for o, s in todo
            ]
            try:
                for future in as_completed(futures):
                    future.result()
                    bar.update(1)
            except BaseException:
                pool.shutdown(cancel_futures=True)  # finished runs are stored; a rerun resumes from them
                raise
    bar.close()
    traces = collect_traces(out)
    _write_atomic(out / TRACES_FILE, lambda path: traces.to_csv(path, index=False))
    return {
        "out": str(out),
        "traces": str(out / TRACES_FILE),
        "runs_done": len(todo),
        "runs_skipped": len(optimizers) * len(seed_list) - len(todo),
        "seconds": round(time.perf_counter() - start, 3),
    }


def collect_traces(out_dir: str | os.PathLike) -> pd.DataFrame:
    """Every stored run of ``out_dir`` as one table with the :data:`TRACE_CONTRACT` columns."""
    files = sorted((Path(out_dir) / RUNS_DIR).glob("*.csv"))
    if not files:
        return pd.DataFrame(columns=TRACE_CONTRACT)
    traces = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    return traces.sort_values(["optimizer", "seed", "eval"], kind="stable")[TRACE_CONTRACT].reset_index(drop=True)


def restore_runs(out_dir: str | os.PathLike) -> None:
    """Write back the run files of ``out_dir/traces.csv`` that ``out_dir/runs`` lacks.

    ``runs/`` is a working directory (kept out of version control) while ``traces.csv`` is the committed
    result: in a fresh checkout the runs exist only in the table. Restoring them first means a resumed or
    extended bench skips them and rewrites ``traces.csv`` with them, instead of with the new runs alone.
    """
    path = Path(out_dir) / TRACES_FILE
    if not path.exists():
        return
    for (optimizer, acquisition, seed), trace in pd.read_csv(path).groupby(["optimizer", "acquisition", "seed"]):
        target = run_file(out_dir, optimizer, acquisition, seed)
        if not target.exists():
            _write_atomic(target, lambda tmp, trace=trace: trace.to_csv(tmp, index=False))


def _init_worker() -> None:
    """Spawned workers share the machine: one torch thread each, so ``jobs`` processes use ``jobs`` cores."""
    torch.set_num_threads(1)


def _run_task(
    runner: TraceRunner,
    benchmark: str,
    data_dir: str | os.PathLike | None,
    settings: dict[str, Any],
    optimizer: str,
    seed: int,
    out: Path,
) -> None:
    """Run one (optimiser, seed), check its trace and store it atomically (the resume marker)."""
    trace = runner(benchmark=get_benchmark(benchmark, data_dir=data_dir), seed=seed, prior=None, **settings)
    if len(trace) != settings["budget"] or not trace["arch"].is_unique:
        raise RuntimeError(
            f"{optimizer} seed {seed}: expected {settings['budget']} unique evaluations, got {len(trace)} rows "
            f"with {trace['arch'].nunique()} distinct architectures"
        )
    trace.insert(0, "seed", seed)
    trace.insert(0, "acquisition", settings["acquisition"])
    trace.insert(0, "optimizer", optimizer)
    _write_atomic(run_file(out, optimizer, settings["acquisition"], seed), lambda path: trace.to_csv(path, index=False))


def _update_config(out: Path, config: dict[str, Any], optimizers: list[str], seeds: list[int]) -> None:
    """Create or extend ``out/config.json``; ``ValueError`` if ``out`` holds runs with other settings."""
    path = out / CONFIG_FILE
    if path.exists():
        stored = json.loads(path.read_text())
        differ = [f"{k}: {stored.get(k)!r} stored, {config[k]!r} requested" for k in RESUME_KEYS if stored.get(k) != config[k]]
        if differ:
            raise ValueError(f"{out} holds a bench run with other settings ({'; '.join(differ)}); use another --out")
        optimizers = list(dict.fromkeys([*stored["optimizers"], *optimizers]))
        seeds = sorted({*stored["seeds"], *seeds})
    config = {**config, "optimizers": optimizers, "seeds": seeds}
    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, lambda tmp: tmp.write_text(json.dumps(config, indent=1)))


def _write_atomic(path: Path, write: Callable[[Path], Any]) -> None:
    """Write via a temporary file and rename, so a killed run never leaves a truncated file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)

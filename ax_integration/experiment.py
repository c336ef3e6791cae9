"""A resumable Ax NAS experiment: ask–tell with ``ax.api.Client``, stored after every step.

:func:`run_nas_experiment` is what ``bo-diffnag run`` calls. Started again with the same name and storage
after a crash (even ``kill -9`` in the middle of a trial), it loads the experiment, marks the trials that
were running when it died as failed (their result never arrived; the generation strategy will not
propose those architectures again), keeps every completed trial and goes on until exactly ``trials``
trials are completed.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from ax.api.client import Client
from ax.core.trial_status import TrialStatus
from ax.exceptions.core import ObjectNotFoundError
from ax.storage.sqa_store.db import create_all_tables, get_engine, init_engine_and_session_factory
from tqdm.auto import tqdm

from ax_integration.parameters import parameter_configs, parameters_to_arch
from ax_integration.storage import storage_config
from ax_integration.strategy import nas_generation_strategy
from bo_diffnag.parallel import InlineExecutor, TrialExecutor
from bo_diffnag.spaces import get_space

OBJECTIVE = "accuracy"
TRACKING = "test_accuracy"
TRIAL_COLUMNS = ["trial_index", "arch", "objective", "test", "status", "generation_node"]

_POLL_SECONDS = 1.0  # how often running trials are checked against their timeout

#: ``arch → {"objective": %, "test": %, ...}``; raising or a non-finite objective is a failed trial.
Evaluate = Callable[[str], Mapping[str, Any]]


@dataclass
class NASRunResult:
    """Outcome of :func:`run_nas_experiment`; :meth:`summary` is the CLI's final JSON line."""

    name: str
    trials: pd.DataFrame
    seconds: float
    proposal_seconds: list[float] = field(default_factory=list)

    @property
    def completed(self) -> pd.DataFrame:
        return self.trials[self.trials["status"] == "COMPLETED"]

    def summary(self) -> dict[str, Any]:
        done = self.completed
        best = done.loc[done["objective"].idxmax()] if len(done) else None
        return {
            "best_arch": None if best is None else best["arch"],
            "best_objective": None if best is None else float(best["objective"]),
            "trials_completed": len(done),
            "trials_failed": int((self.trials["status"] == "FAILED").sum()),
            "seconds": round(self.seconds, 3),
            "name": self.name,
            "seconds_per_proposal": round(sum(self.proposal_seconds) / max(len(self.proposal_seconds), 1), 4),
        }


def default_name(benchmark: str, optimizer: str, acquisition: str, seed: int) -> str:
    """A readable experiment name from the run's settings (same command → same name → resume)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{benchmark}-{optimizer}-{acquisition}-seed{seed}")


def open_client(
    name: str,
    space: str,
    storage: str | None,
    make_strategy: Callable[[], Any],
    seed: int,
) -> tuple[Client, bool]:
    """Load experiment ``name`` from ``storage`` or create it; returns ``(client, resumed)``.

    ``storage``: an SQLAlchemy URL (``sqlite:///runs/nas.db``, ``postgresql://...``), a ``.json`` snapshot
    path (rewritten atomically after every step), or ``None`` (in memory).
    """
    if storage is not None and not storage.endswith(".json"):
        config = storage_config(storage)
        _create_tables(storage)
        try:
            client = Client.load_from_database(name, storage_config=config)
            _check_same_space(client, space, name)
            return client, True
        except ObjectNotFoundError:
            client = Client(storage_config=config, random_seed=seed)
    elif storage is not None and Path(storage).exists():
        client = Client.load_from_json_file(storage)
        _check_same_space(client, space, name)
        return client, True
    else:
        client = Client(random_seed=seed)
    client.configure_experiment(parameters=parameter_configs(get_space(space)), name=name)
    client.configure_optimization(objective=OBJECTIVE)
    client.configure_tracking_metrics([TRACKING])
    client.set_generation_strategy(make_strategy())
    _save(client, storage)
    return client, False


def run_nas_experiment(
    space: str,
    evaluate: Evaluate,
    optimizer: str = "diffusion",
    acquisition: str = "qLogNEI",
    trials: int = 50,
    batch_size: int = 1,
    n_init: int = 10,
    seed: int = 0,
    storage: str | None = None,
    name: str = "nas",
    max_failures: int | None = None,
    progress: bool = True,
    on_trial: Callable[[pd.DataFrame], None] | None = None,
    executor: TrialExecutor | None = None,
    trial_timeout: float | None = None,
    count_unique: bool = False,
) -> NASRunResult:
    """Run (or resume) an Ax NAS experiment until ``trials`` trials are completed.

    An asynchronous ask–tell loop: whenever a worker of ``executor`` is idle it asks the generation strategy
    for new trials (up to ``max(batch_size, executor.parallel)`` in flight; running trials are pending
    points, never proposed again), submits them, and reports each result as soon as it arrives:
    ``accuracy`` (= the result's ``objective``) and ``test_accuracy``. The default executor evaluates
    inline, one step of ``batch_size`` trials at a time.

    A trial whose evaluation raises (including a crashed worker), returns a non-finite objective, or runs
    longer than ``trial_timeout`` seconds (then it is cancelled; with a timeout at most
    ``executor.parallel`` trials are in flight, so the clock starts when a trial starts) is marked failed
    and does not count; the run stops with ``RuntimeError`` after ``max_failures`` failures (default:
    ``trials``). On resume, trials that were running when a previous run died are evaluated again first.
    ``on_trial`` receives the trial table after every reported trial (e.g. to write a CSV).

    ``count_unique``: count completed *architectures* instead of trials, so a repeat does not use up the
    budget. Our strategies never repeat one; Ax's own (``ax_default``) can, because when its model keeps
    proposing evaluated points it falls back to Sobol without deduplication. The run then stops with
    ``RuntimeError`` once ``3 * trials`` trials exist without ``trials`` distinct completed architectures.

    Example:
        >>> from bo_diffnag.benchmarks import get_benchmark
        >>> bench = get_benchmark("nb201:cifar10")
        >>> result = run_nas_experiment("nb201", bench.evaluate, "mutation", trials=12, progress=False)  # doctest: +SKIP
        >>> result.summary()["trials_completed"]  # doctest: +SKIP
        12
    """
    if trials < 1 or batch_size < 1 or n_init < 1:
        raise ValueError(f"trials, batch_size and n_init must be >= 1, got {trials}, {batch_size}, {n_init}")
    start = time.perf_counter()
    executor = executor or InlineExecutor()
    capacity = executor.parallel if trial_timeout is not None else max(batch_size, executor.parallel)
    client, resumed = open_client(
        name,
        space,
        storage,
        lambda: nas_generation_strategy(space, optimizer, acquisition, n_init=n_init, batch_size=batch_size, seed=seed),
        seed,
    )
    # Trials that were running when a previous run died never reported: re-run them first.
    queued = [
        (index, trial.arm.parameters)
        for index, trial in sorted(client._experiment.trials.items())
        if trial.status in (TrialStatus.RUNNING, TrialStatus.CANDIDATE, TrialStatus.STAGED)
    ]
    max_failures = trials if max_failures is None else max_failures
    space_obj = get_space(space)
    proposal_seconds: list[float] = []
    table = trial_table(client, space_obj)
    done, failed = _completed(table, count_unique), int((table["status"] == "FAILED").sum())
    bar = tqdm(total=trials, initial=min(done, trials), disable=not progress, desc=f"NAS {optimizer}", unit="trial")
    if resumed:
        bar.write(f"resumed {name!r}: {done} completed trials kept, {len(queued)} interrupted trials re-run")
    inflight: dict[int, tuple[Any, float]] = {}  # trial index → (executor handle, submission time)
    while done < trials:
        if failed > max_failures:
            raise RuntimeError(f"{failed} failed trials (more than max_failures={max_failures}); see the trial table")
        if count_unique and len(client._experiment.trials) >= 3 * trials:
            raise RuntimeError(f"{len(client._experiment.trials)} trials but only {done} distinct architectures completed")
        free = min(capacity - len(inflight), trials - done - len(inflight))
        if len(inflight) < executor.parallel and free > 0:
            if queued:
                asked, queued = dict(queued[:free]), queued[free:]
            else:
                t0 = time.perf_counter()
                asked = client.get_next_trials(max_trials=free)
                proposal_seconds.append((time.perf_counter() - t0) / max(len(asked), 1))
                _save(client, storage)
            for index, parameters in asked.items():
                inflight[index] = (executor.submit(evaluate, parameters_to_arch(space_obj, parameters)), time.perf_counter())
        finished = executor.wait([handle for handle, _ in inflight.values()], timeout=_POLL_SECONDS)
        for index, (handle, submitted) in list(inflight.items()):
            if handle in finished:
                ok = _report(client, index, lambda handle=handle: executor.result(handle))
            elif trial_timeout is not None and time.perf_counter() - submitted > trial_timeout:
                executor.cancel(handle)
                client.mark_trial_failed(index, failed_reason=f"timed out after {trial_timeout:g} s")
                ok = False
            else:
                continue
            del inflight[index]
            current = trial_table(client, space_obj)
            completed = _completed(current, count_unique)
            bar.update(completed - done)
            done, failed = completed, failed + (not ok)
            _save(client, storage)
            if on_trial is not None:
                on_trial(current)
            best = current.loc[current["status"] == "COMPLETED", "objective"].max()
            bar.set_postfix(best=f"{best:.3f}", s_per_proposal=f"{proposal_seconds[-1]:.2f}" if proposal_seconds else "-")
    bar.close()
    return NASRunResult(name, trial_table(client, space_obj), time.perf_counter() - start, proposal_seconds)


def _completed(table: pd.DataFrame, count_unique: bool) -> int:
    """Completed trials of a :func:`trial_table`, or their distinct architectures if ``count_unique``."""
    completed = table.loc[table["status"] == "COMPLETED", "arch"]
    return completed.nunique() if count_unique else len(completed)


def _report(client: Client, index: int, get_result: Callable[[], Mapping[str, Any]]) -> bool:
    """Report one trial's result (or its exception) to Ax; ``False`` if it failed."""
    try:
        result = get_result()
        objective, test = float(result["objective"]), float(result.get("test", math.nan))
    except Exception as err:  # a failed trial is data, not a crash
        client.mark_trial_failed(index, failed_reason=f"{type(err).__name__}: {err}"[:500])
        return False
    if not math.isfinite(objective):
        client.mark_trial_failed(index, failed_reason=f"non-finite objective {objective}")
        return False
    raw_data = {OBJECTIVE: objective, **({TRACKING: test} if math.isfinite(test) else {})}
    client.complete_trial(index, raw_data=raw_data)
    return True


def trial_table(client: Client, space: Any) -> pd.DataFrame:
    """One row per trial: ``trial_index, arch, objective, test, status, generation_node``."""
    experiment = client._experiment
    df = experiment.lookup_data().df
    values = {
        (int(r.trial_index), r.metric_name): float(r.mean) for r in df.itertuples()
    } if not df.empty else {}
    rows = []
    for index, trial in sorted(experiment.trials.items()):
        runs = trial.generator_runs
        rows.append(
            {
                "trial_index": index,
                "arch": parameters_to_arch(space, trial.arm.parameters),
                "objective": values.get((index, OBJECTIVE), math.nan),
                "test": values.get((index, TRACKING), math.nan),
                "status": trial.status.name,
                "generation_node": runs[0]._generation_node_name if runs else None,
            }
        )
    return pd.DataFrame(rows, columns=TRIAL_COLUMNS)


def _save(client: Client, storage: str | None) -> None:
    """JSON snapshots are written to a temporary file and renamed, so a crash never leaves half a file."""
    if storage is not None and storage.endswith(".json"):
        tmp = f"{storage}.partial"
        client.save_to_json_file(tmp)
        os.replace(tmp, storage)


def _create_tables(url: str) -> None:
    """Create Ax's tables if the database is new (idempotent), and a SQLite file's folder."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    init_engine_and_session_factory(url=url)
    create_all_tables(get_engine())


def _check_same_space(client: Client, space: str, name: str) -> None:
    expected = set(get_space(space).parameters)
    found = set(client._experiment.search_space.parameters)
    if expected != found:
        raise ValueError(f"stored experiment {name!r} is not a {space} experiment (parameters differ)")

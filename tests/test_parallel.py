"""Parallel trials: executors, the asynchronous ask–tell loop on Ray and local processes, failures, digits CLI."""

from __future__ import annotations

import json
import os
import sys
import time

import pandas as pd
import pytest

from ax_integration.cli import main
from ax_integration.experiment import run_nas_experiment
from bo_diffnag.parallel import InlineExecutor, ProcessExecutor, make_executor
from bo_diffnag.bo import initial_design
from bo_diffnag.spaces import get_space

pytestmark = pytest.mark.usefixtures("single_thread")


def arch_key(arch: str) -> int:
    return sum(i * ord(c) for i, c in enumerate(arch)) % 9973


class TimedOracle:
    """Picklable cheap evaluation: a score from the arch string; appends ``start end`` to ``log``.

    Architectures in ``fail`` raise, those in ``hang`` sleep far beyond any timeout.
    """

    def __init__(self, log: str, seconds: float = 0.3, fail: tuple[str, ...] = (), hang: tuple[str, ...] = ()):
        self.log, self.seconds, self.fail, self.hang = log, seconds, fail, hang

    def __call__(self, arch: str) -> dict:
        start = time.time()
        if arch in self.fail:
            raise RuntimeError("trial raised")
        time.sleep(3600 if arch in self.hang else self.seconds)
        with open(self.log, "a") as log:
            log.write(f"{start} {time.time()}\n")
        return {"objective": float(arch_key(arch)), "test": float(arch_key(arch))}


def square(x: int) -> int:
    return x * x


def die(_: int) -> int:
    os._exit(1)


def test_inline_executor_runs_at_submit_and_reraises() -> None:
    executor = InlineExecutor()
    ok, bad = executor.submit(square, 3), executor.submit(int, "x")
    assert executor.wait([ok, bad]) == [ok, bad]
    assert executor.result(ok) == 9
    with pytest.raises(ValueError):
        executor.result(bad)


def test_process_executor_survives_a_crashed_worker() -> None:
    with ProcessExecutor(2) as executor:
        handles = [executor.submit(square, i) for i in range(4)]
        while len(executor.wait(handles, timeout=30)) < 4:
            time.sleep(0.05)
        assert [executor.result(h) for h in handles] == [0, 1, 4, 9]
        crashed = executor.submit(die, 0)
        executor.wait([crashed], timeout=30)
        with pytest.raises(Exception):
            executor.result(crashed)
        again = executor.submit(square, 5)  # a fresh pool replaces the broken one
        executor.wait([again], timeout=30)
        assert executor.result(again) == 25


def test_make_executor_validates_and_picks_inline_for_one() -> None:
    assert isinstance(make_executor(1), InlineExecutor)
    with pytest.raises(ValueError, match="parallel"):
        make_executor(0)
    with pytest.raises(ValueError, match="backend"):
        make_executor(2, backend="dask")


def overlaps(log) -> int:
    """How many trials started before the previous one (in start order) had finished."""
    intervals = sorted(tuple(map(float, line.split())) for line in log.read_text().splitlines())
    return sum(b[0] < a[1] for a, b in zip(intervals, intervals[1:]))


@pytest.mark.parametrize("backend", ["ray", "process"])
def test_parallel_run_honours_pending_points_and_overlaps_trials(backend, tmp_path) -> None:
    if backend == "ray":
        ray = pytest.importorskip("ray")
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import tests/
    log = tmp_path / "trials.log"
    with make_executor(2, backend=backend) as executor:
        result = run_nas_experiment(
            "nb201", TimedOracle(str(log), 0.5), "local_search", trials=8, n_init=3, progress=False,
            executor=executor,
        )
    trials = result.trials
    assert (trials["status"] == "COMPLETED").sum() == 8 == len(trials)
    assert trials["arch"].is_unique  # running trials were pending points: never proposed twice
    assert overlaps(log) >= 3  # two workers were kept busy (asynchronous refill)


@pytest.mark.parametrize("backend", ["process", "ray"])
def test_failed_and_hung_trials_are_marked_failed_and_the_run_finishes(backend, tmp_path) -> None:
    if backend == "ray":
        ray = pytest.importorskip("ray")
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    design = initial_design(get_space("nb201"), 12, seed=0)  # what the "random" strategy proposes first
    oracle = TimedOracle(str(tmp_path / "log"), 0.2, fail=(design[0], design[3]), hang=(design[1],))
    with make_executor(2, backend=backend) as executor:
        result = run_nas_experiment(
            "nb201", oracle, "random", trials=8, n_init=12, seed=0, progress=False, executor=executor,
            trial_timeout=10.0,
        )
    summary = result.summary()
    assert summary["trials_completed"] == 8 and summary["trials_failed"] == 3
    status = dict(zip(result.trials["arch"], result.trials["status"]))
    assert [status[design[i]] for i in (0, 1, 3)] == ["FAILED"] * 3
    assert status[design[2]] == "COMPLETED"  # ran beside the hung trial: restarted, not failed


def test_cli_run_digits_writes_table_and_plot(tmp_path, capsys) -> None:
    out = tmp_path / "digits" / "trials.csv"
    code = main([
        "run", "--space", "nb201", "--benchmark", "digits", "--optimizer", "mutation", "--trials", "3",
        "--n-init", "2", "--epochs", "3", "--storage", "none", "--out", str(out), "--no-progress",
    ])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["trials_completed"] == 3 and summary["best_objective"] > 50  # far above chance (after 1 epoch some archs still are not)
    assert (tmp_path / "digits" / "trials.png").stat().st_size > 1000
    table = pd.read_csv(out)
    assert len(table) == 3 and table["test"].between(0, 100).all()


def test_cli_run_bad_task_exits_2(tmp_path, capsys) -> None:
    code = main(["run", "--space", "nb201", "--benchmark", f"arrays:{tmp_path / 'missing.npz'}",
                 "--optimizer", "random", "--trials", "2", "--storage", "none", "--no-progress"])
    assert code == 2
    assert "missing.npz" in capsys.readouterr().err

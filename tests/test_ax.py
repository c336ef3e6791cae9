"""Ax integration: strategies in a Client loop, pending trials, storage round trips, crash-resume, CLI."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from ax.api.client import Client
from ax.generation_strategy.external_generation_node import ExternalGenerationNode
from ax.generation_strategy.generation_strategy import GenerationStrategy

from ax_integration import (
    STRATEGIES,
    BenchmarkMetric,
    BenchmarkRunner,
    arch_to_parameters,
    nas_generation_strategy,
    parameter_configs,
    parameters_to_arch,
    storage_config,
)
from ax_integration.cli import main
from ax_integration.experiment import run_nas_experiment
from bo_diffnag.benchmarks import get_benchmark
from bo_diffnag.bo import initial_design
from bo_diffnag.spaces import get_space

pytestmark = pytest.mark.usefixtures("single_thread")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def benches(data_dir):
    return {"nb201": get_benchmark("nb201:cifar10", data_dir=data_dir), "mbv3": get_benchmark("mbv3:imagenet", data_dir=data_dir)}


def make_client(space: str, optimizer: str, storage=None, **options) -> Client:
    client = Client(storage_config=storage, random_seed=0)
    client.configure_experiment(parameters=parameter_configs(get_space(space)), name=f"test-{space}-{optimizer}")
    client.configure_optimization(objective="accuracy")
    client.set_generation_strategy(nas_generation_strategy(space, optimizer=optimizer, seed=0, **options))
    return client


def step(client: Client, bench, n: int) -> list[str]:
    """Ask for ``n`` trials, evaluate them on the oracle, complete them; return their archs."""
    archs = []
    if n == 0:  # Ax generates at least one trial per call
        return archs
    for index, parameters in client.get_next_trials(max_trials=n).items():
        arch = parameters_to_arch(bench.space, parameters)
        client.complete_trial(index, raw_data={"accuracy": bench.evaluate(arch)["objective"]})
        archs.append(arch)
    return archs


def test_importing_the_integration_prints_nothing() -> None:
    out = subprocess.run([sys.executable, "-c", "import ax_integration"], capture_output=True, text=True, check=True)
    assert out.stdout == "" and "SQL storage initialized" not in out.stderr


# ------------------------------------------------------------------------------------ parameters
@pytest.mark.parametrize("space_name", ["nb201", "mbv3"])
def test_parameters_round_trip_exactly(space_name) -> None:
    space = get_space(space_name)
    configs = parameter_configs(space)
    assert [c.name for c in configs] == list(space.parameters)
    for arch in space.sample(50, seed=1):
        params = arch_to_parameters(space, arch)
        assert parameters_to_arch(space, params) == arch
        for config in configs:
            assert params[config.name] in config.values


def test_mbv3_inactive_slots_are_normalised() -> None:
    space = get_space("mbv3")
    arch = next(a for a in space.sample(20, seed=3) if min(space.config(a)["d"]) < 4)
    params = arch_to_parameters(space, arch)
    inactive = [k for k in space.parameters if k not in space.active_parameters(arch)]
    assert inactive and all(params[k] == 3 for k in inactive)
    changed = {**params, **{k: space.parameters[k][-1] for k in inactive}}
    assert parameters_to_arch(space, changed) == arch  # inactive slots do not change the network


def test_bad_parameters_are_rejected_with_the_name() -> None:
    space = get_space("nb201")
    params = arch_to_parameters(space, space.sample(1, seed=0)[0])
    with pytest.raises(ValueError, match="op0_e01"):
        parameters_to_arch(space, {**params, "op0_e01": "conv_9x9"})


# ----------------------------------------------------------------------------- strategies in Ax
@pytest.mark.parametrize("space_name", ["nb201", "mbv3"])
@pytest.mark.parametrize("optimizer", [o for o in STRATEGIES if o != "exhaustive"])
def test_every_strategy_runs_a_client_loop(benches, space_name, optimizer) -> None:
    bench = benches[space_name]
    client = make_client(space_name, optimizer, n_init=3, batch_size=3)
    archs = []
    while len(archs) < 9:
        archs += step(client, bench, 3)
    assert len(archs) == len(set(archs)), "an architecture was proposed twice"
    assert all(bench.space.parse(a) is not None for a in archs)
    df = client._experiment.lookup_data().df
    assert df["mean"].notna().all() and len(df) == len(archs)
    if optimizer != "ax_default":
        assert archs[:3] == initial_design(bench.space, 3, seed=0)  # common random numbers with the core loop
        nodes = [t.generator_runs[0]._generation_node_name for t in client._experiment.trials.values()]
        assert nodes[:3] == ["InitialDesign"] * 3 or optimizer == "random"
        assert len(set(nodes[3:])) == 1


def test_exhaustive_strategy_proposes_the_acquisition_argmax_on_nb201(benches) -> None:
    client = make_client("nb201", "exhaustive", n_init=5, batch_size=2)
    step(client, benches["nb201"], 5)
    archs = step(client, benches["nb201"], 2)
    assert len(set(archs)) == 2


@pytest.mark.parametrize("optimizer", ["diffusion", "mutation", "local_search", "random"])
def test_pending_trials_are_never_proposed_again(benches, optimizer) -> None:
    bench = benches["nb201"]
    client = make_client("nb201", optimizer, n_init=4, batch_size=2)
    step(client, bench, 4)
    # Ask three times without completing: 2 per round (batch_size) then more than a round holds.
    asked = []
    for n in (2, 3, 1):
        asked += [parameters_to_arch(bench.space, p) for p in client.get_next_trials(max_trials=n).values()]
    all_archs = [parameters_to_arch(bench.space, t.arm.parameters) for t in client._experiment.trials.values()]
    assert len(asked) == 6
    assert len(set(all_archs)) == len(all_archs)


def test_asynchronous_refills_fit_once_per_batch(benches) -> None:
    """Two trials in flight, one refilled per result: a round (fit + proposal) serves two trials."""
    from ax_integration.nodes import ROUND_KEY

    bench, space = benches["nb201"], benches["nb201"].space
    client = make_client("nb201", "mutation", n_init=4, batch_size=2)
    step(client, bench, 4)
    running = list(client.get_next_trials(max_trials=2).items())
    for _ in range(8):
        index, parameters = running.pop(0)
        client.complete_trial(index, raw_data={"accuracy": bench.evaluate(parameters_to_arch(space, parameters))["objective"]})
        running += list(client.get_next_trials(max_trials=1).items())
    keys = [t.generator_runs[0].gen_metadata[ROUND_KEY] for t in client._experiment.trials.values()][4:]
    assert len(keys) == 10
    # Rounds at 4, 6, 8, 10, 12 finished trials; the first also fills the second worker. Refitting after
    # every result would give 9 rounds.
    assert [keys.count(key) for key in dict.fromkeys(keys)] == [3, 2, 2, 2, 1]
    archs = [parameters_to_arch(space, t.arm.parameters) for t in client._experiment.trials.values()]
    assert len(set(archs)) == len(archs)


def test_failed_and_nan_trials_are_marked_failed_and_the_loop_goes_on(benches) -> None:
    bench = benches["nb201"]
    calls = []

    def flaky(arch: str) -> dict:
        calls.append(arch)
        if len(calls) % 4 == 1:
            raise RuntimeError("GPU on fire")
        if len(calls) % 4 == 2:
            return {"objective": math.nan, "test": math.nan}
        return bench.evaluate(arch)

    result = run_nas_experiment("nb201", flaky, "mutation", trials=8, batch_size=2, n_init=3, progress=False)
    summary = result.summary()
    assert summary["trials_completed"] == 8
    assert summary["trials_failed"] == len(calls) - 8 > 0
    failed = result.trials[result.trials["status"] == "FAILED"]
    assert failed["objective"].isna().all()
    assert len(set(result.trials["arch"])) == len(result.trials)  # failed archs are not retried


class RepeatingNode(ExternalGenerationNode):
    """Proposes ``archs`` in turn and never deduplicates, like Ax's Sobol fallback once its model converges."""

    def __init__(self, archs: list[str]) -> None:
        super().__init__(name="Repeating", should_deduplicate=False)
        self.archs, self.calls = archs, 0

    def update_generator_state(self, experiment, data) -> None:
        pass

    def get_next_candidate(self, pending_parameters) -> dict:
        self.calls += 1
        return arch_to_parameters(get_space("nb201"), self.archs[(self.calls - 1) % len(self.archs)])


def test_count_unique_does_not_count_repeated_architectures(benches, monkeypatch) -> None:
    bench = benches["nb201"]
    a, b, c = initial_design(get_space("nb201"), 3, seed=0)
    sequence = [a, a, b, a, c]
    monkeypatch.setattr(
        "ax_integration.experiment.nas_generation_strategy",
        lambda *args, **kwargs: GenerationStrategy(name="repeating", nodes=[RepeatingNode(sequence)]),
    )
    run = lambda trials, count_unique: run_nas_experiment(  # noqa: E731
        "nb201", bench.evaluate, "random", trials=trials, count_unique=count_unique, progress=False
    ).trials
    assert run(3, count_unique=False)["arch"].tolist() == [a, a, b]
    assert run(3, count_unique=True)["arch"].tolist() == sequence
    monkeypatch.setattr(
        "ax_integration.experiment.nas_generation_strategy",
        lambda *args, **kwargs: GenerationStrategy(name="stuck", nodes=[RepeatingNode([a])]),
    )
    with pytest.raises(RuntimeError, match="6 trials but only 1 distinct architectures"):
        run(2, count_unique=True)


def test_benchmark_runner_and_metric_drive_client_run_trials(benches, data_dir) -> None:
    client = make_client("nb201", "mutation", n_init=3, batch_size=1)
    client.configure_runner(BenchmarkRunner("nb201:cifar10", data_dir=str(data_dir)))
    client.configure_metrics([BenchmarkMetric("accuracy"), BenchmarkMetric("test_accuracy", key="test")])
    client.run_trials(max_trials=5, initial_seconds_between_polls=0)
    df = client._experiment.lookup_data().df
    trials = client._experiment.trials
    assert sum(t.status.is_completed for t in trials.values()) == 5
    for trial in trials.values():
        expected = benches["nb201"].evaluate(parameters_to_arch(benches["nb201"].space, trial.arm.parameters))
        got = df[(df.trial_index == trial.index) & (df.metric_name == "test_accuracy")]["mean"].iloc[-1]
        assert got == pytest.approx(expected["test"])


# -------------------------------------------------------------------------------------- storage
def continue_after_reload(benches, optimizer: str, load, split: int) -> None:
    """Same seed → the reloaded experiment proposes exactly what the original goes on to propose."""
    bench = benches["nb201"]
    original = make_client("nb201", optimizer, n_init=4, batch_size=3)
    step(original, bench, 4)
    step(original, bench, 3)
    step(original, bench, split)  # mid-round when split < batch_size
    reloaded = load(original)
    later_original = step(original, bench, 3 - split) + step(original, bench, 3)
    later_reloaded = step(reloaded, bench, 3 - split) + step(reloaded, bench, 3)
    assert later_original == later_reloaded


@pytest.mark.parametrize("split", [0, 1])
def test_json_save_load_continue_gives_identical_proposals(benches, tmp_path, split) -> None:
    def load(client: Client) -> Client:
        client.save_to_json_file(str(tmp_path / "snap.json"))
        return Client.load_from_json_file(str(tmp_path / "snap.json"))

    continue_after_reload(benches, "diffusion", load, split)


def test_sqlite_save_load_continue_gives_identical_proposals(benches, tmp_path) -> None:
    from ax_integration.experiment import _create_tables

    url = f"sqlite:///{tmp_path / 'nas.db'}"
    _create_tables(url)
    config = storage_config(url)

    def load(client: Client) -> Client:
        return Client.load_from_database(client._experiment.name, storage_config=config)

    bench = benches["nb201"]
    original = make_client("nb201", "diffusion", storage=config, n_init=4, batch_size=3)
    step(original, bench, 4)
    step(original, bench, 2)
    reloaded = load(original)
    assert type(reloaded._generation_strategy._nodes[-1]).__name__ == "AcquisitionNode"
    assert step(original, bench, 4) == step(reloaded, bench, 4)


# ----------------------------------------------------------------------------- crash and resume
KILLABLE = """
import sys, time
from ax_integration.experiment import run_nas_experiment
from bo_diffnag.benchmarks import get_benchmark
bench = get_benchmark("nb201:cifar10")
log = open(sys.argv[2], "a")
def slow(arch):
    log.write(arch + "\\n"); log.flush()
    time.sleep(float(sys.argv[3]))
    return bench.evaluate(arch)
r = run_nas_experiment("nb201", slow, "mutation", trials=12, batch_size=2, n_init=4, storage=sys.argv[1],
                       name="crash", progress=False)
print(r.summary()["trials_completed"], r.summary()["trials_failed"], len(r.trials))
"""


@pytest.mark.parametrize("storage", ["sqlite", "json"])
def test_sigkill_mid_trial_resumes_to_exactly_n_completed(data_dir, tmp_path, storage) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}" if storage == "sqlite" else str(tmp_path / "crash.json")
    log = tmp_path / "started.log"
    env = {**os.environ, "BO_DIFFNAG_DATA": str(data_dir), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", KILLABLE, url, str(log)]
    proc = subprocess.Popen([*cmd, "0.5"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 7):
        time.sleep(0.05)
    time.sleep(0.2)  # inside the 7th trial's evaluation
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    started_before = log.read_text().splitlines()
    assert 7 <= len(started_before) < 12, "the run was not killed mid-way"
    out = subprocess.run([*cmd, "0"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    completed, failed, total = map(int, out.stdout.split()[-3:])
    assert completed == 12 and failed == 0
    started = log.read_text().splitlines()
    # Completed trials were kept (never re-run); only the interrupted trial ran twice.
    assert len(started) - len(set(started)) == 1
    assert total == len(set(started)) == 12


# ------------------------------------------------------------------------------------------ CLI
def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_run_prints_summary_and_writes_the_trial_table(data_dir, tmp_path, capsys) -> None:
    out_csv = tmp_path / "trials.csv"
    args = ["run", "--space", "nb201", "--benchmark", "cifar10", "--optimizer", "mutation", "--trials", "6",
            "--batch-size", "2", "--n-init", "4", "--storage", f"sqlite:///{tmp_path / 'runs.db'}",
            "--out", str(out_csv), "--no-progress", "--data-dir", str(data_dir)]
    code, out, _ = run_cli(args, capsys)
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1])
    for key in ("best_arch", "best_objective", "trials_completed", "trials_failed", "seconds"):
        assert key in summary
    table = pd.read_csv(out_csv)
    assert list(table.columns) == ["trial_index", "arch", "objective", "test", "status", "generation_node"]
    assert summary["trials_completed"] == 6 == (table["status"] == "COMPLETED").sum()
    best = table.loc[table["objective"].idxmax()]
    assert summary["best_arch"] == best["arch"]
    oracle = get_benchmark("nb201:cifar10", data_dir=data_dir)
    assert summary["best_objective"] == pytest.approx(oracle.evaluate(best["arch"])["objective"])
    # The same command again resumes the stored experiment: nothing left to do, same answer.
    code, out, _ = run_cli(args, capsys)
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["best_arch"] == summary["best_arch"]
    assert len(pd.read_csv(out_csv)) == 6


@pytest.mark.parametrize(
    "bad, expected",
    [
        (["--benchmark", "mnist"], "cifar10"),
        (["--optimizer", "bananas"], "diffusion"),
        (["--trials", "0"], "--trials"),
        (["--acquisition", "EI"], "qLogNEI"),
    ],
)
def test_cli_run_bad_input_exits_2_listing_valid_values(capsys, tmp_path, bad, expected) -> None:
    args = {"--space": "nb201", "--benchmark": "cifar10", "--optimizer": "random", "--trials": "3",
            "--storage": "none"}
    args.update(dict(zip(bad[::2], bad[1::2])))
    argv = ["run", *[x for kv in args.items() for x in kv], "--no-progress"]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own choices check
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err


def test_readme_ax_example_runs_as_pasted(data_dir, capsys, monkeypatch) -> None:
    import re

    monkeypatch.setenv("BO_DIFFNAG_DATA", str(data_dir))
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme[readme.index("## Ax"):], re.S).group(1)
    assert len(code.strip().splitlines()) <= 16
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert "accuracy" in printed and "op0_e01" in printed

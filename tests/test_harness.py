"""Tests of the comparison harness: ``bench`` traces (contract, common random numbers, resume, parallel runs),
``report`` statistics on a hand-computed example, bad input (exit 2) and ``ax_default`` through the harness.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bo_diffnag.benchmarks import get_benchmark
from bo_diffnag.bo import run_bo
from bo_diffnag.cli import main
from bo_diffnag.harness import TRACE_CONTRACT, TRACE_RUNNERS, run_evolution, run_local_search, summarize
from bo_diffnag.harness.bench import run_file
from bo_diffnag.harness.cli import add_harness_commands, parse_options
from bo_diffnag.harness.report import markdown

pytestmark = pytest.mark.usefixtures("single_thread")

T = 12.706204736174698  # t_{0.975, 1}: the 95% interval factor for two seeds
SMALL = ["--space", "nb201", "--benchmark", "cifar10", "--budget", "14", "--n-init", "10", "--batch-size", "2"]


def bench(argv: list[str], data_dir: Path, capsys: pytest.CaptureFixture, extensions=(add_harness_commands,)) -> dict:
    code = main(["bench", *argv, "--data-dir", str(data_dir), "--no-progress"], extensions=extensions)
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def nb201_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory, single_thread) -> Path:
    out = tmp_path_factory.mktemp("bench") / "c10"
    code = main(
        ["bench", *SMALL, "--optimizers", "random,local_search,evolution,mutation", "--seeds", "2", "--jobs", "1",
         "--out", str(out), "--data-dir", str(data_dir), "--no-progress"],
        extensions=(add_harness_commands,),
    )
    assert code == 0
    return out


# ------------------------------------------------------------------------------------------------ bench
def check_traces(traces: pd.DataFrame, benchmark: str, data_dir: Path, budget: int) -> None:
    """The traces.csv contract: columns, eval 1..budget, unique archs, oracle values, running bests."""
    assert list(traces.columns) == TRACE_CONTRACT
    bench = get_benchmark(benchmark, data_dir=data_dir)
    for (optimizer, seed), run in traces.groupby(["optimizer", "seed"]):
        assert run["eval"].tolist() == list(range(1, budget + 1)), (optimizer, seed)
        assert run["arch"].is_unique
        oracle = bench.evaluate_batch(run["arch"].tolist())
        assert oracle["arch"].tolist() == run["arch"].tolist()  # archs are canonical
        np.testing.assert_allclose(run["objective"], oracle["objective"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(run["test"], oracle["test"], rtol=0, atol=1e-9)
        objective = run["objective"].to_numpy()
        np.testing.assert_array_equal(run["best_objective"], np.maximum.accumulate(objective))
        argmax_so_far = [int(np.argmax(objective[: i + 1])) for i in range(len(objective))]
        np.testing.assert_array_equal(run["best_test"], run["test"].to_numpy()[argmax_so_far])


def test_bench_writes_the_trace_contract(nb201_run: Path, data_dir: Path) -> None:
    traces = pd.read_csv(nb201_run / "traces.csv")
    check_traces(traces, "nb201:cifar10", data_dir, budget=14)
    assert set(traces["optimizer"]) == {"random", "local_search", "evolution", "mutation"}
    assert set(traces["seed"]) == {0, 1} and set(traces["acquisition"]) == {"qLogNEI"}
    assert (traces.loc[traces["eval"] <= 10, "seconds"] == 0).all()  # the initial design is not a proposal
    assert (traces.loc[traces["eval"] > 10, "seconds"] > 0).all()
    config = json.loads((nb201_run / "config.json").read_text())
    assert config["global_best_objective"] == pytest.approx(91.6067, abs=1e-4)  # data/README: index 6111


def test_seeds_share_their_initial_design(nb201_run: Path) -> None:
    traces = pd.read_csv(nb201_run / "traces.csv")
    design = {key: run["arch"].tolist()[:10] for key, run in traces.groupby(["optimizer", "seed"])}
    for seed in (0, 1):
        assert len({tuple(d) for (o, s), d in design.items() if s == seed}) == 1
    assert design[("random", 0)] != design[("random", 1)]


def test_search_baselines_are_deterministic_and_propose_unique_archs(data_dir: Path) -> None:
    bench = get_benchmark("nb201:cifar10", data_dir=data_dir)
    for run in (run_local_search, run_evolution):
        a, b = run(bench, budget=25, n_init=5, batch_size=3, seed=3), run(bench, budget=25, n_init=5, batch_size=3, seed=3)
        pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"))
        assert a["arch"].is_unique and a["round"].tolist()[:6] == [0] * 5 + [1]
    # Local search moves one decision at a time from the best of the design.
    trace = run_local_search(bench, budget=11, n_init=10, batch_size=1, seed=0)
    start = trace.loc[trace["objective"].iloc[:10].idxmax(), "arch"]
    assert trace["arch"].iloc[10] in bench.space.neighbors(start)


def test_parallel_jobs_give_the_same_traces(nb201_run: Path, data_dir: Path, tmp_path: Path, capsys) -> None:
    result = bench([*SMALL, "--optimizers", "random,local_search,evolution,mutation", "--seeds", "2", "--jobs", "2",
                    "--out", str(tmp_path)], data_dir, capsys)
    assert result["runs_done"] == 8
    serial, parallel = (pd.read_csv(d / "traces.csv").drop(columns="seconds") for d in (nb201_run, tmp_path))
    pd.testing.assert_frame_equal(serial, parallel)


def test_bench_resumes_only_missing_runs(data_dir: Path, tmp_path: Path, capsys) -> None:
    argv = [*SMALL, "--optimizers", "random,evolution", "--out", str(tmp_path)]
    first = bench([*argv, "--seeds", "1"], data_dir, capsys)
    assert (first["runs_done"], first["runs_skipped"]) == (2, 0)
    second = bench([*argv, "--seeds", "2"], data_dir, capsys)
    assert (second["runs_done"], second["runs_skipped"]) == (2, 2)

    files = sorted((tmp_path / "runs").glob("*.csv"))
    assert len(files) == 4
    lost = run_file(tmp_path, "evolution", "qLogNEI", 1)
    before = {f: f.stat().st_mtime_ns for f in files if f != lost}
    content = lost.read_text()
    lost.unlink()  # as if the run had been killed before storing its trace (and before traces.csv was rewritten)
    stale = pd.read_csv(tmp_path / "traces.csv")
    stale[(stale["optimizer"] != "evolution") | (stale["seed"] != 1)].to_csv(tmp_path / "traces.csv", index=False)
    third = bench([*argv, "--seeds", "2"], data_dir, capsys)
    assert (third["runs_done"], third["runs_skipped"]) == (1, 3)
    assert {f: f.stat().st_mtime_ns for f in before} == before
    pd.testing.assert_frame_equal(pd.read_csv(lost).drop(columns="seconds"), pd.read_csv(io.StringIO(content)).drop(columns="seconds"))
    traces = pd.read_csv(tmp_path / "traces.csv")
    assert len(traces) == 4 * 14 and set(traces["seed"]) == {0, 1}
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["seeds"] == [0, 1] and config["optimizers"] == ["random", "evolution"]


def test_bench_extends_a_committed_directory_without_its_run_files(data_dir: Path, tmp_path: Path, capsys) -> None:
    # A fresh checkout of committed results: traces.csv and config.json, but runs/ is not under version control.
    argv = [*SMALL, "--seeds", "1", "--out", str(tmp_path)]
    bench([*argv, "--optimizers", "random,evolution"], data_dir, capsys)
    committed = pd.read_csv(tmp_path / "traces.csv")
    for f in (tmp_path / "runs").glob("*.csv"):
        f.unlink()
    result = bench([*argv, "--optimizers", "random,local_search"], data_dir, capsys)
    assert (result["runs_done"], result["runs_skipped"]) == (1, 1)  # random is not redone
    traces = pd.read_csv(tmp_path / "traces.csv")
    assert set(traces["optimizer"]) == {"random", "evolution", "local_search"}
    pd.testing.assert_frame_equal(traces[traces["optimizer"] != "local_search"].reset_index(drop=True), committed)


def test_bench_refuses_a_directory_with_other_settings(data_dir: Path, tmp_path: Path, capsys) -> None:
    bench([*SMALL, "--optimizers", "random", "--seeds", "1", "--out", str(tmp_path)], data_dir, capsys)
    argv = [*SMALL, "--optimizers", "random", "--seeds", "1", "--out", str(tmp_path), "--data-dir", str(data_dir)]
    argv[argv.index("--budget") + 1] = "12"
    assert main(["bench", *argv, "--no-progress"], extensions=(add_harness_commands,)) == 2
    assert "budget: 14 stored, 12 requested" in capsys.readouterr().err

    # Runs fitted with another surrogate recipe (here: an older one) are not mixed with new ones.
    config_path = tmp_path / "config.json"
    config = json.loads(config_path.read_text())
    assert config["surrogate"] == {
        "bootstrap": True, "normal_scores": True, "size_prior": True, "prior_proxy": "auto", "path_encoding": True,
        "clean_fraction": 1.0, "selection_model": "auto",
    }
    config_path.write_text(json.dumps({**config, "surrogate": {"bootstrap": False}}))
    argv[argv.index("--budget") + 1] = "14"
    assert main(["bench", *argv, "--no-progress"], extensions=(add_harness_commands,)) == 2
    assert "surrogate: {'bootstrap': False} stored" in capsys.readouterr().err


def test_surrogate_options_reach_the_loop_and_the_config(data_dir: Path, tmp_path: Path, capsys) -> None:
    """``--surrogate-option`` updates the recipe of every surrogate-based run (the trace equals ``run_bo`` with
    that recipe, not the default one) and is recorded in config.json, where it guards resuming."""
    argv = [*SMALL, "--optimizers", "random_pool", "--seeds", "1"]
    bench([*argv, "--out", str(tmp_path / "rp"), "--surrogate-option", "prior_scale=1.0", "--surrogate-option", "epochs=50",
           "--surrogate-option", "size_prior=false"], data_dir, capsys)
    config = json.loads((tmp_path / "rp" / "config.json").read_text())
    assert config["surrogate"] == {
        "bootstrap": True, "normal_scores": True, "size_prior": False, "prior_proxy": "auto", "path_encoding": True,
        "clean_fraction": 1.0, "selection_model": "auto", "prior_scale": 1.0, "epochs": 50,
    }
    traced = pd.read_csv(tmp_path / "rp" / "traces.csv")["arch"].tolist()
    benchmark = get_benchmark("nb201:cifar10", data_dir=data_dir)
    options = {"prior_scale": 1.0, "epochs": 50, "size_prior": False}
    direct = run_bo(benchmark, "random_pool", budget=14, batch_size=2, seed=0, surrogate_options=options)["arch"].tolist()
    default = run_bo(benchmark, "random_pool", budget=14, batch_size=2, seed=0, surrogate_options={"epochs": 50})["arch"].tolist()
    assert traced == direct and traced[10:] != default[10:]
    argv += ["--out", str(tmp_path / "rp"), "--data-dir", str(data_dir), "--no-progress"]
    assert main(["bench", *argv], extensions=(add_harness_commands,)) == 2  # the default recipe differs
    assert "surrogate: " in capsys.readouterr().err


def test_surrogate_option_values_parse_as_json_python_booleans_or_names() -> None:
    pairs = ["prior_scale=1.5", "bootstrap=false", "size_prior=True", "normal_scores=False", "prior_proxy=params"]
    parsed = parse_options(pairs)
    assert parsed == {
        "prior_scale": 1.5, "bootstrap": False, "size_prior": True, "normal_scores": False, "prior_proxy": "params",
    }
    assert all(type(parsed[key]) is bool for key in ("bootstrap", "size_prior", "normal_scores"))


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("prior_scale", "malformed option 'prior_scale'; expected KEY=VALUE"),
        ("prior_scale=1 2", "option prior_scale: '1 2' is not a JSON value"),
        ("prior_scale=big", "surrogate option prior_scale must be a number or a boolean, got 'big'"),
        ("prior_proxy=flops", "surrogate option prior_proxy must be one of auto, params, synflow, synflow_pairwise, got 'flops'"),
        ("selection_model=forest", "surrogate option selection_model must be one of auto, ensemble, gp, got 'forest'"),
        ("members=3", "unknown surrogate option(s) members; valid: num_members,"),
        ("prior_scale=[1]", "surrogate option prior_scale must be a number or a boolean"),
    ],
)
def test_bad_surrogate_options_exit_2(option: str, message: str, tmp_path: Path, capsys) -> None:
    argv = ["bench", *SMALL, "--optimizers", "diffusion", "--seeds", "1", "--out", str(tmp_path / "out"),
            "--surrogate-option", option]
    assert main(argv, extensions=(add_harness_commands,)) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_mbv3_bench_and_report_without_a_known_optimum(data_dir: Path, tmp_path: Path, capsys) -> None:
    argv = ["--space", "mbv3", "--benchmark", "mbv3:imagenet", "--budget", "12", "--n-init", "10", "--batch-size", "2"]
    bench([*argv, "--optimizers", "random,evolution", "--seeds", "1", "--out", str(tmp_path)], data_dir, capsys)
    traces = pd.read_csv(tmp_path / "traces.csv")
    check_traces(traces, "mbv3:imagenet", data_dir, budget=12)
    assert (traces["objective"] == traces["test"]).all() and traces["arch"].str.startswith('{"ks"').all()
    assert main(["report", str(tmp_path)], extensions=(add_harness_commands,)) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["final"]["random"]["evals_to_optimum"] is None
    assert "n/a" in (tmp_path / "summary.md").read_text()
    assert not (tmp_path / "evals_to_optimum.png").exists()


@pytest.mark.parametrize(
    ("space", "benchmark", "optimizers", "message"),
    [
        ("nb201", "cifar10", "random,bananas", "unknown optimizer(s) bananas; valid: diffusion,"),
        ("mbv3", "imagenet", "random,exhaustive", "'exhaustive' needs the enumerable nb201 space"),
        ("nb201", "imagenet", "random", "unknown benchmark 'nb201:imagenet'"),
        ("nb201", "cifar10", ",", "no optimizers given"),
    ],
)
def test_bench_bad_input_exits_2(space, benchmark, optimizers, message, tmp_path: Path, capsys) -> None:
    argv = ["bench", "--space", space, "--benchmark", benchmark, "--optimizers", optimizers, "--budget", "12",
            "--seeds", "1", "--out", str(tmp_path / "out")]
    assert main(argv, extensions=(add_harness_commands,)) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing is written before the settings are checked


# ----------------------------------------------------------------------------------------------- report
def hand_traces() -> pd.DataFrame:
    """2 optimisers × 2 seeds × 4 evaluations (2 of initial design, then rounds of 1); global best 5."""
    runs = {
        ("diffusion", 0): ([1, 2, 5, 5], [10, 20, 50, 50], [0, 0, 0.4, 0.6]),
        ("diffusion", 1): ([2, 2, 3, 5], [30, 30, 40, 44], [0, 0, 0.2, 0.3]),
        ("random", 0): ([1, 2, 2, 3], [10, 20, 20, 30], [0, 0, 0.01, 0.02]),
        ("random", 1): ([2, 2, 5, 5], [30, 30, 44, 44], [0, 0, 0.03, 0.04]),
    }
    rows = [
        {"optimizer": o, "seed": s, "eval": e + 1, "best_objective": bo[e], "best_test": bt[e], "seconds": sec[e]}
        for (o, s), (bo, bt, sec) in runs.items()
        for e in range(4)
    ]
    return pd.DataFrame(rows)


def test_summary_statistics_match_a_hand_computed_example() -> None:
    s = summarize(hand_traces(), checkpoints=[2, 4], global_best_objective=5.0)
    diffusion, random = s["optimizers"]["diffusion"], s["optimizers"]["random"]
    assert s["budget"] == 4 and s["checkpoints"] == [2, 4] and list(s["optimizers"]) == ["diffusion", "random"]
    # best_test at 4: diffusion (50, 44): mean 47, sd/sqrt(2) = 3; random (30, 44): mean 37, sd/sqrt(2) = 7.
    assert diffusion["best_test"][1] == {"eval": 4, "mean": 47.0, "ci95": pytest.approx(3 * T), "n": 2}
    assert random["best_test"][1] == {"eval": 4, "mean": 37.0, "ci95": pytest.approx(7 * T), "n": 2}
    assert diffusion["best_test"][0]["mean"] == random["best_test"][0]["mean"] == 25.0
    assert diffusion["best_objective"][1] == {"eval": 4, "mean": 5.0, "ci95": 0.0, "n": 2}
    assert random["best_objective"][1] == {"eval": 4, "mean": 4.0, "ci95": pytest.approx(1 * T), "n": 2}
    # Evaluations to 5: diffusion at 3 and 4; random never on seed 0, at 3 on seed 1 (median of (3, inf)).
    assert diffusion["evals_to_optimum"]["median"] == 3.5 and diffusion["evals_to_optimum"]["reached"] == 1.0
    assert random["evals_to_optimum"]["median"] is None and random["evals_to_optimum"]["reached"] == 0.5
    assert random["evals_to_optimum"]["per_seed"] == [{"seed": 0, "evals": None}, {"seed": 1, "evals": 3.0}]
    assert diffusion["evals_to_optimum"]["median_ci95"] is None  # no 95% interval of a median from 2 seeds
    # Win rate at 4: seed 0 win (50 > 30), seed 1 tie (44 = 44); at 2: two ties.
    rate = s["win_rate"]["random"]
    assert rate["final"] == 0.75 and rate["n"] == 2
    assert [p["win_rate"] for p in rate["by_checkpoint"]] == [0.5, 0.75]
    assert diffusion["seconds_per_round"] == pytest.approx((0.4 + 0.6 + 0.2 + 0.3) / 4)
    assert random["seconds_per_round"] == pytest.approx(0.025)
    assert summarize(hand_traces())["checkpoints"] == [4]  # default: 10, 20, 40, ... capped by the budget
    one_seed = summarize(hand_traces().query("seed == 0"))["optimizers"]["random"]["best_test"][0]
    assert one_seed == {"eval": 4, "mean": 30.0, "ci95": None, "n": 1}  # no interval from a single seed


def test_median_interval_is_a_pair_of_order_statistics_with_95_percent_coverage() -> None:
    # Seed s reaches the optimum (objective 1) at evaluation 10 + s, except seeds 8 and 9, which never do.
    traces = pd.DataFrame(
        [{"optimizer": "diffusion", "seed": s, "eval": e, "best_objective": float(s < 8 and e >= 10 + s),
          "best_test": 0.0, "seconds": 0.0} for s in range(10) for e in range(1, 21)]
    )
    to_optimum = summarize(traces, global_best_objective=1.0)["optimizers"]["diffusion"]["evals_to_optimum"]
    # Sorted: 10, 11, ..., 17, inf, inf. P(2 <= B < 9) for B ~ Binomial(10, 1/2) is 1 - 2 * 11/1024 = 0.979
    # (and 1 - 2 * 56/1024 = 0.891 for the 3rd and 8th), so the interval is [2nd smallest, 9th smallest].
    assert to_optimum["median"] == 14.5 and to_optimum["reached"] == 0.8
    assert to_optimum["median_ci95"] == [11.0, None]  # the 9th smallest is a miss: "not reached"
    assert summarize(traces.query("seed < 5"), global_best_objective=1.0)["optimizers"]["diffusion"][
        "evals_to_optimum"]["median_ci95"] is None  # no pair of 5 order statistics has 95% coverage
    text = markdown(summarize(traces, global_best_objective=1.0))
    assert "| 95% CI of the median" in text and "[11, not reached]" in text


def test_report_writes_summary_tables_and_plots(nb201_run: Path, capsys) -> None:
    assert main(["report", str(nb201_run)], extensions=(add_harness_commands,)) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    summary = json.loads(Path(result["summary"]).read_text())
    assert summary["checkpoints"] == [10, 14] and set(summary["optimizers"]) == set(result["final"])
    assert summary["optimizers"]["random"]["best_test"][0]["n"] == 2
    text = (nb201_run / "summary.md").read_text()
    assert "## Best test metric after n evaluations" in text and "Global best objective: 91.6067" in text
    for name in ("anytime_best_test.png", "anytime_best_objective.png", "evals_to_optimum.png"):
        assert (nb201_run / name).read_bytes()[:4] == b"\x89PNG"


def test_report_of_a_directory_without_traces_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path)], extensions=(add_harness_commands,)) == 2
    assert "traces.csv not found" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------- ax_default
@pytest.fixture
def ax_registered():
    from ax_integration import harness

    yield harness
    TRACE_RUNNERS.pop("ax_default", None)  # keep the registry as other tests expect it


def test_ax_default_runs_through_the_harness(ax_registered, data_dir: Path, tmp_path: Path, capsys) -> None:
    argv = ["--space", "nb201", "--benchmark", "nb201:cifar10", "--budget", "6", "--n-init", "3", "--batch-size", "2",
            "--optimizers", "ax_default,random", "--seeds", "1", "--out", str(tmp_path)]
    result = bench(argv, data_dir, capsys, extensions=(ax_registered.add_harness_commands,))
    assert result["runs_done"] == 2
    traces = pd.read_csv(tmp_path / "traces.csv")
    check_traces(traces, "nb201:cifar10", data_dir, budget=6)
    ax = traces[traces["optimizer"] == "ax_default"]
    assert (ax["seconds"].iloc[:3] == 0).all() and (ax["seconds"].iloc[3:] > 0).all()

"""Tests of the ``bo-diffnag`` command line: output contract, honest metrics, one-line errors (exit 2).

Commands run in-process through :func:`bo_diffnag.cli.main` (fast); one subprocess proves the console
script is installed and works.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bo_diffnag import __version__
from bo_diffnag.benchmarks import get_benchmark
from bo_diffnag.cli import main
from bo_diffnag.diffusion.prior import DiffusionPrior
from bo_diffnag.diffusion.sampler import SamplerConfig
from bo_diffnag.diffusion.score_net import ScoreTransformer
from bo_diffnag.diffusion.sde import VESDE
from bo_diffnag.spaces import get_space

pytestmark = pytest.mark.usefixtures("single_thread")

ARCH_6111 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
LARGEST = {"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5}
SAMPLE_KEYS = {"space", "num", "validity", "uniqueness", "novelty", "seconds", "archs_per_second"}


def _strict(constant: str):
    raise ValueError(f"{constant} is not JSON")


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def last_json(out: str) -> dict:
    """The last stdout line, parsed as strict JSON (no NaN / Infinity)."""
    return json.loads(out.strip().splitlines()[-1], parse_constant=_strict)


def assert_bad_input(capsys: pytest.CaptureFixture, argv: list, match: str) -> str:
    rc, out, err = run(capsys, *argv)
    assert rc == 2, (out, err)
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("bo-diffnag: error: "), err
    assert re.search(match, err), err
    return err


def mbv3_arch(**changes) -> str:
    return json.dumps({**LARGEST, **changes})


# ------------------------------------------------------------------------------------ evaluate
def test_evaluate_nb201_optimum(data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    rc, out, err = run(capsys, "evaluate", "--space", "nb201", "--benchmark", "nb201:cifar10", "--arch", ARCH_6111, "--data-dir", data_dir)
    assert rc == 0 and err == ""
    assert len(out.strip().splitlines()) == 1
    result = last_json(out)
    expected = get_benchmark("nb201:cifar10", data_dir=data_dir).evaluate(ARCH_6111)
    assert result == json.loads(json.dumps(expected))
    assert result["index"] == 6111 and result["arch"] == ARCH_6111
    assert result["objective"] == result["val_acc"] == pytest.approx(91.6067, abs=1e-4)

    rc, out, _ = run(
        capsys, "evaluate", "--space", "nb201", "--benchmark", "nb201:cifar10", "--arch", ARCH_6111,
        "--noisy", "--seed", "3", "--data-dir", data_dir,
    )  # fmt: skip
    noisy = get_benchmark("nb201:cifar10", data_dir=data_dir, noisy=True, seed=3).evaluate(ARCH_6111)
    assert rc == 0 and last_json(out) == json.loads(json.dumps(noisy))


def test_evaluate_mbv3_largest(data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    rc, out, err = run(capsys, "evaluate", "--space", "mbv3", "--benchmark", "mbv3:imagenet", "--arch", mbv3_arch(), "--data-dir", data_dir)
    assert rc == 0 and err == "" and len(out.strip().splitlines()) == 1
    result = last_json(out)
    assert round(result["accuracy"], 5) == 0.83593
    assert result == json.loads(json.dumps(get_benchmark("mbv3:imagenet", data_dir=data_dir).evaluate(LARGEST)))


@pytest.mark.parametrize(
    ("space", "benchmark", "arch", "match"),
    [
        ("mbv3", "nb201:cifar10", ARCH_6111, "'nb201:cifar10' does not belong to search space 'mbv3'"),
        ("nb201", "mbv3:imagenet", mbv3_arch(), "does not belong"),
        ("nb201", "nb201:cifar100", "|nor_conv_3x3~0|+|nor_conv_3x3~0|", "malformed NB201 arch string"),
        ("nb201", "nb201:cifar10", ARCH_6111.replace("skip_connect", "conv_5x5"), "unknown NB201 op 'conv_5x5'"),
        ("mbv3", "mbv3:imagenet", mbv3_arch(ks=[7] * 19), "'ks' must be a list of 20"),
        ("mbv3", "mbv3:imagenet", mbv3_arch(d=[4, 4, 5, 4, 4]), r"d\[2\] = 5 is out of range"),
        ("mbv3", "mbv3:imagenet", "{ks: 3}", "not valid JSON"),
    ],
)
def test_evaluate_bad_input_exits_2(
    data_dir: Path, capsys: pytest.CaptureFixture, space: str, benchmark: str, arch: str, match: str
) -> None:
    assert_bad_input(capsys, ["evaluate", "--space", space, "--benchmark", benchmark, "--arch", arch, "--data-dir", data_dir], match)


@pytest.mark.parametrize(("space", "benchmark", "arch"), [("nb201", "nb201:cifar10", ARCH_6111), ("mbv3", "mbv3:imagenet", mbv3_arch())])
def test_evaluate_missing_data_dir_exits_2(capsys: pytest.CaptureFixture, space: str, benchmark: str, arch: str) -> None:
    argv = ["evaluate", "--space", space, "--benchmark", benchmark, "--arch", arch, "--data-dir", "/nonexistent"]
    assert_bad_input(capsys, argv, "not found.*/nonexistent")


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--space", "nb201", "--benchmark", "nb201:svhn", "--arch", ARCH_6111],
        ["evaluate", "--space", "darts", "--benchmark", "nb201:cifar10", "--arch", ARCH_6111],
        ["prior", "sample", "--space", "nb201", "--num", "4", "--predictor", "heun"],
        ["prior", "fly"],
    ],
)
def test_unknown_choices_are_argparse_errors(capsys: pytest.CaptureFixture, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_version_and_console_script() -> None:
    with pytest.raises(SystemExit) as exit_info, contextlib.redirect_stdout(io.StringIO()) as out:
        main(["--version"])
    assert exit_info.value.code == 0 and out.getvalue().strip() == f"bo-diffnag {__version__}"
    script = Path(sys.executable).with_name("bo-diffnag")
    script = str(script) if script.exists() else shutil.which("bo-diffnag")
    assert script, "the bo-diffnag console script is not installed"
    proc = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: bo-diffnag") and all(c in proc.stdout for c in ("evaluate", "prior"))


# ------------------------------------------------------------------------------- prior training
@pytest.fixture(scope="module")
def trained(single_thread: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A tiny NB201 prior trained through the CLI on half the space."""
    out = tmp_path_factory.mktemp("cli") / "half.pt"
    argv = ["prior", "train", "--space", "nb201", "--out", str(out), "--steps", "150", "--batch-size", "64",
            "--train-fraction", "0.5", "--seed", "0", "--no-progress"]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        assert main(argv) == 0
    return out, last_json(stdout.getvalue())


def test_prior_train_reports_the_written_checkpoint(trained: tuple[Path, dict]) -> None:
    out, result = trained
    assert result["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert result["space"] == "nb201" and result["out"] == str(out) and result["steps"] == 150
    assert result["loss_floor"] > 0 and result["seconds"] > 0
    prior = DiffusionPrior.from_checkpoint(out, space="nb201", expected_sha256=result["sha256"])
    assert len(prior.train_codes) in (7812, 7813)


@pytest.mark.parametrize(
    ("extra", "match"),
    [(["--space", "mbv3", "--train-fraction", "0.5"], "enumerable"), (["--space", "nb201", "--train-fraction", "0"], "train_fraction")],
)
def test_prior_train_bad_fraction_exits_2(capsys: pytest.CaptureFixture, tmp_path: Path, extra: list[str], match: str) -> None:
    assert_bad_input(capsys, ["prior", "train", "--out", tmp_path / "x.pt", "--steps", "1", "--no-progress", *extra], match)
    assert not (tmp_path / "x.pt").exists()


# ------------------------------------------------------------------------------- prior sampling
def check_sample_output(result: dict, out_file: Path, num: int) -> list[str]:
    """The printed metrics agree with the written architectures; returns them."""
    assert SAMPLE_KEYS <= set(result) and result["num"] == num
    written = json.loads(out_file.read_text(), parse_constant=_strict)
    archs = written.pop("archs")
    assert written == result
    assert len(archs) == round(result["validity"] * num)
    assert result["uniqueness"] == pytest.approx(len(set(archs)) / len(archs))
    assert result["archs_per_second"] == pytest.approx(len(archs) / result["seconds"], rel=0.02, abs=0.01)
    space = get_space(result["space"])
    assert all(space.canonical(a) == a for a in archs)
    return archs


@pytest.mark.parametrize("space", ["nb201", "mbv3"])
def test_prior_sample_with_shipped_prior(capsys: pytest.CaptureFixture, tmp_path: Path, space: str) -> None:
    out_file = tmp_path / "samples.json"
    rc, out, _ = run(capsys, "prior", "sample", "--space", space, "--num", 64, "--steps", 30, "--seed", 1, "--out", out_file)
    assert rc == 0
    result = last_json(out)
    assert result["space"] == space and result["novelty"] is None  # trained on the whole space
    archs = check_sample_output(result, out_file, 64)
    # the printed samples are exactly what the library draws for this seed
    expected = DiffusionPrior.pretrained(space).sample(64, seed=1, sampler=SamplerConfig(steps=30))
    assert archs == expected.archs and result["validity"] == expected.validity


def test_prior_sample_novelty_of_a_partial_training_set(
    capsys: pytest.CaptureFixture, tmp_path: Path, trained: tuple[Path, dict]
) -> None:
    checkpoint, _ = trained
    out_file = tmp_path / "samples.json"
    rc, out, _ = run(capsys, "prior", "sample", "--space", "nb201", "--num", 256, "--steps", 50, "--checkpoint", checkpoint, "--out", out_file)
    assert rc == 0
    result = last_json(out)
    archs = check_sample_output(result, out_file, 256)
    assert len(set(archs)) >= 5, "the tiny prior should produce some valid architectures"
    nb201 = get_space("nb201")
    training = {nb201.format(c) for c in torch.load(checkpoint, weights_only=True)["train_codes"].long()}
    assert len(training) in (7812, 7813)
    unique = set(archs)
    assert result["novelty"] == pytest.approx(len(unique - training) / len(unique))
    assert 0 < result["novelty"] < 1


def test_prior_sample_without_valid_samples_prints_strict_json(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    space = get_space("nb201")
    torch.manual_seed(0)
    path = tmp_path / "untrained.pt"
    DiffusionPrior(space, VESDE(0.01, 10.0), ScoreTransformer(space).eval(), space.sample_codes(10, torch.Generator())).save(path)
    rc, out, _ = run(capsys, "prior", "sample", "--space", "nb201", "--num", 16, "--steps", 10, "--checkpoint", path)
    assert rc == 0
    result = last_json(out)  # NaN is not JSON
    assert result["validity"] == 0.0 and result["archs_per_second"] == 0.0
    assert result["uniqueness"] is None and result["novelty"] is None


def test_prior_sample_bad_input_exits_2(capsys: pytest.CaptureFixture, tmp_path: Path, trained: tuple[Path, dict]) -> None:
    checkpoint, _ = trained
    base = ["prior", "sample", "--space", "nb201"]
    assert_bad_input(capsys, [*base, "--num", "0"], "--num must be >= 1")
    assert_bad_input(capsys, [*base, "--num", "-3"], "--num must be >= 1")
    assert_bad_input(capsys, [*base, "--num", "4", "--batch-size", "0"], "--batch-size must be >= 1")
    assert_bad_input(capsys, [*base, "--num", "4", "--checkpoint", checkpoint, "--steps", "0"], "steps must be >= 1")
    assert_bad_input(capsys, [*base, "--num", "4", "--checkpoint", checkpoint, "--corrector-steps", "-1"], "corrector_steps")
    data = checkpoint.read_bytes()
    corrupted = tmp_path / "corrupted.pt"
    corrupted.write_bytes(data[: len(data) // 3])
    assert_bad_input(capsys, [*base, "--num", "4", "--checkpoint", corrupted], "cannot be read")
    assert_bad_input(capsys, [*base, "--num", "4", "--checkpoint", tmp_path / "absent.pt"], "not found")
    not_a_prior = tmp_path / "list.pt"
    torch.save([1, 2], not_a_prior)
    assert_bad_input(capsys, [*base, "--num", "4", "--checkpoint", not_a_prior], "not a bo-diffnag prior")
    argv = ["prior", "sample", "--space", "mbv3", "--num", "4", "--checkpoint", checkpoint]
    assert_bad_input(capsys, argv, "for search space 'nb201', not 'mbv3'")

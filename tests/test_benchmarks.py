"""Benchmark oracles against the real data and the check values in the data README."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from bo_diffnag.benchmarks import BENCHMARKS, Benchmark, MBv3Benchmark, NB201Benchmark, get_benchmark
from bo_diffnag.benchmarks.mbv3 import LATENCY_FILE, note10_latency_table
from bo_diffnag.data import DataIntegrityError, DataNotFoundError
from bo_diffnag.spaces import get_space

ARCH_6111 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
# dataset → (best val_acc_mean index, its value, its test acc, best test_acc index, its value), data README.
NB201_OPTIMA = {
    "cifar10": (6111, 91.6067, 94.3733, 6111, 94.3733),
    "cifar100": (9930, 73.4933, 73.5133, 9930, 73.5133),
    "imagenet16-120": (10676, 46.7333, 46.2000, 857, 47.3111),
}
LARGEST = {"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5}
SMALLEST = {"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5}
# The OFA tutorial's searched Note10 net (module_str printed in once-for-all tutorial/ofa.ipynb), r = 192.
OFA_TUTORIAL_NET = {
    "ks": [5, 3, 3, 3, 5, 3, 3, 3, 7, 7, 3, 3, 5, 5, 7, 3, 3, 3, 5, 3],
    "e": [3, 3, 3, 3, 4, 4, 3, 3, 6, 3, 4, 3, 4, 4, 4, 3, 6, 6, 6, 3],
    "d": [2, 2, 3, 4, 3],
}
NB201_KEYS = {"arch", "objective", "test", "val_acc", "test_acc", "params_mb", "flops_m", "latency_s", "train_time_s", "index"}
MBV3_KEYS = {"arch", "objective", "test", "accuracy", "latency_ms", "resolution"}


@pytest.fixture(scope="module")
def nb201(data_dir: Path) -> dict[str, NB201Benchmark]:
    return {d: NB201Benchmark(d, data_dir=data_dir) for d in NB201_OPTIMA}


@pytest.fixture(scope="module")
def mbv3(data_dir: Path) -> MBv3Benchmark:
    return MBv3Benchmark(224, data_dir=data_dir)


@pytest.fixture(scope="module")
def nb201_table(data_dir: Path) -> pd.DataFrame:
    return pd.read_csv(data_dir / "nb201" / "nb201_consolidated.csv")


# ------------------------------------------------------------------------------------ registry
def test_registry_builds_every_benchmark(data_dir: Path) -> None:
    assert BENCHMARKS == ("nb201:cifar10", "nb201:cifar100", "nb201:imagenet16-120", "mbv3:imagenet")
    for name in BENCHMARKS:
        bench = get_benchmark(name, data_dir=data_dir)
        assert isinstance(bench, Benchmark) and bench.name == name
        assert bench.space.name == name.split(":")[0] and isinstance(bench.objective_name, str)


def test_bad_names_resolutions_and_devices_raise(data_dir: Path) -> None:
    with pytest.raises(ValueError, match="nb201:cifar10.*mbv3:imagenet"):
        get_benchmark("nb201:svhn", data_dir=data_dir)
    with pytest.raises(ValueError, match="cifar100"):
        NB201Benchmark("svhn", data_dir=data_dir)
    for resolution in (225, 128, True):
        with pytest.raises(ValueError, match="160, 176, 192, 208, 224"):
            MBv3Benchmark(resolution, data_dir=data_dir)
    with pytest.raises(ValueError, match="pixel3"):
        NB201Benchmark("cifar10", data_dir=data_dir, latency_devices=("pixel9",))


# --------------------------------------------------------------------------------------- NB201
@pytest.mark.parametrize("dataset", list(NB201_OPTIMA))
def test_nb201_known_optima_over_all_archs(nb201: dict[str, NB201Benchmark], dataset: str) -> None:
    df = nb201[dataset].evaluate_batch(get_space("nb201").enumerate())
    assert len(df) == 15625 and set(df.columns) == NB201_KEYS
    assert sorted(df["index"]) == list(range(15625))
    assert (df["objective"] == df["val_acc"]).all() and (df["test"] == df["test_acc"]).all()
    best_val_index, best_val, its_test, best_test_index, best_test = NB201_OPTIMA[dataset]
    # The README's arch is one of the maximisers (CIFAR-10's best test accuracy is shared by 6111 and 13714).
    assert best_val_index in set(df.loc[df["objective"] == df["objective"].max(), "index"])
    assert best_test_index in set(df.loc[df["test"] == df["test"].max(), "index"])
    best = df.set_index("index").loc[best_val_index]
    assert round(best["objective"], 4) == best_val and round(best["test"], 4) == its_test
    assert round(df["test"].max(), 4) == best_test


def test_nb201_official_index_round_trip(nb201: dict[str, NB201Benchmark], nb201_table: pd.DataFrame) -> None:
    df = nb201["cifar10"].evaluate_batch(nb201_table["arch_str"])
    assert (df["arch"] == nb201_table["arch_str"]).all()
    assert (df["index"] == nb201_table["index"]).all()
    assert np.allclose(df["test"], nb201_table["c10_test_acc"]) and np.allclose(df["flops_m"], nb201_table["c10_flops_m_formula"])
    assert nb201["cifar10"].evaluate(ARCH_6111)["index"] == 6111


def test_nb201_noisy_draws_a_seed_value_reproducibly(data_dir: Path, nb201_table: pd.DataFrame) -> None:
    archs = get_space("nb201").sample(300, seed=1)
    runs = [NB201Benchmark("cifar100", data_dir=data_dir, noisy=True, seed=s).evaluate_batch(archs) for s in (7, 7, 8)]
    assert runs[0]["objective"].tolist() == runs[1]["objective"].tolist()
    assert runs[0]["objective"].tolist() != runs[2]["objective"].tolist()
    seeds = nb201_table.set_index("index")["c100_val_acc_seeds"]
    drawn_positions = set()
    for _, row in runs[0].iterrows():
        values = [float(v) for v in seeds[row["index"]].split(";")]
        assert row["objective"] in values
        drawn_positions.add(values.index(row["objective"]))
    assert drawn_positions == {0, 1, 2}
    assert np.allclose(runs[0]["val_acc"], NB201Benchmark("cifar100", data_dir=data_dir).evaluate_batch(archs)["val_acc"])
    single = [NB201Benchmark("cifar100", data_dir=data_dir, noisy=True, seed=4) for _ in range(2)]
    assert [single[0].evaluate(ARCH_6111)["objective"] for _ in range(5)] == [
        single[1].evaluate(ARCH_6111)["objective"] for _ in range(5)
    ]


def test_nb201_latency_device_keys(data_dir: Path) -> None:
    bench = get_benchmark("nb201:imagenet16-120", data_dir=data_dir, latency_devices=("pixel3", "eyeriss"))
    result = bench.evaluate(ARCH_6111)
    assert set(result) == NB201_KEYS | {"latency_ms_pixel3", "latency_ms_eyeriss"}
    latency = pd.read_csv(data_dir / "nb201" / "nb201_latency_help.csv").set_index("index")
    assert result["latency_ms_pixel3"] == pytest.approx(latency.loc[6111, "lat_pixel3"])
    assert result["latency_ms_eyeriss"] == pytest.approx(latency.loc[6111, "lat_eyeriss"])


# ---------------------------------------------------------------------------------------- MBv3
@pytest.mark.parametrize(
    ("resolution", "config", "accuracy", "latency_ms", "latency_decimals"),
    [(224, LARGEST, 0.83593, 92.398, 3), (224, SMALLEST, 0.77739, 17.769, 3), (192, OFA_TUTORIAL_NET, 0.8171, 24.73, 2)],
)
def test_mbv3_readme_facts(
    data_dir: Path, resolution: int, config: dict, accuracy: float, latency_ms: float, latency_decimals: int
) -> None:
    result = MBv3Benchmark(resolution, data_dir=data_dir).evaluate(config)
    assert set(result) == MBV3_KEYS and result["resolution"] == resolution
    assert round(result["accuracy"], len(str(accuracy)) - 2) == accuracy
    assert result["objective"] == result["test"] == pytest.approx(100 * result["accuracy"])
    assert round(result["latency_ms"], latency_decimals) == latency_ms


def test_mbv3_accepts_configs_and_normalises_inactive_slots(mbv3: MBv3Benchmark) -> None:
    messy = {**SMALLEST, "ks": [3, 3, 7, 7] * 5, "e": [3, 3, 6, 4] * 5}
    assert mbv3.evaluate(messy) == mbv3.evaluate(SMALLEST)
    assert mbv3.evaluate(mbv3.space.canonical(LARGEST))["arch"] == mbv3.space.canonical(LARGEST)


def test_mbv3_oracle_on_encodings_is_the_objective_and_differentiable(mbv3: MBv3Benchmark) -> None:
    archs = mbv3.space.sample(30, seed=5)
    X = mbv3.space.encode_batch(archs)
    objective = torch.tensor(mbv3.evaluate_batch(archs)["objective"].to_numpy())
    assert torch.equal(100 * mbv3.predict_accuracy(X), objective)
    # Relaxed inputs: a gradient exists and points uphill (a small step along it raises the prediction).
    X_relaxed = (0.8 * X + 0.2 / X.shape[-1]).double().requires_grad_(True)
    value = mbv3.predict_accuracy(X_relaxed)
    (grad,) = torch.autograd.grad(value.sum(), X_relaxed)
    assert grad.abs().sum(dim=(1, 2)).min() > 0
    assert (mbv3.predict_accuracy(X_relaxed.detach() + 1e-3 * grad) > value.detach()).all()


def test_mbv3_missing_lut_key_is_a_clear_error(data_dir: Path) -> None:
    path = data_dir / LATENCY_FILE.format(r=224)
    lut = yaml.safe_load(path.read_text())
    key = "Logits-input:1x1x1536-output:1000"
    del lut[key]
    with pytest.raises(LookupError, match=key):
        note10_latency_table(lut, 224, str(path))


# ------------------------------------------------------------------------------------- generic
@pytest.mark.parametrize("which", ["nb201", "mbv3"])
def test_batched_equals_single_and_tensor_path(nb201: dict[str, NB201Benchmark], mbv3: MBv3Benchmark, which: str) -> None:
    bench = nb201["cifar10"] if which == "nb201" else mbv3
    archs = bench.space.sample(25, seed=3)
    df = bench.evaluate_batch(archs)
    assert list(df["arch"]) == archs
    for arch, row in zip(archs, df.to_dict("records")):
        single = bench.evaluate(arch)
        assert single.keys() == row.keys()
        for key, value in single.items():
            assert value == pytest.approx(row[key], rel=1e-12) if isinstance(value, float) else value == row[key]
    tensors = bench.evaluate_codes(torch.stack([bench.space.parse(a) for a in archs]))
    assert set(tensors) == set(df.columns) - {"arch"}
    for key, value in tensors.items():
        assert np.allclose(value.numpy(), df[key].to_numpy(), rtol=1e-12)
    assert len(bench.evaluate_batch([])) == 0


def test_malformed_archs_and_codes_raise(nb201: dict[str, NB201Benchmark], mbv3: MBv3Benchmark) -> None:
    with pytest.raises(ValueError, match="NB201"):
        nb201["cifar10"].evaluate("|conv~0|")
    with pytest.raises(ValueError, match="MBv3"):
        mbv3.evaluate({"ks": [9] * 20, "e": [6] * 20, "d": [4] * 5})
    with pytest.raises(ValueError, match="MBv3"):
        mbv3.evaluate_batch([LARGEST, "not json"])
    codes = nb201["cifar10"].space.parse(ARCH_6111).unsqueeze(0)
    for bad in (codes.flip(-1), codes.clone().fill_(7), codes.float(), codes[0]):
        with pytest.raises(ValueError, match="nb201:cifar10"):
            nb201["cifar10"].evaluate_codes(bad)
    skipped_second_slot = mbv3.space.parse(LARGEST).unsqueeze(0).index_fill(1, torch.tensor([1]), -1)
    with pytest.raises(ValueError, match="not a valid mbv3"):
        mbv3.evaluate_codes(skipped_second_slot)


# ---------------------------------------------------------------------------------------- data
@pytest.mark.parametrize(
    ("name", "relative"),
    [("nb201:cifar10", "nb201/nb201_consolidated.csv"), ("mbv3:imagenet", LATENCY_FILE.format(r=224))],
)
def test_corrupted_data_file_raises(data_dir: Path, tmp_path: Path, name: str, relative: str) -> None:
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    target = copy / relative
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    target.write_bytes(bytes(raw))
    with pytest.raises(DataIntegrityError, match=Path(relative).name):
        get_benchmark(name, data_dir=copy)


@pytest.mark.parametrize(
    ("name", "relative"),
    [("nb201:cifar100", "nb201/nb201_consolidated.csv"), ("mbv3:imagenet", "ofa_mbv3/ofa_mbv3_acc_predictor_mlp.npz")],
)
def test_missing_data_dir_raises_with_guidance(tmp_path: Path, name: str, relative: str) -> None:
    with pytest.raises(DataNotFoundError) as info:
        get_benchmark(name, data_dir=tmp_path / "no-data-here")
    message = str(info.value)
    assert relative in message and "--data-dir" in message and "BO_DIFFNAG_DATA" in message

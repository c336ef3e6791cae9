"""NAS-Bench-201 oracle: table lookup in the consolidated NB201 data (all 15,625 cells trained)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from bo_diffnag.benchmarks.base import Benchmark
from bo_diffnag.data import data_file
from bo_diffnag.seeding import SeedLike, as_generator
from bo_diffnag.spaces import get_space
from bo_diffnag.spaces.nb201 import EDGES, OPS, NB201Space

TABLE_FILE = "nb201/nb201_consolidated.csv"
LATENCY_FILE = "nb201/nb201_latency_help.csv"
# Dataset name → column prefix in the consolidated table.
DATASETS = {"cifar10": "c10", "cifar100": "c100", "imagenet16-120": "in16"}
DATASET_LABELS = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet16-120": "ImageNet16-120"}
NUM_ARCHS = len(OPS) ** len(EDGES)
# Code of the first op (``none``) in the space's vocabulary; op index = code - _FIRST_OP.
_FIRST_OP = NB201Space.op_names.index(OPS[0])
# Place value of each edge's op index in the lookup key (edge 0 most significant, like NB201Space.enumerate).
_PLACE = len(OPS) ** torch.arange(len(EDGES) - 1, -1, -1)
# Table column (after the dataset prefix) → result key.
_COLUMNS = {
    "val_acc_mean": "val_acc",
    "test_acc": "test_acc",
    "params_mb": "params_mb",
    "flops_m_formula": "flops_m",
    "latency_s": "latency_s",
    "train_time_s": "train_time_s",
}


def arch_keys(op_indices: Tensor) -> Tensor:
    """Lookup key of each architecture: its six op indices (0..4, edge order) read as a base-5 number.

    Example:
        >>> arch_keys(torch.tensor([[0, 0, 0, 0, 0, 1], [4, 4, 4, 4, 4, 4]])).tolist()
        [1, 15624]
    """
    return (op_indices * _PLACE).sum(-1)


def _keys_of_arch_strings(arch_str: pd.Series, path: Path) -> np.ndarray:
    """Lookup keys of a table's ``arch_str`` column; ``ValueError`` unless they cover every architecture once."""
    ops = arch_str.str.extractall(r"([a-z_0-9]+)~\d")[0]
    op_idx = pd.Categorical(ops, categories=OPS).codes
    if len(arch_str) != NUM_ARCHS or len(op_idx) != NUM_ARCHS * len(EDGES) or (op_idx < 0).any():
        raise ValueError(f"{path}: expected {NUM_ARCHS} NB201 arch strings, found unreadable or missing rows")
    op_idx = op_idx.reshape(NUM_ARCHS, len(EDGES))
    keys = arch_keys(torch.from_numpy(op_idx.astype(np.int64))).numpy()
    if np.bincount(keys, minlength=NUM_ARCHS).max() != 1:
        raise ValueError(f"{path}: some NB201 architectures appear more than once")
    return keys


def _by_key(values: np.ndarray, keys: np.ndarray) -> Tensor:
    """Reorder table rows so that row ``k`` belongs to the architecture with lookup key ``k``."""
    out = np.empty_like(values)
    out[keys] = values
    return torch.from_numpy(out)


@cache
def _load_table(path: Path) -> dict[str, Tensor]:
    """Columns of the consolidated table needed by the oracle, as tensors indexed by lookup key.

    Keys: ``index`` and, per prefix ``p``, ``{p}_<column>`` for each of ``_COLUMNS``, ``{p}_val_acc_seeds``
    (``[15625, max_seeds]``, NaN-padded) and ``{p}_num_seeds``.
    """
    df = pd.read_csv(path)
    keys = _keys_of_arch_strings(df["arch_str"], path)
    table = {"index": _by_key(df["index"].to_numpy(np.int64), keys)}
    for p in DATASETS.values():
        for column in _COLUMNS:
            table[f"{p}_{column}"] = _by_key(df[f"{p}_{column}"].to_numpy(np.float64), keys)
        seeds = df[f"{p}_val_acc_seeds"].str.split(";", expand=True).astype(np.float64).to_numpy()
        table[f"{p}_val_acc_seeds"] = _by_key(seeds, keys)
        table[f"{p}_num_seeds"] = _by_key((~np.isnan(seeds)).sum(1), keys)
    return table


@cache
def _load_latency(path: Path) -> dict[str, Tensor]:
    """Hardware latencies (ms) by device name (column without ``lat_``), as tensors indexed by lookup key."""
    df = pd.read_csv(path)
    keys = _keys_of_arch_strings(df["arch_str"], path)
    return {c[4:]: _by_key(df[c].to_numpy(np.float64), keys) for c in df.columns if c.startswith("lat_")}


class NB201Benchmark(Benchmark):
    """NAS-Bench-201 on one dataset: an O(1) table lookup per architecture.

    ``objective`` is the mean validation accuracy over seeds (``{p}_val_acc_mean``), or with ``noisy=True``
    one of the per-seed validation accuracies drawn uniformly from a generator seeded by ``seed``; ``test``
    is the test accuracy. Extra keys: ``val_acc`` (mean validation accuracy), ``test_acc``, ``params_mb``,
    ``flops_m``, ``latency_s``, ``train_time_s``, ``index`` (official NAS-Bench-201 index) and
    ``latency_ms_<device>`` for each of ``latency_devices`` (columns of the HELP latency table, e.g.
    ``"pixel3"``).

    Example:
        >>> bench = NB201Benchmark("cifar10", latency_devices=("pixel3",))
        >>> r = bench.evaluate("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")
        >>> r["index"], round(r["objective"], 4), round(r["test"], 4)
        (6111, 91.6067, 94.3733)
    """

    space: NB201Space

    def __init__(
        self,
        dataset: str,
        data_dir: str | os.PathLike | None = None,
        noisy: bool = False,
        seed: SeedLike = None,
        latency_devices: Sequence[str] = (),
    ) -> None:
        if dataset not in DATASETS:
            raise ValueError(f"unknown NB201 dataset {dataset!r}; expected one of {list(DATASETS)}")
        if isinstance(latency_devices, str):
            raise ValueError(f"latency_devices must be a sequence of device names, got the string {latency_devices!r}")
        self.name = f"nb201:{dataset}"
        self.space = get_space("nb201")
        self.dataset = dataset
        self.noisy = noisy
        kind = "one random seed's" if noisy else "mean"
        self.objective_name = f"{DATASET_LABELS[dataset]} {kind} validation accuracy (%)"
        self._generator = as_generator(seed) if noisy else None

        table = _load_table(data_file(TABLE_FILE, data_dir).resolve())
        p = DATASETS[dataset]
        self._columns = {key: table[f"{p}_{column}"] for column, key in _COLUMNS.items()}
        self._columns["index"] = table["index"]
        self._seeds = table[f"{p}_val_acc_seeds"]
        self._num_seeds = table[f"{p}_num_seeds"]
        if latency_devices:
            latency = _load_latency(data_file(LATENCY_FILE, data_dir).resolve())
            unknown = [d for d in latency_devices if d not in latency]
            if unknown:
                raise ValueError(f"unknown NB201 latency device(s) {unknown}; expected some of {sorted(latency)}")
            for device in latency_devices:
                self._columns[f"latency_ms_{device}"] = latency[device]

    def _evaluate_valid_codes(self, codes: Tensor) -> dict[str, Tensor]:
        keys = arch_keys(codes[:, 1:-1] - _FIRST_OP)
        values = {key: column[keys] for key, column in self._columns.items()}
        if self.noisy:
            u = torch.rand(len(keys), generator=self._generator, dtype=torch.float64)
            pick = (u * self._num_seeds[keys]).long()
            objective = self._seeds[keys, pick]
        else:
            objective = values["val_acc"]
        return {"objective": objective, "test": values["test_acc"], **values}

"""Trainable networks: shapes for every op/choice, NB201 parameter counts against the benchmark table, and
OFA MobileNetV3 layer shapes against the Note10 latency table."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from scipy.stats import spearmanr

from bo_diffnag.models import (
    MobileNetV3Network,
    NB201Network,
    architecture_synflow,
    build_model,
    parameter_count_weights,
    pairwise_mask,
    proxy_value,
    synflow,
    synflow_pairwise_weights,
    synflow_weights,
)
from bo_diffnag.models import proxies
from bo_diffnag.models.mbv3 import MBConv, make_divisible
from bo_diffnag.models.nb201 import NB201Cell
from bo_diffnag.spaces import get_space
from bo_diffnag.spaces.mbv3 import DEPTHS, EXPAND_RATIOS, KERNEL_SIZES
from bo_diffnag.spaces.nb201 import OPS
from bo_diffnag.training import DIGITS_MODEL_OPTIONS

pytestmark = pytest.mark.usefixtures("single_thread")


def nb201_arch(ops: list[str]) -> str:
    """Arch string with ``ops`` on the six edges in arch-string order."""
    return get_space("nb201").from_parameters(dict(zip(get_space("nb201").parameters, ops)))


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------------------------------ NB201
@pytest.mark.parametrize("op", OPS)
def test_nb201_every_op_on_every_edge_gives_logits(op):
    net = NB201Network(nb201_arch([op] * 6), channels=4, cells_per_stage=1, num_classes=7, in_channels=1)
    out = net(torch.rand(3, 1, 8, 8))
    assert out.shape == (3, 7)
    assert torch.isfinite(out).all()
    cells = [m for m in net.cells if isinstance(m, NB201Cell)]
    assert len(cells) == 3
    convs = sum(isinstance(m, torch.nn.Conv2d) for cell in cells for m in cell.modules())
    assert convs == (18 if op.startswith("nor_conv") else 0)


def test_nb201_all_none_cell_outputs_zeros_so_logits_ignore_the_input():
    net = NB201Network(nb201_arch(["none"] * 6), channels=4, cells_per_stage=1).eval()
    out = net(torch.randn(4, 3, 16, 16))
    assert torch.allclose(out, out[:1].expand_as(out))


def test_nb201_cell_sums_incoming_edges():
    # node1 = x, node2 = x + node1, node3 = x + node1 + node2 = 4x with only skips.
    net = NB201Network(nb201_arch(["skip_connect"] * 6), channels=4, cells_per_stage=1)
    x = torch.randn(2, 4, 5, 5)
    assert torch.allclose(net.cells[0](x), 4 * x)


def test_nb201_params_match_the_benchmark_table(data_dir):
    table = pd.read_csv(
        data_dir / "nb201" / "nb201_consolidated.csv",
        usecols=["index", "arch_str", "c10_params_mb", "c10_params_mb_formula", "c100_params_mb", "in16_params_mb"],
    )
    same = table[table.c10_params_mb == table.c10_params_mb_formula]
    uniform = [nb201_arch([op] * 6) for op in OPS]  # all-none, all-skip, all-1x1, all-3x3, all-pool
    rows = same[same.arch_str.isin(uniform) | same["index"].isin([0, 6111, 15624])]
    rows = pd.concat([rows, same.sample(5, random_state=np.random.RandomState(0))])
    assert len(rows) >= 13
    for row in rows.itertuples():
        # The table stores parameters / 10⁶ to 6 decimals, i.e. the exact count.
        assert count(NB201Network(row.arch_str)) == round(row.c10_params_mb * 1e6), row.arch_str
    for row in rows.head(3).itertuples():
        assert count(NB201Network(row.arch_str, num_classes=100)) == round(row.c100_params_mb * 1e6)
        assert count(NB201Network(row.arch_str, num_classes=120)) == round(row.in16_params_mb * 1e6)
    # For 150 archs the benchmark's value is one conv short of the exact formula; the network follows the formula.
    odd = table[table.c10_params_mb != table.c10_params_mb_formula].head(2)
    for row in odd.itertuples():
        assert count(NB201Network(row.arch_str)) == round(row.c10_params_mb_formula * 1e6)


@pytest.mark.parametrize(
    "arch", ["|nor_conv_3x3~0|+|nor_conv_3x3~0|", "|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", 42]
)
def test_nb201_invalid_arch_raises(arch):
    with pytest.raises(ValueError):
        NB201Network(arch)


# ------------------------------------------------------------------------------------------- MBv3
def mbv3_configs() -> list[dict[str, list[int]]]:
    """Configs that between them use every depth on every stage and every kernel and expand ratio on every slot."""
    configs = []
    for shift in range(3):
        configs.append(
            {
                "ks": [KERNEL_SIZES[(i + shift) % 3] for i in range(20)],
                "e": [EXPAND_RATIOS[(i // 3 + shift) % 3] for i in range(20)],
                "d": [DEPTHS[(s + shift) % 3] for s in range(5)],
            }
        )
    return configs


def test_mbv3_configs_cover_every_choice():
    configs = mbv3_configs()
    for key, choices, n in (("ks", KERNEL_SIZES, 20), ("e", EXPAND_RATIOS, 20), ("d", DEPTHS, 5)):
        for i in range(n):
            assert {c[key][i] for c in configs} == set(choices)


@pytest.mark.parametrize("config", mbv3_configs())
def test_mbv3_every_choice_gives_logits_on_digits_and_images(config):
    small = build_model("mbv3", config, in_channels=1, num_classes=10, **DIGITS_MODEL_OPTIONS["mbv3"])
    assert small(torch.rand(2, 1, 8, 8)).shape == (2, 10)
    # OFA strides on a tiny input: padded stride-2 convs keep 1×1 maps, so the forward still runs.
    ofa = MobileNetV3Network(config, width_mult=0.25, num_classes=5)
    assert ofa(torch.rand(2, 3, 8, 8)).shape == (2, 5)
    blocks = [m for m in small.modules() if isinstance(m, MBConv)]
    assert len(blocks) == 1 + sum(config["d"])
    active = [i for i in range(20) if i % 4 < config["d"][i // 4]]
    assert [b.kernel_size for b in blocks[1:]] == [config["ks"][i] for i in active]


def test_mbv3_accepts_dict_or_string_and_canonicalises():
    space = get_space("mbv3")
    arch = space.sample(1, seed=3)[0]
    a = MobileNetV3Network(json.loads(arch), width_mult=0.25)
    b = MobileNetV3Network(arch, width_mult=0.25)
    assert a.arch == b.arch == arch and count(a) == count(b)


def test_mbv3_param_count_grows_with_width_mult():
    config = get_space("mbv3").sample(1, seed=0)[0]
    counts = [count(MobileNetV3Network(config, width_mult=w)) for w in (0.25, 0.5, 0.75, 1.0, 1.25)]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)


def test_make_divisible_matches_ofa_w12_widths():
    # OFA's w1.2 supernet: base MobileNetV3 widths × 1.2, rounded → the widths in the data README.
    base = (16, 24, 40, 80, 112, 160, 960, 1280)
    assert [make_divisible(w * 1.2) for w in base] == [24, 32, 48, 96, 136, 192, 1152, 1536]


def test_mbv3_layers_match_the_note10_latency_table(data_dir):
    """Every MBConv block at r = 224 has a latency-table entry: input/output sizes, expand width, kernel,
    stride, identity skip, SE and h-swish all agree with OFA's network."""
    table = yaml.safe_load((data_dir / "ofa_mbv3" / "note10_latency_lut" / "224_lookup_table.yaml").read_text())
    keys: list[str] = []

    def hook(block, inputs, output):
        _, c, h, w = inputs[0].shape
        keys.append(
            f"expanded_conv-input:{h}x{w}x{c}-output:{output.shape[2]}x{output.shape[3]}x{output.shape[1]}"
            f"-expand:{block.mid_channels}-kernel:{block.kernel_size}-stride:{block.stride}"
            f"-idskip:{int(block.residual)}-se:{int(block.se)}-hs:{int(block.hswish)}"
        )

    largest = {"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5}
    for config in (largest, mbv3_configs()[0]):
        net = MobileNetV3Network(config).eval()
        for block in net.modules():
            if isinstance(block, MBConv):
                block.register_forward_hook(hook)
        with torch.no_grad():
            assert net(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)
    assert len(keys) == 2 + 20 + sum(mbv3_configs()[0]["d"])
    assert [k for k in keys if k not in table] == []
    # The README's check: all-largest latency at r = 224 is 92.398 ms (blocks + stem, head and classifier).
    fixed = ("Conv-input:224x224x3-output:112x112x24", "Conv_1-input:7x7x192-output:7x7x1152",
             "AvgPool2D-input:7x7x1152-output:1x1x1152", "Conv_2-input:1x1x1152-output:1x1x1536",
             "Logits-input:1x1x1536-output:1000")
    total = sum(table[k]["mean"] for k in keys[:21]) + sum(table[k]["mean"] for k in fixed)
    assert total == pytest.approx(92.398, abs=1e-3)


@pytest.mark.parametrize(
    "config",
    [
        '{"ks":[3],"e":[3],"d":[2]}',
        {"ks": [3] * 20, "e": [3] * 20, "d": [5] * 5},
        {"ks": [4] * 20, "e": [3] * 20, "d": [2] * 5},
    ],
)
def test_mbv3_invalid_config_raises(config):
    with pytest.raises(ValueError):
        MobileNetV3Network(config)


@pytest.mark.parametrize(
    "options", [{"width_mult": 0}, {"stage_strides": (1, 2)}, {"stem_stride": 0}, {"dropout": 1.0}]
)
def test_mbv3_bad_options_raise(options):
    with pytest.raises(ValueError):
        MobileNetV3Network(get_space("mbv3").sample(1, seed=0)[0], **options)


def test_build_model_dispatches_and_rejects_unknown_space():
    arch = nb201_arch(["nor_conv_3x3"] * 6)
    assert isinstance(build_model("nb201", arch, channels=4, cells_per_stage=1), NB201Network)
    assert isinstance(build_model("mbv3", get_space("mbv3").sample(1, seed=0)[0], width_mult=0.25), MobileNetV3Network)
    with pytest.raises(ValueError, match="unknown search space"):
        build_model("darts", arch)


@pytest.mark.parametrize("space_name", ["nb201", "mbv3"])
def test_parameter_count_is_linear_in_the_encoding(space_name):
    """``x·w + c`` is the exact parameter count of the built network, for any architecture."""
    w, c = parameter_count_weights(space_name)
    space = get_space(space_name)
    archs = space.sample(6, seed=1)
    for arch in archs:
        assert float(space.encode(arch).flatten().double() @ w + c) == count(build_model(space_name, arch)), arch
    w[:] = 0  # callers get a copy: the cached weights are unchanged
    assert parameter_count_weights(space_name)[0].abs().sum() > 0
    with pytest.raises(ValueError, match="unknown search space"):
        parameter_count_weights("darts")


def test_nb201_parameter_count_weights_give_the_benchmark_formula_for_every_arch(data_dir):
    table = pd.read_csv(data_dir / "nb201" / "nb201_consolidated.csv", usecols=["arch_str", "c10_params_mb_formula"])
    w, c = parameter_count_weights("nb201")
    X = get_space("nb201").encode_batch(list(table.arch_str)).flatten(1).double()
    assert torch.allclose((X @ w + c) / 1e6, torch.tensor(table.c10_params_mb_formula.to_numpy()), rtol=0, atol=1e-9)


def test_synflow_of_a_bias_free_linear_chain_is_depth_times_its_absolute_output():
    """For ``L`` bias-free linear layers ``R = 1ᵀ|W_L|…|W_1|1`` is homogeneous of degree 1 in each layer, so
    ``Σ θ ∂R/∂θ = L·R``; signs of the weights do not matter and the model is left as it was."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(*(torch.nn.Linear(a, b, bias=False) for a, b in ((5, 7), (7, 3), (3, 2))))
    before = [p.detach().clone() for p in net.parameters()]
    R = torch.ones(1, 5, dtype=torch.double)
    for layer in net:
        R = R @ layer.weight.detach().double().abs().T
    assert synflow(net, (5,)) == pytest.approx(3 * float(R.sum()), rel=1e-12)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    with torch.no_grad():
        net[0].weight.neg_()
    assert synflow(net, (5,)) == pytest.approx(3 * float(R.sum()), rel=1e-12)


@pytest.mark.parametrize("space_name", ["nb201", "mbv3"])
def test_architecture_synflow_is_synflow_of_the_seeded_network(space_name):
    """``architecture_synflow`` scores its freshly built network in place (no copy); the score is exactly the
    public :func:`synflow` of the same network built with the same seed, and that one is left unmodified."""
    arch = get_space(space_name).sample(1, seed=2)[0]
    torch.manual_seed(7)
    model = build_model(space_name, arch)
    before = [p.detach().clone() for p in model.parameters()]
    assert architecture_synflow(space_name, arch, seed=7) == synflow(model, proxies.SYNFLOW_INPUT_SHAPES[space_name])
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_synflow_weights_fit_the_log_synflow_of_unseen_cells():
    """The linear fit ranks cells it was not fitted on like their exact log-SynFlow (same initialisation seed),
    and the same seed gives the same fit."""
    w, c = synflow_weights("nb201", num_archs=96, seed=0)
    assert torch.equal(w, synflow_weights("nb201", num_archs=96, seed=0)[0])
    space = get_space("nb201")
    archs = space.sample(24, seed=5)
    exact = np.log([architecture_synflow("nb201", arch, seed=0) for arch in archs])
    fitted = (space.encode_batch(archs).flatten(1).double() @ w + c).numpy()
    assert spearmanr(fitted, exact)[0] > 0.7
    with pytest.raises(ValueError, match="unknown search space"):
        synflow_weights("darts")


def test_pairwise_synflow_fit_couples_only_different_rows_and_fits_better_than_the_linear_one():
    """The pairwise fit's quadratic form only couples two different rows' ops, the same seed gives the same
    fit, and on cells neither fit saw it explains more of the exact log-SynFlow than the linear fit on the
    same sample does."""
    w, Q, c = synflow_pairwise_weights("nb201", num_archs=256, seed=0)
    assert torch.equal(Q, synflow_pairwise_weights("nb201", num_archs=256, seed=0)[1])
    mask = pairwise_mask(8, 7)
    assert mask.sum() == 28 * 49 and mask[0, 7] and not mask[0, 6] and not mask[7, 0]
    assert (Q[~mask] == 0).all() and (Q[mask] != 0).any()
    space = get_space("nb201")
    archs = space.sample(24, seed=5)
    exact = np.log([architecture_synflow("nb201", arch, seed=0) for arch in archs])
    X = space.encode_batch(archs).flatten(1).double()
    w_linear, c_linear = synflow_weights("nb201", num_archs=256, seed=0)
    pairwise, linear = (proxy_value(X, (w, Q)) + c).numpy(), (X @ w_linear + c_linear).numpy()
    assert np.mean((pairwise - exact) ** 2) < np.mean((linear - exact) ** 2)
    assert spearmanr(pairwise, exact)[0] > 0.8


def test_shipped_pairwise_fit_is_the_default_fit_and_a_damaged_one_is_refitted(tmp_path, monkeypatch):
    """NB201's shipped pairwise fit, which processes load instead of fitting, is what fitting with the default
    arguments gives: a copy whose file no longer matches its manifest's sha256 is refitted, with a warning,
    to the same coefficients."""
    shipped = proxies._shipped_pairwise_fit("nb201", 600, 0, 1.0)
    assert shipped is not None
    damaged = tmp_path / "fitted"
    shutil.copytree(proxies.FITTED_DIR, damaged)
    fit_file = damaged / "synflow_pairwise_nb201.pt"
    fit_file.write_bytes(fit_file.read_bytes()[:-16])
    monkeypatch.setattr(proxies, "FITTED_DIR", damaged)
    proxies._synflow_pairwise_weights.cache_clear()
    try:
        with pytest.warns(UserWarning, match=r"shipped proxy fit .*synflow_pairwise_nb201.pt is corrupted: sha256"):
            refitted = synflow_pairwise_weights("nb201")
    finally:
        proxies._synflow_pairwise_weights.cache_clear()
    for fresh, stored in zip(refitted, shipped):
        torch.testing.assert_close(fresh, stored, rtol=1e-9, atol=1e-9)


def test_nb201_synflow_fit_ranks_the_best_cells_better_than_their_size(data_dir):
    """Why SynFlow is NB201's default prior proxy: over all 15,625 cells, among the best 20 % by validation
    accuracy on each dataset, the default fit's rank correlation with accuracy beats the parameter count's."""
    table = pd.read_csv(data_dir / "nb201" / "nb201_consolidated.csv")
    X = get_space("nb201").encode_batch(list(table.arch_str)).flatten(1).double()
    fitted, size = (X @ synflow_weights("nb201")[0]).numpy(), (X @ parameter_count_weights("nb201")[0]).numpy()
    for column in ("c10_val_acc_mean", "c100_val_acc_mean", "in16_val_acc_mean"):
        accuracy = table[column].to_numpy()
        top = accuracy > np.quantile(accuracy, 0.8)
        assert spearmanr(fitted[top], accuracy[top])[0] > spearmanr(size[top], accuracy[top])[0], column


def test_nb201_pairwise_synflow_fit_ranks_the_best_cells_better_than_the_linear_fit(data_dir):
    """Why the pairwise fit is NB201's default prior proxy: among the best 20 % of all 15,625 cells by
    validation accuracy on each dataset, the default pairwise fit ranks them better than the linear fit."""
    table = pd.read_csv(data_dir / "nb201" / "nb201_consolidated.csv")
    X = get_space("nb201").encode_batch(list(table.arch_str)).flatten(1).double()
    w, Q, _ = synflow_pairwise_weights("nb201")
    pairwise, linear = proxy_value(X, (w, Q)).numpy(), (X @ synflow_weights("nb201")[0]).numpy()
    for column in ("c10_val_acc_mean", "c100_val_acc_mean", "in16_val_acc_mean"):
        accuracy = table[column].to_numpy()
        top = accuracy > np.quantile(accuracy, 0.8)
        assert spearmanr(pairwise[top], accuracy[top])[0] > spearmanr(linear[top], accuracy[top])[0], column

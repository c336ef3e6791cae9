"""Tests of the search spaces (REFERENCE §2): encodings, validity, strings, parameters, neighbours, sampling.

Every expected value here is derived independently of the code under test (hand-written matrices, the
DAG rebuilt from the REFERENCE rule, neighbour sets rebuilt from the OFA config) so that each test can fail.
"""

from __future__ import annotations

import itertools
import json

import random
import re

import pytest
import torch

from bo_diffnag.spaces import SPACES, MBv3Space, NB201Space, SearchSpace, Validity, get_space

NB_OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
NB_COLS = ["input", "output", *NB_OPS]
NB_EDGES = [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]  # arch-string order
KS, ES, DS = [3, 5, 7], [3, 4, 6], [2, 3, 4]


def nb_arch(ops: list[str]) -> str:
    """Arch string from the six ops in edge order (written independently of the space's formatter)."""
    return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)


@pytest.fixture(scope="module")
def nb() -> NB201Space:
    return NB201Space()


@pytest.fixture(scope="module")
def mb() -> MBv3Space:
    return MBv3Space()


@pytest.fixture(scope="module")
def nb_all(nb):
    return nb.enumerate()


@pytest.fixture(scope="module")
def mb_samples(mb):
    return mb.sample(10_000, seed=123)


def mb_config(d, ks=None, e=None) -> dict:
    """An OFA config with depths ``d``; ks/e default to 3 everywhere."""
    return {"ks": list(ks or [3] * 20), "e": list(e or [3] * 20), "d": list(d)}


def active_slots(d: list[int]) -> set[int]:
    return {4 * s + l for s in range(5) for l in range(d[s])}


# ============================================================================== registry & basics
def test_get_space_known_and_unknown():
    assert isinstance(get_space("nb201"), NB201Space)
    assert isinstance(get_space("mbv3"), MBv3Space)
    assert set(SPACES) == {"nb201", "mbv3"}
    with pytest.raises(ValueError, match="unknown search space 'foo'"):
        get_space("foo")
    with pytest.raises(ValueError):
        get_space("NB201")


def test_validity_truthiness():
    assert Validity(True)
    assert not Validity(False, "x")
    assert Validity(False, "x").reason == "x"


def test_shapes_and_vocab(nb, mb):
    assert nb.matrix_shape == (8, 7) and nb.num_nodes == 8 and nb.num_ops == 7
    assert list(nb.op_names) == NB_COLS
    assert mb.matrix_shape == (20, 9) and mb.num_nodes == 20 and mb.num_ops == 9
    # column 3·ks_idx + e_idx
    assert list(mb.op_names) == [f"ks{k}_e{e}" for k in KS for e in ES]
    assert mb.op_names[3 * 1 + 2] == "ks5_e6"


# ============================================================================== NB201
def test_nb201_enumerate_unique_and_cardinality(nb, nb_all):
    assert nb.cardinality == 5**6 == 15_625
    assert len(nb_all) == 15_625
    assert len(set(nb_all)) == 15_625
    # exactly the set of all op fillings, written independently
    assert set(nb_all) == {nb_arch(list(ops)) for ops in itertools.product(NB_OPS, repeat=6)}
    assert nb.enumerate_codes().shape == (15_625, 8)


def test_nb201_roundtrip_all_batched(nb, nb_all):
    X = nb.encode_batch(nb_all)
    assert X.shape == (15_625, 8, 7)
    assert X.dtype == torch.get_default_dtype()
    assert ((X == 0) | (X == 1)).all()
    assert (X.sum(-1) == 1).all()
    assert nb.is_valid_batch(X).all()
    assert nb.decode_batch(X) == nb_all
    # the enumerated codes produce the same matrices
    assert torch.equal(nb.codes_to_matrix(nb.enumerate_codes()), X)
    # every distinct architecture gets a distinct matrix
    assert torch.unique(X.flatten(1), dim=0).shape[0] == 15_625


def test_nb201_roundtrip_single_sample(nb, nb_all):
    rng = random.Random(0)
    for arch in rng.sample(nb_all, 100):
        X = nb.encode(arch)
        assert X.shape == (8, 7)
        v = nb.is_valid(X)
        assert v and v.reason is None
        assert nb.decode(X) == arch
        assert nb.canonical(arch) == arch


def test_nb201_matrix_layout_explicit(nb):
    arch = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|"
    # columns: input, output, none, skip, conv1x1, conv3x3, avgpool
    expected = torch.tensor(
        [
            [1, 0, 0, 0, 0, 0, 0],  # input
            [0, 0, 0, 0, 0, 1, 0],  # edge 0→1: nor_conv_3x3
            [0, 0, 0, 1, 0, 0, 0],  # edge 0→2: skip_connect
            [0, 0, 1, 0, 0, 0, 0],  # edge 1→2: none
            [0, 0, 0, 0, 0, 0, 1],  # edge 0→3: avg_pool_3x3
            [0, 0, 0, 0, 1, 0, 0],  # edge 1→3: nor_conv_1x1
            [0, 0, 0, 1, 0, 0, 0],  # edge 2→3: skip_connect
            [0, 1, 0, 0, 0, 0, 0],  # output
        ],
        dtype=torch.get_default_dtype(),
    )
    assert torch.equal(nb.encode(arch), expected)
    assert nb.decode(expected) == arch
    assert nb.to_parameters(arch) == {
        "op0_e01": "nor_conv_3x3",
        "op1_e02": "skip_connect",
        "op2_e12": "none",
        "op3_e03": "avg_pool_3x3",
        "op4_e13": "nor_conv_1x1",
        "op5_e23": "skip_connect",
    }


def test_nb201_adjacency_is_reference_dag(nb):
    # rebuild from the REFERENCE rule: op-node k+1 is edge k; input feeds edges leaving cell node 0;
    # edge i→j feeds every edge leaving j; edges entering node 3 feed output (row 7).
    expected = set()
    for k, (i, j) in enumerate(NB_EDGES):
        if i == 0:
            expected.add((0, k + 1))
        if j == 3:
            expected.add((k + 1, 7))
        for k2, (i2, _) in enumerate(NB_EDGES):
            if i2 == j:
                expected.add((k + 1, k2 + 1))
    A = nb.adjacency
    assert A.dtype == torch.bool and A.shape == (8, 8)
    got = {(int(a), int(b)) for a, b in A.nonzero()}
    assert got == expected
    # the hand-checked edge list, so a wrong rule above would also be caught
    assert got == {
        (0, 1), (0, 2), (0, 4),  # input → 0→1, 0→2, 0→3
        (1, 3), (1, 5),  # 0→1 → 1→2, 1→3
        (2, 6), (3, 6),  # 0→2, 1→2 → 2→3
        (4, 7), (5, 7), (6, 7),  # x→3 → output
    }  # fmt: skip
    # acyclic: repeated removal of source nodes empties the graph (Kahn)
    remaining = set(range(8))
    while remaining:
        sources = [n for n in remaining if not any(A[m, n] for m in remaining)]
        assert sources, f"cycle among {remaining}"
        remaining -= set(sources)
    assert not A.diagonal().any()
    # rows/cols in topological order (strictly upper triangular), input only source, output only sink
    assert not torch.tril(A).any()
    assert [n for n in range(8) if not A[:, n].any()] == [0]
    assert [n for n in range(8) if not A[n].any()] == [7]


def test_nb201_positions(nb):
    assert nb.positions.shape == (8, 1)
    assert nb.positions.dtype == torch.long
    assert nb.positions[:, 0].tolist() == list(range(8))
    assert nb.position_sizes == (8,)
    assert int(nb.positions.max()) < nb.position_sizes[0]


# ------------------------------------------------------------------ NB201 invalid matrices
def _nb_base(nb) -> torch.Tensor:
    return nb.encode(nb_arch(["nor_conv_3x3"] * 6)).clone()


def _nb_invalid_cases(nb):
    cases = []
    X = _nb_base(nb)
    X[3, 4] = 0.5
    cases.append(("non-binary", X, "must be 0 or 1"))
    X = _nb_base(nb)
    X[2, 2] = 1  # edge row with two ones
    cases.append(("two ones", X, "2 ones"))
    X = _nb_base(nb)
    X[0, 0], X[0, 1] = 1, 1  # input row with two ones
    cases.append(("two ones input row", X, "2 ones"))
    X = _nb_base(nb)
    X[4] = 0
    cases.append(("empty row", X, "empty"))
    X = _nb_base(nb)
    X[0] = 0
    X[0, 5] = 1  # row 0 an op
    cases.append(("row 0 not input", X, "row 0 must be 'input'"))
    X = _nb_base(nb)
    X[0] = 0
    X[0, 1] = 1  # row 0 output
    cases.append(("row 0 output", X, "row 0 must be 'input'"))
    X = _nb_base(nb)
    X[7] = 0
    X[7, 2] = 1
    cases.append(("row 7 not output", X, "row 7 must be 'output'"))
    X = _nb_base(nb)
    X[7] = 0
    X[7, 0] = 1
    cases.append(("row 7 input", X, "row 7 must be 'output'"))
    for r in range(1, 7):
        for col, name in ((0, "input"), (1, "output")):
            X = _nb_base(nb)
            X[r] = 0
            X[r, col] = 1
            cases.append((f"edge row {r} is {name}", X, f"'{name}'; edge rows"))
    X = _nb_base(nb)
    X[5, 3] = -1  # -1 + ... : not binary, row sum 0
    cases.append(("negative entry", X, "must be 0 or 1"))
    X = _nb_base(nb)
    X[1, 6] = float("inf")
    cases.append(("inf entry", X, "must be 0 or 1"))
    # non-binary rows summing to exactly 1 (caught only by the 0/1 rule, not by the ones count)
    X = _nb_base(nb)
    X[2] = 0
    X[2, 3], X[2, 4] = 0.5, 0.5
    cases.append(("halves", X, "must be 0 or 1"))
    X = _nb_base(nb)
    X[6] = 0
    X[6, 2], X[6, 5] = 2.0, -1.0
    cases.append(("2 and -1", X, "must be 0 or 1"))
    return cases


def _check_invalid(space: SearchSpace, X: torch.Tensor, fragment: str) -> None:
    v = space.is_valid(X)
    assert not v
    assert isinstance(v, Validity) and v.valid is False
    assert v.reason and fragment in v.reason, v.reason
    assert space.is_valid_batch(X.unsqueeze(0)).tolist() == [False]
    assert space.decode_batch(X.unsqueeze(0)) == [None]
    with pytest.raises(ValueError, match="invalid"):
        space.decode(X)


def test_nb201_invalid_matrices(nb):
    for label, X, fragment in _nb_invalid_cases(nb):
        _check_invalid(nb, X, fragment)
    # batch of mixed valid / invalid: validity is per element
    cases = _nb_invalid_cases(nb)
    good = _nb_base(nb)
    batch = torch.stack([good, cases[0][1], good, cases[3][1]])
    assert nb.is_valid_batch(batch).tolist() == [True, False, True, False]
    dec = nb.decode_batch(batch)
    assert dec[0] == dec[2] == nb_arch(["nor_conv_3x3"] * 6) and dec[1] is None and dec[3] is None


def test_nb201_all_zero_and_all_ones_invalid(nb):
    assert not nb.is_valid(torch.zeros(8, 7))
    assert not nb.is_valid(torch.ones(8, 7))
    assert not nb.is_valid_batch(torch.zeros(3, 8, 7)).any()


# ============================================================================== MBv3
def test_mbv3_cardinality(mb):
    assert mb.cardinality == 7371**5
    assert 7371 == 9**2 + 9**3 + 9**4


def test_mbv3_roundtrip_and_validity_batched(mb, mb_samples):
    X = mb.encode_batch(mb_samples)
    assert X.shape == (10_000, 20, 9)
    assert ((X == 0) | (X == 1)).all()
    assert (X.sum(-1) <= 1).all()
    assert mb.is_valid_batch(X).all()
    assert mb.decode_batch(X) == mb_samples
    for arch in mb_samples[:50]:
        assert mb.decode(mb.encode(arch)) == arch
        assert mb.is_valid(mb.encode(arch))
        assert mb.canonical(arch) == arch
    # the string is the compact JSON of {ks, e, d}
    cfg = json.loads(mb_samples[0])
    assert list(cfg) == ["ks", "e", "d"]
    assert json.dumps(cfg, separators=(",", ":")) == mb_samples[0]


def test_mbv3_matrix_layout_explicit(mb):
    d = [2, 3, 4, 2, 3]
    ks = [5, 7, 9, 9, 3, 3, 5, 9, 7, 5, 3, 7, 3, 3, 9, 9, 5, 7, 7, 9]  # 9 = placeholder in inactive slots
    e = [6, 3, 1, 1, 4, 6, 3, 1, 3, 4, 6, 6, 3, 4, 1, 1, 6, 4, 3, 1]
    act = active_slots(d)
    ks_norm = [k if i in act else 3 for i, k in enumerate(ks)]
    e_norm = [x if i in act else 3 for i, x in enumerate(e)]
    cfg = mb_config(d, ks_norm, e_norm)
    X = mb.encode(json.dumps(cfg))
    expected = torch.zeros(20, 9)
    for i in range(20):
        if i in act:
            expected[i, 3 * KS.index(ks[i]) + ES.index(e[i])] = 1
    assert torch.equal(X, expected)
    assert X[0, 5] == 1  # (5, 6) → 3·1 + 2
    assert X[1, 6] == 1  # (7, 3) → 3·2 + 0
    assert (X[2] == 0).all() and (X[3] == 0).all()  # stage 0 has depth 2
    assert mb.config(mb.decode(X)) == cfg


def test_mbv3_surrogate_features_are_ordinal_values(mb, mb_samples):
    """x W + b gives (ks − 3)/4, (e − 3)/3 per slot (0 when empty) and (d − 2)/2 per stage — on codes and configs."""
    W, b = mb.surrogate_features()
    assert W.shape == (180, 45) and b.shape == (45,)
    for arch in mb_samples[:200]:
        cfg = json.loads(arch)
        act = active_slots(cfg["d"])
        f = mb.encode(arch).flatten() @ W + b
        expected_ks = [(cfg["ks"][i] - 3) / 4 if i in act else 0.0 for i in range(20)]
        expected_e = [(cfg["e"][i] - 3) / 3 if i in act else 0.0 for i in range(20)]
        expected_d = [(d - 2) / 2 for d in cfg["d"]]
        torch.testing.assert_close(f, torch.tensor(expected_ks + expected_e + expected_d))
    assert get_space("nb201").surrogate_features() is None  # unordered ops: one-hot it is


def test_mbv3_factor_features_are_per_slot_kernel_and_expand_one_hots(mb, mb_samples):
    """x W + b gives, per slot, a one-hot of the kernel size then one of the expand ratio (zeros when empty)."""
    W, b = mb.factor_features()
    assert W.shape == (180, 120) and b.shape == (120,)
    for arch in mb_samples[:200]:
        cfg = json.loads(arch)
        act = active_slots(cfg["d"])
        f = (mb.encode(arch).flatten() @ W + b).view(20, 6)
        for i in range(20):
            expected = [0.0] * 6
            if i in act:
                expected[(3, 5, 7).index(cfg["ks"][i])] = 1.0
                expected[3 + (3, 4, 6).index(cfg["e"][i])] = 1.0
            assert f[i].tolist() == expected
    assert get_space("nb201").factor_features() is None  # one op per edge, not a product of choices


def test_nb201_path_encoding_marks_each_paths_op_sequence(nb, nb_all):
    """One feature per (input→output path, op sequence along it), written out from the cell's four paths."""
    paths = [[(0, 3)], [(0, 1), (1, 3)], [(0, 2), (2, 3)], [(0, 1), (1, 2), (2, 3)]]
    assert [tuple(NB_EDGES.index(e) + 1 for e in path) for path in paths] == list(nb.cell_paths)
    sequences = [seq for path in paths for seq in itertools.product(range(len(NB_OPS)), repeat=len(path))]
    starts = [0, 5, 30, 55]  # first column of each path's block
    for arch in random.Random(0).sample(nb_all, 300):
        ops = dict(zip(NB_EDGES, [NB_OPS.index(op) for op in re.findall(r"(\w+)~\d", arch)]))
        features = nb.path_encoding(nb.encode(arch).flatten())
        assert features.shape == (5 + 25 + 25 + 125,)
        expected = torch.zeros(180)
        for path, start in zip(paths, starts):
            seq = tuple(ops[e] for e in path)
            expected[start + sequences[start:].index(seq)] = 1.0
        torch.testing.assert_close(features, expected)
    # multilinear, so a relaxed encoding gives the product of its entries (guidance gradients exist)
    x = torch.full((56,), 0.5, requires_grad=True)
    value = nb.path_encoding(x)
    assert value[0] == 0.5 and value[-1] == 0.125
    value.sum().backward()
    assert x.grad.abs().sum() > 0


def test_mbv3_has_no_cell_paths(mb, mb_samples):
    assert mb.cell_paths == () and mb.path_encoding(mb.encode_batch(mb_samples[:3]).flatten(1)).shape == (3, 0)


def test_mbv3_inactive_rows_are_zero(mb, mb_samples):
    X = mb.encode_batch(mb_samples[:2000])
    for arch, x in zip(mb_samples[:2000], X):
        d = json.loads(arch)["d"]
        act = active_slots(d)
        nonzero = {i for i in range(20) if x[i].any()}
        assert nonzero == act
        # inactive slots are normalised to ks = 3, e = 3 in the string
        cfg = json.loads(arch)
        assert all(cfg["ks"][i] == 3 and cfg["e"][i] == 3 for i in range(20) if i not in act)


def test_mbv3_canonical_normalisation(mb):
    d = [2, 4, 3, 2, 4]
    act = active_slots(d)
    rng = random.Random(5)
    ks = [rng.choice(KS) for _ in range(20)]
    e = [rng.choice(ES) for _ in range(20)]
    a = mb_config(d, ks, e)
    b = mb_config(d, [k if i in act else rng.choice([5, 7]) for i, k in enumerate(ks)],
                  [x if i in act else rng.choice([4, 6]) for i, x in enumerate(e)])  # fmt: skip
    assert a != b
    assert mb.canonical(a) == mb.canonical(b) == mb.canonical(json.dumps(b))
    assert torch.equal(mb.encode(a), mb.encode(b))
    assert mb.to_parameters(a) == mb.to_parameters(b)
    # ...but differing in an active slot changes both
    c = mb_config(d, ks, e)
    c["ks"][0] = 5 if ks[0] != 5 else 7
    assert mb.canonical(c) != mb.canonical(a)
    assert not torch.equal(mb.encode(c), mb.encode(a))
    # non-compact JSON / tuples are accepted and canonicalised
    assert mb.canonical(json.dumps(a, indent=2)) == mb.canonical(a)
    assert mb.canonical({k: tuple(v) for k, v in a.items()}) == mb.canonical(a)


def test_mbv3_adjacency_and_positions(mb):
    A = mb.adjacency
    assert A.shape == (20, 20) and A.dtype == torch.bool
    assert {(int(i), int(j)) for i, j in A.nonzero()} == {(i, i + 1) for i in range(19)}
    assert mb.positions.shape == (20, 2) and mb.positions.dtype == torch.long
    assert mb.position_sizes == (5, 4)
    assert mb.positions.tolist() == [[i // 4, i % 4] for i in range(20)]
    for p, size in enumerate(mb.position_sizes):
        assert set(mb.positions[:, p].tolist()) == set(range(size))


def test_mbv3_sampler_distribution(mb):
    """Depths ∝ 9^d per stage (uniform over distinct networks), ops uniform over the 9 choices."""
    n = 10_000
    codes = mb.sample_codes(n, torch.Generator().manual_seed(7))
    assert codes.shape == (n, 20)
    used = (codes >= 0).view(n, 5, 4)
    depth = used.sum(-1)
    # the sampler only produces structurally valid stages: a prefix of slots
    assert torch.equal(used, torch.arange(4).view(1, 1, 4) < depth.unsqueeze(-1))
    weights = torch.tensor([9.0**d for d in DS])
    probs = weights / weights.sum()

    def chi2(counts, p):
        exp = p * counts.sum()
        return float(((counts - exp) ** 2 / exp).sum())

    # chi-square critical value at p = 0.001: 13.8 (2 dof), 26.1 (8 dof)
    all_counts = torch.stack([(depth == d).sum() for d in DS]).float()
    assert chi2(all_counts, probs) < 13.8
    for s in range(5):
        counts = torch.stack([(depth[:, s] == d).sum() for d in DS]).float()
        assert chi2(counts, probs) < 13.8
    # a uniform depth sampler (OFA's) would be rejected by the same test
    assert chi2(all_counts, torch.full((3,), 1 / 3)) > 1000
    op_counts = torch.bincount(codes[codes >= 0], minlength=9).float()
    assert op_counts.shape == (9,)
    assert chi2(op_counts, torch.full((9,), 1 / 9)) < 26.1
    # ops uniform also per slot position within a stage (slot 1 and slot 4 alike)
    for l in range(4):
        c = codes.view(n, 5, 4)[:, :, l]
        assert chi2(torch.bincount(c[c >= 0], minlength=9).float(), torch.full((9,), 1 / 9)) < 26.1


def test_nb201_sampler_uniform(nb):
    codes = nb.sample_codes(5000, torch.Generator().manual_seed(3))
    assert (codes[:, 0] == 0).all() and (codes[:, 7] == 1).all()
    ops = codes[:, 1:7]
    assert ((ops >= 2) & (ops <= 6)).all()
    counts = torch.bincount(ops.flatten() - 2, minlength=5).float()
    exp = counts.sum() / 5
    assert float(((counts - exp) ** 2 / exp).sum()) < 18.5  # 4 dof, p = 0.001


# ------------------------------------------------------------------ MBv3 invalid matrices
def _mb_base(mb) -> torch.Tensor:
    return mb.encode(mb_config([3, 3, 3, 3, 3], [5] * 20, [4] * 20)).clone()


def test_mbv3_invalid_matrices(mb):
    X = _mb_base(mb)
    X[5, 2] = 0.3
    _check_invalid(mb, X, "must be 0 or 1")
    X = _mb_base(mb)
    X[6, 1] = 2.0
    _check_invalid(mb, X, "must be 0 or 1")
    # non-binary rows whose entries sum to at most 1 (caught only by the 0/1 rule)
    X = _mb_base(mb)
    X[0] = 0
    X[0, 2], X[0, 7] = 0.5, 0.5
    _check_invalid(mb, X, "must be 0 or 1")
    X = _mb_base(mb)
    X[3, 4] = 0.5  # an inactive slot (depth 3): would otherwise read as an active slot 4
    _check_invalid(mb, X, "must be 0 or 1")
    X = _mb_base(mb)
    X[3, 0], X[3, 8] = 1, 1  # an inactive slot with two ones
    _check_invalid(mb, X, "2 ones")
    X = _mb_base(mb)
    X[0, 0] = 1  # active slot: now two ones
    _check_invalid(mb, X, "2 ones")
    for s in range(5):
        X = _mb_base(mb)
        X[4 * s] = 0
        _check_invalid(mb, X, f"stage {s}: slot 1 is empty")
        X = _mb_base(mb)
        X[4 * s + 1] = 0
        _check_invalid(mb, X, f"stage {s}: slot 2 is empty")
        X = _mb_base(mb)
        X[4 * s + 2] = 0
        X[4 * s + 3, 4] = 1  # slot 4 present, slot 3 empty
        _check_invalid(mb, X, f"stage {s}: slot 4 holds a layer but slot 3 is empty")
    assert not mb.is_valid(torch.zeros(20, 9))
    # all valid depth patterns per stage are accepted, all 16 - 3 others rejected
    for pattern in itertools.product([0, 1], repeat=4):
        X = _mb_base(mb)
        for l, present in enumerate(pattern):
            X[8 + l] = 0
            if present:
                X[8 + l, 7] = 1
        ok = pattern in {(1, 1, 0, 0), (1, 1, 1, 0), (1, 1, 1, 1)}
        assert bool(mb.is_valid(X)) == ok, pattern
        assert mb.is_valid_batch(X.unsqueeze(0)).item() == ok
        if ok:
            assert mb.config(mb.decode(X))["d"][2] == sum(pattern)


# ============================================================================== shapes, dtypes
@pytest.mark.parametrize("name", ["nb201", "mbv3"])
def test_bad_inputs_to_matrix_api(name):
    space = get_space(name)
    N, F = space.matrix_shape
    good = space.encode(space.sample(1, seed=0)[0])
    with pytest.raises(ValueError, match="shape"):
        space.is_valid_batch(good)  # 2-D given to batch API
    with pytest.raises(ValueError, match="shape"):
        space.decode_batch(good)
    with pytest.raises(ValueError, match="shape"):
        space.matrix_to_codes(good)
    with pytest.raises(ValueError, match="shape"):
        space.is_valid(good.unsqueeze(0))  # 3-D given to single API
    with pytest.raises(ValueError, match="shape"):
        space.decode(good.unsqueeze(0))
    for bad in (torch.zeros(N + 1, F), torch.zeros(N, F + 1), torch.zeros(N - 1, F), torch.zeros(F, N)):
        with pytest.raises(ValueError, match="shape"):
            space.is_valid(bad)
        with pytest.raises(ValueError, match="shape"):
            space.decode(bad)
        with pytest.raises(ValueError, match="shape"):
            space.is_valid_batch(bad.unsqueeze(0))
        with pytest.raises(ValueError, match="shape"):
            space.decode_batch(bad.unsqueeze(0))
    for bad in (torch.zeros(F), torch.tensor(1.0), torch.zeros(1, 1, N, F)):
        with pytest.raises(ValueError, match="shape"):
            space.is_valid(bad)
        with pytest.raises(ValueError, match="shape"):
            space.is_valid_batch(bad)
    nan = good.clone()
    nan[1, 2] = float("nan")
    for fn, arg in ((space.is_valid, nan), (space.decode, nan), (space.is_valid_batch, nan[None]),
                    (space.decode_batch, nan[None])):  # fmt: skip
        with pytest.raises(ValueError, match="NaN"):
            fn(arg)
    for bad in (good.tolist(), good.numpy(), None, "x"):
        with pytest.raises(ValueError, match="torch.Tensor"):
            space.is_valid(bad)
        with pytest.raises(ValueError, match="torch.Tensor"):
            space.decode(bad)
        with pytest.raises(ValueError, match="torch.Tensor"):
            space.is_valid_batch(bad)
        with pytest.raises(ValueError, match="torch.Tensor"):
            space.decode_batch(bad)


@pytest.mark.parametrize("name", ["nb201", "mbv3"])
def test_other_dtypes_and_empty_batches(name):
    space = get_space(name)
    archs = space.sample(5, seed=11)
    X = space.encode_batch(archs)
    for dtype in (torch.float64, torch.float32, torch.long, torch.int8, torch.bool):
        Xd = X.to(dtype)
        assert space.is_valid_batch(Xd).all(), dtype
        assert space.decode_batch(Xd) == archs, dtype
        assert space.decode(Xd[0]) == archs[0], dtype
    empty = space.encode_batch([])
    assert empty.shape == (0, *space.matrix_shape)
    assert space.decode_batch(empty) == []
    assert space.is_valid_batch(empty).shape == (0,)
    assert space.sample(0, seed=0) == []


# ============================================================================== malformed strings
NB_GOOD = nb_arch(["nor_conv_3x3", "skip_connect", "none", "avg_pool_3x3", "nor_conv_1x1", "skip_connect"])


@pytest.mark.parametrize(
    "arch, fragment",
    [
        ("", "3 '+'-separated"),
        ("garbage", "3 '+'-separated"),
        ("|none~0|+|none~0|none~1|", "3 '+'-separated"),
        (NB_GOOD + "+|none~0|", "3 '+'-separated"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "enclosed"),
        ("|none~0+|none~0|none~1|+|none~0|none~1|none~2|", "enclosed"),
        (" " + NB_GOOD, "enclosed"),
        (NB_GOOD + "\n", "enclosed"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 needs 2 inputs, got 1"),
        ("|none~0|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "node 1 needs 1 inputs, got 2"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|", "node 3 needs 3 inputs, got 2"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|none~3|", "node 3 needs 3 inputs, got 4"),
        ("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown NB201 op 'conv_5x5'"),
        ("|none~0|+|none~0|none~1|+|none~0|max_pool_3x3~1|none~2|", "unknown NB201 op 'max_pool_3x3'"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|input~2|", "unknown NB201 op 'input'"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "expected 'op~0'"),
        ("|none~0|+|none~1|none~0|+|none~0|none~1|none~2|", "expected 'op~0'"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~3|", "expected 'op~2'"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none|", "expected 'op~2'"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~|", "expected 'op~2'"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|~2|", "expected 'op~2'"),
        ("|none~0|+|none~0|none~-1|+|none~0|none~1|none~2|", "expected 'op~1'"),
        ("|None~0|+|none~0|none~1|+|none~0|none~1|none~2|", "expected 'op~0'"),
        ("|none~00|+|none~0|none~1|+|none~0|none~1|none~2|", "expected 'op~0'"),
        ("|none~0\n|+|none~0|none~1|+|none~0|none~1|none~2|", "expected 'op~0'"),
        ("|none ~0|+|none~0|none~1|+|none~0|none~1|none~2|", "expected 'op~0'"),
        ("||+|none~0|none~1|+|none~0|none~1|none~2|", "expected 'op~0'"),
    ],
)
def test_nb201_malformed_strings(nb, arch, fragment):
    for fn in (nb.parse, nb.encode, nb.canonical, nb.to_parameters, nb.neighbors):
        with pytest.raises(ValueError, match="NB201") as err:
            fn(arch)
        assert fragment in str(err.value), str(err.value)
    with pytest.raises(ValueError):
        nb.encode_batch([NB_GOOD, arch])


@pytest.mark.parametrize("arch", [None, 3, ["|none~0|"], {"ks": 1}, b"|none~0|"])
def test_nb201_non_string(nb, arch):
    with pytest.raises(ValueError, match="arch string"):
        nb.encode(arch)


def _mb_good() -> dict:
    return mb_config([2, 3, 4, 3, 2], [3, 5, 7, 3] * 5, [6, 4, 3, 6] * 5)


def _mb_mod(**changes) -> dict:
    cfg = _mb_good()
    for key, value in changes.items():
        cfg[key] = value
    return cfg


def _mb_set(key: str, index: int, value) -> dict:
    cfg = _mb_good()
    cfg[key][index] = value
    return cfg


@pytest.mark.parametrize(
    "arch, fragment",
    [
        ("", "not valid JSON"),
        ("{ks:[]}", "not valid JSON"),
        ('{"ks": [3, 3', "not valid JSON"),
        ("[1, 2, 3]", "JSON object"),
        ("3", "JSON object"),
        ("null", "JSON object"),
        ("NaN", "JSON object"),
        (None, "JSON object"),
        ([3, 4], "JSON object"),
        (42, "JSON object"),
        ({k: v for k, v in _mb_good().items() if k != "ks"}, "missing key 'ks'"),
        ({k: v for k, v in _mb_good().items() if k != "e"}, "missing key 'e'"),
        ({k: v for k, v in _mb_good().items() if k != "d"}, "missing key 'd'"),
        ({}, "missing key"),
        ({**_mb_good(), "w": [1]}, "unknown keys ['w']"),
        ({**_mb_good(), "D": [2] * 5}, "unknown keys ['D']"),
        ({**_mb_good(), 1: 2, "x": 3}, "unknown keys"),  # mixed key types must not crash sorting
        (_mb_mod(ks=[3] * 19), "'ks' must be a list of 20 ints, got 19"),
        (_mb_mod(ks=[3] * 21), "'ks' must be a list of 20 ints, got 21"),
        (_mb_mod(e=[3] * 4), "'e' must be a list of 20 ints, got 4"),
        (_mb_mod(d=[2] * 4), "'d' must be a list of 5 ints, got 4"),
        (_mb_mod(d=[2] * 20), "'d' must be a list of 5 ints, got 20"),
        (_mb_mod(d=3), "'d' must be a list of 5 ints, got int"),
        (_mb_mod(ks="3" * 20), "'ks' must be a list of 20 ints, got str"),
        (_mb_mod(e={"a": 1}), "'e' must be a list of 20 ints"),
        (_mb_set("ks", 0, 4), "ks[0] = 4 is out of range"),
        (_mb_set("ks", 19, 9), "ks[19] = 9 is out of range"),
        (_mb_set("ks", 3, 1), "ks[3] = 1 is out of range"),  # even in an inactive slot
        (_mb_set("e", 5, 5), "e[5] = 5 is out of range"),
        (_mb_set("e", 0, 0), "e[0] = 0 is out of range"),
        (_mb_set("d", 0, 1), "d[0] = 1 is out of range"),
        (_mb_set("d", 4, 5), "d[4] = 5 is out of range"),
        (_mb_set("d", 2, 0), "d[2] = 0 is out of range"),
        (_mb_set("ks", 1, 3.0), "ks[1] = 3.0"),
        (_mb_set("ks", 1, "3"), "ks[1] = '3'"),
        (_mb_set("e", 1, True), "e[1] = True"),
        (_mb_set("d", 1, 3.5), "d[1] = 3.5"),
        (_mb_set("d", 1, None), "d[1] = None"),
        (_mb_set("d", 1, [3]), "d[1] = [3]"),
    ],
)
def test_mbv3_malformed(mb, arch, fragment):
    variants = [arch]
    if isinstance(arch, dict) and all(isinstance(k, str) for k in arch):
        variants.append(json.dumps(arch))  # the same defect inside a JSON string
    for a in variants:
        for fn in (mb.parse, mb.encode, mb.canonical, mb.to_parameters, mb.config):
            with pytest.raises(ValueError, match="MBv3") as err:
                fn(a)
            assert fragment in str(err.value), str(err.value)


def test_mbv3_good_fixture_parses(mb):
    # guards the malformed-case table: its base config really is valid
    cfg = mb.config(_mb_good())
    assert cfg["d"] == [2, 3, 4, 3, 2]
    assert mb.canonical(json.dumps(_mb_good())) == mb.canonical(_mb_good())


# ============================================================================== parameters
def test_nb201_parameters_roundtrip(nb, nb_all):
    assert list(nb.parameters) == ["op0_e01", "op1_e02", "op2_e12", "op3_e03", "op4_e13", "op5_e23"]
    assert all(list(v) == NB_OPS for v in nb.parameters.values())
    for arch in nb_all[::97]:
        p = nb.to_parameters(arch)
        assert list(p) == list(nb.parameters)
        # key op{k}_e{i}{j} is the op on edge i→j, read from the string independently
        groups = arch.split("+")
        for key, value in p.items():
            i, j = int(key[-2]), int(key[-1])
            assert f"|{value}~{i}|" in groups[j - 1] + "|"
        assert nb.from_parameters(p) == arch
    assert nb.active_parameters(NB_GOOD) == list(nb.parameters)


def test_mbv3_parameters_roundtrip(mb, mb_samples):
    keys = [f"d{s}" for s in range(5)] + [f"ks{i}" for i in range(20)] + [f"e{i}" for i in range(20)]
    assert list(mb.parameters) == keys
    for arch in mb_samples[:300]:
        p = mb.to_parameters(arch)
        cfg = json.loads(arch)
        assert p == {**{f"d{s}": cfg["d"][s] for s in range(5)}, **{f"ks{i}": cfg["ks"][i] for i in range(20)},
                     **{f"e{i}": cfg["e"][i] for i in range(20)}}  # fmt: skip
        assert mb.from_parameters(p) == arch
        act = active_slots(cfg["d"])
        assert sorted(mb.active_parameters(arch)) == sorted(
            [f"d{s}" for s in range(5)] + [f"ks{i}" for i in act] + [f"e{i}" for i in act]
        )
    # from_parameters normalises inactive slots
    p = mb.to_parameters(_mb_good())
    q = {**p, "ks3": 7, "e3": 6}  # slot 3 = stage 0 layer 4, inactive at d0 = 2
    assert mb.from_parameters(q) == mb.from_parameters(p) == mb.canonical(_mb_good())


@pytest.mark.parametrize("name", ["nb201", "mbv3"])
def test_from_parameters_errors(name):
    space = get_space(name)
    arch = space.sample(1, seed=4)[0]
    p = space.to_parameters(arch)
    first = next(iter(p))
    missing = {k: v for k, v in p.items() if k != first}
    with pytest.raises(ValueError, match=rf"missing \['{first}'\]"):
        space.from_parameters(missing)
    with pytest.raises(ValueError, match=r"unknown \['bogus'\]"):
        space.from_parameters({**p, "bogus": 1})
    bad_values = ["conv_7x7", 3, None, True, ["none"]] if name == "nb201" else [8, 0, 1, "3", None, True, [3], 3.5]
    for key in (first, list(p)[-1]):
        for bad in bad_values:
            with pytest.raises(ValueError, match=rf"parameter {key}=.* is not one of"):
                space.from_parameters({**p, key: bad})
    for bad in (None, [("a", 1)], "x"):
        with pytest.raises(ValueError, match="mapping"):
            space.from_parameters(bad)
    assert space.from_parameters(dict(p)) == arch


# ============================================================================== neighbours & mutation
def test_nb201_neighbors(nb, nb_all):
    rng = random.Random(1)
    for arch in rng.sample(nb_all, 200):
        p = nb.to_parameters(arch)
        nbrs = nb.neighbors(arch)
        assert len(nbrs) == 24 == 6 * 4
        assert len(set(nbrs)) == 24
        assert arch not in nbrs
        assert nb.is_valid_batch(nb.encode_batch(nbrs)).all()
        for n in nbrs:
            q = nb.to_parameters(n)
            assert sum(p[k] != q[k] for k in p) == 1
        # independently: all single-edge substitutions in the op list
        ops = [p[k] for k in nb.parameters]
        expected = {nb_arch(ops[:k] + [o] + ops[k + 1 :]) for k in range(6) for o in NB_OPS if o != ops[k]}
        assert set(nbrs) == expected
        # neighbourhood is symmetric
        assert arch in nb.neighbors(nbrs[rng.randrange(24)])


def _mb_expected_neighbors(mb, arch: str) -> set[str]:
    """All one-decision changes of an MBv3 config, built directly on the OFA config."""
    cfg = json.loads(arch)
    out = set()
    for s in range(5):
        for d in DS:
            if d != cfg["d"][s]:
                out.add(mb.canonical({**cfg, "d": cfg["d"][:s] + [d] + cfg["d"][s + 1 :]}))
    for i in sorted(active_slots(cfg["d"])):
        for key, choices in (("ks", KS), ("e", ES)):
            for v in choices:
                if v != cfg[key][i]:
                    out.add(mb.canonical({**cfg, key: cfg[key][:i] + [v] + cfg[key][i + 1 :]}))
    return out


def test_mbv3_neighbors(mb, mb_samples):
    """Every MBv3 neighbour differs from the original in exactly ONE decision.

    ``to_parameters`` normalises inactive slots to (3, 3), so a depth change can show up as several changed
    keys: ``d{s}`` itself, plus the ks/e of slots that the shallower network no longer uses (reset to 3).
    Slots newly activated by a deeper stage take the normalised (3, 3) and so show no ks/e change. The check:
      * the changed keys that *matter* — ``d*`` keys, and ks/e keys of slots active in both networks —
        are exactly one key, and that key is in ``active_parameters(original)``;
      * every other changed key is a ks/e key of a slot active in the original but inactive in the
        neighbour (the normalisation side effect of lowering one depth), within that depth's stage.
    """
    for arch in mb_samples[:200]:
        p = mb.to_parameters(arch)
        d = [p[f"d{s}"] for s in range(5)]
        act = active_slots(d)
        act_params = set(mb.active_parameters(arch))
        nbrs = mb.neighbors(arch)
        assert len(nbrs) == 2 * 5 + 4 * len(act) == 2 * 5 + 4 * sum(d)
        assert len(set(nbrs)) == len(nbrs)
        assert arch not in nbrs
        assert set(nbrs) == _mb_expected_neighbors(mb, arch)
        # (canonical-ness of every neighbour is implied by the equality with the canonicalised expected set)
        assert mb.is_valid_batch(mb.encode_batch(nbrs)).all()
        for n in nbrs:
            q = mb.to_parameters(n)
            n_act = active_slots([q[f"d{s}"] for s in range(5)])
            changed = {k for k in p if p[k] != q[k]}

            def slot(key: str) -> int:
                return int(key[2:] if key.startswith("ks") else key[1:])

            matters = {k for k in changed if k.startswith("d") or (slot(k) in act and slot(k) in n_act)}
            assert len(matters) == 1, (arch, n, changed)
            (key,) = matters
            assert key in act_params
            side = changed - matters
            if key.startswith("d"):
                s = int(key[1:])
                assert all(slot(k) in act - n_act and slot(k) // 4 == s for k in side)
                assert all(q[k] == 3 for k in side)
                assert act ^ n_act == {4 * s + l for l in range(min(d[s], q[key]), max(d[s], q[key]))}
            else:
                assert not side and act == n_act
    # symmetry for a ks/e change (d changes are not symmetric because inactive slots are normalised)
    for arch in mb_samples[:20]:
        cfg = json.loads(arch)
        flip = dict(cfg, ks=[(7 if k != 7 else 5) if i == 0 else k for i, k in enumerate(cfg["ks"])])
        assert arch in mb.neighbors(flip)


@pytest.mark.parametrize("name", ["nb201", "mbv3"])
def test_mutate(name):
    space = get_space(name)
    archs = space.sample(10, seed=9)
    for i, arch in enumerate(archs):
        nbrs = set(space.neighbors(arch))
        m = space.mutate(arch, seed=i)
        assert m in nbrs
        assert space.mutate(arch, seed=i) == m  # reproducible
        g1, g2 = torch.Generator().manual_seed(i), torch.Generator().manual_seed(i)
        assert [space.mutate(arch, seed=g1) for _ in range(3)] == [space.mutate(arch, seed=g2) for _ in range(3)]
    # over many seeds mutate reaches many different neighbours (it is not constant)
    arch = archs[0]
    seen = {space.mutate(arch, seed=s) for s in range(60)}
    assert seen <= set(space.neighbors(arch))
    assert len(seen) > 10
    # None seed follows torch's global generator
    torch.manual_seed(5)
    a = space.mutate(arch)
    torch.manual_seed(5)
    assert space.mutate(arch) == a


# ============================================================================== sampling
@pytest.mark.parametrize("name", ["nb201", "mbv3"])
def test_sampling_reproducible(name):
    space = get_space(name)
    a = space.sample(50, seed=0)
    assert a == space.sample(50, seed=0)
    assert a != space.sample(50, seed=1)
    assert len(a) == 50 and all(space.canonical(x) == x for x in a)
    assert space.is_valid_batch(space.encode_batch(a)).all()
    # a generator threads one stream: consecutive draws differ, replaying the stream reproduces them
    g = torch.Generator().manual_seed(3)
    first, second = space.sample(20, seed=g), space.sample(20, seed=g)
    assert first != second
    g = torch.Generator().manual_seed(3)
    assert space.sample(20, seed=g) == first and space.sample(20, seed=g) == second
    # None uses torch's global generator
    torch.manual_seed(0)
    b = space.sample(10)
    torch.manual_seed(0)
    assert space.sample(10) == b
    for bad in ("0", 1.5, True):
        with pytest.raises(ValueError, match="seed"):
            space.sample(2, seed=bad)
    # a prefix is not guaranteed, but n samples are n strings from the space
    assert len(space.sample(1, seed=0)) == 1


def test_sample_distinct_enough(nb, mb):
    # 2000 NB201 samples from 15,625: expected ~125 collisions, far from all-equal
    s = nb.sample(2000, seed=2)
    assert 1700 < len(set(s)) < 2000
    # MBv3 is huge: no collisions expected
    m = mb.sample(2000, seed=2)
    assert len(set(m)) == 2000

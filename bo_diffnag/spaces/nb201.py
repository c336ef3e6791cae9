"""NAS-Bench-201 cell space: 6 edges of a 4-node cell, 5 candidate ops each (15,625 architectures)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from bo_diffnag.spaces.base import SearchSpace

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# Cell edges (from, to) in arch-string order; the op-node of edge k is matrix row k + 1.
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
# Decision names match the columns of the benchmark table (`op0_e01` ... `op5_e23`).
EDGE_KEYS = tuple(f"op{k}_e{i}{j}" for k, (i, j) in enumerate(EDGES))
_TOKEN = re.compile(r"([a-z0-9_]+)~([0-9]+)")  # used with fullmatch


def _op_dag() -> Tensor:
    """Adjacency of the 8 op-nodes: input → edges leaving cell node 0; edge (i→j) → edges leaving j;
    edges entering cell node 3 → output."""
    n = len(EDGES) + 2
    adj = torch.zeros(n, n, dtype=torch.bool)
    for k, (i, j) in enumerate(EDGES):
        if i == 0:
            adj[0, k + 1] = True
        if j == 3:
            adj[k + 1, n - 1] = True
        for k2, (i2, _) in enumerate(EDGES):
            if i2 == j:
                adj[k + 1, k2 + 1] = True
    return adj


def _cell_paths() -> tuple[tuple[int, ...], ...]:
    """The cell's node-0 → node-3 paths as the op-node rows of their edges, shortest first."""
    paths = [((i, j), (k + 1,)) for k, (i, j) in enumerate(EDGES) if i == 0]
    done = []
    while paths:
        (_, end), rows = paths.pop(0)
        if end == 3:
            done.append(rows)
            continue
        paths += [((i, j), (*rows, k + 1)) for k, (i, j) in enumerate(EDGES) if i == end]
    return tuple(sorted(done, key=len))


class NB201Space(SearchSpace):
    """NAS-Bench-201 as an 8×7 one-hot matrix (REFERENCE §2).

    Rows: ``input``, the six cell edges in arch-string order (0→1, 0→2, 1→2, 0→3, 1→3, 2→3), ``output``.
    Columns: ``input, output, none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3``. Valid: every
    row exactly one 1, row 0 = input, row 7 = output, edge rows hold one of the five ops. The canonical
    form is the standard arch string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.

    Example:
        >>> space = NB201Space()
        >>> arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
        >>> space.decode(space.encode(arch)) == arch
        True
    """

    name = "nb201"
    op_names = ("input", "output", *OPS)
    node_names = ("input", *(f"edge {i}→{j}" for i, j in EDGES), "output")
    adjacency = _op_dag()
    positions = torch.arange(8).unsqueeze(-1)
    position_sizes = (8,)
    parameters = {key: OPS for key in EDGE_KEYS}
    _INPUT, _OUTPUT, _FIRST_OP = 0, 1, 2

    cell_paths = _cell_paths()
    path_ops = tuple(range(_FIRST_OP, _FIRST_OP + len(OPS)))

    @property
    def cardinality(self) -> int:
        return len(OPS) ** len(EDGES)

    # ------------------------------------------------------------------------------ strings
    def parse(self, arch: Any) -> Tensor:
        if not isinstance(arch, str):
            raise ValueError(f"an NB201 architecture is an arch string, got {type(arch).__name__}")
        groups = arch.split("+")
        if len(groups) != 3:
            raise ValueError(f"malformed NB201 arch string {arch!r}: expected 3 '+'-separated nodes, got {len(groups)}")
        ops = []
        for j, group in enumerate(groups, start=1):
            if not (group.startswith("|") and group.endswith("|")):
                raise ValueError(f"malformed NB201 arch string {arch!r}: node {j} must be enclosed in '|'")
            tokens = group[1:-1].split("|")
            if len(tokens) != j:
                raise ValueError(f"malformed NB201 arch string {arch!r}: node {j} needs {j} inputs, got {len(tokens)}")
            for i, token in enumerate(tokens):
                match = _TOKEN.fullmatch(token)
                if match is None or match.group(2) != str(i):
                    raise ValueError(f"malformed NB201 arch string {arch!r}: expected 'op~{i}' for edge {i}→{j}, got {token!r}")
                op = match.group(1)
                if op not in OPS:
                    raise ValueError(f"unknown NB201 op {op!r} on edge {i}→{j}; expected one of {list(OPS)}")
                ops.append(OPS.index(op))
        # The string lists edges grouped by target node, which is exactly EDGES order.
        return torch.tensor([self._INPUT, *(o + self._FIRST_OP for o in ops), self._OUTPUT])

    def format(self, codes: Tensor) -> str:
        ops = [OPS[c - self._FIRST_OP] for c in codes[1:-1].tolist()]
        return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*ops)

    # ----------------------------------------------------------------------------- validity
    def valid_codes(self, codes: Tensor) -> Tensor:
        return (codes[:, 0] == self._INPUT) & (codes[:, -1] == self._OUTPUT) & (codes[:, 1:-1] >= self._FIRST_OP).all(-1)

    def invalid_reason(self, codes: Tensor) -> str | None:
        names = [("empty" if c < 0 else self.op_names[c]) for c in codes.tolist()]
        for r, c in enumerate(codes.tolist()):
            if c < 0:
                return f"row {r} ({self.node_names[r]}) is empty; every row must have exactly one 1"
        if codes[0] != self._INPUT:
            return f"row 0 must be 'input', got {names[0]!r}"
        if codes[-1] != self._OUTPUT:
            return f"row 7 must be 'output', got {names[-1]!r}"
        for r in range(1, 7):
            if codes[r] < self._FIRST_OP:
                return f"row {r} ({self.node_names[r]}) is {names[r]!r}; edge rows must hold one of {list(OPS)}"
        return None

    # ----------------------------------------------------------------------------- sampling
    def sample_codes(self, n: int, generator: torch.Generator) -> Tensor:
        ops = torch.randint(len(OPS), (n, len(EDGES)), generator=generator) + self._FIRST_OP
        return torch.cat([torch.full((n, 1), self._INPUT), ops, torch.full((n, 1), self._OUTPUT)], dim=1)

    def uniform_factors(self) -> list[tuple[list[int], Tensor]]:
        edge_ops = torch.arange(len(OPS)).unsqueeze(-1) + self._FIRST_OP
        fixed = [([0], torch.tensor([[self._INPUT]])), ([7], torch.tensor([[self._OUTPUT]]))]
        return fixed[:1] + [([k + 1], edge_ops) for k in range(len(EDGES))] + fixed[1:]

    def enumerate(self) -> list[str]:
        """All 15,625 architectures, in lexicographic order of their op indices."""
        return [self.format(c) for c in self.enumerate_codes()]

    def enumerate_codes(self) -> Tensor:
        """Codes ``LongTensor[15625, 8]`` of every architecture (same order as :meth:`enumerate`)."""
        ops = torch.tensor(list(itertools.product(range(len(OPS)), repeat=len(EDGES)))) + self._FIRST_OP
        n = ops.shape[0]
        return torch.cat([torch.full((n, 1), self._INPUT), ops, torch.full((n, 1), self._OUTPUT)], dim=1)

    # --------------------------------------------------------------------------- parameters
    def to_parameters(self, arch: Any) -> dict[str, Any]:
        codes = self.parse(arch)
        return {key: OPS[c - self._FIRST_OP] for key, c in zip(EDGE_KEYS, codes[1:-1].tolist())}

    def from_parameters(self, params: Mapping[str, Any]) -> str:
        self._check_parameters(params)
        codes = torch.tensor([self._INPUT, *(OPS.index(params[k]) + self._FIRST_OP for k in EDGE_KEYS), self._OUTPUT])
        return self.format(codes)

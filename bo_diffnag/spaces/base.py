"""The search-space abstraction shared by every part of bo-diffnag.

An architecture is a matrix ``X ∈ {0,1}^{N×F}``: one row per node of a fixed DAG, a one-hot operation per
row (a row of zeros where the space allows an empty node). Internally an architecture is held as its
*codes*, a ``LongTensor[N]`` with the op index of every row (``-1`` for an empty row); publicly it is its
canonical string, which is hashable, readable and what storage and CLIs print.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from bo_diffnag.seeding import SeedLike, as_generator

EMPTY = -1  # code of an all-zero row


@dataclass(frozen=True)
class Validity:
    """Result of :meth:`SearchSpace.is_valid`: truthy when valid, else ``reason`` says why not."""

    valid: bool
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.valid


class SearchSpace(ABC):
    """A fixed-DAG architecture space with a one-hot-per-node matrix encoding.

    Subclasses define the vocabulary, the DAG, positional information, the canonical string format,
    the validity rule on codes, uniform sampling and the flat parameter view (one entry per decision).

    Attributes:
        name: short name (``"nb201"``, ``"mbv3"``).
        op_names: the vocabulary, one column of the matrix each (``F = len(op_names)``).
        node_names: a readable name per row (``N = len(node_names)``).
        adjacency: ``BoolTensor[N, N]``; ``adjacency[i, j]`` is true when node ``i`` feeds node ``j``.
        positions: ``LongTensor[N, P]``: per-node positional indices (NB201: node index; MBv3: stage and
            layer-in-stage), column ``p`` taking values in ``range(position_sizes[p])``.
        position_sizes: number of distinct values of each positional column.
        parameters: the flat parameter view: decision name → its ordered tuple of choices.
        cell_paths: the cell's input→output paths, each as the encoding rows of its operations, for
            :meth:`path_encoding`; empty for spaces without such a cell.
        path_ops: the encoding columns (operations) a path's rows choose between.
    """

    name: str
    op_names: tuple[str, ...]
    node_names: tuple[str, ...]
    adjacency: Tensor
    positions: Tensor
    position_sizes: tuple[int, ...]
    parameters: dict[str, tuple[Any, ...]]
    cell_paths: tuple[tuple[int, ...], ...] = ()
    path_ops: tuple[int, ...] = ()

    # ----------------------------------------------------------------------------------- shape
    @property
    def num_nodes(self) -> int:
        return len(self.node_names)

    @property
    def num_ops(self) -> int:
        return len(self.op_names)

    @property
    def matrix_shape(self) -> tuple[int, int]:
        return (self.num_nodes, self.num_ops)

    @property
    @abstractmethod
    def cardinality(self) -> int:
        """Number of distinct valid architectures."""

    def surrogate_features(self) -> tuple[Tensor, Tensor] | None:
        """An affine map ``x ↦ x W + b`` from the flat ``[0, 1]`` encoding (``N·F``) to the surrogate's inputs,
        or ``None`` to feed the one-hot encoding itself.

        Spaces whose choices are *ordered* (kernel sizes, widths, depths) return their values here, so a
        surrogate fitted on a few dozen points can share what it learns between neighbouring values, as a
        GP on Ax's ordered parameters does; one-hot columns cannot. The map is linear, so it applies to
        noised encodings too and guidance gradients flow through it.
        """
        return None

    def factor_features(self) -> tuple[Tensor, Tensor] | None:
        """An affine map ``x ↦ x W + b`` from the flat encoding to one one-hot per factor of each node's op (an
        op that is a pair of choices, such as a kernel size and an expand ratio, gives two one-hots), or ``None``
        where ops are not products of choices. A kernel on these features sees two layers that share a kernel
        size as similar, which the op one-hot cannot express (:class:`~bo_diffnag.surrogate.ProxyMeanGP`).
        """
        return None

    def path_encoding(self, x: Tensor) -> Tensor:
        """BANANAS' path encoding (White et al., 2021) of ``[0, 1]``-scale flat encodings ``x[..., N·F]``.

        One feature per path ``p`` of :attr:`cell_paths` and per sequence ``(o_1, …, o_L)`` of
        :attr:`path_ops` along it: ``∏_l x[p_l, o_l]``, i.e. 1 if the architecture's ops on ``p`` are that
        sequence and 0 otherwise. Every valid architecture has exactly one sequence per path. Being
        multilinear in ``x``, the map extends smoothly to relaxed and noised encodings, so a surrogate that
        reads it still gives guidance gradients. Returns ``[..., P]`` with ``P = Σ_p |path_ops|^len(p)``
        (``P = 0`` for a space without :attr:`cell_paths`).

        Example:
            >>> from bo_diffnag.spaces import get_space
            >>> space = get_space("nb201")
            >>> space.path_encoding(space.encode_batch(space.sample(3, seed=0)).flatten(1)).sum(-1)
            tensor([4., 4., 4.])
        """
        ops = x.reshape(*x.shape[:-1], self.num_nodes, self.num_ops)[..., list(self.path_ops)]
        features = []
        for rows in self.cell_paths:
            feature = ops[..., rows[0], :]
            for row in rows[1:]:
                feature = (feature.unsqueeze(-1) * ops[..., row, :].unsqueeze(-2)).flatten(-2)
            features.append(feature)
        return torch.cat(features, -1) if features else x.new_zeros(*x.shape[:-1], 0)

    # ------------------------------------------------------------- space-specific primitives
    @abstractmethod
    def parse(self, arch: Any) -> Tensor:
        """Canonical string (or an equivalent object) → codes ``LongTensor[N]``; ``ValueError`` if malformed."""

    @abstractmethod
    def format(self, codes: Tensor) -> str:
        """Codes of a valid architecture → canonical string."""

    @abstractmethod
    def valid_codes(self, codes: Tensor) -> Tensor:
        """``BoolTensor[B]``: which rows of ``codes[B, N]`` satisfy the space's structural rules."""

    @abstractmethod
    def invalid_reason(self, codes: Tensor) -> str | None:
        """Why the codes ``[N]`` of one well-formed matrix break the space's rules (``None`` if they don't)."""

    @abstractmethod
    def sample_codes(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` uniformly random valid architectures as codes ``LongTensor[n, N]``."""

    @abstractmethod
    def uniform_factors(self) -> list[tuple[list[int], Tensor]]:
        """Blocks of rows over which the uniform distribution on valid architectures factorises.

        Each entry is ``(rows, codes[K, len(rows)])``: the rows and every valid joint setting of them; a
        uniform architecture is one uniform setting per block, drawn independently.
        """

    @abstractmethod
    def to_parameters(self, arch: Any) -> dict[str, Any]:
        """Flat parameter dict, one entry per decision (the view Ax optimises over)."""

    @abstractmethod
    def from_parameters(self, params: Mapping[str, Any]) -> str:
        """Inverse of :meth:`to_parameters`; ``ValueError`` names a missing, unknown or bad entry."""

    def active_parameters(self, arch: Any) -> list[str]:
        """Decisions that change the network when changed (all of them unless a space overrides it)."""
        return list(self.parameters)

    # ------------------------------------------------------------------ generic operations
    def canonical(self, arch: Any) -> str:
        """The canonical string of ``arch`` (validating it on the way)."""
        return self.format(self.parse(arch))

    def encode(self, arch: Any) -> Tensor:
        """Architecture → one-hot matrix ``Tensor[N, F]`` (float; empty rows all zero)."""
        return self.codes_to_matrix(self.parse(arch))

    def encode_batch(self, archs: Sequence[Any]) -> Tensor:
        """Architectures → ``Tensor[B, N, F]``."""
        if len(archs) == 0:
            return torch.zeros(0, *self.matrix_shape)
        return self.codes_to_matrix(torch.stack([self.parse(a) for a in archs]))

    def codes_to_matrix(self, codes: Tensor) -> Tensor:
        """Codes ``[..., N]`` → one-hot ``[..., N, F]``; code ``-1`` gives a zero row."""
        onehot = torch.nn.functional.one_hot(codes.clamp_min(0), self.num_ops).to(torch.get_default_dtype())
        return onehot * (codes >= 0).unsqueeze(-1)

    def matrix_to_codes(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Batched matrix → ``(codes[B, N], valid[B])``.

        A row is well formed when its entries are all 0 or 1 with at most one 1; its code is the index of
        the 1, or ``-1`` for a zero row. A matrix is valid when every row is well formed and the codes
        satisfy :meth:`valid_codes`. Codes of invalid matrices are meaningless.
        """
        self._check_shape(X, batched=True)
        if X.dtype == torch.bool:  # argmax does not support bool tensors
            X = X.to(torch.get_default_dtype())
        binary = ((X == 0) | (X == 1)).all(-1)
        ones = X.sum(-1)
        codes = X.argmax(-1).masked_fill(ones == 0, EMPTY)
        valid = (binary & (ones <= 1)).all(-1) & self.valid_codes(codes)
        return codes, valid

    def is_valid_batch(self, X: Tensor) -> Tensor:
        """``BoolTensor[B]``: validity of each matrix in ``X[B, N, F]``."""
        return self.matrix_to_codes(X)[1]

    def is_valid(self, X: Tensor) -> Validity:
        """Validity of one matrix ``X[N, F]``, with the first broken rule as ``reason``."""
        self._check_shape(X, batched=False)
        for r, row in enumerate(X):
            bad = ~((row == 0) | (row == 1))
            if bad.any():
                c = int(bad.nonzero()[0])
                return Validity(False, f"entry ({r}, {c}) is {row[c].item():g}; entries must be 0 or 1")
            if row.sum() > 1:
                return Validity(
                    False, f"row {r} ({self.node_names[r]}) has {int(row.sum())} ones; at most one is allowed"
                )
        codes, _ = self.matrix_to_codes(X.unsqueeze(0))
        reason = self.invalid_reason(codes[0])
        return Validity(reason is None, reason)

    def decode(self, X: Tensor) -> str:
        """One-hot matrix → canonical string; ``ValueError`` with the reason when ``X`` is invalid."""
        validity = self.is_valid(X)
        if not validity:
            raise ValueError(f"invalid {self.name} matrix: {validity.reason}")
        return self.format(self.matrix_to_codes(X.unsqueeze(0))[0][0])

    def decode_batch(self, X: Tensor) -> list[str | None]:
        """``X[B, N, F]`` → canonical strings, ``None`` where a matrix is invalid."""
        codes, valid = self.matrix_to_codes(X)
        return [self.format(c) if v else None for c, v in zip(codes, valid.tolist())]

    def sample(self, n: int, seed: SeedLike = None) -> list[str]:
        """``n`` uniformly random valid architectures (canonical strings), reproducible for a seed.

        Example:
            >>> from bo_diffnag.spaces import get_space
            >>> get_space("nb201").sample(2, seed=0) == get_space("nb201").sample(2, seed=0)
            True
        """
        return [self.format(c) for c in self.sample_codes(n, as_generator(seed))]

    def neighbors(self, arch: Any) -> list[str]:
        """Every architecture that differs from ``arch`` in exactly one active decision."""
        params = self.to_parameters(arch)
        out = []
        for key in self.active_parameters(arch):
            for value in self.parameters[key]:
                if value != params[key]:
                    out.append(self.from_parameters({**params, key: value}))
        return out

    def mutate(self, arch: Any, seed: SeedLike = None) -> str:
        """A uniformly random neighbour of ``arch`` (one decision changed)."""
        candidates = self.neighbors(arch)
        idx = int(torch.randint(len(candidates), (1,), generator=as_generator(seed)))
        return candidates[idx]

    def _check_shape(self, X: Tensor, batched: bool) -> None:
        if not isinstance(X, Tensor):
            raise ValueError(f"expected a torch.Tensor, got {type(X).__name__}")
        want = ("B", *self.matrix_shape) if batched else self.matrix_shape
        if X.dim() != len(want) or tuple(X.shape[-2:]) != self.matrix_shape:
            raise ValueError(f"expected a {self.name} matrix of shape {want}, got {tuple(X.shape)}")
        if X.isnan().any():
            raise ValueError(f"{self.name} matrix contains NaN")

    def _check_parameters(self, params: Mapping[str, Any]) -> None:
        if not isinstance(params, Mapping):
            raise ValueError(f"parameters must be a mapping, got {type(params).__name__}")
        missing = [k for k in self.parameters if k not in params]
        unknown = [k for k in params if k not in self.parameters]
        if missing or unknown:
            raise ValueError(f"{self.name} parameters: missing {missing}, unknown {unknown}")
        for key, choices in self.parameters.items():
            if params[key] not in choices or isinstance(params[key], bool):
                raise ValueError(f"{self.name} parameter {key}={params[key]!r} is not one of {list(choices)}")

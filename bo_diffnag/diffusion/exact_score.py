"""Closed-form score of a noised finite training distribution.

For training matrices ``c_k`` (mapped to ``[-1, 1]``) with weights ``w_k``, the noised distribution is the
mixture ``p_σ(x) = Σ_k w_k N(x; c_k, σ² I)``, whose score is

    ∇_x log p_σ(x) = (E[c | x] − x) / σ²,   E[c | x] = Σ_k softmax_k(log w_k − ‖x − c_k‖² / 2σ²) c_k.

When the distribution factorises over blocks of rows (NB201 by edge, MBv3 by stage) the score is computed
per block, which keeps the mixtures small. This gives the exact optimum of the denoising score-matching
loss — the floor a learned score network is measured against — and a reference score for the samplers.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from bo_diffnag.spaces import SearchSpace


class ExactScore:
    """Score of ``p_σ`` for a distribution that is a product of finite mixtures over blocks of rows.

    Args:
        blocks: ``(rows, candidates, log_weights)`` per block: the row indices, the block's support as
            ``Tensor[K, len(rows), F]`` in ``[-1, 1]``, and ``log_weights[K]`` (``None`` = uniform).

    Example:
        >>> from bo_diffnag.spaces import get_space
        >>> score = ExactScore.uniform(get_space("nb201"))
        >>> x = torch.zeros(4, 8, 7)
        >>> score(x, torch.full((4,), 1.0)).shape
        torch.Size([4, 8, 7])
    """

    def __init__(self, blocks: Sequence[tuple[Sequence[int], Tensor, Tensor | None]]) -> None:
        self.blocks = []
        for rows, candidates, log_weights in blocks:
            flat = candidates.reshape(candidates.shape[0], -1).to(torch.get_default_dtype())
            if log_weights is None:
                log_weights = torch.zeros(flat.shape[0])
            self.blocks.append((list(rows), flat, log_weights, 0.5 * (flat**2).sum(-1)))

    @classmethod
    def uniform(cls, space: SearchSpace) -> "ExactScore":
        """Exact score of the uniform distribution over all valid architectures of ``space``."""
        return cls([(rows, to_signed(space.codes_to_matrix(codes)), None) for rows, codes in space.uniform_factors()])

    @classmethod
    def empirical(cls, space: SearchSpace, codes: Tensor) -> "ExactScore":
        """Exact score of the uniform distribution over the architectures ``codes[K, N]``."""
        return cls([(range(space.num_nodes), to_signed(space.codes_to_matrix(codes)), None)])

    def denoise(self, x: Tensor, sigma: Tensor) -> Tensor:
        """Posterior mean ``E[x_0 | x_σ = x]``."""
        out = torch.empty_like(x)
        inv_var = (1.0 / sigma**2).view(-1, 1)
        for rows, flat, log_weights, half_sq_norm in self.blocks:
            xb = x[:, rows, :].reshape(x.shape[0], -1)
            logits = log_weights + (xb @ flat.T - half_sq_norm) * inv_var
            out[:, rows, :] = (torch.softmax(logits, dim=-1) @ flat).view(x.shape[0], len(rows), -1)
        return out

    def __call__(self, x: Tensor, sigma: Tensor) -> Tensor:
        return (self.denoise(x, sigma) - x) / sigma.view(-1, 1, 1) ** 2


def to_signed(X: Tensor) -> Tensor:
    """Map a one-hot matrix from ``{0, 1}`` to ``{-1, 1}``, the scale the SDE works on."""
    return 2.0 * X - 1.0


def from_signed(x: Tensor) -> Tensor:
    """Inverse of :func:`to_signed`."""
    return (x + 1.0) / 2.0

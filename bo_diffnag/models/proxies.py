"""Zero-cost proxies polynomial in the one-hot encoding: a network's parameter count (linear), and linear and
pairwise fits of its log-SynFlow score. The surrogate uses one as its members' prior mean
(:class:`~bo_diffnag.surrogate.NoiseAwareEnsemble` ``proxy``), which needs a proxy defined, and
differentiable, on relaxed encodings; a polynomial is.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path

import torch
from torch import Tensor, nn

from bo_diffnag.integrity import IntegrityError, load_payload, save_payload
from bo_diffnag.models.networks import MODELS, OP_PARAMETER_COUNTS, build_model
from bo_diffnag.spaces import get_space

#: Per space: the ``[channels, height, width]`` input of the SynFlow forward pass (the benchmark's image size;
#: MBv3 uses 32 × 32 instead of 224 × 224 to keep the fit under a minute).
SYNFLOW_INPUT_SHAPES: dict[str, tuple[int, int, int]] = {"nb201": (3, 32, 32), "mbv3": (3, 32, 32)}
#: Fits shipped with the package, so that no process pays for them: ``manifest.json`` maps
#: ``"synflow_pairwise/<space>"`` to the file, its sha256, the arguments it was fitted with and the command
#: that rewrites it (:func:`save_synflow_pairwise_fit`).
FITTED_DIR = Path(__file__).resolve().parent / "fitted"
FIT_FORMAT = "bo-diffnag-proxy-fit/1"


def parameter_count_weights(space_name: str) -> tuple[Tensor, float]:
    r"""``(w [N·F], c)`` such that ``build_model(space_name, arch)`` has exactly ``x·w + c`` parameters, ``x`` the
    flattened one-hot encoding of ``arch``.

    Each row's op (an NB201 edge, an MBv3 layer slot) brings its own parameters, so the count is linear in
    the encoding: a zero-cost size measure, available before any training. Computed once per space.

    Example:
        >>> w, c = parameter_count_weights("nb201")
        >>> arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
        >>> int(get_space("nb201").encode(arch).flatten().double() @ w + c)  # CIFAR-10 params_mb: 1.073466
        1073466
    """
    w, c = _parameter_count_weights(space_name)
    return w.clone(), c


@cache
def _parameter_count_weights(space_name: str) -> tuple[Tensor, float]:
    if space_name not in OP_PARAMETER_COUNTS:
        raise ValueError(f"unknown search space {space_name!r}; expected one of {sorted(OP_PARAMETER_COUNTS)}")
    w = OP_PARAMETER_COUNTS[space_name]().flatten()
    # The constant (stem, reductions, head) is what any one network has beyond its rows' ops.
    space = get_space(space_name)
    arch = space.sample(1, seed=0)[0]
    total = sum(p.numel() for p in build_model(space_name, arch).parameters())
    return w, float(total - space.encode(arch).flatten().to(w) @ w)


def synflow(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    r"""SynFlow score (Tanaka et al., 2020) of ``model`` at initialisation, without data.

    With every parameter replaced by its absolute value and batch norm at identity (eval mode, fresh
    statistics), ``R = 1ᵀ f(1)`` is the network's output summed for an all-ones input of ``input_shape``;
    the score is ``Σ_θ θ · ∂R/∂θ``. It measures how much signal flows through the network: a zero-cost proxy
    of trainability that ranks NB201 cells by accuracy better than their size does among the good ones
    (see :func:`synflow_weights`). ``model`` is not modified (a float64 copy is scored).

    For a bias-free chain of ``L`` linear layers ``R`` is homogeneous of degree 1 in each layer, so the score
    is ``L · R``.

    Example:
        >>> net = nn.Sequential(nn.Linear(3, 4, bias=False), nn.Linear(4, 2, bias=False))
        >>> with torch.no_grad():
        ...     _ = net[0].weight.fill_(-1.0), net[1].weight.fill_(0.5)
        >>> synflow(net, (3,))  # R = 2 · 4 · 3 · 0.5 · 1 = 12 (times depth 2)
        24.0
    """
    return _synflow_in_place(copy.deepcopy(model), input_shape)


def _synflow_in_place(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    """:func:`synflow` scoring ``model`` itself (left in float64, with absolute weights and gradients): for a
    network built only to be scored, which spares the copy (half the cost of scoring an NB201 network)."""
    model.double().eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.abs_()
    model.zero_grad(set_to_none=True)
    model(torch.ones(1, *input_shape, dtype=torch.double)).sum().backward()
    return float(sum((p * p.grad).sum() for p in model.parameters() if p.grad is not None).detach())


def architecture_synflow(space_name: str, arch: str, seed: int = 0) -> float:
    """:func:`synflow` of ``arch``'s network (:func:`build_model`) at :data:`SYNFLOW_INPUT_SHAPES`, initialised
    with ``seed`` (without touching the global random state), as :func:`synflow_weights` scores it.

    Example:
        >>> cell = "|{}~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
        >>> architecture_synflow("nb201", cell.format("nor_conv_3x3")) > architecture_synflow("nb201", cell.format("none"))
        True
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build_model(space_name, arch)
    return _synflow_in_place(model, SYNFLOW_INPUT_SHAPES[space_name])


def synflow_weights(space_name: str, num_archs: int = 256, seed: int = 0) -> tuple[Tensor, float]:
    r"""``(w [N·F], c)``: the least-squares fit ``log S(arch) ≈ x·w + c`` of the log-SynFlow score
    (:func:`synflow`, on the space's network at :data:`SYNFLOW_INPUT_SHAPES`) over ``num_archs`` uniformly
    sampled architectures, ``x`` the flattened one-hot encoding. ``seed`` draws the architectures and
    initialises every network (the same initialisation for each, so the scores differ only by architecture).

    SynFlow is not linear in the encoding, but its logarithm nearly is on NB201 (R² 0.78 on held-out cells;
    0.92 with pairwise terms, :func:`synflow_pairwise_weights`).
    Unlike the parameter count, which only sees each edge's op, the fit weighs an op by the edge it sits on:
    ``none`` on the first or last edge of the cell's main path cuts most of the signal and is penalised
    hardest. Over all 15,625 NB201 cells its rank correlation with validation accuracy is about the size's
    (0.69–0.72 vs 0.68–0.73) and higher among the best 20 % (CIFAR-10 0.28 vs 0.24, CIFAR-100 0.40 vs 0.37,
    ImageNet16-120 0.34 vs 0.28). On MBv3 SynFlow ranks subnets worse than the parameter count (0.39 vs 0.66
    over 300 random subnets). Measured by ``benchmarks/bench_proxies.py`` (``benchmarks/results/proxies.md``).
    NB201's default fit takes about 15 s on 2 cores; cached per process.

    Example:
        >>> w, c = synflow_weights("nb201", num_archs=64)
        >>> w.shape
        torch.Size([56])
    """
    w, c = _synflow_weights(space_name, num_archs, seed)
    return w.clone(), c


@cache
def _synflow_weights(space_name: str, num_archs: int, seed: int) -> tuple[Tensor, float]:
    X, log_scores = _log_synflow_sample(space_name, num_archs, seed)
    design = torch.cat([X, torch.ones(len(X), 1, dtype=X.dtype)], dim=1)
    # gelsd: the one-hot columns of each row sum to 1, so the design is rank-deficient; take the minimum-norm fit.
    solution = torch.linalg.lstsq(design, log_scores.unsqueeze(-1), driver="gelsd").solution.squeeze(-1)
    return solution[:-1], float(solution[-1])


@cache
def _log_synflow_sample(space_name: str, num_archs: int, seed: int) -> tuple[Tensor, Tensor]:
    """``(X [num_archs, N·F], log S [num_archs])`` of ``num_archs`` architectures sampled with ``seed``."""
    if space_name not in MODELS:
        raise ValueError(f"unknown search space {space_name!r}; expected one of {sorted(MODELS)}")
    space = get_space(space_name)
    archs = space.sample(num_archs, seed=seed)
    scores = torch.tensor([architecture_synflow(space_name, a, seed) for a in archs], dtype=torch.double)
    return space.encode_batch(archs).flatten(1).double(), scores.log()


def pairwise_mask(num_rows: int, num_features: int) -> Tensor:
    """``[N·F, N·F]`` boolean mask of the pairs ``(i·F + a, j·F + b)`` with rows ``i < j``: the entries of a
    quadratic form in a flattened one-hot encoding that couple two different rows' choices."""
    rows = torch.arange(num_rows).repeat_interleave(num_features)
    return rows.unsqueeze(1) < rows.unsqueeze(0)


def synflow_pairwise_weights(
    space_name: str, num_archs: int = 600, seed: int = 0, ridge: float = 1.0
) -> tuple[Tensor, Tensor, float]:
    r"""``(w [N·F], Q [N·F, N·F], c)``: the ridge fit ``log S(arch) ≈ x·w + xᵀQx + c`` of the log-SynFlow score
    over ``num_archs`` sampled architectures (as :func:`synflow_weights`), with ``Q`` non-zero only between
    different rows (:func:`pairwise_mask`) and an L2 penalty ``ridge`` on every coefficient but ``c``.

    The pairwise terms capture what a linear fit cannot: an op's effect depends on the ops on the edges
    it is chained with (a convolution after a ``none`` edge passes no signal). Still a polynomial, so it is
    defined and differentiable on relaxed encodings. The fit takes about 35 s on 2 cores; NB201's default one
    is shipped (:data:`FITTED_DIR`, checked against its sha256; a damaged file is refitted with a warning) and
    every fit is cached per process.

    Example:
        >>> w, Q, c = synflow_pairwise_weights("nb201", num_archs=64)
        >>> w.shape, Q.shape
        (torch.Size([56]), torch.Size([56, 56]))
    """
    w, Q, c = _synflow_pairwise_weights(space_name, num_archs, seed, ridge)
    return w.clone(), Q.clone(), c


@cache
def _synflow_pairwise_weights(space_name: str, num_archs: int, seed: int, ridge: float) -> tuple[Tensor, Tensor, float]:
    shipped = _shipped_pairwise_fit(space_name, num_archs, seed, ridge)
    return shipped if shipped is not None else _fit_synflow_pairwise(space_name, num_archs, seed, ridge)


def _shipped_pairwise_fit(
    space_name: str, num_archs: int, seed: int, ridge: float
) -> tuple[Tensor, Tensor, float] | None:
    """The shipped fit for these arguments, or ``None`` (none shipped, or the file is damaged: warned)."""
    manifest_path = FITTED_DIR / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    entry = manifest.get(f"synflow_pairwise/{space_name}")
    if entry is None or (entry["num_archs"], entry["seed"], entry["ridge"]) != (num_archs, seed, ridge):
        return None
    path = FITTED_DIR / entry["file"]
    try:
        payload = load_payload(path, FIT_FORMAT, "proxy fit", entry["sha256"])
    except IntegrityError as err:
        warnings.warn(f"shipped {err}; refitting it (about 35 s). Reinstall bo-diffnag to restore the file.", stacklevel=4)
        return None
    return payload["w"], payload["Q"], float(payload["c"])


def save_synflow_pairwise_fit(
    space_name: str, path: str | os.PathLike, num_archs: int = 600, seed: int = 0, ridge: float = 1.0
) -> str:
    """Fit :func:`synflow_pairwise_weights` afresh and write it to ``path`` (atomically); returns its sha256, the
    value :data:`FITTED_DIR`'s manifest records for a shipped fit."""
    w, Q, c = _fit_synflow_pairwise(space_name, num_archs, seed, ridge)
    settings = {"space": space_name, "num_archs": num_archs, "seed": seed, "ridge": ridge}
    return save_payload({**settings, "w": w, "Q": Q, "c": c}, path, FIT_FORMAT)


def _fit_synflow_pairwise(space_name: str, num_archs: int, seed: int, ridge: float) -> tuple[Tensor, Tensor, float]:
    X, log_scores = _log_synflow_sample(space_name, num_archs, seed)
    space = get_space(space_name)
    mask = pairwise_mask(*space.matrix_shape)
    design = torch.cat([X, (X.unsqueeze(2) * X.unsqueeze(1))[:, mask], torch.ones(len(X), 1, dtype=X.dtype)], dim=1)
    penalty = torch.full((design.shape[1],), ridge, dtype=X.dtype)
    penalty[-1] = 0.0
    solution = torch.linalg.solve(design.T @ design + torch.diag(penalty), design.T @ log_scores)
    d = X.shape[1]
    Q = torch.zeros(d, d, dtype=X.dtype)
    Q[mask] = solution[d:-1]
    return solution[:d], Q, float(solution[-1])


def proxy_value(x: Tensor, proxy: Tensor | tuple[Tensor, Tensor]) -> Tensor:
    r"""A polynomial proxy on ``[..., N·F]`` encodings: ``x·w`` for ``proxy = w``, ``x·w + xᵀQx`` for
    ``proxy = (w, Q)`` (the forms of :data:`PROXIES`; ``x`` may be relaxed, e.g. a denoised estimate).

    Example:
        >>> proxy_value(torch.tensor([1.0, 1.0]), (torch.tensor([1.0, 2.0]), torch.tensor([[0.0, 3.0], [0.0, 0.0]])))
        tensor(6.)
    """
    weights, pairwise = proxy if isinstance(proxy, tuple) else (proxy, None)
    value = x @ weights.to(x)
    if pairwise is not None:
        value = value + ((x @ pairwise.to(x)) * x).sum(-1)
    return value


#: Zero-cost proxies by name: ``name → (space_name → proxy)``, the proxy as
#: :class:`~bo_diffnag.surrogate.NoiseAwareEnsemble` takes it (``w`` or ``(w, Q)``; constants dropped).
PROXIES: dict[str, Callable[[str], Tensor | tuple[Tensor, Tensor]]] = {
    "params": lambda space_name: parameter_count_weights(space_name)[0],
    "synflow": lambda space_name: synflow_weights(space_name)[0],
    "synflow_pairwise": lambda space_name: synflow_pairwise_weights(space_name)[:2],
}

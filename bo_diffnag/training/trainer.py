"""Training one architecture on an :class:`~bo_diffnag.training.data.ImageDataset`: the expensive objective.

A trial either returns a :class:`TrainingResult` or raises a :class:`TrialFailed` (diverged, or out of
time), which a search loop records as a failed trial rather than a score.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from bo_diffnag.models import build_model
from bo_diffnag.spaces import get_space
from bo_diffnag.training.data import ImageDataset, Split

EVAL_BATCH_SIZE = 1024


class TrialFailed(RuntimeError):
    """A training trial produced no score; the caller marks the trial failed."""


class TrainingDiverged(TrialFailed):
    """The training loss became NaN or infinite."""


class TrainingTimeout(TrialFailed):
    """Training ran past the recipe's ``time_budget_s``."""


@dataclass(frozen=True)
class TrainingRecipe:
    """How to train a network. The defaults are NAS-Bench-201's recipe (SGD, Nesterov, lr 0.1, weight decay
    5e-4, batch 256, cosine decay) shortened from 200 to 10 epochs.

    Attributes:
        optimizer: ``"sgd"`` (momentum, optionally Nesterov) or ``"adamw"``; either follows a cosine learning-rate
            decay to zero over all steps.
        lr: peak learning rate.
        momentum, nesterov: SGD momentum settings (ignored by AdamW).
        weight_decay: L2 penalty (SGD) or decoupled weight decay (AdamW).
        epochs: passes over the training split.
        batch_size: training batch size (the last, smaller batch of an epoch is kept).
        label_smoothing: cross-entropy label smoothing.
        grad_clip: maximum gradient norm, or ``None`` for no clipping.
        seed: seeds the weight initialisation (in :func:`evaluate_architecture`) and the batch order.
        time_budget_s: wall-clock limit of the training loop, checked between batches; ``None`` for none.
        device: ``"auto"`` (CUDA when available, else CPU), or any ``torch.device`` string.
        channels_last: run in the channels-last memory format (NHWC). On CPU the depthwise convolutions of
            MobileNetV3 train several times faster this way; NB201's dense convolutions are unaffected.
        num_threads: CPU threads for torch during training (restored afterwards); ``None`` leaves torch's setting.

    Example:
        >>> TrainingRecipe(epochs=3, lr=0.1).optimizer
        'sgd'
    """

    optimizer: Literal["sgd", "adamw"] = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    epochs: int = 10
    batch_size: int = 256
    label_smoothing: float = 0.0
    grad_clip: float | None = 5.0
    seed: int = 0
    time_budget_s: float | None = None
    device: str = "auto"
    channels_last: bool = True
    num_threads: int | None = None

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {self.optimizer!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be at least 1, got {self.epochs} and {self.batch_size}")
        if self.weight_decay < 0 or not 0 <= self.momentum < 1 or not 0 <= self.label_smoothing < 1:
            raise ValueError("weight_decay must be >= 0, momentum and label_smoothing in [0, 1)")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be positive or None, got {self.grad_clip}")
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise ValueError(f"time_budget_s must be positive or None, got {self.time_budget_s}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError(f"num_threads must be at least 1 or None, got {self.num_threads}")

    def resolved_device(self) -> torch.device:
        """The device to train on (``"auto"`` → CUDA if available, else CPU)."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)


@dataclass
class TrainingResult:
    """Outcome of one training run (accuracies in %).

    Attributes:
        val_accuracy: accuracy on the validation split after the last epoch (what a search optimises).
        test_accuracy: accuracy on the test split (what gets reported).
        train_loss: mean training loss of every epoch.
        epochs: epochs completed.
        seconds: wall-clock time of training and evaluation.
        params: trainable parameters of the network.
    """

    val_accuracy: float
    test_accuracy: float
    train_loss: list[float] = field(default_factory=list)
    epochs: int = 0
    seconds: float = 0.0
    params: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _optimizer(model: nn.Module, recipe: TrainingRecipe) -> torch.optim.Optimizer:
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(),
            lr=recipe.lr,
            momentum=recipe.momentum,
            nesterov=recipe.nesterov and recipe.momentum > 0,  # torch refuses Nesterov without momentum
            weight_decay=recipe.weight_decay,
        )
    return torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)


@torch.no_grad()
def accuracy(
    model: nn.Module, split: Split, device: torch.device, memory_format: torch.memory_format = torch.contiguous_format
) -> float:
    """Top-1 accuracy (%) of ``model`` on ``split``, in eval mode (batch norm uses its running statistics)."""
    model.eval()
    correct = 0
    for start in range(0, len(split), EVAL_BATCH_SIZE):
        X = split.X[start : start + EVAL_BATCH_SIZE].to(device, memory_format=memory_format)
        y = split.y[start : start + EVAL_BATCH_SIZE].to(device)
        correct += int((model(X).argmax(-1) == y).sum())
    return 100.0 * correct / max(len(split), 1)


def train_and_evaluate(model: nn.Module, data: ImageDataset, recipe: TrainingRecipe) -> TrainingResult:
    """Train ``model`` on ``data.train`` with ``recipe``, then measure its validation and test accuracy.

    The batch order is drawn from a generator seeded with ``recipe.seed``; the weights are used as given
    (see :func:`evaluate_architecture` for seeded initialisation). The model is moved to the recipe's device.

    Raises:
        TrainingDiverged: a batch loss is NaN or infinite.
        TrainingTimeout: the training loop passed ``recipe.time_budget_s``.

    Example:
        >>> from bo_diffnag.models import build_model
        >>> from bo_diffnag.training.data import load_digits_task
        >>> data = load_digits_task()
        >>> net = build_model("nb201", "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
        ...                   channels=8, cells_per_stage=1, in_channels=1)
        >>> train_and_evaluate(net, data, TrainingRecipe(epochs=1)).epochs
        1
    """
    previous_threads = torch.get_num_threads()
    if recipe.num_threads is not None:
        torch.set_num_threads(recipe.num_threads)
    try:
        return _train(model, data, recipe)
    finally:
        if recipe.num_threads is not None:
            torch.set_num_threads(previous_threads)


def _train(model: nn.Module, data: ImageDataset, recipe: TrainingRecipe) -> TrainingResult:
    start = time.perf_counter()
    device = recipe.resolved_device()
    memory_format = torch.channels_last if recipe.channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format)
    # The tasks are small: keeping the training split on the device avoids a copy per batch.
    X, y = data.train.X.to(device, memory_format=memory_format), data.train.y.to(device)
    n = len(y)
    steps_per_epoch = math.ceil(n / recipe.batch_size)
    optimizer = _optimizer(model, recipe)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=recipe.epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    generator = torch.Generator().manual_seed(recipe.seed)
    history: list[float] = []
    for epoch in range(recipe.epochs):
        model.train()
        order = torch.randperm(n, generator=generator).to(device)
        total = torch.zeros((), device=device)
        for step in range(steps_per_epoch):
            batch = order[step * recipe.batch_size : (step + 1) * recipe.batch_size]
            loss = loss_fn(model(X[batch]), y[batch])
            if not torch.isfinite(loss):
                raise TrainingDiverged(f"training loss became {loss.item()} at epoch {epoch + 1}, step {step + 1}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if recipe.grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
            optimizer.step()
            schedule.step()
            total += loss.detach() * len(batch)
            elapsed = time.perf_counter() - start
            if recipe.time_budget_s is not None and elapsed > recipe.time_budget_s:
                raise TrainingTimeout(
                    f"training exceeded its time budget of {recipe.time_budget_s:g} s "
                    f"({elapsed:.2f} s at epoch {epoch + 1}, step {step + 1})"
                )
        history.append(total.item() / n)
    return TrainingResult(
        val_accuracy=accuracy(model, data.val, device, memory_format),
        test_accuracy=accuracy(model, data.test, device, memory_format),
        train_loss=history,
        epochs=recipe.epochs,
        seconds=time.perf_counter() - start,
        params=count_parameters(model),
    )


def evaluate_architecture(
    space_name: str,
    arch: str | Mapping[str, Any],
    data: ImageDataset,
    recipe: TrainingRecipe | None = None,
    model_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the network of ``arch`` with weights seeded by ``recipe.seed``, train it on ``data`` and score it.

    ``in_channels`` and ``num_classes`` come from ``data``; ``model_options`` adds the network's other options
    (e.g. :data:`DIGITS_MODEL_OPTIONS` ``[space_name]``). The global torch random state is left untouched.

    Returns:
        A dict like a benchmark result: ``arch`` (canonical string), ``objective`` (validation accuracy, %),
        ``test`` (test accuracy, %), ``train_loss`` (last epoch's), ``epochs``, ``seconds``, ``params``.

    Raises:
        TrialFailed: training diverged or ran out of time.
        ValueError: a malformed architecture, or ``model_options`` that set ``in_channels``/``num_classes``.

    Example:
        >>> from bo_diffnag.training.data import load_digits_task
        >>> out = evaluate_architecture("nb201", "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
        ...                             load_digits_task(), DIGITS_RECIPE, DIGITS_MODEL_OPTIONS["nb201"])
        >>> out["objective"] > 90
        True
    """
    recipe = recipe or TrainingRecipe()
    options = dict(model_options or {})
    clash = sorted({"in_channels", "num_classes"} & set(options))
    if clash:
        raise ValueError(f"model_options must not set {clash}: they come from the dataset")
    canonical = get_space(space_name).canonical(arch)
    # Seed the initialisation without disturbing the caller's global random stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        model = build_model(
            space_name, canonical, in_channels=data.in_channels, num_classes=data.num_classes, **options
        )
    result = train_and_evaluate(model, data, recipe)
    return {
        "arch": canonical,
        "objective": result.val_accuracy,
        "test": result.test_accuracy,
        "train_loss": result.train_loss[-1],
        "epochs": result.epochs,
        "seconds": result.seconds,
        "params": result.params,
    }


# Small networks and a short recipe for the digits task (load_digits_task), measured on one CPU thread:
# NB201 about 0.5-2.5 s per trial at 98-99 % validation accuracy, MBv3 about 6-7 s at 92-96 %.
DIGITS_MODEL_OPTIONS: dict[str, dict[str, Any]] = {
    "nb201": {"channels": 8, "cells_per_stage": 1},
    # OFA downsamples 32×; on 8×8 inputs keep stages 1-2 at 8×8 and 4×4 (the rest at 2×2) instead of 1×1.
    "mbv3": {"width_mult": 0.25, "stem_stride": 1, "stage_strides": (1, 2, 2, 1, 1)},
}
# AdamW: SGD at the same budget left the 20-layer MBv3 nets underfit (70-85 % validation accuracy).
DIGITS_RECIPE = TrainingRecipe(optimizer="adamw", lr=0.005, weight_decay=0.01, epochs=6, batch_size=64)

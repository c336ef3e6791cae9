"""A training task as a benchmark-style evaluation function: architecture in, trained accuracies out.

:class:`TrainingTask` is a small picklable callable, so the same object runs inline, in a local worker
process or as a Ray task. :func:`get_training_task` resolves the task names the CLI accepts.

Example:
    >>> task = digits_task("nb201", epochs=1)
    >>> task("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")["objective"] > 20
    True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bo_diffnag.training.data import ImageDataset, from_arrays, from_image_folder, load_digits_task
from bo_diffnag.training.trainer import DIGITS_MODEL_OPTIONS, DIGITS_RECIPE, TrainingRecipe, evaluate_architecture

#: ``--benchmark`` forms that train networks: the embedded digits task and user data.
TASK_FORMS = ("digits", "images:FOLDER", "arrays:FILE.npz")


@dataclass(frozen=True)
class TrainingTask:
    """Train ``space`` architectures on ``data`` with ``recipe``; calling it returns
    ``{"arch", "objective": validation accuracy %, "test": test accuracy %, "seconds", "params", ...}``.

    Raises :class:`~bo_diffnag.training.TrialFailed` when training diverges or exceeds
    ``recipe.time_budget_s``: the caller records a failed trial.
    """

    space: str
    data: ImageDataset
    recipe: TrainingRecipe = DIGITS_RECIPE
    model_options: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, arch: Any) -> dict[str, Any]:
        return evaluate_architecture(self.space, arch, self.data, self.recipe, self.model_options)


def digits_task(
    space: str, seed: int = 0, epochs: int | None = None, time_budget_s: float | None = None
) -> TrainingTask:
    """The embedded task: scikit-learn's 1,797 8×8 handwritten digits (no download), small networks
    (:data:`DIGITS_MODEL_OPTIONS`) and a short AdamW recipe (:data:`DIGITS_RECIPE`); seconds per trial on a CPU.
    """
    recipe = _recipe(DIGITS_RECIPE, seed, epochs, time_budget_s)
    return TrainingTask(space, load_digits_task(seed=0), recipe, DIGITS_MODEL_OPTIONS[space])


def get_training_task(
    name: str,
    space: str,
    seed: int = 0,
    epochs: int | None = None,
    time_budget_s: float | None = None,
    image_size: int = 32,
) -> TrainingTask:
    """The task called ``name``: ``"digits"``, ``"images:FOLDER"`` (a ``FOLDER/class/*.png`` tree, resized to
    ``image_size``) or ``"arrays:FILE.npz"`` (arrays ``X`` ``[N, H, W]`` or ``[N, C, H, W]`` and labels ``y``).

    User data uses the digits networks and recipe; ``ValueError`` for an unknown name or unreadable data.
    """
    if name == "digits":
        return digits_task(space, seed, epochs, time_budget_s)
    kind, _, path = name.partition(":")
    if kind == "images" and path:
        data = from_image_folder(path, image_size=image_size, seed=0)
    elif kind == "arrays" and path:
        data = _load_npz(Path(path))
    else:
        raise ValueError(f"unknown training task {name!r}; expected one of {list(TASK_FORMS)}")
    recipe = _recipe(DIGITS_RECIPE, seed, epochs, time_budget_s)
    return TrainingTask(space, data, recipe, DIGITS_MODEL_OPTIONS[space])


def is_training_task(name: str) -> bool:
    """Whether ``name`` is one of :data:`TASK_FORMS` (rather than a table benchmark)."""
    return name == "digits" or name.partition(":")[0] in ("images", "arrays")


def _recipe(base: TrainingRecipe, seed: int, epochs: int | None, time_budget_s: float | None) -> TrainingRecipe:
    return replace(base, seed=seed, epochs=base.epochs if epochs is None else epochs, time_budget_s=time_budget_s)


def _load_npz(path: Path) -> ImageDataset:
    if not path.is_file():
        raise ValueError(f"arrays file {os.fspath(path)!r} not found")
    with np.load(path, allow_pickle=False) as arrays:
        missing = [key for key in ("X", "y") if key not in arrays]
        if missing:
            raise ValueError(f"{os.fspath(path)!r} lacks arrays {missing}; expected X and y")
        return from_arrays(arrays["X"], arrays["y"], seed=0, name=path.stem)

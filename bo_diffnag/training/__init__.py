"""Training architectures for real: small image tasks, a seeded trainer, and failure signals for the search."""

from bo_diffnag.training.data import (
    ImageDataset,
    Split,
    from_arrays,
    from_image_folder,
    load_digits_task,
    stratified_split,
)
from bo_diffnag.training.trainer import (
    DIGITS_MODEL_OPTIONS,
    DIGITS_RECIPE,
    TrainingDiverged,
    TrainingRecipe,
    TrainingResult,
    TrainingTimeout,
    TrialFailed,
    evaluate_architecture,
    train_and_evaluate,
)

__all__ = [
    "DIGITS_MODEL_OPTIONS",
    "DIGITS_RECIPE",
    "ImageDataset",
    "Split",
    "TrainingDiverged",
    "TrainingRecipe",
    "TrainingResult",
    "TrainingTimeout",
    "TrialFailed",
    "evaluate_architecture",
    "from_arrays",
    "from_image_folder",
    "load_digits_task",
    "stratified_split",
    "train_and_evaluate",
]

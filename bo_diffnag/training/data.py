"""Small image-classification tasks held in memory as train/validation/test tensors.

Every loader returns an :class:`ImageDataset`: images ``float32 [N, C, H, W]``, labels ``int64 [N]`` in
``0..num_classes-1``, split per class in the proportions ``fractions`` (stratified) by a seeded shuffle, so
the same seed always gives the same split.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

DEFAULT_FRACTIONS = (0.6, 0.2, 0.2)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    """One split: images ``X`` (``float32 [N, C, H, W]``) and labels ``y`` (``int64 [N]``)."""

    X: Tensor
    y: Tensor

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class ImageDataset:
    """A classification task split into ``train``, ``val`` (what a search optimises) and ``test`` (reported).

    Attributes:
        train, val, test: the three splits.
        classes: the class names; label ``k`` means ``classes[k]``.
        name: a short description, e.g. ``"digits"``.

    Example:
        >>> data = load_digits_task(seed=0)
        >>> (len(data.train), len(data.val), len(data.test)), data.image_shape, data.num_classes
        ((1079, 359, 359), (1, 8, 8), 10)
    """

    train: Split
    val: Split
    test: Split
    classes: tuple[str, ...]
    name: str = "images"

    def __post_init__(self) -> None:
        shapes = {tuple(split.X.shape[1:]) for split in (self.train, self.val, self.test)}
        if len(shapes) != 1:
            raise ValueError(f"all splits must hold images of one shape, got {sorted(shapes)}")
        for name in SPLITS:
            split = getattr(self, name)
            if split.X.dim() != 4 or split.X.shape[0] != len(split.y):
                raise ValueError(
                    f"{name} split: expected X [N, C, H, W] and y [N], "
                    f"got {tuple(split.X.shape)} and {tuple(split.y.shape)}"
                )
            if len(split.y) and not 0 <= int(split.y.min()) <= int(split.y.max()) < len(self.classes):
                raise ValueError(f"{name} split: labels must lie in 0..{len(self.classes) - 1}")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of every image."""
        return tuple(self.train.X.shape[1:])

    @property
    def in_channels(self) -> int:
        return self.image_shape[0]


def stratified_split(
    y: np.ndarray, fractions: Sequence[float] = DEFAULT_FRACTIONS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of a seeded stratified train/val/test split of the labels ``y``.

    Each class is shuffled and cut so that its val and test shares are ``round(n_class · fraction)``; the
    rest goes to train. Indices are sorted within each split.

    Example:
        >>> [len(ix) for ix in stratified_split(np.repeat([0, 1], 10), (0.6, 0.2, 0.2), seed=0)]
        [12, 4, 4]
    """
    fractions = _check_fractions(fractions)
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_val, n_test = (int(round(len(idx) * f)) for f in fractions[1:])
        cut = len(idx) - n_val - n_test
        for part, chunk in zip(parts, (idx[:cut], idx[cut : cut + n_val], idx[cut + n_val :])):
            part.append(chunk)
    out = tuple(np.sort(np.concatenate(p)) for p in parts)
    for name, ix in zip(SPLITS, out):
        if len(ix) == 0:
            raise ValueError(f"the {name} split is empty: {len(y)} examples are too few for fractions {fractions}")
    return out


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    values = tuple(float(f) for f in fractions)
    if len(values) != 3 or any(not f > 0 for f in values) or abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(
            f"fractions must be three positive numbers (train, val, test) summing to 1, got {list(fractions)}"
        )
    return values


def _dataset(
    X: np.ndarray, labels: np.ndarray, classes: Sequence[Any], seed: int, fractions: Sequence[float], name: str
) -> ImageDataset:
    """Split the checked arrays ``X [N, C, H, W]`` and ``labels [N]`` (class indices) into an :class:`ImageDataset`."""
    X_t = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    y_t = torch.from_numpy(labels.astype(np.int64))
    splits = [Split(X_t[ix], y_t[ix]) for ix in stratified_split(labels, fractions, seed)]
    return ImageDataset(*splits, classes=tuple(str(c) for c in classes), name=name)


def load_digits_task(seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> ImageDataset:
    """scikit-learn's handwritten digits (1,797 grey 8×8 images, 10 classes), pixels scaled to ``[0, 1]``.

    A tiny real task on which a network trains in seconds on one CPU core: a stand-in for CIFAR when
    checking that a search finds better architectures by actually training them. Needs scikit-learn.

    Example:
        >>> load_digits_task(seed=0).train.X.shape
        torch.Size([1079, 1, 8, 8])
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # scikit-learn is only needed for this task
        raise ImportError("load_digits_task needs scikit-learn: pip install scikit-learn") from err
    digits = load_digits()
    X = digits.images[:, None, :, :] / 16.0  # pixel values are integers 0..16
    return _dataset(X, digits.target, range(10), seed, fractions, name="digits")


def from_arrays(
    X: np.ndarray, y: np.ndarray, seed: int = 0, fractions: Sequence[float] = DEFAULT_FRACTIONS, name: str = "arrays"
) -> ImageDataset:
    """An :class:`ImageDataset` from in-memory images and labels.

    Args:
        X: images ``[N, H, W]`` (one channel) or ``[N, C, H, W]``, any real numeric dtype; ``uint8`` is divided
            by 255, other dtypes are used as given.
        y: ``N`` labels of any sortable type (ints, strings); classes are the sorted distinct labels.
        seed: seed of the stratified split.
        fractions: train, val and test shares.

    Raises:
        ValueError: wrong dimensions, mismatched lengths, non-numeric or non-finite images, fewer than two
            classes, or splits that would be empty.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> data = from_arrays(rng.random((30, 5, 5)), np.repeat(["cat", "dog", "owl"], 10))
        >>> data.classes, data.image_shape
        (('cat', 'dog', 'owl'), (1, 5, 5))
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 3:
        X = X[:, None]
    if X.ndim != 4:
        raise ValueError(f"X must have shape [N, H, W] or [N, C, H, W], got shape {X.shape}")
    if min(X.shape[1:]) < 1:
        raise ValueError(f"images must have at least one channel and pixel, got X shape {X.shape}")
    if X.dtype == np.bool_ or not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)):
        raise ValueError(f"X must hold real numbers (integer or float dtype), got dtype {X.dtype}")
    if y.ndim != 1:
        raise ValueError(f"y must be one-dimensional [N], got shape {y.shape}")
    if len(X) != len(y):
        raise ValueError(f"X holds {len(X)} images but y holds {len(y)} labels")
    if np.issubdtype(X.dtype, np.floating):
        bad = ~np.isfinite(X)
        if bad.any():
            first = int(np.flatnonzero(bad.reshape(len(X), -1).any(1))[0])
            raise ValueError(f"X contains {int(bad.sum())} NaN or infinite values (first in image {first})")
    if X.dtype == np.uint8:
        X = X / 255.0
    classes, labels = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"y must hold at least two classes, got {len(classes)}")
    return _dataset(X, labels.reshape(-1), classes.tolist(), seed, fractions, name)


def from_image_folder(
    path: str | os.PathLike,
    image_size: int | tuple[int, int],
    seed: int = 0,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    grayscale: bool = False,
) -> ImageDataset:
    """An :class:`ImageDataset` from a folder ``path/<class name>/<image>.png|jpg|jpeg`` (torchvision layout).

    Classes are the sorted subfolder names. Every image is converted to RGB (or to one grey channel with
    ``grayscale=True``), resized to ``image_size`` (``int`` for square, or ``(height, width)``) bilinearly and
    scaled to ``[0, 1]``. Needs Pillow.

    Raises:
        FileNotFoundError: ``path`` does not exist or is not a folder.
        ValueError: no class subfolders, a class folder without images, an unreadable image, or too few images
            for the split.

    Example:
        >>> data = from_image_folder("my_images", image_size=32)  # doctest: +SKIP
        >>> data.image_shape  # doctest: +SKIP
        (3, 32, 32)
    """
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as err:  # Pillow is only needed for image folders
        raise ImportError("from_image_folder needs Pillow: pip install pillow") from err
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {str(root)!r} does not exist or is not a directory")
    height, width = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if height < 1 or width < 1:
        raise ValueError(f"image_size must be positive, got {image_size!r}")
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise ValueError(
            f"image folder {str(root)!r} has no class subfolders; expected {root}/<class name>/<image>.png"
        )
    images, labels = [], []
    for label, class_dir in enumerate(class_dirs):
        files = sorted(f for f in class_dir.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"class folder {str(class_dir)!r} holds no {'/'.join(IMAGE_SUFFIXES)} images")
        for file in files:
            try:
                with Image.open(file) as img:
                    img = img.convert("L" if grayscale else "RGB").resize((width, height), Image.Resampling.BILINEAR)
                    pixels = np.asarray(img, dtype=np.float32) / 255.0
            except (UnidentifiedImageError, OSError) as err:
                raise ValueError(f"cannot read image {str(file)!r}: {err}") from err
            images.append(pixels[None] if grayscale else pixels.transpose(2, 0, 1))
            labels.append(label)
    return _dataset(np.stack(images), np.array(labels), [d.name for d in class_dirs], seed, fractions, name=root.name)

"""Training: the digits task and user data loaders, the seeded trainer and its failure signals."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from bo_diffnag.models import build_model
from bo_diffnag.training import (
    DIGITS_MODEL_OPTIONS,
    DIGITS_RECIPE,
    TrainingDiverged,
    TrainingRecipe,
    TrainingTimeout,
    TrialFailed,
    evaluate_architecture,
    from_arrays,
    from_image_folder,
    load_digits_task,
    stratified_split,
    train_and_evaluate,
)

pytestmark = pytest.mark.usefixtures("single_thread")

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
# A tiny network and a one-epoch recipe keep each training run well under a second.
TINY = {"channels": 8, "cells_per_stage": 1}
ONE_EPOCH = dataclasses.replace(DIGITS_RECIPE, epochs=1)


@pytest.fixture(scope="module")
def digits():
    return load_digits_task(seed=0)


# ------------------------------------------------------------------------------------------- data
def test_digits_task_is_a_stratified_seeded_split(digits):
    splits = (digits.train, digits.val, digits.test)
    assert sum(len(s) for s in splits) == 1797
    assert [len(s) for s in splits] == [1079, 359, 359]
    assert digits.image_shape == (1, 8, 8) and digits.num_classes == 10
    for split in splits:
        assert split.X.dtype == torch.float32 and split.y.dtype == torch.int64
        assert 0.0 <= split.X.min() and split.X.max() <= 1.0
        # Stratified: each class is 8-12 % of every split (the classes are balanced overall).
        share = torch.bincount(split.y, minlength=10).float() / len(split)
        assert share.min() > 0.08 and share.max() < 0.12
    again, other = load_digits_task(seed=0), load_digits_task(seed=1)
    assert torch.equal(again.val.X, digits.val.X)
    assert not torch.equal(other.val.X, digits.val.X)


def test_stratified_split_partitions_the_indices():
    y = np.repeat(np.arange(4), [5, 10, 20, 40])
    parts = stratified_split(y, (0.6, 0.2, 0.2), seed=3)
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(len(y)))
    assert [np.sum(y[parts[1]] == c) for c in range(4)] == [1, 2, 4, 8]


def test_from_arrays_builds_splits_and_scales_uint8():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(40, 6, 5), dtype=np.uint8)
    y = np.repeat(["b", "a"], 20)
    data = from_arrays(X, y, seed=1)
    assert data.classes == ("a", "b") and data.image_shape == (1, 6, 5)
    assert [len(s) for s in (data.train, data.val, data.test)] == [24, 8, 8]
    assert data.train.X.max() <= 1.0 and data.train.X.max() > 0.9  # divided by 255
    # Labels follow the sorted class names: every image labelled "a" came from the second half of X.
    first_a = data.train.X[data.train.y == 0][0, 0].numpy()
    assert any(np.allclose(first_a, X[i] / 255.0) for i in range(20, 40))
    floats = from_arrays(rng.normal(size=(30, 2, 4, 4)) * 10, np.arange(30) % 3)
    assert floats.image_shape == (2, 4, 4) and floats.train.X.abs().max() > 1.0  # floats used as given


@pytest.mark.parametrize(
    ("X", "y", "match"),
    [
        (np.zeros((10, 8)), np.arange(10) % 2, r"shape \[N, H, W\] or \[N, C, H, W\]"),
        (np.zeros((10, 4, 4)), np.arange(9) % 2, "10 images but y holds 9 labels"),
        (np.zeros((10, 4, 4)), (np.arange(10) % 2).reshape(5, 2), "one-dimensional"),
        (np.zeros((10, 4, 4), dtype=bool), np.arange(10) % 2, "real numbers"),
        (np.full((10, 4, 4), "x", dtype=object), np.arange(10) % 2, "real numbers"),
        (np.where(np.arange(160).reshape(10, 4, 4) == 77, np.nan, 0.0), np.arange(10) % 2, r"1 NaN .* image 4"),
        (np.zeros((10, 4, 4)), np.zeros(10), "at least two classes"),
        (np.zeros((4, 4, 4)), np.arange(4) % 2, "split is empty"),
    ],
)
def test_from_arrays_rejects_bad_input(X, y, match):
    with pytest.raises(ValueError, match=match):
        from_arrays(X, y)


def test_from_arrays_rejects_bad_fractions():
    with pytest.raises(ValueError, match="summing to 1"):
        from_arrays(np.zeros((20, 4, 4)), np.arange(20) % 2, fractions=(0.5, 0.5, 0.5))


def write_image_folder(root, sizes=((5, 7), (9, 4))):
    """``root/red/*.png`` (solid red RGB) and ``root/grey/*.jpg`` (solid grey L), 5 images each."""
    (root / "red").mkdir(parents=True)
    (root / "grey").mkdir()
    for i in range(5):
        Image.new("RGB", sizes[i % 2], (255, 0, 0)).save(root / "red" / f"{i}.png")
        Image.new("L", sizes[i % 2], 102).save(root / "grey" / f"{i}.JPG")
    (root / "red" / "notes.txt").write_text("not an image")


def test_from_image_folder_reads_resizes_and_labels(tmp_path):
    write_image_folder(tmp_path / "imgs")
    data = from_image_folder(tmp_path / "imgs", image_size=6, seed=0)
    assert data.classes == ("grey", "red") and data.name == "imgs"
    assert data.image_shape == (3, 6, 6)
    X = torch.cat([data.train.X, data.val.X, data.test.X])
    y = torch.cat([data.train.y, data.val.y, data.test.y])
    assert len(y) == 10 and torch.bincount(y).tolist() == [5, 5]
    red = X[y == 1]
    assert torch.allclose(red[:, 0], torch.ones(1)) and torch.allclose(red[:, 1:], torch.zeros(1))
    assert torch.allclose(X[y == 0], torch.full((1,), 102 / 255), atol=2 / 255)  # JPEG is lossy
    grey = from_image_folder(tmp_path / "imgs", image_size=(3, 5), grayscale=True)
    assert grey.image_shape == (1, 3, 5)


def test_from_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        from_image_folder(tmp_path / "missing", image_size=8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class subfolders"):
        from_image_folder(tmp_path / "empty", image_size=8)
    write_image_folder(tmp_path / "no_images")
    (tmp_path / "no_images" / "blue").mkdir()
    with pytest.raises(ValueError, match="blue.*holds no"):
        from_image_folder(tmp_path / "no_images", image_size=8)
    write_image_folder(tmp_path / "corrupt")
    (tmp_path / "corrupt" / "red" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read image .*bad.png"):
        from_image_folder(tmp_path / "corrupt", image_size=8)


# ---------------------------------------------------------------------------------------- trainer
def train_loss(model: torch.nn.Module, data) -> float:
    """Loss on the whole training split as training sees it (batch norm on batch statistics), on a copy so
    the model's running statistics stay as they are."""
    probe = copy.deepcopy(model).train()
    with torch.no_grad():
        return torch.nn.functional.cross_entropy(probe(data.train.X), data.train.y).item()


def test_one_epoch_lowers_the_training_loss(digits):
    torch.manual_seed(0)
    model = build_model("nb201", ARCH, in_channels=1, **TINY)
    before = train_loss(model, digits)
    result = train_and_evaluate(model, digits, ONE_EPOCH)
    after = train_loss(model, digits)
    assert before > 2.0 and after < 0.7 * before  # chance level is ln 10 ≈ 2.3
    assert result.epochs == 1 and len(result.train_loss) == 1 and result.train_loss[0] < before
    assert result.params == sum(p.numel() for p in model.parameters())


def test_digits_defaults_train_a_good_nb201_cell_well(digits):
    out = evaluate_architecture("nb201", ARCH, digits, DIGITS_RECIPE, DIGITS_MODEL_OPTIONS["nb201"])
    assert out["objective"] > 90 and out["test"] > 90
    assert out["epochs"] == DIGITS_RECIPE.epochs


def test_same_seed_same_result_and_global_rng_untouched(digits):
    state = torch.get_rng_state()
    a = evaluate_architecture("nb201", ARCH, digits, ONE_EPOCH, TINY)
    b = evaluate_architecture("nb201", ARCH, digits, ONE_EPOCH, TINY)
    c = evaluate_architecture("nb201", ARCH, digits, dataclasses.replace(ONE_EPOCH, seed=1), TINY)
    assert torch.equal(torch.get_rng_state(), state)
    assert a["objective"] == b["objective"] and a["test"] == b["test"] and a["train_loss"] == b["train_loss"]
    assert c["train_loss"] != a["train_loss"]
    assert a["arch"] == ARCH and a["epochs"] == 1 and a["seconds"] > 0


def test_mbv3_trains_on_small_arrays():
    rng = np.random.default_rng(0)
    y = np.arange(48) % 3
    X = rng.normal(size=(48, 1, 8, 8)) + y[:, None, None, None]  # class shifts the brightness
    data = from_arrays(X, y)
    recipe = dataclasses.replace(DIGITS_RECIPE, epochs=2, batch_size=16)
    smallest = {"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5}
    out = evaluate_architecture("mbv3", smallest, data, recipe, DIGITS_MODEL_OPTIONS["mbv3"])
    assert 0 <= out["objective"] <= 100 and np.isfinite(out["train_loss"])


def test_exploding_learning_rate_raises_training_diverged(digits):
    recipe = dataclasses.replace(ONE_EPOCH, lr=1e10, grad_clip=None)
    with pytest.raises(TrainingDiverged, match="loss became"):
        evaluate_architecture("nb201", ARCH, digits, recipe, TINY)
    assert issubclass(TrainingDiverged, TrialFailed)


def test_tiny_time_budget_raises_training_timeout(digits):
    recipe = dataclasses.replace(DIGITS_RECIPE, epochs=50, time_budget_s=0.01)
    with pytest.raises(TrainingTimeout, match="time budget of 0.01 s"):
        evaluate_architecture("nb201", ARCH, digits, recipe, TINY)
    assert issubclass(TrainingTimeout, TrialFailed)


def test_num_threads_is_applied_only_during_training(digits):
    before = torch.get_num_threads()
    seen = []

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(64, 10)

        def forward(self, x):
            seen.append(torch.get_num_threads())
            return self.linear(x.flatten(1))

    train_and_evaluate(Probe(), digits, dataclasses.replace(ONE_EPOCH, num_threads=before + 1))
    assert set(seen) == {before + 1}
    assert torch.get_num_threads() == before


def test_evaluate_architecture_rejects_dataset_options(digits):
    with pytest.raises(ValueError, match="come from the dataset"):
        evaluate_architecture("nb201", ARCH, digits, ONE_EPOCH, {"num_classes": 3})


@pytest.mark.parametrize(
    "fields",
    [{"optimizer": "lbfgs"}, {"lr": 0.0}, {"epochs": 0}, {"batch_size": 0}, {"momentum": 1.0}, {"time_budget_s": 0.0}],
)
def test_recipe_validates_its_fields(fields):
    with pytest.raises(ValueError):
        TrainingRecipe(**fields)

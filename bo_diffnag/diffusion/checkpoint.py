"""Saving and loading prior checkpoints, with integrity and compatibility checks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from bo_diffnag.integrity import sha256_file

FORMAT = "bo-diffnag-prior/1"
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
MANIFEST = PRETRAINED_DIR / "manifest.json"


class CheckpointError(ValueError):
    """A prior checkpoint is missing, corrupted, or does not fit the requested search space."""


def save_checkpoint(payload: dict[str, Any], path: str | os.PathLike) -> str:
    """Write ``payload`` atomically (temp file + rename, so a crash never leaves half a file); return its sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    torch.save({"format": FORMAT, **payload}, tmp)
    os.replace(tmp, path)
    return sha256_file(path)


def load_checkpoint(path: str | os.PathLike, expected_sha256: str | None = None) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, verifying ``expected_sha256`` when given.

    Raises:
        CheckpointError: the file is missing, its hash differs, it cannot be read, or it is not a prior
            checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"prior checkpoint {path} not found")
    if expected_sha256 is not None:
        actual = sha256_file(path)
        if actual != expected_sha256:
            raise CheckpointError(
                f"prior checkpoint {path} is corrupted: sha256 {actual[:16]}… differs from the expected "
                f"{expected_sha256[:16]}…; reinstall bo-diffnag or retrain with `bo-diffnag prior train`"
            )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        raise CheckpointError(f"prior checkpoint {path} cannot be read ({type(err).__name__}: {err})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a bo-diffnag prior checkpoint (expected format {FORMAT!r})")
    return payload


def pretrained_path(space_name: str) -> tuple[Path, str]:
    """Path and sha256 of the checkpoint shipped for ``space_name``."""
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}
    if space_name not in manifest:
        raise CheckpointError(
            f"no pretrained prior is shipped for search space {space_name!r} (have: {sorted(manifest)}); "
            f"train one with `bo-diffnag prior train --space {space_name} --out PATH`"
        )
    entry = manifest[space_name]
    return PRETRAINED_DIR / entry["file"], entry["sha256"]

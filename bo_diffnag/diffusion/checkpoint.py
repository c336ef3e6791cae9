"""Saving and loading prior checkpoints, with integrity and compatibility checks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bo_diffnag.integrity import ChecksumError, IntegrityError, load_payload, save_payload

FORMAT = "bo-diffnag-prior/1"
PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
MANIFEST = PRETRAINED_DIR / "manifest.json"


class CheckpointError(ValueError):
    """A prior checkpoint is missing, corrupted, or does not fit the requested search space."""


def save_checkpoint(payload: dict[str, Any], path: str | os.PathLike) -> str:
    """Write ``payload`` atomically (temp file + rename, so a crash never leaves half a file); return its sha256."""
    return save_payload(payload, path, FORMAT)


def load_checkpoint(path: str | os.PathLike, expected_sha256: str | None = None) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, verifying ``expected_sha256`` when given.

    Raises:
        CheckpointError: the file is missing, its hash differs, it cannot be read, or it is not a prior
            checkpoint.
    """
    try:
        return load_payload(path, FORMAT, "prior checkpoint", expected_sha256)
    except IntegrityError as err:
        hint = "; reinstall bo-diffnag or retrain with `bo-diffnag prior train`" if isinstance(err, ChecksumError) else ""
        raise CheckpointError(f"{err}{hint}") from None


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

"""File integrity: sha256 checksums, and torch payloads written atomically and read back verified. Shipped
artefacts (prior checkpoints, proxy fits) and benchmark data are checked with them."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch


class IntegrityError(ValueError):
    """A verified file is missing, differs from its checksum, cannot be read, or is not of the expected format."""


class ChecksumError(IntegrityError):
    """A verified file's sha256 differs from the expected one (the file is damaged or was replaced)."""


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_payload(payload: dict[str, Any], path: str | os.PathLike, file_format: str) -> str:
    """``torch.save`` ``{"format": file_format, **payload}`` atomically (temp file + rename, so a crash never
    leaves half a file); returns the file's sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save({"format": file_format, **payload}, partial)
    os.replace(partial, path)
    return sha256_file(path)


def load_payload(
    path: str | os.PathLike, file_format: str, what: str, expected_sha256: str | None = None
) -> dict[str, Any]:
    """Read a :func:`save_payload` file of ``file_format``, verifying ``expected_sha256`` when given; ``what``
    names the file in error messages (e.g. ``"prior checkpoint"``).

    Raises:
        IntegrityError: the file is missing, it cannot be read, or its format differs; :class:`ChecksumError`
            (a subclass) when its hash differs.
    """
    path = Path(path)
    if not path.is_file():
        raise IntegrityError(f"{what} {path} not found")
    if expected_sha256 is not None:
        actual = sha256_file(path)
        if actual != expected_sha256:
            raise ChecksumError(
                f"{what} {path} is corrupted: sha256 {actual[:16]}… differs from the expected {expected_sha256[:16]}…"
            )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        raise IntegrityError(f"{what} {path} cannot be read ({type(err).__name__}: {err})") from None
    if not isinstance(payload, dict) or payload.get("format") != file_format:
        raise IntegrityError(f"{path} is not a bo-diffnag {what} (expected format {file_format!r})")
    return payload

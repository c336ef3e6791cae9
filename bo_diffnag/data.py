"""Locating and verifying the benchmark data directory.

Search order: an explicit ``data_dir`` (the CLI's ``--data-dir``), then the ``BO_DIFFNAG_DATA``
environment variable, then ``../shared/data`` beside the working directory or beside the project checkout.
Files listed in the directory's ``SHA256SUMS`` are verified once per process before use.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from bo_diffnag.integrity import sha256_file

ENV_VAR = "BO_DIFFNAG_DATA"
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


class DataNotFoundError(FileNotFoundError):
    """A benchmark data file is missing; the message says which one and how to provide it."""


class DataIntegrityError(ValueError):
    """A benchmark data file does not match its checksum in ``SHA256SUMS``."""


def candidate_data_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Directories searched for benchmark data, in priority order."""
    if data_dir is not None:
        return [Path(data_dir)]
    if os.environ.get(ENV_VAR):
        return [Path(os.environ[ENV_VAR])]
    return [Path.cwd().parent / "shared" / "data", _PROJECT_ROOT.parent / "shared" / "data"]


def data_file(relative: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Absolute path of ``relative`` (e.g. ``"nb201/nb201_consolidated.csv"``) in the data directory.

    Raises:
        DataNotFoundError: no searched directory holds the file.
        DataIntegrityError: the file does not match its ``SHA256SUMS`` entry.
    """
    searched = candidate_data_dirs(data_dir)
    for directory in searched:
        path = directory / relative
        if path.is_file():
            _verify(path.resolve(), directory.resolve(), relative)
            return path
    looked = ", ".join(str(d) for d in searched)
    raise DataNotFoundError(
        f"benchmark data file {relative!r} not found (looked in: {looked}). "
        f"Pass --data-dir DIR (Python: data_dir=DIR) or set {ENV_VAR}=DIR to a folder holding {relative}."
    )


@cache
def _checksums(directory: Path) -> dict[str, str]:
    sums = directory / "SHA256SUMS"
    if not sums.is_file():
        return {}
    table = {}
    for line in sums.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            table[name.lstrip("*").strip()] = digest
    return table


@cache
def _verify_once(path: Path, expected: str, size: int, mtime_ns: int) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise DataIntegrityError(
            f"benchmark data file {path} is corrupted: sha256 {actual[:16]}… does not match "
            f"SHA256SUMS ({expected[:16]}…). Restore the original file."
        )


def _verify(path: Path, directory: Path, relative: str) -> None:
    expected = _checksums(directory).get(relative)
    if expected is not None:
        stat = path.stat()
        _verify_once(path, expected, stat.st_size, stat.st_mtime_ns)

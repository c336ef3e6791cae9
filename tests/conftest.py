"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bo_diffnag.data import ENV_VAR, candidate_data_dirs


# ------------------------------------------------------------------------------- benchmark data
@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data directory (the first searched one holding ``SHA256SUMS``).

    Without data the test is skipped, except in CI (``CI=true``), where missing data is a failure.
    """
    for directory in candidate_data_dirs():
        if (directory / "SHA256SUMS").is_file():
            return directory
    message = (
        f"benchmark data not found (looked in: {', '.join(map(str, candidate_data_dirs()))}); "
        f"set {ENV_VAR} to the data directory"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


# ------------------------------------------------------------------------------------ threading
@pytest.fixture(scope="module")
def single_thread():
    """Run a module's torch work on one thread (restored afterwards).

    The diffusion tests use tiny networks and matrices: one thread is as fast on an idle machine and
    avoids the large slow-down of oversubscribed threads when other jobs share the cores.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

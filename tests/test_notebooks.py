"""The notebooks in ``notebooks/`` run end to end in FAST mode (tiny budgets), so they cannot rot.

Each notebook is executed by ``notebooks/execute.py`` (nbclient, kernel ``python3``) into ``tmp_path``;
the committed notebooks are never touched. Without benchmark data the tests skip (fail under ``CI=true``).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

try:
    import nbformat
    import nbclient  # noqa: F401  (execute.py needs it)
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("nbclient / nbformat not installed: pip install nbclient nbformat ipykernel", allow_module_level=True)

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"


def _load(filename: str) -> ModuleType:
    """A script of ``notebooks/`` as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"notebooks_{Path(filename).stem}", NOTEBOOKS_DIR / filename)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


execute = _load("execute.py")
make_notebooks = _load("make_notebooks.py")


def test_committed_notebooks_match_their_generator():
    assert sorted(make_notebooks.NOTEBOOKS) == [path.name for path in execute.notebooks()]
    for name, cells in make_notebooks.NOTEBOOKS.items():
        committed = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
        built = make_notebooks.build(name, cells)
        assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in built.cells], (
            f"{name} differs from notebooks/make_notebooks.py: regenerate it"
        )


@pytest.mark.parametrize("path", execute.notebooks(), ids=lambda path: path.stem)
def test_notebook_runs_in_fast_mode(path: Path, data_dir: Path, tmp_path: Path):
    notebook = execute.execute(path, tmp_path / path.name, fast=True, env={"BO_DIFFNAG_DATA": str(data_dir)})
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    assert any("image/png" in output.get("data", {}) for output in outputs), f"{path.name} drew no figure"

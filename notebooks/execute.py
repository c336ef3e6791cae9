"""Execute the notebooks of this folder with nbclient (kernel ``python3``, working directory ``notebooks/``).

    .venv/bin/python notebooks/execute.py --full              # all, in place: the committed outputs
    .venv/bin/python notebooks/execute.py --full 04           # only 04_ablations.ipynb (names or prefixes)
    .venv/bin/python notebooks/execute.py                     # FAST mode, executed copies in a temp dir
    .venv/bin/python notebooks/execute.py --out DIR 01 02     # FAST mode, copies in DIR

FAST mode sets ``BO_DIFFNAG_NOTEBOOK_FAST=1`` for the kernel (tiny budgets) and never writes into this
folder, so the committed full-mode outputs stay untouched. A cell that raises stops its notebook
(``nbclient.exceptions.CellExecutionError``) and the command exits with status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent
FAST_ENV = "BO_DIFFNAG_NOTEBOOK_FAST"
#: Seconds a single cell may run: the full ablations take minutes, FAST cells seconds.
TIMEOUT = {"full": 3600, "fast": 600}


def notebooks(patterns: list[str] | None = None) -> list[Path]:
    """The notebooks of this folder (sorted); only those whose name starts with one of ``patterns`` if given."""
    paths = sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    return [p for p in paths if not patterns or any(p.name.startswith(pattern) for pattern in patterns)]


def execute(path: Path, out: Path, fast: bool, env: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """Run ``path`` top to bottom in a fresh kernel and write the executed notebook to ``out``.

    ``env``: extra environment variables for the kernel (on top of this process's environment).
    """
    kernel_env = {**os.environ, **(env or {})}
    kernel_env.pop(FAST_ENV, None)
    if fast:
        kernel_env[FAST_ENV] = "1"
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=TIMEOUT["fast" if fast else "full"],
        resources={"metadata": {"path": str(HERE)}},  # the kernel's working directory: imports nbhelpers
    )
    client.execute(env=kernel_env)
    nbformat.write(notebook, out)
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="notebook names or prefixes, e.g. 01 04 (default: all)")
    parser.add_argument("--full", action="store_true", help="full mode, executed in place (default: FAST mode)")
    parser.add_argument("--out", type=Path, help="FAST mode: folder for the executed copies (default: a new temp dir)")
    args = parser.parse_args(argv)
    if args.full and args.out:
        parser.error("--out is for FAST mode; --full executes in place")
    paths = notebooks(args.names)
    if not paths:
        parser.error(f"no notebook matches {args.names}")
    out_dir = None if args.full else (args.out or Path(tempfile.mkdtemp(prefix="bo_diffnag_notebooks_")))
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    for path in paths:
        start = time.perf_counter()
        out = path if out_dir is None else out_dir / path.name
        try:
            execute(path, out, fast=not args.full)
        except CellExecutionError as err:
            print(f"FAILED {path.name}:\n{err}", file=sys.stderr)
            return 1
        print(f"{path.name}: {time.perf_counter() - start:.0f} s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run notebooks headless with nbclient in a real kernel and read their outputs back (for the notebook tests)."""

from __future__ import annotations

import base64
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def run(notebook: nbformat.NotebookNode, tmp_path: Path, timeout: int = 120) -> nbformat.NotebookNode:
    """Execute every cell in a python3 kernel started in `tmp_path`; the notebook, with its outputs."""
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return notebook


def execute(name: str, tmp_path: Path, timeout: int = 120) -> nbformat.NotebookNode:
    """One of the project's notebooks (notebooks/NAME), executed."""
    return run(nbformat.read(NOTEBOOKS / name, as_version=4), tmp_path, timeout)


def run_cells(sources: list[str], tmp_path: Path) -> nbformat.NotebookNode:
    """A notebook of these code cells, executed."""
    return run(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), tmp_path)


def text_of(cell: nbformat.NotebookNode) -> str:
    """Every text and data output of a cell as text."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        for value in output.get("data", {}).values():
            parts.append(value if isinstance(value, str) else str(value))
    return "\n".join(parts)


def images_of(cell: nbformat.NotebookNode) -> list[bytes]:
    """The PNG images a cell shows, decoded."""
    return [base64.b64decode(o["data"]["image/png"]) for o in cell.get("outputs", [])
            if "image/png" in o.get("data", {})]


def cell_with(notebook: nbformat.NotebookNode, source_start: str) -> nbformat.NotebookNode:
    """The first code cell whose source starts with `source_start`."""
    return next(c for c in notebook.cells if c.cell_type == "code" and c.source.startswith(source_start))

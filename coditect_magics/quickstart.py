"""The kit's main job from the command line: execute the quickstart notebook headless (on whatever model this
machine can reach — the embedded one when nothing is configured), save it as .ipynb and .html, print a summary."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FOOTER = re.compile(r"<sub>([^<]*?) · (\d+) in / (\d+) out · ([^<·]+?)(?: · [^<]*)?</sub>")


@dataclass(frozen=True)
class Summary:
    notebook: Path
    html: Path
    cells: int
    errors: int
    models: tuple[str, ...]
    calls: int
    output_tokens: int


def run(source: Path, out_dir: Path, timeout: float = 600) -> Summary:
    """Execute `source` with nbclient in a fresh kernel; write the executed notebook and an HTML copy."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    notebook = nbformat.read(source, as_version=4)
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(source.parent)}}).execute()
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / source.name
    nbformat.write(notebook, executed)
    html_path = executed.with_suffix(".html")
    html_path.write_text(HTMLExporter().from_notebook_node(notebook)[0], encoding="utf-8")
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    footers = [m for o in outputs for m in FOOTER.findall(str(o.get("data", {}).get("text/markdown", "")))]
    return Summary(executed, html_path, sum(c.cell_type == "code" for c in notebook.cells),
                   sum(o.output_type == "error" for o in outputs), tuple(dict.fromkeys(f[0] for f in footers)),
                   len(footers), sum(int(f[2]) for f in footers))

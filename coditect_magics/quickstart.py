"""The kit's main job from the command line: execute the quickstart notebook headless (on whatever model this
machine can reach — the embedded one when nothing is configured), save it as .ipynb and .html, print a summary.

The kernel talks to nbclient over IPC (Unix domain sockets in a private temp dir), not loopback TCP: nothing else
on the machine can connect to it, and ipykernel has no reason to warn that it runs over TCP without encryption.
Windows has no IPC transport in ZeroMQ, so there it stays on TCP (loopback only, with a signed connection)."""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def kernel_config(sockets: str) -> Any:
    """The kernel manager's configuration: IPC sockets in the `sockets` dir (TCP on Windows, ZeroMQ has no IPC
    there). Given as configuration, not as a manager, so nbclient still owns the kernel and shuts it down."""
    from traitlets.config import Config

    if sys.platform == "win32":
        return Config()
    return Config({"KernelManager": {"transport": "ipc", "connection_file": str(Path(sockets) / "kernel.json")}})


def run(source: Path, out_dir: Path, timeout: float = 600) -> Summary:
    """Execute `source` with nbclient in a fresh kernel; write the executed notebook and an HTML copy."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    notebook = nbformat.read(source, as_version=4)
    sockets = tempfile.mkdtemp(prefix="coditect-kernel-")  # short: a socket path is limited to ~100 characters
    try:
        NotebookClient(notebook, config=kernel_config(sockets), timeout=timeout, kernel_name="python3",
                       allow_errors=True, resources={"metadata": {"path": str(source.parent)}}).execute()
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
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
